// The object stream of the capture protocol: many objects in one HTTP body,
// so a tree of small files costs a few requests rather than one per file.
// Each frame is "<64 hex hash> <decimal size>\n" followed by exactly size
// bytes. The sender cannot know that a file changed after it was hashed, so
// the receiver checks every hash; the framing stays valid regardless because
// the sender pads or truncates to the announced size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gc {

std::string EncodeFrameHeader(std::string_view hash, uint64_t size);

// Incremental decoder: feed it body chunks in order.
class ObjectStreamDecoder {
 public:
  struct Callbacks {
    // A new object starts.
    std::function<Status(const std::string& hash, uint64_t size)> begin;
    // Bytes of the current object.
    std::function<Status(std::string_view data)> data;
    // The current object's bytes are complete.
    std::function<Status()> end;
  };
  explicit ObjectStreamDecoder(Callbacks callbacks) : callbacks_(std::move(callbacks)) {}

  Status Feed(std::string_view chunk);
  // Call after the last chunk: a frame cut short is kCorrupt.
  Status Finish() const;
  uint64_t objects() const { return objects_; }

 private:
  Callbacks callbacks_;
  std::string header_;  // partial header line
  uint64_t remaining_ = 0;
  bool in_body_ = false;
  uint64_t objects_ = 0;
};

}  // namespace gc
