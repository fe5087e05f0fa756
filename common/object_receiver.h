// ObjectReceiver: runs an ObjectSource's fetches on a thread of its own, so
// that receiving objects (the network, and hashing them) overlaps writing
// them (creating files is most of an install's CPU). The consumer takes the
// stream back as events, in order, on its own thread. Between the two at
// most `max_buffered_bytes` wait, so a fast link and a slow disk cannot
// fill memory. Either side can stop the other: the consumer by Cancel (or
// by destroying the receiver), the source by failing a fetch, which ends
// the events after that batch.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/tree_writer.h"

namespace gc {

struct ObjectEvent {
  enum class Kind { kBegin, kData, kEnd, kBatchDone };
  Kind kind = Kind::kData;
  // kBegin: the object announced. kEnd: the SHA-256 (hex) of the bytes
  // received since the last kBegin, computed on the receiving thread.
  std::string hash;
  uint64_t size = 0;  // kBegin: the size announced
  std::string data;   // kData: bytes of the current object
  Status status;      // kBatchDone: what the source's Fetch returned
};

class ObjectReceiver {
 public:
  // Starts fetching `batches`, one ObjectSource::Fetch each, in order.
  ObjectReceiver(ObjectSource* source, std::vector<std::vector<std::string>> batches,
                 uint64_t max_buffered_bytes);
  // Cancels and waits for the thread.
  ~ObjectReceiver();
  ObjectReceiver(const ObjectReceiver&) = delete;
  ObjectReceiver& operator=(const ObjectReceiver&) = delete;

  // The next event; waits for it. Every batch ends with kBatchDone; after
  // the last one, after a failed one, or after Cancel: nullopt.
  std::optional<ObjectEvent> Next();
  // Stops the fetching: the source's callbacks fail from now on. Call it on
  // the thread that calls Next.
  void Cancel();

 private:
  void Run(const std::vector<std::vector<std::string>>& batches);
  Status Add(ObjectEvent event);
  Status Flush();

  ObjectSource* source_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::vector<ObjectEvent>> queue_;  // guarded by mu_
  uint64_t queued_bytes_ = 0;                   // guarded by mu_
  bool done_ = false;                           // guarded by mu_: no more pushes
  bool cancelled_ = false;                      // guarded by mu_
  // The receiving thread's own: events gathered before taking the lock.
  std::vector<ObjectEvent> pending_;
  uint64_t pending_bytes_ = 0;
  // The consumer's own: the events of the last vector taken.
  std::vector<ObjectEvent> taken_;
  size_t next_taken_ = 0;
  // Last: joined before the members it uses are destroyed.
  std::jthread thread_;
};

}  // namespace gc
