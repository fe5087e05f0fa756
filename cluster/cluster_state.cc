#include "cluster/cluster_state.h"

#include "common/env.h"

namespace gc {

std::string RegistryPath(const std::string& state_dir) {
  return JoinPath(state_dir, "registry.db");
}

std::string ActiveProfilePath(const std::string& state_dir) {
  return JoinPath(state_dir, "pxe/profile.yaml");
}

Result<ClusterState> OpenClusterState(const std::string& state_dir,
                                      const std::string& profile_path) {
  std::string path = profile_path;
  if (path.empty()) {
    path = ActiveProfilePath(state_dir);
    if (!Env::Default()->Exists(path)) {
      return NotFound("no cluster profile in " + state_dir +
                      ": start goldcast serve --profile FILE once, or pass --profile FILE");
    }
  }
  ClusterState state;
  GC_ASSIGN_OR_RETURN(state.profile, LoadClusterProfile(path));
  GC_ASSIGN_OR_RETURN(state.registry, NodeRegistry::Open(RegistryPath(state_dir), state.profile));
  return state;
}

}  // namespace gc
