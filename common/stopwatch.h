// Stopwatch: how long a piece of work took, for progress lines, logs and
// summaries ("4.1 s"). It reads the steady clock, which never jumps; the
// wall clock that dates what is recorded is Env::NowNanos.
#pragma once

#include <chrono>

namespace gc {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}

  void Restart() { start_ = std::chrono::steady_clock::now(); }
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace gc
