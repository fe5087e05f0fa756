#include "common/object_receiver.h"

#include <optional>
#include <utility>

#include "common/hash.h"

namespace gc {
namespace {

// Events are handed over in groups of about this many bytes, so the lock
// is taken once per group rather than once per network chunk.
constexpr uint64_t kGroupBytes = 256 << 10;
// What an event costs besides its data, so a stream of tiny objects is
// bounded too.
constexpr uint64_t kEventBytes = 128;

uint64_t Cost(const ObjectEvent& event) { return kEventBytes + event.data.size(); }

Status CancelledStatus() { return Internal("fetching objects was cancelled (the writer stopped)"); }

}  // namespace

ObjectReceiver::ObjectReceiver(ObjectSource* source, std::vector<std::vector<std::string>> batches,
                               uint64_t max_buffered_bytes)
    : source_(source), max_bytes_(max_buffered_bytes) {
  thread_ = std::jthread([this, batches = std::move(batches)] { Run(batches); });
}

ObjectReceiver::~ObjectReceiver() { Cancel(); }

// Called on the consumer's thread, like Next.
void ObjectReceiver::Cancel() {
  taken_.clear();
  next_taken_ = 0;
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  changed_.notify_all();
}

void ObjectReceiver::Run(const std::vector<std::vector<std::string>>& batches) {
  std::optional<Sha256> sha;  // of the object being received
  ObjectStreamDecoder::Callbacks callbacks;
  callbacks.begin = [&](const std::string& hash, uint64_t size) {
    sha.emplace();
    ObjectEvent event;
    event.kind = ObjectEvent::Kind::kBegin;
    event.hash = hash;
    event.size = size;
    return Add(std::move(event));
  };
  callbacks.data = [&](std::string_view data) {
    if (sha) sha->Update(data);
    if (!pending_.empty() && pending_.back().kind == ObjectEvent::Kind::kData) {
      pending_.back().data.append(data);
      pending_bytes_ += data.size();
      return pending_bytes_ >= kGroupBytes ? Flush() : Status::Ok();
    }
    ObjectEvent event;
    event.data.assign(data);
    return Add(std::move(event));
  };
  callbacks.end = [&]() {
    ObjectEvent event;
    event.kind = ObjectEvent::Kind::kEnd;
    if (sha) event.hash = sha->FinishHex();
    sha.reset();
    return Add(std::move(event));
  };
  for (const std::vector<std::string>& batch : batches) {
    ObjectEvent done;
    done.kind = ObjectEvent::Kind::kBatchDone;
    done.status = source_->Fetch(batch, callbacks);
    sha.reset();
    const bool failed = !done.status.ok();
    if (!Add(std::move(done)).ok() || !Flush().ok() || failed) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  done_ = true;
  changed_.notify_all();
}

Status ObjectReceiver::Add(ObjectEvent event) {
  pending_bytes_ += Cost(event);
  pending_.push_back(std::move(event));
  return pending_bytes_ >= kGroupBytes ? Flush() : Status::Ok();
}

// Hands the pending events over, waiting while the queue is full; a group
// larger than the bound still goes into an empty queue.
Status ObjectReceiver::Flush() {
  if (pending_.empty()) return Status::Ok();
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] {
    return cancelled_ || queued_bytes_ == 0 || queued_bytes_ + pending_bytes_ <= max_bytes_;
  });
  if (cancelled_) return CancelledStatus();
  queue_.push_back(std::move(pending_));
  queued_bytes_ += pending_bytes_;
  pending_.clear();
  pending_bytes_ = 0;
  changed_.notify_all();
  return Status::Ok();
}

std::optional<ObjectEvent> ObjectReceiver::Next() {
  if (next_taken_ == taken_.size()) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return cancelled_ || !queue_.empty() || done_; });
    if (cancelled_ || queue_.empty()) return std::nullopt;
    taken_ = std::move(queue_.front());
    queue_.pop_front();
    for (const ObjectEvent& event : taken_) queued_bytes_ -= Cost(event);
    next_taken_ = 0;
    changed_.notify_all();
  }
  return std::move(taken_[next_taken_++]);
}

}  // namespace gc
