// KeyedRateLimiter: a token bucket per key (a client address), so one
// source cannot use up what all of them share (the names and addresses of
// a boot network, say) while each other source keeps its own allowance.
// Thread-safe; the number of keys is bounded, so a flood of keys cannot
// grow it without bound either.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace gc {

struct RateLimit {
  double per_minute = 0;  // refill; 0 = no limit
  double burst = 1;       // a full bucket (at least 1)
};

class KeyedRateLimiter {
 public:
  explicit KeyedRateLimiter(RateLimit limit, size_t max_keys = 4096);

  // Takes one token from `key`'s bucket; false when it is empty.
  bool Take(const std::string& key, int64_t now_ns);

 private:
  // The bucket as one time (the generic cell rate algorithm): when it
  // will be full again. Exact in integers, where counting fractional
  // tokens in doubles let 0.9 + 0.1 come out below 1.
  bool Full(int64_t full_at_ns, int64_t now_ns) const { return full_at_ns <= now_ns; }

  const bool unlimited_;
  const int64_t interval_ns_;   // one token
  const int64_t tolerance_ns_;  // burst - 1 tokens
  const size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, int64_t> full_at_;
};

}  // namespace gc
