// Fuzzes DecodeProgress and DecodeHeartbeat (protocol/), the first code
// that reads what a node's agent POSTs to /v1/node/progress and
// /v1/node/heartbeat: network input from an authenticated but untrusted
// node. Every input goes to both. Never crash or throw; invariants:
// - an accepted report keeps the documented bounds (docs/node-api.md), and
//   every string in it is valid UTF-8 without control characters (it is
//   stored, printed by `goldcast nodes show` and dumped by its --json,
//   which throws on invalid UTF-8);
// - the encoder undoes the decoder: EncodeHeartbeat of an accepted report
//   (what the registry stores) decodes to the same report and encodes to
//   the same JSON again; likewise EncodeProgress;
// - an error is kInvalidArgument, names the body ("progress: ..."), is
//   bounded and holds no raw control character (it is the 400 answer).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "common/hash.h"
#include "common/manifest.h"
#include "protocol/heartbeat.h"
#include "protocol/progress.h"

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
  gc::Result<gc::ProgressReport> progress = gc::DecodeProgress(input);
  if (!progress.ok()) {
    CheckError(progress.status(), "progress");
    return;
  }
  const gc::ProgressReport& p = *progress;
  if (!gc::IsInstallPhase(p.phase)) Fail("unknown phase accepted", p.phase);
  if (p.done > static_cast<uint64_t>(INT64_MAX) || p.total > static_cast<uint64_t>(INT64_MAX)) {
    Fail("counter beyond int64 accepted", std::to_string(p.done));
  }
  CheckText("message", p.message, 4096);

  std::string again = gc::EncodeProgress(p);
  gc::Result<gc::ProgressReport> reparsed = gc::DecodeProgress(again);
  if (!reparsed.ok()) Fail("progress written back does not parse", reparsed.status().message());
  if (!(*reparsed == p)) Fail("progress changed on the round trip", again);
}

// A sample: when given, finite and >= 0.
template <typename T>
void CheckSample(const char* field, const std::optional<T>& value) {
  if (!value) return;
  double number = static_cast<double>(*value);
  if (!std::isfinite(number) || number < 0) Fail("bad sample accepted", field);
}

void CheckHeartbeat(std::string_view input) {
  gc::Result<gc::HeartbeatReport> beat = gc::DecodeHeartbeat(input);
  if (!beat.ok()) {
    CheckError(beat.status(), "heartbeat");
    return;
  }
  const gc::HeartbeatReport& b = *beat;
  if (b.boot != "installed" && b.boot != "diskless") Fail("bad boot accepted", b.boot);
  CheckText("image", b.image, 256);
  CheckText("kernel.release", b.kernel_release, 256);
  CheckText("kernel.version", b.kernel_version, 256);
  CheckText("kernel.artifact", b.kernel_artifact, 256);
  CheckSample("uptime_s", b.uptime_s);
  CheckSample("cpu_mhz", b.cpu_mhz);
  CheckSample("cpus", b.cpus);
  CheckSample("mem_total_kb", b.mem_total_kb);
  CheckSample("mem_available_kb", b.mem_available_kb);
  if (b.load) {
    if (b.load->size() > 3) Fail("more than 3 load numbers", "");
    for (double load : *b.load) CheckSample("load", std::optional<double>(load));
  }
  const std::string stored = gc::EncodeHeartbeat(b);
  if (b.cluster_files.size() > 64) Fail("more than 64 cluster files", stored);
  for (const auto& [path, hash] : b.cluster_files) {
    CheckText("cluster_files path", path, 256);
    if (!gc::ValidateRelativePath(path).ok() || path == ".") Fail("bad path accepted", path);
    if (!hash.empty() && !gc::IsValidHashHex(hash)) Fail("bad hash accepted", hash);
  }

  // The stored report: a heartbeat in its own right, and a fixed point.
  gc::Result<gc::HeartbeatReport> reparsed = gc::DecodeHeartbeat(stored);
  if (!reparsed.ok()) Fail("stored report does not parse", reparsed.status().message());
  if (!(*reparsed == b)) Fail("stored report parses to another heartbeat", stored);
  if (gc::EncodeHeartbeat(*reparsed) != stored) Fail("stored report is not a fixed point", stored);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckProgress(input);
  CheckHeartbeat(input);
  return 0;
}
