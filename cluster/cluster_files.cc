#include "cluster/cluster_files.h"

#include <algorithm>

namespace gc {

namespace {

struct MapNode {
  int index;
  Ipv4 address;
};

}  // namespace

std::string RenderOpenMosixMap(const std::vector<Node>& nodes, bool compress_ranges) {
  std::vector<MapNode> members;
  for (const Node& node : nodes) {
    if (node.index < 1 || node.ip.empty()) continue;
    Result<Ipv4> address = ParseIpv4(node.ip);
    if (!address.ok()) continue;
    members.push_back({node.index, *address});
  }
  std::sort(members.begin(), members.end(),
            [](const MapNode& a, const MapNode& b) { return a.index < b.index; });
  std::string map;
  size_t i = 0;
  while (i < members.size()) {
    size_t count = 1;
    while (compress_ranges && i + count < members.size() &&
           members[i + count].index == members[i].index + static_cast<int>(count) &&
           members[i].address + count <= UINT32_MAX &&
           members[i + count].address == members[i].address + count) {
      ++count;
    }
    map += std::to_string(members[i].index) + " " + FormatIpv4(members[i].address) + " " +
           std::to_string(count) + "\n";
    i += count;
  }
  return map;
}

std::string RenderCalibration(const std::string& command) {
  return "#!/bin/sh\n# openMosix calibration from the cluster profile (goldcast)\n" + command +
         "\n";
}

std::vector<ClusterFile> ClusterFiles(const ClusterProfile& profile,
                                      const std::vector<Node>& nodes) {
  std::vector<ClusterFile> files;
  const OpenMosixSettings& openmosix = profile.openmosix;
  if (!openmosix.enabled) return files;
  // Sorted by path: the calibration ("etc/goldcast/...") comes first.
  if (!openmosix.calibration.empty()) {
    files.push_back({kCalibrationPath, ClusterFileMode(kCalibrationPath),
                     RenderCalibration(openmosix.calibration)});
  }
  files.push_back({kOpenMosixMapPath, ClusterFileMode(kOpenMosixMapPath),
                   RenderOpenMosixMap(nodes, openmosix.compress_ranges)});
  return files;
}

}  // namespace gc
