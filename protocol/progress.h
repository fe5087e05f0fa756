// ProgressReport: POST /v1/node/progress (docs/node-api.md), what the
// installer tells the server as it goes. The agent encodes it, the server
// decodes it (network input from an authenticated but untrusted node) and
// the registry stores it (cluster/node_registry.h InstallProgress).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gc {

// A progress message is kept up to this many bytes.
constexpr size_t kMaxProgressMessageBytes = 4096;

struct ProgressReport {
  std::string phase;  // see IsInstallPhase
  uint64_t done = 0;  // counters of the phase (0 when not given)
  uint64_t total = 0;
  std::string message;
  bool operator==(const ProgressReport&) const = default;
};

// partition, format, image, kernel, identity, bootloader, done, failed.
bool IsInstallPhase(std::string_view phase);

std::string EncodeProgress(const ProgressReport& report);

// A wrong type, a missing phase or a counter out of bounds is
// kInvalidArgument "progress: field <name>: <problem>", bounded and
// printable (it goes back in the 400 answer). The message is the one thing
// an admin must read, so it is kept: cut to 4096 bytes, control characters
// turned into spaces. Unknown fields are ignored.
Result<ProgressReport> DecodeProgress(std::string_view body);

}  // namespace gc
