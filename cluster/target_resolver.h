// What each group should run, as the server sees it now: its image and
// kernel specs resolved against the stores. Boot scripts, install plans and
// drift all ask this one resolver, so they never disagree about what a
// group means.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cluster/node_registry.h"
#include "common/status.h"
#include "imager/store.h"
#include "kernel-build/kernel_store.h"
#include "profiles/cluster_profile.h"

namespace gc {

// A group's image and kernel specs, resolved.
struct GroupTarget {
  NodeGroup group;                // as the profile has it (kernel_args, mode, specs)
  std::optional<ImageRef> image;  // nullopt: not resolvable now (image_error says why)
  std::string image_error;
  std::string kernel_spec;          // group.kernel; "" = the image's own kernel
  std::optional<KernelRef> kernel;  // kernel_spec resolved
  std::string kernel_release;       // artifact.json's kernel_release ("" if it has none)
  bool kernel_has_modules = false;  // its modules/ directory is not empty
  std::string kernel_error;         // why kernel_spec could not be resolved
};

// Resolves the groups of a profile against the image and kernel stores of a
// state directory. The stores are opened on first use and kept (serve may
// start before the first capture or build); specs are resolved on every
// call, since a new capture or build changes what an unpinned spec means.
// Thread-safe.
class TargetResolver {
 public:
  // The profile must outlive the resolver.
  TargetResolver(const ClusterProfile& profile, std::string state_dir);
  ~TargetResolver();

  // The node's group, resolved now: what its boot script, its plan and its
  // drift are made of. A group the profile does not have (the registry was
  // written with another profile) is kInternal naming the node and the
  // profile.
  Result<GroupTarget> ResolveNode(const Node& node);
  // Only the node's group as the profile has it, with the same error; asks
  // no store (an install or local boot script needs no more).
  Result<const NodeGroup*> GroupOf(const Node& node) const;

  // Never fails: what cannot be resolved is left empty, with the reason.
  GroupTarget Resolve(const NodeGroup& group);

  Result<ImageStore*> images();
  Result<KernelStore*> kernels();

 private:
  struct KernelFacts {
    std::string release;
    bool has_modules = false;
  };
  Result<KernelFacts> Facts(KernelStore* store, const KernelRef& ref);

  const ClusterProfile& profile_;
  const std::string state_dir_;
  std::mutex mu_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<KernelStore> kernels_;
  std::map<std::string, KernelFacts> facts_;  // artifacts never change once published
};

}  // namespace gc
