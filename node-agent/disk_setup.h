// The installer's disk work: which disk to erase, whether it is in use,
// then carrying out a DiskPlan (disk_layout.h): the partition table, file
// systems, mounts and the boot loader, extlinux for BIOS and GRUB EFI for
// UEFI. Every command runs through a ProcessRunner.
#pragma once

#include <string>

#include "common/manifest.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "node-agent/disk_layout.h"

namespace gc {

// Where the installer looks at the running system; tests point these at a
// fake tree.
struct SystemPaths {
  std::string proc_dir = "/proc";
  std::string sys_dir = "/sys";
  std::string dev_dir = "/dev";
  std::string tmp_dir = "/tmp";  // made if missing (an initramfs may lack it)
  // How long to wait for the kernel to create partition device nodes.
  int device_wait_ms = 10000;
};

// `requested` is "/dev/vdb" or "vdb"; empty picks the first of
// /sys/block/{vd*,sd*,nvme*n*,xvd*} (sorted by name) that is not
// removable, not read-only and not empty.
Result<DiskInfo> ChooseDisk(const SystemPaths& paths, const std::string& requested);
// Refuses a disk if it or one of its partitions is mounted or used as swap.
Status CheckDiskNotInUse(const SystemPaths& paths, const DiskInfo& disk);

// Writes the partition table (sfdisk, wiping old signatures) and waits
// until the kernel made every partition's device node.
Status PartitionDisk(const DiskPlan& plan, const SystemPaths& paths, ProcessRunner* runner);
// mkfs.ext4 / mkfs.vfat / mkswap for each partition with a file system.
Status MakeFileSystems(const DiskPlan& plan, ProcessRunner* runner);
// vfat is mounted with `quiet`: it cannot hold the image's owners and
// modes, and writing them must not fail the install.
Status MountPartition(const PartitionPlan& partition, const std::string& dir,
                      ProcessRunner* runner);
Status Unmount(const std::string& dir, ProcessRunner* runner);

// What either boot loader boots; each renders it in its own config.
struct BootEntry {
  std::string kernel;     // as the boot loader sees it, e.g. "/boot/vmlinuz-6.1.176"
  std::string initrd;     // "" for none
  std::string append;     // the kernel command line
  std::string boot_uuid;  // the file system holding kernel and initrd (GRUB searches it)
};
std::string ExtlinuxConfig(const BootEntry& entry);
// EFI/BOOT/grub.cfg: serial console, no menu, the one entry.
std::string GrubEfiConfig(const BootEntry& entry);

// The syslinux MBR boot code for the plan's label: SYSLINUX_DIR/mbr/mbr.bin
// (dos) or mbr/gptmbr.bin (GPT), at most 440 bytes. Read before the disk
// is touched, so a missing file fails early.
Result<std::string> LoadMbrCode(const DiskPlan& plan, const std::string& syslinux_dir);

// `extlinux --install EXTLINUX_DIR` (a mounted directory holding
// extlinux.conf), then `mbr_code` into the start of the disk's first sector
// (the partition table after it stays).
Status InstallBootloader(const DiskPlan& plan, const std::string& extlinux_dir,
                         const std::string& mbr_code, ProcessRunner* runner);

// UEFI nodes boot GRUB built from the image's own grub-efi-amd64-bin (one
// GRUB, matching the image, kept up to date by its packages). Refuses an
// image without usr/lib/grub/x86_64-efi (its modules) or grub-mkimage,
// naming what is missing; checked before the disk is touched.
Status CheckImageHasGrubEfi(const Manifest& image, const std::string& image_ref);

// On the plan's ESP (mounted under ROOT): EFI/BOOT/grub.cfg holding
// `config`, and EFI/BOOT/BOOTX64.EFI made by `chroot ROOT grub-mkimage`.
// The removable-media path needs no NVRAM boot entry (no efibootmgr): the
// firmware falls back to it on any disk.
Status InstallGrubEfi(const DiskPlan& plan, const std::string& root, const std::string& config,
                      ProcessRunner* runner);

}  // namespace gc
