// Fuzzes ParseManifest, the manifest's network-facing attack surface.
// Invariants on every accepted input: ValidateManifest agrees, and
// serialise -> parse gives the same manifest (and the same text again).
//
// Random bytes almost never carry a matching SHA-256 trailer, so each input
// is also tried with its trailer recomputed: that is how mutations reach the
// entry parser and the validation rules.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/hash.h"
#include "common/manifest.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "manifest_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void CheckRoundTrip(std::string_view input) {
  auto parsed = gc::ParseManifest(input, "fuzz");
  if (!parsed.ok()) {
    if (parsed.status().message().rfind("fuzz:", 0) != 0) {
      Fail("error message does not start with the source name", parsed.status().message());
    }
    return;
  }
  gc::Status valid = gc::ValidateManifest(*parsed);
  if (!valid.ok()) Fail("ValidateManifest rejects what ParseManifest accepted", valid.message());
  std::string text = gc::SerializeManifest(*parsed);
  auto again = gc::ParseManifest(text, "fuzz-reparse");
  if (!again.ok()) Fail("serialised manifest does not parse", again.status().message());
  if (again->entries != parsed->entries) Fail("round trip changed the manifest", text);
  if (gc::SerializeManifest(*again) != text) Fail("serialisation is not stable", text);
}

// `input` without a final "end ..." line, ending in '\n', plus a valid
// trailer for it.
std::string WithFreshTrailer(std::string_view input) {
  std::string body(input);
  if (!body.empty() && body.back() != '\n') body.push_back('\n');
  if (body.size() >= 2) {
    size_t previous = body.rfind('\n', body.size() - 2);
    if (previous != std::string::npos && body.compare(previous + 1, 4, "end ") == 0) {
      body.resize(previous + 1);
    }
  }
  size_t lines = 0;
  for (char c : body) lines += c == '\n';
  size_t entries = lines > 0 ? lines - 1 : 0;
  std::string checksum = gc::Sha256Hex(body);
  return body + "end " + std::to_string(entries) + " " + checksum + "\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckRoundTrip(input);
  CheckRoundTrip(WithFreshTrailer(input));
  return 0;
}
