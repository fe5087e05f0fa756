// The installer's disk plan: how to partition the node's disk, after the
// golden client's layout (docs/capture-protocol.md) or a default one, with
// fresh partition and file system ids. Pure: no command runs here, so all
// of it is unit tested; disk_setup.h carries the plan out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gc {

// How the node's firmware starts it, which decides the boot loader
// (extlinux for BIOS, GRUB EFI for UEFI) and whether the disk needs an EFI
// system partition. The installer reads it from /sys/firmware/efi.
enum class Firmware { kBios, kUefi };

// The GPT type of an EFI system partition (dos: type "ef").
inline constexpr char kEspGptType[] = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

struct DiskInfo {
  std::string name;  // "vda"
  std::string path;  // "/dev/vda" (under SystemPaths::dev_dir)
  uint64_t bytes = 0;
  uint64_t sector_size = 512;  // logical
};

// ("/dev/vda", 1) -> "/dev/vda1"; ("/dev/nvme0n1", 1) -> "/dev/nvme0n1p1".
std::string PartitionDevice(const std::string& disk_path, int number);

struct PartitionPlan {
  int number = 0;
  uint64_t start = 0;     // sectors
  uint64_t size = 0;      // sectors; unused when `grow`
  bool grow = false;      // takes the rest of the disk (or of its extended partition)
  std::string type;       // dos "83"/"5"/..., or a GPT type GUID
  std::string gpt_name;   // GPT only
  std::string gpt_attrs;  // GPT only, e.g. "LegacyBIOSBootable"
  bool bootable = false;  // dos active flag
  std::string partuuid;   // new PARTUUID (GPT: set by the script; dos: <label-id>-NN)
  std::string device;     // new device node, e.g. "/dev/vda1"
  // The file system to make: ext2/ext3/ext4/vfat/swap, or "" to leave the
  // partition alone (an extended partition, a BIOS boot partition).
  std::string fstype;
  std::string label;       // kept from the golden client
  std::string uuid;        // new (vfat: "ABCD-1234")
  std::string mountpoint;  // "/", "/boot", ... or "" (swap, unmounted)
  // The golden client's names for it, for rewriting its fstab.
  std::string old_device, old_uuid, old_partuuid;
};

struct DiskPlan {
  DiskInfo disk;
  bool replicated = false;  // after the golden client's layout; else the default one
  std::string label;        // "dos" or "gpt"
  std::string label_id;     // dos "0x1234abcd", GPT a GUID
  std::vector<PartitionPlan> partitions;
  size_t root_index = 0;  // the partition mounted at "/"
  size_t boot_index = 0;  // the one holding /boot (the kernel), often the root
  // The EFI system partition, where UEFI finds the boot loader; always
  // there when planned for Firmware::kUefi.
  std::optional<size_t> esp_index;
};

// Plans the disk from the image's layout document (docs/capture-protocol.md):
// exactly one golden disk with a partition table is replicated (partitions,
// types, labels; the last partition grows to the end of `disk`); no disks
// (a --root capture or an import) gives the default layout: for BIOS one
// dos partition from 1 MiB to the end, ext4 labelled "root"; for UEFI a GPT
// with a 64 MiB EFI system partition (vfat, /boot/efi) before that root.
// A replicated layout keeps the golden client's ESP; for UEFI it must have
// one. Refuses file systems other than ext2/3/4, vfat and swap, several
// golden disks, and a disk smaller than the layout or too small for the
// image (`image_bytes`). Fresh disk, partition and file system ids are
// drawn here.
Result<DiskPlan> PlanDisk(std::string_view layout_json, const DiskInfo& disk, uint64_t image_bytes,
                          Firmware firmware = Firmware::kBios);

// The sfdisk script that makes the plan's partition table.
std::string SfdiskScript(const DiskPlan& plan);

// Partitions with a mount point, parents first ("/" before "/boot").
std::vector<const PartitionPlan*> MountOrder(const DiskPlan& plan);

// The root= kernel argument: "PARTUUID=..." (for a kernel without
// initramfs) or "UUID=...".
std::string RootArgument(const DiskPlan& plan, bool by_partuuid);
// Where /boot's files are seen by the boot loader: "/boot" on the root file
// system, "" when /boot is a file system of its own.
std::string BootPathPrefix(const DiskPlan& plan);

}  // namespace gc
