// Which kernel modules the installer initramfs carries for an image's own
// kernel, and in which order its /init loads them: read from the image's
// modules.dep and modules.builtin (depmod's output), dependencies first.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gc {

// "kernel/fs/ext4/ext4.ko.xz" -> "ext4"; "virtio-pci" -> "virtio_pci"
// (modprobe treats '-' and '_' alike).
std::string ModuleName(std::string_view path_or_name);

// depmod's view of one kernel release.
struct ModuleDeps {
  std::map<std::string, std::string> path_of;               // name -> path in modules.dep
  std::map<std::string, std::vector<std::string>> deps_of;  // path -> the paths it needs
  std::set<std::string> builtin;                            // names built into the kernel
};

// Parses modules.dep ("path: dep dep ...", paths relative to
// lib/modules/RELEASE) and modules.builtin (one path a line). `source`
// names modules.dep in errors.
Result<ModuleDeps> ParseModuleDeps(std::string_view modules_dep, std::string_view modules_builtin,
                                   std::string_view source);

struct WantedModule {
  std::string name;
  // A required module that is neither a module nor built in is an error:
  // the installer could not reach its disk or the server without it.
  bool required = true;
};

// What the installer needs from a distribution kernel: the disk and NIC of
// a VM or a common PC, ext4 for the root, vfat for an EFI system partition.
const std::vector<WantedModule>& InstallerModules();

// The paths of the wanted modules and of everything they depend on, each
// once, every module after its dependencies: the order to insmod them.
// Built-in and missing optional modules are left out. `source` names
// modules.dep in errors.
Result<std::vector<std::string>> ModuleLoadOrder(const ModuleDeps& deps,
                                                 const std::vector<WantedModule>& wanted,
                                                 std::string_view source);

}  // namespace gc
