// Progress on a terminal for long work (thread-safe) (capture, import, export): one line
// redrawn at most ten times a second on stderr, only when stderr is a tty,
// so logs and CI output stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace gc {

std::string FormatBytes(uint64_t bytes);    // "163.2 MiB"
std::string FormatSeconds(double seconds);  // "4.1 s", "2 min 03 s"

class Progress {
 public:
  // `label` starts the line, e.g. "getimage compute".
  explicit Progress(std::string label);
  ~Progress();  // clears the line

  void SetTotals(uint64_t items, uint64_t bytes);
  void Add(uint64_t items, uint64_t bytes);  // redraws if due
  void Finish();                             // clears the line; idempotent

  double ElapsedSeconds() const;

 private:
  void Draw(bool force);

  mutable std::mutex mutex_;
  std::string label_;
  bool enabled_;
  bool finished_ = false;
  uint64_t total_items_ = 0, total_bytes_ = 0, items_ = 0, bytes_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace gc
