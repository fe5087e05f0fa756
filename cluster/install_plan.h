// The install plan of one node: what GET /v1/node/plan answers, made from
// the same target resolution as the node's boot script, so the installer
// and the boot service never disagree about what its group means.
#pragma once

#include <cstdint>
#include <vector>

#include "cluster/node_registry.h"
#include "cluster/target_resolver.h"
#include "common/status.h"
#include "profiles/cluster_profile.h"
#include "protocol/plan.h"

namespace gc {

// Fails with kFailedPrecondition and the admin's next step when the
// group's image or kernel cannot be resolved now (nothing captured, kernel
// not built). The installer asks again later; nothing is erased meanwhile.
Status CheckInstallable(const GroupTarget& target);

// A group without `kernel:` boots the image's own kernel: fails (as above)
// when the image has none. `image_kernel` is NewestImageKernel of the
// image's manifest ("" = none).
Status CheckImageKernel(const ClusterProfile& profile, const GroupTarget& target,
                        const std::string& image_kernel);

// The plan for `node` of a group resolved to `target` (CheckInstallable
// passed); `nodes` is the whole registry (the openMosix map lists every
// node) and `image_bytes` the apparent size of the image's files.
InstallPlan MakeInstallPlan(const ClusterProfile& profile, const Node& node,
                            const GroupTarget& target, const std::vector<Node>& nodes,
                            uint64_t image_bytes);

}  // namespace gc
