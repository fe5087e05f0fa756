#include "node-agent/disk_layout.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/manifest.h"
#include "common/progress.h"
#include "node-agent/node_identity.h"

namespace gc {

namespace {

using nlohmann::json;

// ---- Strict reading of the layout document (network input) ----

Result<const json*> Field(const json& object, const std::string& key, const std::string& where,
                          json::value_t type, bool required) {
  if (!object.is_object()) return InvalidArgument("layout: " + where + ": expected an object");
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) return InvalidArgument("layout: " + where + "." + key + ": missing");
    return static_cast<const json*>(nullptr);
  }
  bool ok = it->type() == type ||
            (type == json::value_t::number_unsigned && it->is_number_integer() && *it >= 0);
  if (!ok) {
    const char* names[] = {"null",     "an object", "an array", "a string",    "true or false",
                           "a number", "a number",  "a number", "binary data", "nothing"};
    return InvalidArgument("layout: " + where + "." + key + ": expected " +
                           names[static_cast<int>(type)]);
  }
  return &*it;
}

Result<std::string> OptString(const json& object, const std::string& key,
                              const std::string& where) {
  GC_ASSIGN_OR_RETURN(const json* value, Field(object, key, where, json::value_t::string, false));
  return value ? value->get<std::string>() : std::string();
}

// lsblk's tree, flattened: device path -> its object.
void FlattenBlockDevices(const json& list, std::map<std::string, const json*>* out) {
  if (!list.is_array()) return;
  for (const auto& device : list) {
    if (!device.is_object()) continue;
    if (device.contains("path") && device["path"].is_string()) {
      (*out)[device["path"].get<std::string>()] = &device;
    } else if (device.contains("name") && device["name"].is_string()) {
      (*out)["/dev/" + device["name"].get<std::string>()] = &device;
    }
    if (device.contains("children")) FlattenBlockDevices(device["children"], out);
  }
}

std::string MountpointOf(const json& device) {
  std::string mountpoint;
  if (device.contains("mountpoint") && device["mountpoint"].is_string()) {
    mountpoint = device["mountpoint"].get<std::string>();
  } else if (device.contains("mountpoints") && device["mountpoints"].is_array()) {
    for (const auto& item : device["mountpoints"]) {
      if (item.is_string()) {
        mountpoint = item.get<std::string>();
        break;
      }
    }
  }
  return mountpoint == "[SWAP]" ? "" : mountpoint;
}

bool IsExtended(const std::string& label, const std::string& type) {
  return label == "dos" && (type == "5" || type == "f" || type == "85");
}

int PartitionNumber(const std::string& node) {
  size_t end = node.size();
  while (end > 0 && std::isdigit(static_cast<unsigned char>(node[end - 1]))) --end;
  if (end == node.size() || node.size() - end > 3) return 0;
  return std::stoi(node.substr(end));
}

std::string NewFsUuid(const std::string& fstype) {
  if (fstype != "vfat") return RandomUuid();
  std::string hex = RandomHex(4);
  std::transform(hex.begin(), hex.end(), hex.begin(), ::toupper);
  return hex.substr(0, 4) + "-" + hex.substr(4);
}

void AssignIds(DiskPlan* plan) {
  if (plan->label == "dos") {
    std::string id = RandomHex(4);
    plan->label_id = "0x" + id;
    for (auto& p : plan->partitions) {
      char suffix[8];
      std::snprintf(suffix, sizeof suffix, "-%02x", p.number);
      p.partuuid = id + suffix;
    }
  } else {
    plan->label_id = RandomUuid();
    for (auto& p : plan->partitions) p.partuuid = RandomUuid();
  }
  for (auto& p : plan->partitions) {
    p.device = PartitionDevice(plan->disk.path, p.number);
    if (!p.fstype.empty()) p.uuid = NewFsUuid(p.fstype);
  }
}

