// How a node's last heartbeat differs from what the server expects of it
// now ("drift"). The expectation comes from the same TargetResolver that
// hands out boot scripts and plans, so they never disagree about what a
// group means.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cluster/node_registry.h"
#include "cluster/target_resolver.h"
#include "common/status.h"
#include "profiles/cluster_profile.h"

namespace gc {

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

// One cluster file of a heartbeat against the server's copy.
struct ClusterFileCheck {
  enum class Verdict { kAsSent, kDiffers, kNotSent, kMissing };
  std::string path;
  std::string hash;  // as the node reports it; "" if missing (or unreadable on the node)
  Verdict verdict = Verdict::kAsSent;
};

// "as sent", "differs from the server's", "not sent by the server", "missing".
const char* VerdictText(ClusterFileCheck::Verdict verdict);

// The files the node reports (by path), then those it lacks (kMissing, by
// path). Empty when it never sent a heartbeat. Any verdict but kAsSent is
// drift "files".
std::vector<ClusterFileCheck> CheckClusterFiles(const Heartbeat& beat,
                                                const ExpectedState& expected);

}  // namespace gc
