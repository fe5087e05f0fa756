#include "imager/drift.h"

#include "common/hash.h"
#include "pxe/cluster_files.h"

namespace gc {

TargetResolver::TargetResolver(std::string state_dir) : state_dir_(std::move(state_dir)) {}
TargetResolver::~TargetResolver() = default;

Result<ImageStore*> TargetResolver::images() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!images_) {
    GC_ASSIGN_OR_RETURN(images_, ImageStore::Open(state_dir_, /*create=*/false));
  }
  return images_.get();
}

Result<KernelStore*> TargetResolver::kernels() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!kernels_) {
    GC_ASSIGN_OR_RETURN(kernels_, KernelStore::Open(state_dir_, /*create=*/false));
  }
  return kernels_.get();
}

Result<TargetResolver::KernelFacts> TargetResolver::Facts(KernelStore* store,
                                                          const KernelRef& ref) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = facts_.find(ref.ToString());
    if (it != facts_.end()) return it->second;
  }
  GC_ASSIGN_OR_RETURN(KernelInfo info, store->Info(ref));
  KernelFacts facts;
  auto release = info.artifact.find("kernel_release");
  if (info.artifact.is_object() && release != info.artifact.end() && release->is_string()) {
    facts.release = release->get<std::string>();
  }
  auto modules = Env::Default()->ListDir(JoinPath(store->ArtifactDir(ref), "modules"));
  facts.has_modules = modules.ok() && !modules->empty();
  std::lock_guard<std::mutex> lock(mu_);
  facts_[ref.ToString()] = facts;
  return facts;
}

GroupTarget TargetResolver::Resolve(const NodeGroup& group) {
  GroupTarget target;
  auto images_store = images();
  Result<ImageRef> image = images_store.ok() ? (*images_store)->Resolve(group.image)
                                             : Result<ImageRef>(images_store.status());
  if (image.ok()) {
    target.image = *image;
  } else {
    target.image_error =
        "image '" + group.image + "' of group " + group.name + ": " + image.status().message();
  }
  target.kernel_spec = group.kernel;
  if (group.kernel.empty()) return target;
  auto kernel_store = kernels();
  Result<KernelRef> kernel = kernel_store.ok() ? (*kernel_store)->Resolve(group.kernel)
                                               : Result<KernelRef>(kernel_store.status());
  Result<KernelFacts> facts =
      kernel.ok() ? Facts(*kernel_store, *kernel) : Result<KernelFacts>(kernel.status());
  if (!facts.ok()) {
    target.kernel_error = "kernel '" + group.kernel + "' of group " + group.name + ": " +
                          facts.status().message() + " (goldcast kernel list shows the builds)";
    return target;
  }
  target.kernel = *kernel;
  target.kernel_release = facts->release;
  target.kernel_has_modules = facts->has_modules;
  return target;
}

ExpectedState ComputeExpected(const ClusterProfile& profile, const std::vector<Node>& nodes,
                              TargetResolver* resolver) {
  ExpectedState expected;
  for (const ClusterFile& file : ClusterFiles(profile, nodes)) {
    expected.cluster_files[file.path] = Sha256Hex(file.content);
  }
  for (const Node& node : nodes) {
    if (node.heartbeat.time_ns == 0 || expected.groups.count(node.group)) continue;
    auto group = profile.groups.find(node.group);
    if (group == profile.groups.end()) continue;
    expected.groups[node.group] = resolver->Resolve(group->second);
  }
  return expected;
}

std::vector<std::string> DriftReasons(const Node& node, const ExpectedState& expected) {
  std::vector<std::string> reasons;
  const Heartbeat& beat = node.heartbeat;
  if (beat.time_ns == 0) return reasons;
  auto group = expected.groups.find(node.group);
  if (group != expected.groups.end()) {
    const GroupTarget& target = group->second;
    bool kernel_known = target.kernel_spec.empty() || target.kernel.has_value();
    std::string kernel = target.kernel ? target.kernel->ToString() : "";
    if (kernel_known && beat.kernel_artifact != kernel) reasons.push_back("kernel");
    if (target.image && beat.image != target.image->ToString()) reasons.push_back("image");
    if (target.kernel && !target.kernel_release.empty() &&
        beat.kernel_release != target.kernel_release) {
      reasons.push_back("release");
    }
  }
  if (beat.cluster_files != expected.cluster_files) reasons.push_back("files");
  return reasons;
}

}  // namespace gc
