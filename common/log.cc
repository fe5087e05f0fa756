#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace gc {

namespace {

LogLevel InitialLevel() {
  const char* env = std::getenv("GOLDCAST_LOG");
  if (env && std::strcmp(env, "debug") == 0) return LogLevel::kDebug;
  if (env && std::strcmp(env, "warning") == 0) return LogLevel::kWarning;
  if (env && std::strcmp(env, "error") == 0) return LogLevel::kError;
  return LogLevel::kInfo;
}

std::atomic<LogLevel> g_level{InitialLevel()};
std::mutex g_mutex;

const char* Prefix(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug: ";
    case LogLevel::kInfo:
      return "";
    case LogLevel::kWarning:
      return "warning: ";
    case LogLevel::kError:
      return "error: ";
  }
  return "";
}

}  // namespace

bool LogEnabled(LogLevel level) { return level >= g_level.load(); }
void SetLogLevel(LogLevel level) { g_level.store(level); }

void Log(LogLevel level, std::string_view message) {
  if (!LogEnabled(level)) return;
  std::string line = std::string("goldcast: ") + Prefix(level);
  line.append(message);
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(g_mutex);
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace gc
