// What nodes report to the registry through the node API: install progress
// (which drives the node's state and boot mode) and heartbeats.
#include <openssl/crypto.h>

#include <algorithm>
#include <limits>
#include <mutex>

#include "cluster/node_registry_internal.h"
#include "profiles/vocabulary.h"

namespace gc {

namespace {

int64_t Clamp(uint64_t value) {
  return static_cast<int64_t>(
      std::min<uint64_t>(value, static_cast<uint64_t>(std::numeric_limits<int64_t>::max())));
}

}  // namespace

bool SecretEquals(std::string_view expected, std::string_view presented) {
  if (expected.empty() || expected.size() != presented.size()) return false;
  return CRYPTO_memcmp(expected.data(), presented.data(), expected.size()) == 0;
}

namespace registry_internal {

Result<Node> SqliteNodeRegistry::RecordProgress(const std::string& name,
                                                const InstallProgress& progress, int64_t now_ns) {
  if (!IsInstallPhase(progress.phase)) {
    return InvalidArgument("progress of node " + name.substr(0, 64) + ": phase '" +
                           progress.phase.substr(0, 32) +
                           "' is not one of partition, format, image, kernel, identity, "
                           "bootloader, done, failed");
  }
  NodeState state = progress.phase == "done"     ? NodeState::kInstalled
                    : progress.phase == "failed" ? NodeState::kFailed
                                                 : NodeState::kInstalling;
  std::lock_guard<std::mutex> lock(mu_);
  Node node;
  Status status = InTransaction([&]() -> Status {
    // Only "done" touches the mode: a failed install keeps mode install so
    // that the next boot tries again.
    std::string sql =
        "UPDATE nodes SET progress_phase = ?, progress_done = ?, progress_total = ?, "
        "progress_message = ?, progress_time_ns = ?, state = ?";
    if (state == NodeState::kInstalled)
      sql += ", mode = '" + std::string(BootModeName(BootMode::kLocal)) + "'";
    sql += " WHERE name = ?";
    GC_ASSIGN_OR_RETURN(Stmt update,
                        Query(sql, progress.phase, Clamp(progress.done), Clamp(progress.total),
                              progress.message, now_ns, std::string(NodeStateName(state)), name));
    int changes = 0;
    GC_RETURN_IF_ERROR(Run(std::move(update), "record the progress of " + name, &changes));
    if (changes == 0) return NoSuchNode(name);
    GC_ASSIGN_OR_RETURN(node, MustSelect(name));
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return node;
}

Result<Node> SqliteNodeRegistry::RecordHeartbeat(const std::string& name,
                                                 const Heartbeat& heartbeat, int64_t now_ns) {
  if (heartbeat.boot != "installed" && heartbeat.boot != "diskless") {
    return InvalidArgument("heartbeat of node " + name.substr(0, 64) + ": boot '" +
                           heartbeat.boot.substr(0, 32) + "' is not installed or diskless");
  }
  std::lock_guard<std::mutex> lock(mu_);
  Node node;
  Status status = InTransaction([&]() -> Status {
    std::string sql =
        "UPDATE nodes SET hb_time_ns = ?, hb_boot = ?, hb_image = ?, hb_kernel_release = ?, "
        "hb_kernel_version = ?, hb_kernel_artifact = ?, hb_files = ?, hb_json = ?";
    if (heartbeat.boot == "diskless") {
      sql += ", state = '" + std::string(NodeStateName(NodeState::kDiskless)) + "'";
    }
    sql += " WHERE name = ?";
    GC_ASSIGN_OR_RETURN(
        Stmt update, Query(sql, now_ns, heartbeat.boot, heartbeat.image, heartbeat.kernel_release,
                           heartbeat.kernel_version, heartbeat.kernel_artifact,
                           EncodeClusterFiles(heartbeat.cluster_files), heartbeat.json, name));
    int changes = 0;
    GC_RETURN_IF_ERROR(Run(std::move(update), "record the heartbeat of " + name, &changes));
    if (changes == 0) return NoSuchNode(name);
    // The address only from an authenticated report, and only where the
    // registry does not assign it (proxy mode).
    if (profile_.network.dhcp_mode == DhcpMode::kProxy && ParseIpv4(heartbeat.address).ok()) {
      GC_ASSIGN_OR_RETURN(Stmt address,
                          Query("UPDATE nodes SET ip = ? WHERE name = ?", heartbeat.address, name));
      GC_RETURN_IF_ERROR(Run(std::move(address), "record the address of " + name));
    }
    GC_ASSIGN_OR_RETURN(node, MustSelect(name));
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return node;
}

}  // namespace registry_internal

}  // namespace gc
