#include "common/temp_dirs.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <random>

namespace gc {

std::string PidTempName(const std::string& label) {
  static std::atomic<uint64_t> counter{0};
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return std::to_string(::getpid()) + "." + std::to_string(counter++) + "." +
         std::to_string(rng() % 1000000) + "." + label;
}

bool TempOwnerIsDead(const std::string& name) {
  size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 0 || dot > 10) return true;
  uint64_t pid = 0;
  for (size_t i = 0; i < dot; ++i) {
    if (name[i] < '0' || name[i] > '9') return true;
    pid = pid * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  if (pid == 0 || pid > 0x7fffffff) return true;
  if (static_cast<pid_t>(pid) == ::getpid()) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

Status RemoveDeadTemps(const std::string& dir, Env* env, uint64_t* removed) {
  GC_ASSIGN_OR_RETURN(auto names, env->ListDir(dir));
  for (const auto& name : names) {
    if (!TempOwnerIsDead(name)) continue;
    GC_RETURN_IF_ERROR(env->RemoveTree(JoinPath(dir, name)));
    if (removed) ++*removed;
  }
  return Status::Ok();
}

}  // namespace gc