bool IsEsp(const std::string& label, const std::string& type) {
  if (label == "dos") return type == "ef" || type == "EF";
  return type.size() == sizeof kEspGptType - 1 &&
         std::equal(type.begin(), type.end(), kEspGptType, [](char a, char b) {
           return std::toupper(static_cast<unsigned char>(a)) == b;
         });
}

// A GPT keeps a backup of its header and 128 entries of 128 bytes at the
// end of the disk: 33 sectors of 512 bytes.
uint64_t GptBackupSectors(const DiskPlan& plan) {
  return plan.label == "gpt" ? (128 * 128) / plan.disk.sector_size + 1 : 0;
}

// What `filesystems` file systems need to hold an image of `image_bytes`:
// ext4's metadata and journal, vfat's tables. An estimate that refuses
// only disks that surely cannot hold the image.
uint64_t RoomForImage(uint64_t image_bytes, uint64_t filesystems) {
  return image_bytes + image_bytes / 10 + filesystems * (16ull << 20);
}

// The default layout. BIOS: one dos partition from 1 MiB to the end.
// UEFI: a GPT with a 64 MiB EFI system partition (FAT32 needs 33 MiB of
// 512-byte clusters at least) first, then the root.
Result<DiskPlan> DefaultPlan(const DiskInfo& disk, uint64_t image_bytes, Firmware firmware) {
  const uint64_t mib = (1ull << 20) / disk.sector_size;
  DiskPlan plan;
  plan.disk = disk;
  plan.label = firmware == Firmware::kUefi ? "gpt" : "dos";
  PartitionPlan root;
  root.number = 1;
  root.start = mib;
  root.grow = true;
  root.type = "83";
  root.bootable = true;
  root.fstype = "ext4";
  root.label = "root";
  root.mountpoint = "/";
  if (firmware == Firmware::kUefi) {
    PartitionPlan esp;
    esp.number = 1;
    esp.start = mib;
    esp.size = 64 * mib;
    esp.type = kEspGptType;
    esp.gpt_name = "EFI system partition";
    esp.fstype = "vfat";
    esp.label = "EFI";
    esp.mountpoint = "/boot/efi";
    plan.partitions.push_back(esp);
    plan.esp_index = 0;
    root.number = 2;
    root.start = esp.start + esp.size;
    root.type = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";  // Linux file system
    root.gpt_name = "root";
    root.bootable = false;
  }
  plan.partitions.push_back(root);
  plan.root_index = plan.boot_index = plan.partitions.size() - 1;
  uint64_t needed =
      (root.start + GptBackupSectors(plan)) * disk.sector_size + RoomForImage(image_bytes, 1);
  if (disk.bytes < needed) {
    return InvalidArgument("disk " + disk.path + " has " + FormatBytes(disk.bytes) +
                           "; the image needs about " + FormatBytes(needed) + " with the default " +
                           (firmware == Firmware::kUefi ? "UEFI " : "") +
                           "layout: give the node a bigger disk");
  }
  AssignIds(&plan);
  return plan;
}

// ---- Replicating the golden client's partition table ----

// A plan with the golden table's label, for a disk with the same sector
// size (start and size are copied in sectors).
Result<DiskPlan> StartReplicatedPlan(const json& table, const std::string& where,
                                     const DiskInfo& disk) {
  GC_ASSIGN_OR_RETURN(const json* label, Field(table, "label", where, json::value_t::string, true));
  DiskPlan plan;
  plan.disk = disk;
  plan.replicated = true;
  plan.label = label->get<std::string>();
  if (plan.label != "dos" && plan.label != "gpt") {
    return InvalidArgument("layout: " + where + ".label: '" + plan.label +
                           "' partition tables are not supported (only dos and gpt)");
  }
  GC_ASSIGN_OR_RETURN(const json* sector,
                      Field(table, "sectorsize", where, json::value_t::number_unsigned, false));
  uint64_t sector_size = sector ? sector->get<uint64_t>() : 512;
  if (sector_size != disk.sector_size) {
    return InvalidArgument("disk " + disk.path + " has " + std::to_string(disk.sector_size) +
                           "-byte sectors but the golden client's disk had " +
                           std::to_string(sector_size) + "-byte sectors; use a disk like it");
  }
  return plan;
}

