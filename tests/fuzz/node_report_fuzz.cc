// Fuzzes ParseProgress and ParseHeartbeat, the first code that reads what a
// node's agent POSTs to /v1/node/progress and /v1/node/heartbeat: network
// input from an authenticated but untrusted node. Every input goes to both.
// Never crash or throw; invariants:
// - an accepted report keeps the documented bounds (docs/node-api.md), and
//   every string in it is valid UTF-8 without control characters (it is
//   stored, printed by `goldcast nodes show` and dumped by its --json,
//   which throws on invalid UTF-8);
// - Heartbeat::json, the stored report, is itself a heartbeat that parses
//   to the same fields and the same JSON again; a progress report written
//   back as JSON parses to the same report;
// - an error is kInvalidArgument, names the body ("progress: ..."), is
//   bounded and holds no raw control character (it is the 400 answer).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/hash.h"
#include "common/manifest.h"
#include "server/node_api.h"

namespace {

constexpr size_t kMaxErrorBytes = 1024;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "node_report_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

bool ValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xe ? 3 : 4;
    if (byte >= 0x80 && ((byte >> 6) == 0x2 || byte >= 0xf8)) return false;
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return false;
    }
    i += length;
  }
  return true;
}

bool HasControl(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// A string field of an accepted report.
void CheckText(const char* field, const std::string& text, size_t max_bytes) {
  if (text.size() > max_bytes) Fail("field longer than its bound", field);
  if (HasControl(text)) Fail("control character in an accepted field", field);
  if (!ValidUtf8(text)) Fail("invalid UTF-8 in an accepted field", field);
}

void CheckError(const gc::Status& status, const char* what) {
  const std::string& message = status.message();
  if (status.code() != gc::Code::kInvalidArgument) Fail("wrong code", message);
  if (message.rfind(std::string(what) + ": ", 0) != 0) Fail("message does not name it", message);
  if (message.size() > kMaxErrorBytes) Fail("error message too long", message.substr(0, 200));
  if (HasControl(message)) Fail("raw control character in the error", message);
}

void CheckProgress(std::string_view input) {
  gc::Result<gc::InstallProgress> progress = gc::ParseProgress(input);
  if (!progress.ok()) {
    CheckError(progress.status(), "progress");
    return;
  }
  const gc::InstallProgress& p = *progress;
  if (!gc::IsInstallPhase(p.phase)) Fail("unknown phase accepted", p.phase);
  if (p.done > static_cast<uint64_t>(INT64_MAX) || p.total > static_cast<uint64_t>(INT64_MAX)) {
    Fail("counter beyond int64 accepted", std::to_string(p.done));
  }
  CheckText("message", p.message, 4096);
  if (p.time_ns != 0) Fail("time_ns set by the parser", std::to_string(p.time_ns));

  nlohmann::json again = {
      {"phase", p.phase}, {"done", p.done}, {"total", p.total}, {"message", p.message}};
  gc::Result<gc::InstallProgress> reparsed = gc::ParseProgress(again.dump());
  if (!reparsed.ok()) Fail("progress written back does not parse", reparsed.status().message());
  if (reparsed->phase != p.phase || reparsed->done != p.done || reparsed->total != p.total ||
      reparsed->message != p.message) {
    Fail("progress changed on the round trip", again.dump());
  }
}

bool SameBeat(const gc::Heartbeat& a, const gc::Heartbeat& b) {
  return a.time_ns == b.time_ns && a.boot == b.boot && a.image == b.image &&
         a.kernel_release == b.kernel_release && a.kernel_version == b.kernel_version &&
         a.kernel_artifact == b.kernel_artifact && a.cluster_files == b.cluster_files &&
         a.json == b.json;
}

void CheckHeartbeat(std::string_view input) {
  gc::Result<gc::Heartbeat> beat = gc::ParseHeartbeat(input);
  if (!beat.ok()) {
    CheckError(beat.status(), "heartbeat");
    return;
  }
  const gc::Heartbeat& b = *beat;
  if (b.boot != "installed" && b.boot != "diskless") Fail("bad boot accepted", b.boot);
  if (b.time_ns != 0) Fail("time_ns set by the parser", std::to_string(b.time_ns));
  CheckText("image", b.image, 256);
  CheckText("kernel.release", b.kernel_release, 256);
  CheckText("kernel.version", b.kernel_version, 256);
  CheckText("kernel.artifact", b.kernel_artifact, 256);
  if (b.cluster_files.size() > 64) Fail("more than 64 cluster files", b.json);
  for (const auto& [path, hash] : b.cluster_files) {
    CheckText("cluster_files path", path, 256);
    if (!gc::ValidateRelativePath(path).ok() || path == ".") Fail("bad path accepted", path);
    if (!hash.empty() && !gc::IsValidHashHex(hash)) Fail("bad hash accepted", hash);
  }

  // The stored report: a heartbeat in its own right, and a fixed point.
  gc::Result<gc::Heartbeat> reparsed = gc::ParseHeartbeat(b.json);
  if (!reparsed.ok()) Fail("stored report does not parse", reparsed.status().message());
  if (!SameBeat(b, *reparsed)) Fail("stored report parses to another heartbeat", b.json);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckProgress(input);
  CheckHeartbeat(input);
  return 0;
}
