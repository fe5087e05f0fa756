// `goldcast boot build-installer`: the installer a node in install mode
// boots, made for what its group runs. A group with `kernel:` gets the
// kernel artifact (its drivers built in); a group without gets the image's
// own newest /boot/vmlinuz-* and, from the image's /lib/modules, the disk,
// NIC and file system modules with their dependencies. The initramfs
// around it is the same for both: busybox-static, the installer's tools,
// the agent bundle and /init (pxe/installer_init.sh).
//
// Installers are cached in STATE/boot/installers/KEY/{vmlinuz,initrd.img,
// installer.json}; KEY names the source and hashes it with the agent
// bundle and the builder's format, so the same inputs are built once.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cluster/target_resolver.h"
#include "common/env.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "imager/store.h"
#include "kernel-build/kernel_store.h"
#include "pxe/initramfs_tree.h"

namespace gc {

// Bumped whenever the initramfs the builder makes changes for the same
// inputs, so old cache entries are not served.
constexpr int kInstallerFormatVersion = 1;

// What the installer boots: exactly one of the two.
struct InstallerSource {
  std::optional<ImageRef> image;    // the image's own kernel and modules
  std::optional<KernelRef> kernel;  // a kernel artifact, drivers built in
  std::string ToString() const;     // "image node@1", "kernel migration@2"
};

// The installer for a group as the resolver sees it now: its kernel
// artifact when it names one, else its image; an error says what is
// missing (kernel not built, image not captured).
Result<InstallerSource> InstallerSourceFor(const GroupTarget& target);

// "image-node@1-0123456789abcdef": readable, and changed by any input.
std::string InstallerCacheKey(const InstallerSource& source, const std::string& bundle_hash);

// The agent bundle beside the running goldcast (BINDIR/agent-bundle,
// BINDIR/../agent-bundle, BINDIR/../lib/goldcast/agent-bundle); "" if none.
std::string DefaultAgentBundle();

struct InstallerOptions {
  std::string state_dir;     // the image and kernel stores
  std::string cache_dir;     // default STATE/boot/installers
  std::string agent_bundle;  // default DefaultAgentBundle()
  HostFiles host;
  ProcessRunner* runner = ProcessRunner::Default();
  Env* env = Env::Default();
  std::function<void(const std::string&)> progress;  // one line per step
};

struct InstallerResult {
  std::string key;
  std::string dir;  // cache_dir/key: vmlinuz, initrd.img, installer.json
  bool reused = false;
  std::string kernel_release;        // "" when the artifact does not say
  std::vector<std::string> modules;  // initramfs paths, in load order
  uint64_t initrd_bytes = 0;
};

// Builds the installer for `source` unless the cache has it. Publishing is
// atomic (a staging directory renamed into place); a concurrent build of
// the same key loses the rename and uses the winner's.
Result<InstallerResult> BuildInstaller(const InstallerSource& source,
                                       const InstallerOptions& options);

}  // namespace gc
