// `goldcast-agent install`: the node installer, run inside the installer
// initramfs. Fetches the node's plan from the server, partitions and
// formats the disk after the golden client's layout, writes the image and
// the kernel artifact, the node's identity and the cluster files, installs
// the boot loader (extlinux on BIOS nodes, GRUB EFI on UEFI ones), and
// reports progress all along (docs/installer.md,
// docs/node-api.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/manifest.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "common/tree_writer.h"
#include "node-agent/disk_setup.h"
#include "node-agent/node_client.h"
#include "node-agent/node_config.h"
#include "node-agent/node_identity.h"
#include "protocol/plan.h"

namespace gc {

struct InstallOptions {
  // Server, node and a secret or the boot's one-time install token (which
  // the agent redeems for the secret first); empty ones come from
  // /proc/cmdline (goldcast.server=, goldcast.node=, goldcast.token=).
  std::string server;
  std::string pin;  // of the server's TLS key (goldcast.pin=)
  std::string node;
  std::string token;
  std::string secret;
  std::string secret_file;  // read instead of `secret` (trailing whitespace dropped)
  // Where a redeemed secret is kept (0600) and, when it exists, read
  // instead of redeeming: the installer's /init retries on the same boot,
  // after the token is spent.
  std::string secret_cache;
  std::string disk;  // "" = the first suitable disk
  // Install into this (empty) directory instead of a disk: no partitioning,
  // formatting, mounting or boot loader. For tests and chroot installs.
  std::string target_root;
  // Fill this directory (the RAM file system the diskless initramfs
  // mounted) as a diskless node's root: as target_root, but the fstab keeps
  // no disk and no "done" is reported (that would switch the node to boot
  // from its disk). The initramfs then switch_roots into it.
  std::string diskless_root;
  std::string mount_dir = "/mnt/goldcast";
  std::string syslinux_dir = "/usr/lib/syslinux";
  // The agent bundle to copy onto the node; "" = the bundle this process
  // runs from, if it runs from one.
  std::string agent_bundle;
  // Erase the disk even outside the installer (goldcast.mode=install).
  bool yes_erase = false;
  bool reboot = false;  // reboot(2) after a successful install
  // While the server refuses the plan because its setup is not ready (409:
  // no image captured, kernel not built, image without a kernel), the
  // installer reports that, touches nothing and asks again every
  // `plan_retry_s` seconds, `plan_attempts` times at most (0 = until it
  // comes): no reboot loop, and the node goes on by itself once fixed.
  int plan_retry_s = 30;
  int plan_attempts = 0;
  SystemPaths paths;
};

// What the installer needs from the server; NodeClient in production,
// a fake in tests.
class InstallServer {
 public:
  virtual ~InstallServer() = default;
  // GET of a path under the server ("/v1/node/plan"): the body.
  virtual Result<std::string> Get(const std::string& path) = 0;
  virtual Result<Manifest> GetManifest(const std::string& image_ref) = 0;
  virtual Result<Manifest> GetKernelModulesManifest(const std::string& kernel_ref) = 0;
  virtual Status Download(const std::string& path,
                          const std::function<Status(std::string_view)>& sink) = 0;
  virtual Status PostProgress(const std::string& json) = 0;
  virtual ObjectSource* objects() = 0;
};

std::unique_ptr<InstallServer> MakeInstallServer(NodeClient* client);

// Splits an image manifest at the layout's mount points (relative paths
// such as "boot"): entries below a mount point go to that file system's
// manifest, re-rooted, so each file system is written by its own
// WriteTree. The mount point directory stays in its parent's manifest.
// Returns (mount point, manifest) pairs, "" (the root) first, parents
// before children.
Result<std::vector<std::pair<std::string, Manifest>>> SplitManifest(
    const Manifest& manifest, const std::vector<std::string>& mountpoints);

// The boot entry, for extlinux and GRUB alike: the plan's kernel artifact
// (root=PARTUUID, no initrd), or the newest ROOT/boot/vmlinuz-* of the
// image with its initrd.img (root=UUID); boot_uuid names /boot's file system.
Result<BootEntry> MakeBootEntry(const InstallPlan& plan, const DiskPlan& disk,
                                const std::string& root);

// The installer's agent bundle: when this process runs from a bundle
// (scripts/bundle-agent.sh: /proc/self/exe is BUNDLE/lib/<loader or binary>
// next to BUNDLE/lib/goldcast-agent.bin and BUNDLE/goldcast-agent), its
// directory; else "".
std::string FindAgentBundle(const SystemPaths& paths);

// The whole install with the given server and node identity (`config`
// needs server, node and secret). On failure reports phase "failed" with
// the error (best effort) and returns it.
Status RunInstall(const InstallOptions& options, const NodeConfig& config, InstallServer* server,
                  ProcessRunner* runner);

// The `install` subcommand: resolves the configuration (flags, then
// /proc/cmdline), talks to the server with NodeClient, runs RunInstall,
// then reboots if asked.
Status RunInstallCommand(const InstallOptions& options);

}  // namespace gc
