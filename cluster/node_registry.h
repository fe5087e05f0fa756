// NodeRegistry: the nodes goldcast knows, in SQLite (WAL) under the state
// directory, and boot-order naming: an unknown MAC asking for its boot script
// gets the next free index, name and address, atomically and in the order
// the requests arrive; a known MAC keeps its name across reboots and server
// restarts. Pre-declared nodes of the profile keep their declared names and
// are never counted twice. Safe to use from several threads and processes
// (`goldcast nodes` edits the registry while `serve` runs).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "profiles/cluster_profile.h"
#include "protocol/heartbeat.h"
#include "protocol/progress.h"

namespace gc {

enum class NodeState { kNew, kInstalling, kInstalled, kDiskless, kUpdating, kFailed };
const char* NodeStateName(NodeState state);
Result<NodeState> ParseNodeState(std::string_view text);

// The installer's last report (protocol/progress.h); phase "" = nothing
// reported yet.
struct InstallProgress : ProgressReport {
  int64_t time_ns = 0;  // when the server received it; 0 = never
};

// The node's last heartbeat (protocol/heartbeat.h). The registry keeps the
// fields goldcast compares (boot, image, kernel, cluster files) and the
// whole report as JSON for `goldcast nodes show`; the samples (load,
// memory, ...) only in `json`.
struct Heartbeat : HeartbeatReport {
  int64_t time_ns = 0;  // when the server received it; 0 = never heard from
  std::string json;     // EncodeHeartbeat of the report as received
  // Where it came from (not stored with it). In proxy DHCP mode the node's
  // address follows its authenticated heartbeats, never a boot request,
  // which anyone can send in its name.
  std::string address;
};

struct Node {
  int index = 0;
  std::string name;
  std::string mac;  // normalised, see NormalizeMac
  std::string ip;   // fixed address, or the last address seen (proxy DHCP), or ""
  std::string group;
  BootMode mode = BootMode::kInstall;
  NodeState state = NodeState::kNew;
  bool declared = false;             // from the profile's nodes: list
  std::string install_secret;        // the node's long-term secret (hex), see RotateSecret
  std::string uuid, arch, platform;  // as iPXE reported them
  int64_t first_seen_ns = 0;
  int64_t last_seen_ns = 0;  // last boot request (GET /boot/ipxe)
  InstallProgress progress;
  Heartbeat heartbeat;
};

// Compares a presented secret with the node's in constant time (for equal
// lengths; the length of a secret is not secret). An empty expected secret
// never matches.
bool SecretEquals(std::string_view expected, std::string_view presented);

// What dnsmasq's host list is made of: a named node's MAC, fixed address
// and name.
struct HostEntry {
  std::string mac, ip, name;
  bool operator==(const HostEntry&) const = default;
};

// What a booting machine tells about itself in GET /boot/ipxe.
struct BootRequest {
  std::string mac;  // normalised
  std::string uuid;
  std::string arch;      // ${buildarch}: i386, x86_64, arm64
  std::string platform;  // ${platform}: pcbios, efi
  std::string remote_address;
  // False when the request's source sent too many boot requests lately
  // (BootService limits them per address): a MAC the registry does not
  // know is then neither named nor kept pending (kBusy), a known one is
  // served as always.
  bool may_be_new = true;
};

// A machine that asked for its boot script without being a node (with
// naming.enroll: manual), kept until an admin accepts it.
struct PendingMachine {
  std::string mac;                   // normalised
  std::string uuid, arch, platform;  // as iPXE reported them (the firmware)
  std::string address;               // where its last request came from
  int64_t first_seen_ns = 0;         // its place in boot order
  int64_t last_seen_ns = 0;
};

// What a boot request found: the node, or, for a MAC the registry does not
// know under manual enrollment, the pending machine it is kept as.
struct BootRegistration {
  std::optional<Node> node;
  std::optional<PendingMachine> pending;
};

// At most this many machines wait at once; past it, the one not heard from
// longest is forgotten (it is back at its next boot request), so a flood of
// invented MACs cannot grow the registry without bound.
constexpr size_t kMaxPendingMachines = 1024;

// With naming.enroll auto, boot requests name nodes until the registry holds
// this many (a network full of invented MACs stops there; with an address
// range, node_addresses runs out first). `goldcast nodes add` and accept
// are not limited.
constexpr size_t kMaxAutoNodes = 65536;

class NodeRegistry {
 public:
  // Opens or creates STATE/registry.db and applies the profile: declared
  // nodes are added or updated (name, index, group); groups that no longer
  // exist are an error naming the nodes that use them.
  static Result<std::unique_ptr<NodeRegistry>> Open(const std::string& db_path,
                                                    const ClusterProfile& profile);
  virtual ~NodeRegistry() = default;