// One entry of the golden table (sfdisk --json): its number (distinct from
// those in `numbers`), extent, type and GPT name, attributes and PARTUUID.
Status ReadTableEntry(const json& item, const std::string& at, std::set<int>* numbers,
                      PartitionPlan* p) {
  GC_ASSIGN_OR_RETURN(const json* node, Field(item, "node", at, json::value_t::string, true));
  p->old_device = node->get<std::string>();
  p->number = PartitionNumber(p->old_device);
  if (p->number <= 0 || !numbers->insert(p->number).second) {
    return InvalidArgument("layout: " + at + ".node: '" + p->old_device +
                           "' does not end in a distinct partition number");
  }
  GC_ASSIGN_OR_RETURN(const json* start,
                      Field(item, "start", at, json::value_t::number_unsigned, true));
  GC_ASSIGN_OR_RETURN(const json* size,
                      Field(item, "size", at, json::value_t::number_unsigned, true));
  GC_ASSIGN_OR_RETURN(const json* type, Field(item, "type", at, json::value_t::string, true));
  p->start = start->get<uint64_t>();
  p->size = size->get<uint64_t>();
  p->type = type->get<std::string>();
  GC_ASSIGN_OR_RETURN(p->gpt_name, OptString(item, "name", at));
  GC_ASSIGN_OR_RETURN(p->gpt_attrs, OptString(item, "attrs", at));
  GC_ASSIGN_OR_RETURN(p->old_partuuid, OptString(item, "uuid", at));
  // They end up in the sfdisk script: nothing that could end a field.
  for (const std::string* text : {&p->type, &p->gpt_name, &p->gpt_attrs}) {
    bool is_type = text == &p->type;
    if (std::any_of(text->begin(), text->end(), [&](char c) {
          return c == '"' || c < ' ' || c == 0x7f || (is_type && (c == ',' || c == ' '));
        })) {
      return InvalidArgument("layout: " + at + ": '" + *text +
                             "' holds a quote or control character");
    }
  }
  if (p->start == 0 || p->size == 0 || p->start > (1ull << 48) || p->size > (1ull << 48)) {
    return InvalidArgument("layout: " + at + ": start/size out of range");
  }
  return Status::Ok();
}

// A mount point as a clean absolute path ("/", "/boot", "/var/lib").
Status NormalizeMountpoint(PartitionPlan* p) {
  if (p->mountpoint[0] != '/') {
    return InvalidArgument("layout: mount point '" + p->mountpoint + "' of " + p->old_device +
                           " is not absolute");
  }
  if (p->mountpoint == "/") return Status::Ok();
  auto relative = NormalizeRelativePath(p->mountpoint.substr(1));
  if (!relative.ok()) {
    return InvalidArgument("layout: mount point '" + p->mountpoint + "' of " + p->old_device +
                           ": " + relative.status().message());
  }
  p->mountpoint = "/" + *relative;
  return Status::Ok();
}

// What lsblk saw on the golden client's partition (file system, label, ids,
// mount point), refusing file systems the installer cannot make.
Status AddDeviceFacts(const std::map<std::string, const json*>& devices,
                      const std::string& table_label, PartitionPlan* p) {
  auto found = devices.find(p->old_device);
  if (found != devices.end()) {
    const json& device = *found->second;
    const std::string where = "block_devices " + p->old_device;
    GC_ASSIGN_OR_RETURN(p->fstype, OptString(device, "fstype", where));
    GC_ASSIGN_OR_RETURN(p->label, OptString(device, "label", where));
    GC_ASSIGN_OR_RETURN(p->old_uuid, OptString(device, "uuid", where));
    if (p->old_partuuid.empty()) {
      GC_ASSIGN_OR_RETURN(p->old_partuuid, OptString(device, "partuuid", where));
    }
    p->mountpoint = MountpointOf(device);
  }
  std::string where_mounted = p->mountpoint.empty() ? "" : " (mounted on " + p->mountpoint + ")";
  if (IsExtended(table_label, p->type)) {
    p->fstype.clear();
    p->mountpoint.clear();
  } else if (!p->fstype.empty() && p->fstype != "ext2" && p->fstype != "ext3" &&
             p->fstype != "ext4" && p->fstype != "vfat" && p->fstype != "swap") {
    return Status(Code::kUnsupported,
                  "the golden client's partition " + p->old_device + where_mounted + " holds " +
                      p->fstype +
                      "; the installer makes only ext2, ext3, ext4, vfat and swap: capture a "
                      "golden client using those, or import its tree with 'goldcast image "
                      "import --dir' to get the default layout");
  }
  if (p->fstype.empty() || p->fstype == "swap") p->mountpoint.clear();
  if (p->mountpoint.empty()) return Status::Ok();
  return NormalizeMountpoint(p);
}

