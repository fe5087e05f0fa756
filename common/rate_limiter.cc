#include "common/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace gc {

KeyedRateLimiter::KeyedRateLimiter(RateLimit limit, size_t max_keys)
    : unlimited_(limit.per_minute <= 0),
      interval_ns_(unlimited_ ? 0 : std::llround(60e9 / limit.per_minute)),
      tolerance_ns_(unlimited_ ? 0
                               : static_cast<int64_t>(std::max(0.0, limit.burst - 1) *
                                                      static_cast<double>(interval_ns_))),
      max_keys_(max_keys) {}

bool KeyedRateLimiter::Take(const std::string& key, int64_t now_ns) {
  if (unlimited_) return true;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = full_at_.find(key);
  if (it == full_at_.end()) {
    if (full_at_.size() >= max_keys_) {
      // A full bucket is what a new key gets anyway: forgetting those
      // loses nothing. Only a flood of keys, each still limited, leaves
      // none to forget; then every key starts over.
      std::erase_if(full_at_, [&](const auto& entry) { return Full(entry.second, now_ns); });
      if (full_at_.size() >= max_keys_) full_at_.clear();
    }
    it = full_at_.emplace(key, now_ns).first;
  }
  int64_t full_at = std::max(it->second, now_ns);
  if (full_at - now_ns > tolerance_ns_) return false;  // empty
  it->second = full_at + interval_ns_;
  return true;
}

}  // namespace gc
