// ClusterFile: a file goldcast writes, identical, on every node of a
// cluster (the openMosix map, the calibration script), as the install plan
// and the heartbeat answer carry it (docs/node-api.md). What goes in one is
// cluster/cluster_files.h's business; how it travels is this module's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gc {

struct ClusterFile {
  std::string path;  // relative to the node's root, e.g. "etc/openmosix.map"
  uint32_t mode = 0644;
  std::string content;
  bool operator==(const ClusterFile&) const = default;
};

// The cluster files goldcast makes, relative to the node's root.
constexpr char kOpenMosixMapPath[] = "etc/openmosix.map";
constexpr char kCalibrationPath[] = "etc/goldcast/calibration";

// Bounds of the wire: as many files as a heartbeat may report, each with a
// mode of at most 0777 (no set-id bits from the network), a path of at most
// 256 bytes and at most 1 MiB of content.
constexpr size_t kMaxClusterFiles = 64;
constexpr uint32_t kMaxClusterFileMode = 0777;
constexpr size_t kMaxClusterFilePathBytes = 256;
constexpr size_t kMaxClusterFileBytes = 1 << 20;

// The mode a node gives the cluster file at `path`, whatever the server
// said: 0755 for the calibration script (run at boot), 0644 for anything
// else. A server, or whoever answers in its place, cannot make a node run
// what it sends, or hide a file from its users.
uint32_t ClusterFileMode(std::string_view path);

// Whether `path` may name a cluster file: a relative path as in manifests
// (no "..", no leading "/"), not "." itself, printable, at most 256 bytes.
bool IsClusterFilePath(std::string_view path);

}  // namespace gc
