#include "imager/write_session.h"

#include <algorithm>
#include <climits>
#include <utility>
#include <vector>

#include "common/hash.h"
#include "common/log.h"
#include "common/temp_dirs.h"
#include "common/text.h"

namespace gc {

namespace {

constexpr char kSessionsDir[] = "sessions";

// File system timestamps come from a coarse clock (ext4 takes the
// scheduler tick's): an object linked just before its writer's marker got
// its ctime may carry an earlier one.
constexpr int64_t kClockSlackNs = 2'000'000'000;

std::string SessionsDir(const std::string& store_root) {
  return JoinPath(store_root, kSessionsDir);
}

bool SessionIsDead(const std::string& name, const Result<std::string>& boot_id) {
  if (TempOwnerIsDead(name)) return true;
  // A pid that runs now but was recorded before the last boot is another
  // process. Without /proc there is no boot id: the pid decides.
  static const std::string current = CurrentBootId();
  return !current.empty() && (!boot_id.ok() || *boot_id != current);
}

// Re-hashes every object whose ctime is at or after `since_ns`; removes the
// ones whose content is not what their name says.
Status CheckObjectsSince(const std::string& store_root, Env* env, int64_t since_ns,
                         RecoveryStats* stats) {
  std::string objects = JoinPath(store_root, "objects");
  GC_ASSIGN_OR_RETURN(auto prefixes, env->ListDir(objects));
  for (const std::string& prefix : prefixes) {
    std::string dir = JoinPath(objects, prefix);
    GC_ASSIGN_OR_RETURN(auto names, env->ListDir(dir));
    for (const std::string& name : names) {
      std::string path = JoinPath(dir, name);
      auto changed = env->ChangeTimeNanos(path);
      if (changed.ok() && *changed < since_ns) continue;
      ++stats->objects_checked;
      auto hash = Sha256File(path);
      if (hash.ok() && *hash == name) continue;
      GC_LOG(Warning) << "image store: object " << name << " lost its content ("
                      << (hash.ok() ? "it hashes to " + *hash : hash.status().message())
                      << "); removed, the next capture or import fetches it again";
      GC_RETURN_IF_ERROR(env->RemoveFile(path));
      ++stats->objects_removed;
    }
  }
  return Status::Ok();
}

}  // namespace

std::string CurrentBootId() {
  auto id = Env::Default()->ReadFile("/proc/sys/kernel/random/boot_id");
  return id.ok() ? Trim(*id) : "";
}

Result<WriteSession> WriteSession::Begin(const std::string& store_root, Env* env) {
  std::string dir = SessionsDir(store_root);
  GC_RETURN_IF_ERROR(env->CreateDirs(dir));
  std::string marker = JoinPath(dir, PidTempName("session"));
  GC_RETURN_IF_ERROR(env->WriteFileAtomic(marker, CurrentBootId() + "\n")
                         .WithContext("starting a write session in " + store_root));
  return WriteSession(store_root, std::move(marker), env);
}

WriteSession::WriteSession(WriteSession&& other) noexcept
    : store_root_(std::move(other.store_root_)),
      marker_(std::exchange(other.marker_, "")),
      env_(other.env_) {}

WriteSession::~WriteSession() {
  if (marker_.empty()) return;
  Status status = End();
  if (!status.ok()) {
    GC_LOG(Warning) << "image store: ending the write session: " << status.message()
                    << " (the next run checks what it wrote)";
  }
}

Status WriteSession::End() {
  if (marker_.empty()) return Status::Ok();
  GC_RETURN_IF_ERROR(env_->SyncFileSystem(store_root_));
  // Not synced: a marker that comes back after a power cut only costs the
  // next run a check of objects that are fine.
  GC_RETURN_IF_ERROR(env_->RemoveFile(marker_));
  marker_.clear();
  return Status::Ok();
}

Result<RecoveryStats> RecoverDeadSessions(const std::string& store_root, Env* env) {
  RecoveryStats stats;
  std::string dir = SessionsDir(store_root);
  GC_ASSIGN_OR_RETURN(auto names, env->ListDir(dir));
  std::vector<std::string> dead;
  int64_t since = INT64_MAX;
  for (const std::string& name : names) {
    std::string marker = JoinPath(dir, name);
    Result<std::string> content = env->ReadFile(marker);
    if (content.ok()) *content = Trim(*content);
    if (!SessionIsDead(name, content)) continue;
    auto made = env->ChangeTimeNanos(marker);
    since = std::min(since, made.ok() ? *made - kClockSlackNs : INT64_MIN);
    dead.push_back(marker);
  }
  if (dead.empty()) return stats;
  GC_LOG(Warning) << "image store: " << dead.size()
                  << " write session(s) ended without finishing (killed, or the machine went "
                     "down): checking the objects they may have written";
  GC_RETURN_IF_ERROR(CheckObjectsSince(store_root, env, since, &stats));
  // The removals durable before the markers that call for them go.
  GC_RETURN_IF_ERROR(env->SyncFileSystem(store_root));
  for (const std::string& marker : dead) GC_RETURN_IF_ERROR(env->RemoveFile(marker));
  stats.sessions = dead.size();
  GC_LOG(Info) << "image store: checked " << stats.objects_checked << " objects, removed "
               << stats.objects_removed;
  return stats;
}

}  // namespace gc
