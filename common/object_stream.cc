#include "common/object_stream.h"

#include <algorithm>

#include "common/hash.h"

namespace gc {

namespace {
constexpr size_t kMaxHeader = kHashHexLength + 1 + 20 + 1;
}

std::string EncodeFrameHeader(std::string_view hash, uint64_t size) {
  std::string header(hash);
  header.push_back(' ');
  header += std::to_string(size);
  header.push_back('\n');
  return header;
}

Status ObjectStreamDecoder::Feed(std::string_view chunk) {
  while (!chunk.empty()) {
    if (in_body_) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, chunk.size()));
      GC_RETURN_IF_ERROR(callbacks_.data(chunk.substr(0, n)));
      chunk.remove_prefix(n);
      remaining_ -= n;
      if (remaining_ == 0) {
        in_body_ = false;
        ++objects_;
        GC_RETURN_IF_ERROR(callbacks_.end());
      }
      continue;
    }
    size_t newline = chunk.find('\n');
    size_t take = newline == std::string_view::npos ? chunk.size() : newline;
    header_.append(chunk.substr(0, take));
    if (header_.size() > kMaxHeader) return Corrupt("object stream: frame header too long");
    if (newline == std::string_view::npos) return Status::Ok();
    chunk.remove_prefix(newline + 1);
    size_t space = header_.find(' ');
    std::string_view hash = std::string_view(header_).substr(0, space);
    std::string_view size_text = space == std::string::npos
                                     ? std::string_view()
                                     : std::string_view(header_).substr(space + 1);
    if (!IsValidHashHex(hash) || size_text.empty() || size_text.size() > 19) {
      return Corrupt("object stream: malformed frame header '" + header_.substr(0, 80) + "'");
    }
    uint64_t size = 0;
    for (char c : size_text) {
      if (c < '0' || c > '9') return Corrupt("object stream: malformed size '" + header_ + "'");
      size = size * 10 + static_cast<uint64_t>(c - '0');
    }
    std::string hash_copy(hash);
    header_.clear();
    GC_RETURN_IF_ERROR(callbacks_.begin(hash_copy, size));
    if (size == 0) {
      ++objects_;
      GC_RETURN_IF_ERROR(callbacks_.end());
    } else {
      in_body_ = true;
      remaining_ = size;
    }
  }
  return Status::Ok();
}

Status ObjectStreamDecoder::Finish() const {
  if (in_body_ || !header_.empty()) {
    return Corrupt("object stream ended in the middle of an object (connection cut?)");
  }
  return Status::Ok();
}

}  // namespace gc
