#include "cluster/install_plan.h"

#include "cluster/cluster_files.h"

namespace gc {

Status CheckInstallable(const GroupTarget& target) {
  if (!target.image) {
    return FailedPrecondition(target.image_error + " (capture or import it first)");
  }
  if (!target.kernel_spec.empty() && !target.kernel) {
    return FailedPrecondition(target.kernel_error);
  }
  return Status::Ok();
}

Status CheckImageKernel(const ClusterProfile& profile, const GroupTarget& target,
                        const std::string& image_kernel) {
  if (!target.kernel_spec.empty() || !image_kernel.empty() || !target.image) return Status::Ok();
  return FailedPrecondition("image " + target.image->ToString() + " of group " + target.group.name +
                            " has no kernel (/boot/vmlinuz-*) and the group" +
                            " names none: add kernel: NAME to group " + target.group.name + " in " +
                            profile.path +
                            ", or install a kernel on the golden client and capture it again");
}

InstallPlan MakeInstallPlan(const ClusterProfile& profile, const Node& node,
                            const GroupTarget& target, const std::vector<Node>& nodes,
                            uint64_t image_bytes) {
  InstallPlan plan;
  plan.node_name = node.name;
  // Without fixed addresses (proxy DHCP) the node keeps asking DHCP.
  bool fixed = profile.network.dhcp_mode == DhcpMode::kAuthoritative;
  plan.ip = fixed ? node.ip : "";
  plan.domain = profile.naming.domain;
  plan.image_ref = target.image ? target.image->ToString() : "";
  plan.image_bytes = image_bytes;
  if (target.kernel) {
    plan.has_kernel = true;
    plan.kernel_ref = target.kernel->ToString();
    plan.kernel_release = target.kernel_release;
    plan.kernel_has_modules = target.kernel_has_modules;
  }
  plan.kernel_args = target.group.kernel_args;
  plan.cluster_files = ClusterFiles(profile, nodes);
  return plan;
}

}  // namespace gc
