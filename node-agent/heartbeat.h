// `goldcast-agent run`: samples the node (load, memory, CPUs, kernel, image,
// hashes of the cluster files) and posts a heartbeat to the server every
// interval (docs/node-api.md, "Heartbeat"). The server keeps the last one
// per node and flags drift from it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "node-agent/node_config.h"
#include "node-agent/node_identity.h"

namespace gc {

// Where sampling looks; tests point it at a fake tree.
struct SamplePaths {
  std::string proc_root = "/proc";
  std::string fs_root = "/";  // cluster_files are relative to this
  // uname(2) is asked unless both are set.
  std::string uname_release;
  std::string uname_version;
};

// Whether the identity came from an installed node.json or, diskless, from
// the kernel command line.
enum class BootKind { kInstalled, kDiskless };
const char* BootKindName(BootKind boot);

struct HeartbeatSample {
  BootKind boot = BootKind::kInstalled;
  std::string image;            // from the config: what was installed / booted
  std::string kernel_release;   // uname -r
  std::string kernel_version;   // uname -v
  std::string kernel_artifact;  // goldcast.kernel= on the command line, or ""
  double uptime_s = 0;
  std::array<double, 3> load = {0, 0, 0};
  uint64_t cpus = 0;
  double cpu_mhz = 0;  // average over CPUs; 0 where /proc/cpuinfo has no "cpu MHz"
  uint64_t mem_total_kb = 0;
  uint64_t mem_available_kb = 0;
  // Path -> SHA-256 hex; "" for a file that could not be read.
  std::map<std::string, std::string> cluster_files;
  // What could not be sampled and why (for the log; not sent).
  std::vector<std::string> notes;
};

// Reads PROC/loadavg, meminfo, cpuinfo, uptime, cmdline and hashes the
// config's cluster files under the fs root. An unreadable or malformed
// loadavg, meminfo, uptime or cpuinfo is an error naming the file; a missing
// cmdline, "cpu MHz" or cluster file only adds a note.
Result<HeartbeatSample> SampleNode(const SamplePaths& paths, const NodeConfig& config,
                                   BootKind boot);

// The heartbeat body, exactly as docs/node-api.md lists it.
std::string HeartbeatJson(const HeartbeatSample& sample);

// The cluster files of a heartbeat answer (docs/node-api.md): the server's
// copy of each file whose reported hash differs from it. Network input,
// parsed strictly: at most 1 MiB and 64 files, each with a string `path`
// and `content` and an integer `mode` within 0777; an error names the
// field. No `cluster_files` field is an empty list.
Result<std::vector<ClusterFile>> ParseHeartbeatAnswer(std::string_view answer);

// Replaces FS_ROOT/file.path with the server's copy, if the path is one of
// config.cluster_files (the server never gets to write anywhere else):
// temp file in the same directory, fsync, rename, fsync of the directory;
// a symlink on the way is refused, one at the final name replaced.
Status WriteClusterFile(const std::string& fs_root, const NodeConfig& config,
                        const ClusterFile& file);

struct RunOptions {
  // node.json; when it does not exist, the identity comes from
  // PROC/cmdline (a diskless node).
  std::string config_path = kNodeConfigPath;
  int interval_s = 30;  // >= 1
  bool once = false;    // one heartbeat; OK only if the server accepted it
  // Replace the config's server, node name or secret (read from a file so it
  // stays out of `ps`). With all three given, neither node.json nor the
  // command line needs to name the node.
  std::string server;
  std::string node;
  std::string secret_file;
  SamplePaths paths;
};

// Sends heartbeats until SIGTERM or SIGINT (then returns OK), or once. A
// failing server is retried with jittered backoff (at most 5 minutes apart);
// the log says once that heartbeats fail and once that they recovered.
// Cluster files in an answer are written (WriteClusterFile) and logged
// ("updated PATH"); a malformed list or a refused file is logged, and the
// heartbeat still counts as accepted.
Status RunAgent(const RunOptions& options);

}  // namespace gc