// The partition that starts last takes the rest of the disk; a logical
// one needs its extended partition to grow with it.
void MarkGrowing(DiskPlan* plan) {
  auto& parts = plan->partitions;
  size_t last = parts.size();
  for (size_t k = 0; k < parts.size(); ++k) {
    if (IsExtended(plan->label, parts[k].type)) continue;
    if (last == parts.size() || parts[k].start > parts[last].start) last = k;
  }
  if (last == parts.size()) return;
  parts[last].grow = true;
  if (plan->label == "dos" && parts[last].number >= 5) {
    for (auto& p : parts) {
      if (IsExtended(plan->label, p.type)) p.grow = true;
    }
  }
}

// root_index and boot_index; without a /boot of its own, the root holds it.
Status FindRootAndBoot(const std::string& golden_path, DiskPlan* plan) {
  bool have_root = false, have_boot = false;
  for (size_t k = 0; k < plan->partitions.size(); ++k) {
    if (plan->partitions[k].mountpoint == "/") {
      plan->root_index = k;
      have_root = true;
    }
    if (plan->partitions[k].mountpoint == "/boot") {
      plan->boot_index = k;
      have_boot = true;
    }
  }
  if (!have_root) {
    return InvalidArgument("layout: no partition of the golden client's disk " + golden_path +
                           " was mounted on / with a supported file system; capture from the "
                           "running golden client (not a --root directory) or import the tree");
  }
  if (!have_boot) plan->boot_index = plan->root_index;
  return Status::Ok();
}

// The EFI system partition, which a UEFI node cannot boot without. One the
// golden client did not mount is mounted on /boot/efi while installing, so
// the boot loader can be written to it.
Status FindEsp(const std::string& golden_path, Firmware firmware, DiskPlan* plan) {
  for (size_t k = 0; k < plan->partitions.size(); ++k) {
    if (IsEsp(plan->label, plan->partitions[k].type)) {
      plan->esp_index = k;
      break;
    }
  }
  if (firmware != Firmware::kUefi) return Status::Ok();
  if (!plan->esp_index) {
    return Status(Code::kUnsupported,
                  "this node booted with UEFI but the golden client's disk " + golden_path +
                      " has no EFI system partition (it booted with BIOS): capture a golden "
                      "client that boots with UEFI, or switch the node's firmware to legacy "
                      "BIOS boot");
  }
  PartitionPlan& esp = plan->partitions[*plan->esp_index];
  if (esp.fstype.empty()) esp.fstype = "vfat";
  if (esp.fstype != "vfat") {
    return Status(Code::kUnsupported, "the golden client's EFI system partition " + esp.old_device +
                                          " holds " + esp.fstype +
                                          ", not vfat: UEFI firmware cannot read it");
  }
  bool taken = std::any_of(plan->partitions.begin(), plan->partitions.end(),
                           [](const auto& p) { return p.mountpoint == "/boot/efi"; });
  if (esp.mountpoint.empty() && !taken) esp.mountpoint = "/boot/efi";
  return Status::Ok();
}

