// What makes an installed tree this node rather than the golden client:
// hostname, hosts, a fresh machine-id and ssh host keys, fstab, the
// cluster-wide files, /etc/goldcast/node.json and the agent itself with its
// systemd unit. Every write beneath the target root goes through
// common/beneath.h (included here for the installer steps that use it), so
// a symlink planted in the tree never redirects it outside the root.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/beneath.h"
#include "common/random.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"
#include "node-agent/disk_setup.h"
#include "node-agent/network_config.h"
#include "node-agent/node_config.h"
#include "protocol/cluster_file.h"

namespace gc {

// ---- The node's identity ----

struct IdentityOptions {
  std::string hostname;  // the node's name, e.g. "mosix3"
  std::string domain;    // "" or e.g. "cluster.local"
  std::string ip;        // the node's fixed address, "" if it uses DHCP
  // The interface, MAC, prefix and gateway of `ip` as the installer found
  // them (their ip is ignored): WriteNetworkConfig's input.
  NodeAddress network;
  NodeConfig config;  // written to etc/goldcast/node.json (0600)
  std::vector<ClusterFile> cluster_files;
  std::optional<std::string> fstab;  // new etc/fstab; nullopt keeps the image's
  std::string agent_bundle;          // bundle directory to copy; "" = none
};

// /etc/hosts for the node: localhost, the node's own name on its fixed
// address (127.0.1.1 without one, as Debian does), the IPv6 basics.
std::string HostsFile(const std::string& hostname, const std::string& domain,
                      const std::string& ip);

// The image's fstab with the new disk's names: in a replicated layout the
// golden client's UUIDs, PARTUUIDs and device paths become the new ones;
// in the default layout the "/" line becomes the new root's and lines
// naming a disk (UUID=, LABEL=, PARTUUID=, PARTLABEL=, /dev/disk/*,
// /dev/sd*, vd*, hd*, xvd*, nvme*, mmcblk*) are dropped: that disk is not
// there. Other lines (proc, tmpfs, NFS, ...) stay.
std::string RewriteFstab(std::string_view fstab, const DiskPlan& plan);

// A diskless node's fstab: the image's without "/" (the root is the RAM
// file system the initramfs made) and without lines naming a disk.
std::string DisklessFstab(std::string_view fstab);

// Writes everything above beneath `root`: etc/hostname, etc/hosts,
// etc/machine-id (and var/lib/dbus/machine-id as a symlink to it),
// removes etc/ssh/ssh_host_*_key* and regenerates them with
// `chroot ROOT ssh-keygen -A` when the tree has ssh-keygen, the network
// configuration (WriteNetworkConfig), etc/fstab, the cluster files,
// node.json, and the agent (InstallAgent).
Status WriteIdentity(const std::string& root, const IdentityOptions& options,
                     ProcessRunner* runner);

// Copies the agent bundle to ROOT/usr/local/lib/goldcast-agent/, writes the
// ROOT/usr/local/sbin/goldcast-agent wrapper and, when ROOT/etc/systemd
// exists, goldcast-agent.service (`goldcast-agent run`), enabled for
// multi-user.target.
Status InstallAgent(const std::string& root, const std::string& bundle_dir);

}  // namespace gc
