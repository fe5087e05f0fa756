// `goldcast-agent run`: samples the node (load, memory, CPUs, kernel, image,
// hashes of the cluster files) and posts a heartbeat to the server every
// interval (docs/node-api.md, "Heartbeat"). The server keeps the last one
// per node and flags drift from it.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "node-agent/node_config.h"
#include "protocol/cluster_file.h"
#include "protocol/heartbeat.h"

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
  // What is sent (EncodeHeartbeat), every sample set: image from the
  // config, kernel_artifact from goldcast.kernel= on the command line,
  // cpu_mhz the average over CPUs (0 where /proc/cpuinfo has no "cpu MHz").
  HeartbeatReport report;
  // What could not be sampled and why (for the log; not sent).
  std::vector<std::string> notes;
};

// Reads PROC/loadavg, meminfo, cpuinfo, uptime, cmdline and hashes the
// config's cluster files under the fs root. An unreadable or malformed
// loadavg, meminfo, uptime or cpuinfo is an error naming the file; a missing
// cmdline, "cpu MHz" or cluster file only adds a note.
Result<HeartbeatSample> SampleNode(const SamplePaths& paths, const NodeConfig& config,
                                   BootKind boot);

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