  // The node with this MAC (updating last_seen, uuid, arch, platform). An
  // unknown MAC with naming.enroll auto is named now: the lowest free index
  // (not held by a registered or declared node), its name and its address,
  // in one transaction; with manual it becomes (or stays) a pending machine.
  virtual Result<BootRegistration> RegisterBoot(const BootRequest& request, int64_t now_ns) = 0;

  // The machines waiting for approval, in the order they first booted.
  virtual Result<std::vector<PendingMachine>> ListPending() = 0;
  // Names pending machines (those with `macs`, or all when empty) in the
  // order they first booted, as auto enrollment would have; in one
  // transaction. A MAC that is not pending is an error naming it, and
  // nothing is accepted. Returns the new nodes.
  virtual Result<std::vector<Node>> Accept(const std::vector<std::string>& macs) = 0;

  virtual Result<std::optional<Node>> FindByMac(const std::string& mac) = 0;
  virtual Result<std::optional<Node>> FindByName(const std::string& name) = 0;
  virtual Result<std::vector<Node>> List() = 0;  // by index
  // The nodes that have an address, by index: three columns, cheap enough
  // to read after every change (serve does, to keep dnsmasq in step).
  virtual Result<std::vector<HostEntry>> ListHosts() = 0;

  // Admin edits; each fails with a clear error for an unknown node/group.
  // Add: an empty name takes the next boot-order name; a boot-order name
  // ("mosix7") takes its own index if free.
  virtual Result<Node> Add(const std::string& mac, const std::string& name) = 0;
  virtual Status SetMode(const std::string& name, BootMode mode) = 0;
  // The node takes the group's boot mode too. Refused for a declared node
  // (its group is in the profile), as is Remove.
  virtual Status SetGroup(const std::string& name, const std::string& group) = 0;
  virtual Status SetState(const std::string& name, NodeState state) = 0;
  // Next boot installs again: mode install, state new, fresh install secret
  // (the old one stops working), progress cleared.
  virtual Status Reinstall(const std::string& name) = 0;
  // Gives the node a fresh secret and returns it: a node redeeming its
  // install token (cluster/install_tokens.h) gets a secret no earlier boot
  // or install ever held.
  virtual Result<std::string> RotateSecret(const std::string& name) = 0;
  virtual Status Remove(const std::string& name) = 0;

  // Stores the installer's report (time_ns = now_ns) and moves the node:
  // phase "done" -> state installed and mode local (the next PXE boot boots
  // the disk); "failed" -> state failed, mode unchanged (the next boot
  // installs again); any other phase -> state installing. An unknown phase
  // is kInvalidArgument. Returns the updated node.
  virtual Result<Node> RecordProgress(const std::string& name, const InstallProgress& progress,
                                      int64_t now_ns) = 0;
  // Stores the heartbeat (time_ns = now_ns); boot "diskless" puts the node
  // in state diskless, "installed" leaves its state alone; in proxy mode
  // the node's address becomes heartbeat.address. Returns the updated node.
  virtual Result<Node> RecordHeartbeat(const std::string& name, const Heartbeat& heartbeat,
                                       int64_t now_ns) = 0;

  // Changes whenever any process changed what dnsmasq's host list or a
  // node's boot script is built from: a node added or removed, or its
  // index, name, MAC, address, group, mode, state or platform. Reports that leave these alone
  // (heartbeats, progress within the same state) and the times and IDs RegisterBoot records do not
  // change it. serve polls it to know when dnsmasq's host list may need
  // rewriting.
  virtual Result<int64_t> Generation() = 0;
};

}  // namespace gc
