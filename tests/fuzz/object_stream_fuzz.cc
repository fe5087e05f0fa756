// Fuzzes ObjectStreamDecoder (common/object_stream.h), the first code that
// reads an object stream off the network: getimage reads a golden client's,
// the installer and updateclient read serve's. The first input byte picks
// a chunk size; the rest is the stream. Never crash or throw; invariants:
// - the events and the outcome are the same whether the stream arrives in
//   one piece or in chunks of that size (TCP splits anywhere);
// - every object begun has a 64-hex-digit hash, gets exactly the bytes its
//   header announced before its end, and begin/end alternate;
// - an error is kCorrupt and names the object stream.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/hash.h"
#include "common/object_stream.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "object_stream_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// What a decoding produced, as text: comparable across chunkings.
struct Trace {
  std::string events;
  bool open = false;
  uint64_t announced = 0, received = 0;

  gc::ObjectStreamDecoder::Callbacks Callbacks() {
    return {[this](const std::string& hash, uint64_t size) {
              if (open) Fail("begin before the previous end", hash);
              if (!gc::IsValidHashHex(hash)) Fail("begin with a bad hash", hash);
              open = true;
              announced = size;
              received = 0;
              events += "B" + hash + ":" + std::to_string(size) + ";";
              return gc::Status::Ok();
            },
            [this](std::string_view data) {
              if (!open) Fail("data outside an object", std::string(data.substr(0, 64)));
              received += data.size();
              if (received > announced) Fail("more data than announced", std::to_string(received));
              events += "D" + gc::Sha256Hex(data).substr(0, 8);
              return gc::Status::Ok();
            },
            [this] {
              if (!open || received != announced) Fail("end without the announced bytes", events);
              open = false;
              events += "E;";
              return gc::Status::Ok();
            }};
  }
};

// Data events split differently per chunking: compare objects, not chunks.
std::string Objects(const Trace& trace) {
  std::string out;
  for (size_t i = 0; i < trace.events.size();) {
    char kind = trace.events[i];
    size_t next = kind == 'D' ? i + 9 : trace.events.find(';', i) + 1;
    if (kind != 'D') out += trace.events.substr(i, next - i);
    i = next;
  }
  return out;
}

gc::Status Decode(std::string_view stream, size_t chunk, Trace* trace) {
  gc::ObjectStreamDecoder decoder(trace->Callbacks());
  for (size_t at = 0; at < stream.size(); at += chunk) {
    gc::Status status = decoder.Feed(stream.substr(at, chunk));
    if (!status.ok()) return status;
  }
  return decoder.Finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 97;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  Trace whole, pieces;
  gc::Status a = Decode(stream, stream.size() + 1, &whole);
  gc::Status b = Decode(stream, chunk, &pieces);
  if (a.ok() != b.ok())
    Fail("the outcome depends on the chunking", a.message() + " / " + b.message());
  if (!a.ok()) {
    if (a.code() != gc::Code::kCorrupt) Fail("wrong code", a.message());
    if (a.message().rfind("object stream", 0) != 0) Fail("error does not name it", a.message());
    return 0;
  }
  if (Objects(whole) != Objects(pieces)) Fail("the objects depend on the chunking", whole.events);
  return 0;
}
