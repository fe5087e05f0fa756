// Files that goldcast writes, identical, on every node of a cluster: the
// openMosix map built from the node registry, and the openMosix
// calibration command of the profile. The installer writes them byte for
// byte; heartbeats report their SHA-256 so `goldcast nodes list` can flag a
// node whose copy differs (docs/node-api.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/node_registry.h"
#include "profiles/cluster_profile.h"
#include "protocol/cluster_file.h"

namespace gc {

// The openMosix map: one "ID IP COUNT" line per range, ID = the node's index
// (openMosix node numbers start at 1, so index 0 is left out), ordered by
// index. Only nodes with an IPv4 address take part. With `compress_ranges`,
// nodes whose indices and addresses both follow on from the previous node's
// share its line ("1 10.77.0.10 4"); without, every node has its own
// ("1 10.77.0.10 1").
std::string RenderOpenMosixMap(const std::vector<Node>& nodes, bool compress_ranges);

// The calibration script: "#!/bin/sh" and the profile's command, run once
// at every boot (mode 0755).
std::string RenderCalibration(const std::string& command);

// Every cluster file of the profile, sorted by path: none unless
// openmosix.enabled; then the map and, if the profile has a calibration,
// the calibration script.
std::vector<ClusterFile> ClusterFiles(const ClusterProfile& profile,
                                      const std::vector<Node>& nodes);

}  // namespace gc