// The image must fit the replicated file systems together (the growing
// one with what the disk gives it).
Status CheckRoomForImage(const DiskPlan& plan, uint64_t image_bytes) {
  uint64_t sectors = plan.disk.bytes / plan.disk.sector_size;
  uint64_t usable = sectors - std::min(sectors, GptBackupSectors(plan));
  uint64_t room = 0, filesystems = 0;
  for (const auto& p : plan.partitions) {
    if (p.fstype.empty() || p.fstype == "swap") continue;
    room += (p.grow ? usable - std::min(usable, p.start) : p.size) * plan.disk.sector_size;
    ++filesystems;
  }
  uint64_t needed = RoomForImage(image_bytes, filesystems);
  if (room >= needed) return Status::Ok();
  return InvalidArgument("disk " + plan.disk.path + " has " + FormatBytes(plan.disk.bytes) +
                         "; the image needs about " + FormatBytes(needed) +
                         " but the golden client's layout leaves its file systems " +
                         FormatBytes(room) +
                         ": give the node a bigger disk (the last partition grows to its end)");
}

// Only the partition holding /boot is bootable: dos's active flag, or
// GPT's LegacyBIOSBootable attribute (gptmbr.bin boots the partition
// carrying it), whatever the golden client had.
void MarkBootable(DiskPlan* plan) {
  for (size_t k = 0; k < plan->partitions.size(); ++k) {
    auto& p = plan->partitions[k];
    p.bootable = plan->label == "dos" && k == plan->boot_index;
    if (plan->label != "gpt") continue;
    std::string attrs;
    std::stringstream words(p.gpt_attrs);
    std::string word;
    while (words >> word) {
      if (word != "LegacyBIOSBootable") attrs += (attrs.empty() ? "" : " ") + word;
    }
    if (k == plan->boot_index) {
      attrs += (attrs.empty() ? "" : " ") + std::string("LegacyBIOSBootable");
    }
    p.gpt_attrs = attrs;
  }
}

Result<DiskPlan> ReplicatedPlan(const json& golden, const json& block_devices, const DiskInfo& disk,
                                uint64_t image_bytes, Firmware firmware) {
  const std::string where = "disks[0].partitiontable";
  GC_ASSIGN_OR_RETURN(std::string golden_path, OptString(golden, "path", "disks[0]"));
  const json& table = golden["partitiontable"];
  GC_ASSIGN_OR_RETURN(DiskPlan plan, StartReplicatedPlan(table, where, disk));
  GC_ASSIGN_OR_RETURN(const json* parts,
                      Field(table, "partitions", where, json::value_t::array, true));
  std::map<std::string, const json*> devices;
  FlattenBlockDevices(block_devices, &devices);

  uint64_t end = 0;  // sectors
  std::set<int> numbers;
  for (size_t k = 0; k < parts->size(); ++k) {
    std::string at = where + ".partitions[" + std::to_string(k) + "]";
    PartitionPlan p;
    GC_RETURN_IF_ERROR(ReadTableEntry((*parts)[k], at, &numbers, &p));
    end = std::max(end, p.start + p.size);
    GC_RETURN_IF_ERROR(AddDeviceFacts(devices, plan.label, &p));
    plan.partitions.push_back(p);
  }
  if (plan.partitions.empty()) {
    return InvalidArgument("layout: the golden client's disk " + golden_path +
                           " has no partitions; there is nothing to install onto");
  }
  std::sort(plan.partitions.begin(), plan.partitions.end(),
            [](const auto& a, const auto& b) { return a.number < b.number; });
  MarkGrowing(&plan);

  // The sector sizes match (StartReplicatedPlan).
  uint64_t needed = (end + GptBackupSectors(plan)) * disk.sector_size;
  if (disk.bytes < needed) {
    return InvalidArgument("disk " + disk.path + " has " + FormatBytes(disk.bytes) +
                           "; the layout needs " + FormatBytes(needed) +
                           " (the golden client's partitions end there): give the node a disk "
                           "at least that big");
  }
  GC_RETURN_IF_ERROR(FindRootAndBoot(golden_path, &plan));
  GC_RETURN_IF_ERROR(FindEsp(golden_path, firmware, &plan));
  GC_RETURN_IF_ERROR(CheckRoomForImage(plan, image_bytes));
  MarkBootable(&plan);
  AssignIds(&plan);
  return plan;
}

}  // namespace

