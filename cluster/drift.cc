#include "cluster/drift.h"

#include "cluster/cluster_files.h"
#include "common/hash.h"

namespace gc {

ExpectedState ComputeExpected(const ClusterProfile& profile, const std::vector<Node>& nodes,
                              TargetResolver* resolver) {
  ExpectedState expected;
  for (const ClusterFile& file : ClusterFiles(profile, nodes)) {
    expected.cluster_files[file.path] = Sha256Hex(file.content);
  }
  for (const Node& node : nodes) {
    if (node.heartbeat.time_ns == 0 || expected.groups.count(node.group)) continue;
    Result<GroupTarget> target = resolver->ResolveNode(node);
    if (target.ok()) expected.groups[node.group] = std::move(*target);
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

const char* VerdictText(ClusterFileCheck::Verdict verdict) {
  switch (verdict) {
    case ClusterFileCheck::Verdict::kAsSent:
      return "as sent";
    case ClusterFileCheck::Verdict::kDiffers:
      return "differs from the server's";
    case ClusterFileCheck::Verdict::kNotSent:
      return "not sent by the server";
    case ClusterFileCheck::Verdict::kMissing:
      return "missing";
  }
  return "?";
}

std::vector<ClusterFileCheck> CheckClusterFiles(const Heartbeat& beat,
                                                const ExpectedState& expected) {
  using Verdict = ClusterFileCheck::Verdict;
  std::vector<ClusterFileCheck> checks;
  if (beat.time_ns == 0) return checks;
  for (const auto& [path, hash] : beat.cluster_files) {
    auto server = expected.cluster_files.find(path);
    Verdict verdict = server == expected.cluster_files.end() ? Verdict::kNotSent
                      : server->second == hash               ? Verdict::kAsSent
                                                             : Verdict::kDiffers;
    checks.push_back({path, hash, verdict});
  }
  for (const auto& [path, hash] : expected.cluster_files) {
    if (!beat.cluster_files.count(path)) checks.push_back({path, "", Verdict::kMissing});
  }
  return checks;
}

}  // namespace gc
