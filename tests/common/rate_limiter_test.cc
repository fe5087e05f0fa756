#include "common/rate_limiter.h"

#include <gtest/gtest.h>

namespace gc {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(KeyedRateLimiterTest, EachKeyHasItsOwnBurstAndRefill) {
  KeyedRateLimiter limiter({/*per_minute=*/6, /*burst=*/3});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("10.0.0.1", 0)) << i;
  EXPECT_FALSE(limiter.Take("10.0.0.1", 0));
  EXPECT_TRUE(limiter.Take("10.0.0.2", 0));  // another source is not held back
  EXPECT_FALSE(limiter.Take("10.0.0.1", 9 * kSecond));
  EXPECT_TRUE(limiter.Take("10.0.0.1", 10 * kSecond));  // one token per 10 s
  EXPECT_FALSE(limiter.Take("10.0.0.1", 10 * kSecond));
  // Refill stops at the burst.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("10.0.0.1", 3600 * kSecond)) << i;
  EXPECT_FALSE(limiter.Take("10.0.0.1", 3600 * kSecond));
}

TEST(KeyedRateLimiterTest, NoLimitTakesEverything) {
  KeyedRateLimiter limiter({0, 1});
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.Take("x", 0));
}

TEST(KeyedRateLimiterTest, AFloodOfKeysStaysBounded) {
  KeyedRateLimiter limiter({1, 1}, /*max_keys=*/4);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.Take("k" + std::to_string(i), 0));
  // A key still limited a moment ago may have been forgotten (the table was
  // full of limited keys): it starts over, which is the bound's price.
  EXPECT_FALSE(limiter.Take("k99", 0));
}

}  // namespace
}  // namespace gc
