// Logging: the one way goldcast writes diagnostics. Messages go to stderr,
// prefixed by level; GOLDCAST_LOG=debug shows debug lines.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace gc {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void Log(LogLevel level, std::string_view message);
bool LogEnabled(LogLevel level);
void SetLogLevel(LogLevel level);

// Builds a message with operator<< and logs it when destroyed.
class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine() { Log(level_, stream_.str()); }
  template <typename T>
  LogLine& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace gc

// A for-statement rather than if/else so `if (x) GC_LOG(Info) << y;` stays
// unambiguous; the message is only built when the level is enabled.
#define GC_LOG(severity)                                                                \
  for (bool gc_log_once_ = ::gc::LogEnabled(::gc::LogLevel::k##severity); gc_log_once_; \
       gc_log_once_ = false)                                                            \
  ::gc::LogLine(::gc::LogLevel::k##severity)
