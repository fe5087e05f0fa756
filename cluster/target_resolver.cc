#include "cluster/target_resolver.h"

#include "common/env.h"

namespace gc {

TargetResolver::TargetResolver(const ClusterProfile& profile, std::string state_dir)
    : profile_(profile), state_dir_(std::move(state_dir)) {}
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

Result<const NodeGroup*> TargetResolver::GroupOf(const Node& node) const {
  auto group = profile_.groups.find(node.group);
  if (group == profile_.groups.end()) {
    return Internal("node " + node.name + " is in group '" + node.group + "', which " +
                    profile_.path + " does not have");
  }
  return &group->second;
}

Result<GroupTarget> TargetResolver::ResolveNode(const Node& node) {
  GC_ASSIGN_OR_RETURN(const NodeGroup* group, GroupOf(node));
  return Resolve(*group);
}

GroupTarget TargetResolver::Resolve(const NodeGroup& group) {
  GroupTarget target;
  target.group = group;
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
    target.kernel_error =
        "kernel '" + group.kernel + "' of group " + group.name + ": " + facts.status().message() +
        " (build it with goldcast kernel build; goldcast kernel list shows the builds)";
    return target;
  }
  target.kernel = *kernel;
  target.kernel_release = facts->release;
  target.kernel_has_modules = facts->has_modules;
  return target;
}

}  // namespace gc
