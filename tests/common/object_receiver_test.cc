#include "common/object_receiver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/hash.h"
#include "tests/testing/memory_object_source.h"

namespace gc {
namespace {

using ::gc::testing::MemorySource;
using ::testing::HasSubstr;

using Kind = ObjectEvent::Kind;

// Everything the receiver hands out, data joined per object.
struct Received {
  std::vector<std::string> begun, ended, content;
  std::vector<Status> batches;
};

Received Drain(ObjectReceiver& receiver) {
  Received r;
  while (std::optional<ObjectEvent> event = receiver.Next()) {
    switch (event->kind) {
      case Kind::kBegin:
        r.begun.push_back(event->hash);
        r.content.emplace_back();
        break;
      case Kind::kData:
        r.content.back() += event->data;
        break;
      case Kind::kEnd:
        r.ended.push_back(event->hash);
        break;
      case Kind::kBatchDone:
        r.batches.push_back(event->status);
        break;
    }
  }
  return r;
}

TEST(ObjectReceiverTest, DeliversEveryBatchInOrderWithTheHashOfWhatArrived) {
  MemorySource source;
  source.chunk = 1000;
  std::string a = source.Add(std::string(300000, 'a'));
  std::string b = source.Add("bee");
  std::string c = source.Add(std::string(5000, 'c'));
  source.corrupt.insert(c);
  ObjectReceiver receiver(&source, {{a, b}, {c}}, 1 << 20);
  Received r = Drain(receiver);
  EXPECT_EQ(r.begun, (std::vector<std::string>{a, b, c}));
  ASSERT_EQ(r.content.size(), 3u);
  EXPECT_EQ(r.content[0], std::string(300000, 'a'));
  EXPECT_EQ(r.content[1], "bee");
  // The hash is of the bytes received, so the writer can tell a corrupt one.
  EXPECT_EQ(r.ended[0], a);
  EXPECT_EQ(r.ended[1], b);
  EXPECT_EQ(r.ended[2], Sha256Hex(r.content[2]));
  EXPECT_NE(r.ended[2], c);
  ASSERT_EQ(r.batches.size(), 2u);
  EXPECT_TRUE(r.batches[0].ok());
  EXPECT_TRUE(r.batches[1].ok());
}

// The network fails mid-object: that batch ends with the error, and the
// batches after it are never asked for.
TEST(ObjectReceiverTest, AFailedFetchEndsTheEvents) {
  MemorySource source;
  std::string a = source.Add(std::string(100000, 'a'));
  std::string b = source.Add("b");
  source.cut_at = 50000;
  ObjectReceiver receiver(&source, {{a}, {b}}, 1 << 20);
  Received r = Drain(receiver);
  EXPECT_EQ(r.begun, std::vector<std::string>{a});
  EXPECT_TRUE(r.ended.empty());
  ASSERT_EQ(r.batches.size(), 1u);
  EXPECT_EQ(r.batches[0].code(), Code::kNetwork);
  EXPECT_EQ(source.calls.size(), 1u);
}

// A source that counts what it managed to hand over and keeps the status
// its callbacks returned.
class CountingSource : public ObjectSource {
 public:
  Status Fetch(const std::vector<std::string>& hashes,
               const ObjectStreamDecoder::Callbacks& callbacks) override {
    const std::string chunk(4096, 'x');
    GC_RETURN_IF_ERROR(callbacks.begin(hashes[0], kSize));
    for (uint64_t sent = 0; sent < kSize; sent += chunk.size()) {
      Status status = callbacks.data(chunk);
      if (!status.ok()) {
        failed = status;
        return status;
      }
      delivered += chunk.size();
    }
    return callbacks.end();
  }
  static constexpr uint64_t kSize = 64 << 20;
  std::atomic<uint64_t> delivered{0};
  Status failed;
};

// The disk is slower than the link: the receiver stops taking bytes once
// the bound is reached, and a writer that gives up (disk full) releases it.
TEST(ObjectReceiverTest, BoundedAndCancelledWhileTheSourceWaits) {
  CountingSource source;
  constexpr uint64_t kBound = 1 << 20;
  {
    ObjectReceiver receiver(&source, {{std::string(64, 'a')}}, kBound);
    ASSERT_TRUE(receiver.Next().has_value());
    uint64_t before = 0;
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      before = source.delivered;
    }
    // The bound, one group being gathered and one taken by the consumer.
    EXPECT_LE(before, kBound + (2 << 20));
    EXPECT_LT(before, CountingSource::kSize);
    receiver.Cancel();
    EXPECT_FALSE(receiver.Next().has_value());
  }  // joins the thread: a deadlock hangs here
  EXPECT_FALSE(source.failed.ok());
  EXPECT_THAT(source.failed.message(), HasSubstr("cancelled"));
}

// Destroyed without Cancel or draining, as when the writer returns an error.
TEST(ObjectReceiverTest, DestroyingStopsTheSource) {
  CountingSource source;
  { ObjectReceiver receiver(&source, {{std::string(64, 'a')}, {std::string(64, 'b')}}, 4096); }
  EXPECT_FALSE(source.failed.ok());
}

}  // namespace
}  // namespace gc
