#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

namespace gc {

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  if (unit == 0) {
    std::snprintf(buffer, sizeof buffer, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buffer, sizeof buffer, "%.1f %s", value, kUnits[unit]);
  }
  return buffer;
}

std::string FormatSeconds(double seconds) {
  char buffer[32];
  if (seconds < 60) {
    std::snprintf(buffer, sizeof buffer, "%.1f s", seconds);
  } else {
    int total = static_cast<int>(seconds);
    std::snprintf(buffer, sizeof buffer, "%d min %02d s", total / 60, total % 60);
  }
  return buffer;
}

Progress::Progress(std::string label)
    : label_(std::move(label)),
      enabled_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { Finish(); }

void Progress::SetTotals(uint64_t items, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  total_items_ = items;
  total_bytes_ = bytes;
  Draw(true);
}

void Progress::Add(uint64_t items, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  items_ += items;
  bytes_ += bytes;
  Draw(false);
}

double Progress::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::Draw(bool force) {
  if (!enabled_ || finished_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double elapsed = ElapsedSeconds();
  double rate = elapsed > 0 ? static_cast<double>(bytes_) / elapsed : 0;
  std::fprintf(stderr, "\r\033[K%s: %llu/%llu files, %s/%s, %s/s", label_.c_str(),
               static_cast<unsigned long long>(items_),
               static_cast<unsigned long long>(total_items_), FormatBytes(bytes_).c_str(),
               FormatBytes(total_bytes_).c_str(), FormatBytes(static_cast<uint64_t>(rate)).c_str());
  std::fflush(stderr);
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (enabled_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

}  // namespace gc
