// What makes an installed tree this node rather than the golden client:
// hostname, hosts, a fresh machine-id and ssh host keys, fstab, the
// cluster-wide files, /etc/goldcast/node.json and the agent itself with its
// systemd unit. Also the helpers every installer step uses to write beneath
// the target root: the tree came from the network, so a symlink planted in
// it (etc -> /somewhere) must never redirect a write outside the root.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"
#include "node-agent/disk_setup.h"
#include "node-agent/node_config.h"
#include "protocol/cluster_file.h"

namespace gc {

// ---- Writing beneath a root without following symlinks ----

// Opens ROOT/relative as a directory, walking it component by component
// with O_NOFOLLOW: a symlink anywhere on the way is refused (naming the
// path). With `create`, missing directories are made (mode 0755).
// `relative` "" or "." is the root itself.
Result<UniqueFd> OpenDirBeneath(const std::string& root, std::string_view relative, bool create);

// Creates or replaces ROOT/relative (parents made as needed): `fill` writes
// the content into a temp file in the same directory, which then gets
// `mode` and is renamed over the final name (an existing symlink there is
// replaced, never followed).
Status WriteFileBeneath(const std::string& root, std::string_view relative, mode_t mode,
                        const std::function<Status(int fd)>& fill);
Status WriteFileBeneath(const std::string& root, std::string_view relative, mode_t mode,
                        std::string_view data);
// Creates or replaces ROOT/relative as a symlink to `target`.
Status SymlinkBeneath(const std::string& root, std::string_view relative,
                      const std::string& target);
// Reads ROOT/relative, refusing symlinks on the way and at the end.
Result<std::string> ReadFileBeneath(const std::string& root, std::string_view relative);
// Removes ROOT/relative (a file, symlink or whole directory tree); missing
// is fine.
Status RemoveBeneath(const std::string& root, std::string_view relative);

// Resolves symlinks of `relative` as if ROOT were "/" (an absolute link
// target starts again at ROOT, ".." stops at ROOT), so a merged-/usr
// image's lib -> usr/lib is followed but nothing leads outside. Returns
// the symlink-free relative path; components that do not exist are kept
// as written.
Result<std::string> ResolveInRoot(const std::string& root, std::string_view relative);

// Writes all of `data` to `fd`, naming `what` on error.
Status WriteAllFd(int fd, std::string_view data, std::string_view what);

// `bytes` random bytes as lowercase hex (OpenSSL's generator).
std::string RandomHex(size_t bytes);
// A random (version 4) UUID, lowercase.
std::string RandomUuid();

// ---- The node's identity ----

struct IdentityOptions {
  std::string hostname;  // the node's name, e.g. "mosix3"
  std::string domain;    // "" or e.g. "cluster.local"
  std::string ip;        // the node's fixed address, "" if it uses DHCP
  NodeConfig config;     // written to etc/goldcast/node.json (0600)
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

// Writes everything above beneath `root`: etc/hostname, etc/hosts,
// etc/machine-id (and var/lib/dbus/machine-id as a symlink to it),
// removes etc/ssh/ssh_host_*_key* and regenerates them with
// `chroot ROOT ssh-keygen -A` when the tree has ssh-keygen, etc/fstab,
// the cluster files, node.json, and the agent (InstallAgent).
Status WriteIdentity(const std::string& root, const IdentityOptions& options,
                     ProcessRunner* runner);

// Copies the agent bundle to ROOT/usr/local/lib/goldcast-agent/, writes the
// ROOT/usr/local/sbin/goldcast-agent wrapper and, when ROOT/etc/systemd
// exists, goldcast-agent.service (`goldcast-agent run`), enabled for
// multi-user.target.
Status InstallAgent(const std::string& root, const std::string& bundle_dir);

}  // namespace gc
