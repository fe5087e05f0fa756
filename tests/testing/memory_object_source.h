// MemorySource: an ObjectSource holding its objects in memory, for tests of
// what consumes an object stream (WriteTree, the installer). It sends a real
// object stream through ObjectStreamDecoder, cut into `chunk`-byte pieces so
// frame boundaries fall anywhere, and can be told to misbehave the ways a
// server or network can. Header-only: each test executable stays one source.
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/hash.h"
#include "common/object_stream.h"
#include "common/status.h"
#include "common/tree_writer.h"

namespace gc::testing {

class MemorySource : public ObjectSource {
 public:
  // Stores `content` and returns its hash, for a manifest entry.
  std::string Add(const std::string& content) {
    std::string hash = Sha256Hex(content);
    objects[hash] = content;
    return hash;
  }

  // A hash not in `objects` fails the call with kNotFound naming it, as the
  // ObjectSource contract asks; `omit` instead leaves an object out silently,
  // as a broken server would.
  Status Fetch(const std::vector<std::string>& hashes,
               const ObjectStreamDecoder::Callbacks& callbacks) override {
    calls.push_back(hashes);
    std::string body;
    for (const std::string& hash : hashes) {
      auto it = objects.find(hash);
      if (it == objects.end()) return NotFound("object " + hash + " is not on the server");
      if (omit.count(hash) != 0) continue;
      std::string content = it->second;
      if (corrupt.count(hash) != 0) content[content.size() / 2] ^= 1;
      if (auto r = replace.find(hash); r != replace.end()) content = r->second;
      std::string frame = EncodeFrameHeader(hash, content.size()) + content;
      body += frame;
      if (resend.count(hash) != 0) body += frame;
    }
    for (const std::string& extra : unrequested) {
      body += EncodeFrameHeader(Sha256Hex(extra), extra.size()) + extra;
    }
    size_t end = body.size();
    if (cut_at) end = std::min(end, *cut_at);
    ObjectStreamDecoder decoder(callbacks);
    for (size_t i = 0; i < end; i += chunk) {
      GC_RETURN_IF_ERROR(decoder.Feed(std::string_view(body).substr(i, std::min(chunk, end - i))));
    }
    if (cut_at) return Status(Code::kNetwork, "connection reset by peer");
    return decoder.Finish();
  }

  std::map<std::string, std::string> objects;  // hash -> content

  // How it sends: the stream is fed to the decoder `chunk` bytes at a time.
  size_t chunk = 4096;
  // How it misbehaves, per hash: one byte flipped (`corrupt`), left out
  // (`omit`), sent twice (`resend`), other content under the same hash and
  // a matching size (`replace`).
  std::set<std::string> corrupt, omit, resend;
  std::map<std::string, std::string> replace;
  // Objects nobody asked for, appended after the requested ones.
  std::vector<std::string> unrequested;
  // The connection drops after this many bytes of the stream: kNetwork.
  std::optional<size_t> cut_at;

  // What it was asked for: the hashes of each Fetch call, in order.
  std::vector<std::vector<std::string>> calls;
};

}  // namespace gc::testing