std::string PartitionDevice(const std::string& disk_path, int number) {
  bool digit_end = !disk_path.empty() && std::isdigit(static_cast<unsigned char>(disk_path.back()));
  return disk_path + (digit_end ? "p" : "") + std::to_string(number);
}

Result<DiskPlan> PlanDisk(std::string_view layout_json, const DiskInfo& disk, uint64_t image_bytes,
                          Firmware firmware) {
  json layout;
  try {
    layout = json::parse(layout_json);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("layout: not valid JSON: ") + e.what());
  }
  if (!layout.is_object()) return InvalidArgument("layout: expected a JSON object");
  // The golden client's "bootloader" does not matter: the node's own
  // firmware decides which boot loader is installed.
  GC_ASSIGN_OR_RETURN(const json* disks,
                      Field(layout, "disks", "layout", json::value_t::array, false));
  std::vector<const json*> with_table;
  std::string names;
  if (disks) {
    for (size_t k = 0; k < disks->size(); ++k) {
      const json& d = (*disks)[k];
      std::string at = "disks[" + std::to_string(k) + "]";
      GC_ASSIGN_OR_RETURN(const json* table,
                          Field(d, "partitiontable", at, json::value_t::object, false));
      if (!table) continue;
      with_table.push_back(&d);
      GC_ASSIGN_OR_RETURN(std::string path, OptString(d, "path", at));
      names += (names.empty() ? "" : ", ") + path;
    }
  }
  if (with_table.empty()) return DefaultPlan(disk, image_bytes, firmware);
  if (with_table.size() > 1) {
    return Status(Code::kUnsupported, "the layout records " + std::to_string(with_table.size()) +
                                          " disks with partition tables (" + names +
                                          "); installing onto several disks is not supported yet");
  }
  json devices = layout.contains("block_devices") ? layout["block_devices"] : json::array();
  return ReplicatedPlan(*with_table[0], devices, disk, image_bytes, firmware);
}

std::string SfdiskScript(const DiskPlan& plan) {
  std::string script =
      "label: " + plan.label + "\nlabel-id: " + plan.label_id + "\nunit: sectors\n\n";
  for (const auto& p : plan.partitions) {
    std::string line = p.device + " : start=" + std::to_string(p.start);
    if (!p.grow) line += ", size=" + std::to_string(p.size);
    line += ", type=" + p.type;
    if (plan.label == "gpt") {
      line += ", uuid=" + p.partuuid;
      if (!p.gpt_name.empty()) line += ", name=\"" + p.gpt_name + "\"";
      if (!p.gpt_attrs.empty()) line += ", attrs=\"" + p.gpt_attrs + "\"";
    } else if (p.bootable) {
      line += ", bootable";
    }
    script += line + "\n";
  }
  return script;
}

std::vector<const PartitionPlan*> MountOrder(const DiskPlan& plan) {
  std::vector<const PartitionPlan*> order;
  for (const auto& p : plan.partitions) {
    if (!p.mountpoint.empty()) order.push_back(&p);
  }
  auto depth = [](const std::string& mountpoint) {
    return mountpoint == "/" ? 0 : std::count(mountpoint.begin(), mountpoint.end(), '/');
  };
  std::stable_sort(order.begin(), order.end(), [&](const auto* a, const auto* b) {
    return depth(a->mountpoint) < depth(b->mountpoint);
  });
  return order;
}

std::string RootArgument(const DiskPlan& plan, bool by_partuuid) {
  const PartitionPlan& root = plan.partitions[plan.root_index];
  return by_partuuid ? "PARTUUID=" + root.partuuid : "UUID=" + root.uuid;
}

std::string BootPathPrefix(const DiskPlan& plan) {
  return plan.boot_index == plan.root_index ? "/boot" : "";
}

}  // namespace gc
