// What each node should run, as the server sees it now, and how a node's
// last heartbeat differs from that ("drift"). The node API hands out plans
// from the same resolution that `goldcast nodes list` compares against, so
// the two never disagree about what a group means.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "imager/store.h"
#include "kernel-build/kernel_store.h"
#include "profiles/cluster_profile.h"
#include "pxe/node_registry.h"

namespace gc {

// A group's image and kernel specs, resolved.
struct GroupTarget {
  std::optional<ImageRef> image;  // nullopt: not resolvable now (image_error says why)
  std::string image_error;
  std::string kernel_spec;          // the group's kernel; "" = the image's own kernel
  std::optional<KernelRef> kernel;  // kernel_spec resolved
  std::string kernel_release;       // artifact.json's kernel_release ("" if it has none)
  bool kernel_has_modules = false;  // its modules/ directory is not empty
  std::string kernel_error;         // why kernel_spec could not be resolved
};

// Resolves specs against the image and kernel stores of a state directory.
// The stores are opened on first use and kept (serve may start before the
// first capture or build); specs are resolved on every call, since a new
// capture or build changes what an unpinned spec means. Thread-safe.
class TargetResolver {
 public:
  explicit TargetResolver(std::string state_dir);
  ~TargetResolver();

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

  const std::string state_dir_;
  std::mutex mu_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<KernelStore> kernels_;
  std::map<std::string, KernelFacts> facts_;  // artifacts never change once published
};

struct ExpectedState {
  std::map<std::string, GroupTarget> groups;  // by group name
  // path -> SHA-256 of the server's copy of every cluster file.
  std::map<std::string, std::string> cluster_files;
};

// The expectation for `nodes` (the whole registry: the cluster files depend
// on every node). Only groups of nodes that sent a heartbeat are resolved,
// so a registry without heartbeats never touches the stores.
ExpectedState ComputeExpected(const ClusterProfile& profile, const std::vector<Node>& nodes,
                              TargetResolver* resolver);

// How the node's last heartbeat differs from `expected`, in this order:
// "kernel" (artifact other than the group's, or one when the group names
// none), "image", "release" (uname -r other than the artifact's), "files"
// (a cluster file missing, extra or with another hash). Empty when it
// matches or the node never sent a heartbeat; what the server cannot
// resolve now is not compared.
std::vector<std::string> DriftReasons(const Node& node, const ExpectedState& expected);

}  // namespace gc
