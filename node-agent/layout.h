// The golden client's layout: partition tables (as `sfdisk --json` prints
// them), filesystems (type, UUID, label, mount point), fstab, bootloader
// (BIOS or UEFI) and kernel. The installer later partitions a node after it.
// Stored with every image version as layout.json.
#pragma once

#include <string>

#include "common/status.h"
#include "common/subprocess.h"

namespace gc {

struct LayoutOptions {
  // "/" for a real golden client. Any other directory is captured "as if it
  // were the root": its fstab and kernels are read, but the disks of the
  // machine are not, because they do not belong to that tree.
  std::string root = "/";
  std::string sys_dir = "/sys";  // overridable for tests
};

// Returns the layout document (JSON text). Tools that are missing or fail
// (no sfdisk, a disk without a partition table) are recorded as warnings in
// the document rather than failing the capture.
Result<std::string> CollectLayout(const LayoutOptions& options, ProcessRunner* runner);

}  // namespace gc
