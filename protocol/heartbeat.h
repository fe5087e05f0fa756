// POST /v1/node/heartbeat (docs/node-api.md): the report every running
// node's agent sends, and the server's answer, which carries back the
// cluster files whose copy on the node differs. The agent encodes reports
// and decodes answers; the server the other way round.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/cluster_file.h"

namespace gc {

// The report's `format`.
constexpr int kHeartbeatFormat = 1;
// Strings of a report: at most this many bytes, without control characters.
constexpr size_t kMaxHeartbeatTextBytes = 256;

struct HeartbeatReport {
  std::string boot;             // "installed" or "diskless"
  std::string image;            // "compute@2" as the node knows it, or ""
  std::string kernel_release;   // uname -r
  std::string kernel_version;   // uname -v
  std::string kernel_artifact;  // goldcast.kernel= on its command line, or ""
  // Path -> SHA-256 hex; "" for a file the agent could not read.
  std::map<std::string, std::string> cluster_files;
  // The node's samples; each may be left out.
  std::optional<double> uptime_s;
  std::optional<std::vector<double>> load;  // up to 3 numbers
  std::optional<uint64_t> cpus;
  std::optional<double> cpu_mhz;
  std::optional<uint64_t> mem_total_kb;
  std::optional<uint64_t> mem_available_kb;
  bool operator==(const HeartbeatReport&) const = default;
};

// One line, fields in the documented order; samples only when set.
std::string EncodeHeartbeat(const HeartbeatReport& report);

// Every field checked: a wrong type, a missing format or boot, a value out
// of bounds (strings of at most 256 printable bytes, numbers >= 0, at most
// 64 cluster files, each a relative path mapped to 64 lowercase hex digits
// or "") is kInvalidArgument "heartbeat: field <name>: <problem>", bounded
// and printable. Unknown fields are ignored.
Result<HeartbeatReport> DecodeHeartbeat(std::string_view body);

struct HeartbeatAnswer {
  bool ok = false;      // the server took the heartbeat
  int64_t time_ns = 0;  // the server's clock
  // The server's copy of each file the node reported with another hash.
  std::vector<ClusterFile> cluster_files;
  // Decoding only: why `cluster_files` was malformed (it is then empty).
  // The server took the beat all the same.
  Status cluster_files_status;
};

std::string EncodeHeartbeatAnswer(const HeartbeatAnswer& answer);

// An error only when the body is no JSON object (or over 1 MiB); `ok` is
// true only for a boolean true. No `cluster_files` (older servers) is an
// empty list.
Result<HeartbeatAnswer> DecodeHeartbeatAnswer(std::string_view body);

}  // namespace gc
