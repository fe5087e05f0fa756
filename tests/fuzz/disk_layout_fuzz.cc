// Fuzzes PlanDisk and SfdiskScript (node-agent/disk_layout.h): the layout
// document comes from the server, which had it from the golden client, and
// it decides how the installer partitions a node's disk. The first input
// byte picks the firmware and the disk size; the rest is the layout JSON.
// Never crash or throw; invariants of an accepted plan:
// - every partition lies inside the disk (after the GPT backup area), in
//   order, without overlap; at most one grows; root, boot and ESP indexes
//   name partitions, and a UEFI plan has an ESP;
// - mount points are absolute, file systems are ones the installer makes;
// - the sfdisk script has one line per partition after its header, and no
//   control character an input could use to slip in commands;
// - an error is a Status, never an exception.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "node-agent/disk_layout.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "disk_layout_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void Check(const gc::DiskPlan& plan, gc::Firmware firmware) {
  uint64_t sectors = plan.disk.bytes / plan.disk.sector_size;
  uint64_t end = 0;
  int growing = 0;
  for (const gc::PartitionPlan& p : plan.partitions) {
    if (p.grow) ++growing;
    if (p.start < end && p.number <= 4) Fail("partitions overlap", std::to_string(p.number));
    uint64_t last = p.grow ? p.start : p.start + p.size;
    if (p.start == 0 || last > sectors)
      Fail("partition outside the disk", std::to_string(p.number));
    if (p.number <= 4) end = last;
    if (!p.mountpoint.empty() && p.mountpoint[0] != '/') Fail("relative mount point", p.mountpoint);
    if (!p.fstype.empty() && p.fstype != "ext2" && p.fstype != "ext3" && p.fstype != "ext4" &&
        p.fstype != "vfat" && p.fstype != "swap") {
      Fail("file system the installer cannot make", p.fstype);
    }
  }
  if (plan.partitions.empty()) Fail("no partition", "");
  if (plan.root_index >= plan.partitions.size()) Fail("root index out of range", "");
  if (plan.boot_index >= plan.partitions.size()) Fail("boot index out of range", "");
  if (plan.esp_index && *plan.esp_index >= plan.partitions.size()) Fail("ESP out of range", "");
  if (firmware == gc::Firmware::kUefi && !plan.esp_index) Fail("UEFI plan without an ESP", "");
  std::string script = gc::SfdiskScript(plan);
  size_t lines = 0;
  for (char c : script) {
    if (c == '\n') ++lines;
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f) {
      Fail("control character in the sfdisk script", script);
    }
  }
  if (lines < plan.partitions.size()) Fail("sfdisk script lacks partition lines", script);
  (void)growing;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  gc::Firmware firmware = data[0] & 1 ? gc::Firmware::kUefi : gc::Firmware::kBios;
  gc::DiskInfo disk;
  disk.name = "vda";
  disk.path = "/dev/vda";
  disk.bytes = (uint64_t{1} << (24 + (data[0] >> 1) % 20));  // 16 MiB .. 8 TiB
  disk.sector_size = data[0] & 0x80 ? 4096 : 512;
  std::string_view layout(reinterpret_cast<const char*>(data) + 1, size - 1);
  gc::Result<gc::DiskPlan> plan = gc::PlanDisk(layout, disk, uint64_t{64} << 20, firmware);
  if (plan.ok()) Check(*plan, firmware);
  return 0;
}
