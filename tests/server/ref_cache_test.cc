#include "server/ref_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace gc {
namespace {

struct Loads {
  int count = 0;
  Result<std::shared_ptr<std::string>> operator()(const std::string& ref) {
    ++count;
    return std::make_shared<std::string>("value of " + ref);
  }
};

TEST(RefCacheTest, LoadsARefOnceAndKeepsIt) {
  RefCache<std::string> cache(4);
  Loads loads;
  auto first = cache.Get("compute@1", [&] { return loads("compute@1"); });
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(**first, "value of compute@1");
  auto again = cache.Get("compute@1", [&] { return loads("compute@1"); });
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), first->get());
  EXPECT_EQ(loads.count, 1);
}

TEST(RefCacheTest, AFailedLoadIsNotKept) {
  RefCache<std::string> cache(4);
  auto failed =
      cache.Get("ghost@1", [] { return Result<std::shared_ptr<std::string>>(NotFound("ghost")); });
  EXPECT_EQ(failed.status().code(), Code::kNotFound);
  Loads loads;
  EXPECT_TRUE(cache.Get("ghost@1", [&] { return loads("ghost@1"); }).ok());
  EXPECT_EQ(loads.count, 1);
}

TEST(RefCacheTest, AFullCacheStartsOver) {
  RefCache<std::string> cache(2);
  Loads loads;
  for (const char* ref : {"a@1", "b@1", "c@1", "a@1"}) {
    ASSERT_TRUE(cache.Get(ref, [&] { return loads(ref); }).ok());
  }
  // c@1 found the cache full and emptied it: a@1 is loaded again.
  EXPECT_EQ(loads.count, 4);
  ASSERT_TRUE(cache.Get("c@1", [&] { return loads("c@1"); }).ok());
  EXPECT_EQ(loads.count, 4);
}

// A boot storm: many nodes ask for the same image at once; it is read once.
TEST(RefCacheTest, ConcurrentRequestsLoadOnce) {
  RefCache<std::string> cache(4);
  std::atomic<int> loads{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto value = cache.Get("compute@1", [&] {
        ++loads;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return Result<std::shared_ptr<std::string>>(std::make_shared<std::string>("index"));
      });
      EXPECT_TRUE(value.ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(loads.load(), 1);
}

}  // namespace
}  // namespace gc
