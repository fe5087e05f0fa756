// Where a state directory keeps the cluster's state (the registry, and the
// copy of the profile `goldcast serve` runs with), and opening both at once:
// `goldcast nodes` and every later view read the cluster as serve sees it
// without being told the profile again.
#pragma once

#include <memory>
#include <string>

#include "cluster/node_registry.h"
#include "common/status.h"
#include "profiles/cluster_profile.h"

namespace gc {

std::string RegistryPath(const std::string& state_dir);       // STATE/registry.db
std::string ActiveProfilePath(const std::string& state_dir);  // STATE/pxe/profile.yaml

struct ClusterState {
  ClusterProfile profile;
  std::unique_ptr<NodeRegistry> registry;
};

// The registry of `state_dir` with the profile at `profile_path`, or, when
// that is empty, the one serve last started with (NotFound naming both ways
// out when serve never ran).
Result<ClusterState> OpenClusterState(const std::string& state_dir,
                                      const std::string& profile_path);

}  // namespace gc
