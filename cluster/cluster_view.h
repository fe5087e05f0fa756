// ClusterView: every node of the registry as the server sees it now: what it
// reported (install progress, last heartbeat and how old it is), what its
// group resolves to and how the two differ. `goldcast nodes` prints it;
// every later view (monitor, dashboard, metrics) reads it too, so they
// never disagree about a node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/drift.h"
#include "cluster/node_registry.h"
#include "cluster/target_resolver.h"
#include "profiles/cluster_profile.h"

namespace gc {

struct NodeView {
  Node node;  // with its install progress and last heartbeat
  // Its group resolved now (ComputeExpected); nullopt when no node of its
  // group sent a heartbeat (nothing to compare, so the stores are not
  // asked) or the profile lacks its group.
  std::optional<GroupTarget> target;
  std::optional<int64_t> heartbeat_age_ns;  // nullopt: never heard from
  std::vector<std::string> drift;           // DriftReasons
  std::vector<ClusterFileCheck> files;      // CheckClusterFiles
  // What the node reports of itself (uptime_s, load, cpus, cpu_mhz,
  // mem_total_kb, mem_available_kb: those it sent, in this order), each
  // value as JSON text.
  std::vector<std::pair<std::string, std::string>> vitals;
};

struct ClusterView {
  int64_t now_ns = 0;           // when it was built
  std::vector<NodeView> nodes;  // by index
  // Machines waiting for `goldcast nodes accept`, in the order they first
  // booted (set by whoever loads the view from the registry).
  std::vector<PendingMachine> pending;

  const NodeView* Find(std::string_view name) const;
};

// The view of `nodes` (the whole registry: the cluster files depend on
// every node) at `now_ns`, expectations from ComputeExpected.
ClusterView BuildClusterView(const ClusterProfile& profile, std::vector<Node> nodes,
                             TargetResolver* resolver, int64_t now_ns);

// The JSON of `goldcast nodes show --json` (one node) and `nodes list
// --json` (an array), see docs/node-api.md. `indent` as
// nlohmann::json::dump (-1: one line). What nodes reported that is not
// UTF-8 is replaced, never a reason to fail.
std::string NodeViewJson(const NodeView& view, int indent = -1);
std::string ClusterViewJson(const ClusterView& view, int indent = -1);

}  // namespace gc
