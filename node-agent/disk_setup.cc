#include "node-agent/disk_setup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/beneath.h"
#include "common/env.h"
#include "common/text.h"
#include "common/unique_fd.h"
#include "node-agent/node_identity.h"

namespace gc {

namespace {

std::string ReadSmall(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return Trim(buffer.str());
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

bool AllLower(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// vd*, sd*, xvd* (letters) and nvme<N>n<M>: whole disks, not partitions.
bool IsInstallableDiskName(const std::string& name) {
  if (name.rfind("xvd", 0) == 0) return AllLower(name.substr(3));
  if (name.rfind("vd", 0) == 0 || name.rfind("sd", 0) == 0) return AllLower(name.substr(2));
  if (name.rfind("nvme", 0) == 0) {
    size_t n = name.find('n', 4);
    return n != std::string::npos && AllDigits(name.substr(4, n - 4)) &&
           AllDigits(name.substr(n + 1));
  }
  return false;
}

// The GRUB modules BOOTX64.EFI embeds, all in bookworm's grub-efi-amd64-bin
// 2.06: partition maps and file systems to find and read /boot, the
// commands grub.cfg (GrubEfiConfig) uses, the serial and EFI consoles.
constexpr const char* kGrubEfiModules[] = {
    "part_gpt", "part_msdos",     "fat",     "ext2", "normal", "linux", "configfile",
    "search",   "search_fs_uuid", "echo",    "ls",   "test",   "gzio",  "all_video",
    "efi_gop",  "serial",         "terminal"};
constexpr char kGrubEfiDir[] = "usr/lib/grub/x86_64-efi";

// A word of the kernel command line as GRUB's lexer reads it back: its
// quoting and variable characters escaped, so the kernel sees it verbatim.
std::string GrubEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c != 0 && std::strchr("\\$\"';&|<>{}#", c) != nullptr) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Result<DiskInfo> ChooseDisk(const SystemPaths& paths, const std::string& requested) {
  std::string block = paths.sys_dir + "/block";
  auto info_of = [&](const std::string& name) {
    DiskInfo info;
    info.name = name;
    info.path = paths.dev_dir + "/" + name;
    uint64_t sectors = 0, sector_size = 0;
    if (ParseDecimal(ReadSmall(block + "/" + name + "/size"), &sectors)) info.bytes = sectors * 512;
    if (ParseDecimal(ReadSmall(block + "/" + name + "/queue/logical_block_size"), &sector_size) &&
        sector_size >= 512) {
      info.sector_size = sector_size;
    }
    return info;
  };
  if (!requested.empty()) {
    std::string name = requested;
    for (const std::string& prefix : {paths.dev_dir + "/", std::string("/dev/")}) {
      if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
    }
    if (name.empty() || name.find('/') != std::string::npos || !IsDir(block + "/" + name)) {
      return NotFound("disk '" + requested + "' is not a disk in " + block +
                      " (a whole disk such as /dev/vda, not a partition)");
    }
    DiskInfo info = info_of(name);
    if (info.bytes == 0) return InvalidArgument("disk " + info.path + " has size 0 (no medium?)");
    if (ReadSmall(block + "/" + name + "/ro") == "1") {
      return InvalidArgument("disk " + info.path + " is read-only");
    }
    return info;
  }
  std::vector<std::string> names;
  auto listed = Env::Default()->ListDir(block);
  if (listed.ok()) names = *listed;
  for (const auto& name : names) {
    if (!IsInstallableDiskName(name)) continue;
    if (ReadSmall(block + "/" + name + "/removable") == "1") continue;
    if (ReadSmall(block + "/" + name + "/ro") == "1") continue;
    DiskInfo info = info_of(name);
    if (info.bytes > 0) return info;
  }
  return NotFound("no disk to install on: none of " + block +
                  "/{vd*,sd*,nvme*n*,xvd*} is a non-removable, writable disk with a size; attach "
                  "one or name it with --disk");
}

Status CheckDiskNotInUse(const SystemPaths& paths, const DiskInfo& disk) {
  std::string sys_disk = paths.sys_dir + "/block/" + disk.name;
  std::set<std::string> numbers;  // "major:minor" of the disk and its partitions
  std::set<std::string> names = {"/dev/" + disk.name, disk.path};
  numbers.insert(ReadSmall(sys_disk + "/dev"));
  auto children = Env::Default()->ListDir(sys_disk);
  if (children.ok()) {
    for (const auto& child : *children) {
      if (child.rfind(disk.name, 0) != 0 || !IsDir(sys_disk + "/" + child)) continue;
      numbers.insert(ReadSmall(sys_disk + "/" + child + "/dev"));
      names.insert("/dev/" + child);
      names.insert(paths.dev_dir + "/" + child);
    }
  }
  numbers.erase("");
  std::ifstream mounts(paths.proc_dir + "/self/mountinfo");
  std::string line;
  while (std::getline(mounts, line)) {
    // id parent major:minor root mountpoint options... - fstype source superoptions
    std::stringstream words(line);
    std::string id, parent, number, root, mountpoint;
    words >> id >> parent >> number >> root >> mountpoint;
    size_t dash = line.find(" - ");
    std::string source;
    if (dash != std::string::npos) {
      std::stringstream tail(line.substr(dash + 3));
      std::string fstype;
      tail >> fstype >> source;
    }
    if (numbers.count(number) || names.count(source)) {
      return Status(Code::kBusy, "disk " + disk.path +
                                     " is in use: " + (source.empty() ? number : source) +
                                     " is mounted on " + mountpoint +
                                     "; unmount it or choose another disk with --disk");
    }
  }
  std::ifstream swaps(paths.proc_dir + "/swaps");
  while (std::getline(swaps, line)) {
    std::string device = line.substr(0, line.find_first_of(" \t"));
    if (names.count(device)) {
      return Status(Code::kBusy, "disk " + disk.path + " is in use: " + device +
                                     " is active swap; swapoff it or choose another disk");
    }
  }
  return Status::Ok();
}

Status PartitionDisk(const DiskPlan& plan, const SystemPaths& paths, ProcessRunner* runner) {
  if (::mkdir(paths.tmp_dir.c_str(), 01777) != 0 && errno != EEXIST) {
    return ErrnoError("create temp directory " + paths.tmp_dir);
  }
  std::string script_path = paths.tmp_dir + "/goldcast-sfdisk-" + RandomHex(6);
  GC_RETURN_IF_ERROR(Env::Default()->WriteFile(script_path, SfdiskScript(plan)));
  // sfdisk reads its script from stdin only; the runner gives none, so a
  // shell redirects it (paths passed as arguments, never spliced in).
  Status status = RunChecked(
      runner, {"sh", "-c", "exec sfdisk --wipe always --wipe-partitions always -q \"$1\" < \"$2\"",
               "sh", plan.disk.path, script_path});
  ::unlink(script_path.c_str());
  GC_RETURN_IF_ERROR(status.WithContext("partitioning " + plan.disk.path));

  // devtmpfs makes the partition nodes once the kernel re-read the table.
  auto start = std::chrono::steady_clock::now();
  bool reread = false;
  for (const auto& p : plan.partitions) {
    for (;;) {
      struct stat st;
      if (::stat(p.device.c_str(), &st) == 0) break;
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
      if (!reread && waited > paths.device_wait_ms / 4) {
        reread = true;  // sfdisk's own re-read may have raced with a probe
        auto ignored = runner->Run({"blockdev", "--rereadpt", plan.disk.path});
        (void)ignored;
      }
      if (waited > paths.device_wait_ms) {
        return IoError("partition " + p.device + " did not appear within " +
                       std::to_string(paths.device_wait_ms / 1000) + " s of partitioning " +
                       plan.disk.path + " (does the kernel support " + plan.label +
                       " partition tables?)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return Status::Ok();
}

Status MakeFileSystems(const DiskPlan& plan, ProcessRunner* runner) {
  for (size_t k = 0; k < plan.partitions.size(); ++k) {
    const auto& p = plan.partitions[k];
    std::vector<std::string> argv;
    if (p.fstype == "ext2" || p.fstype == "ext3" || p.fstype == "ext4") {
      argv = {"mkfs.ext4", "-t", p.fstype, "-F", "-q", "-U", p.uuid};
      if (!p.label.empty()) argv.insert(argv.end(), {"-L", p.label});
      // syslinux reads the file system holding /boot; its ext4 reader
      // predates 64bit block numbers, which a disk under 16 TiB never needs.
      if (k == plan.boot_index && p.fstype == "ext4") argv.insert(argv.end(), {"-O", "^64bit"});
    } else if (p.fstype == "vfat") {
      std::string id = p.uuid;
      id.erase(std::remove(id.begin(), id.end(), '-'), id.end());
      argv = {"mkfs.vfat", "-i", id};
      // The UEFI specification asks FAT32 of an ESP; mkfs.vfat would pick
      // FAT16 below 512 MiB, and FAT32 needs about 33 MiB at least.
      if (plan.esp_index == k && (p.grow || p.size * plan.disk.sector_size >= (64ull << 20))) {
        argv.insert(argv.end(), {"-F", "32"});
      }
      if (!p.label.empty()) argv.insert(argv.end(), {"-n", p.label});
    } else if (p.fstype == "swap") {
      argv = {"mkswap", "-U", p.uuid};
      if (!p.label.empty()) argv.insert(argv.end(), {"-L", p.label});
    } else {
      continue;
    }
    argv.push_back(p.device);
    GC_RETURN_IF_ERROR(RunChecked(runner, argv));
  }
  return Status::Ok();
}

Status MountPartition(const PartitionPlan& partition, const std::string& dir,
                      ProcessRunner* runner) {
  if (partition.fstype == "vfat") {
    return RunChecked(runner, {"mount", "-t", "vfat", "-o", "quiet", partition.device, dir});
  }
  return RunChecked(runner, {"mount", "-t", partition.fstype, partition.device, dir});
}

Status Unmount(const std::string& dir, ProcessRunner* runner) {
  return RunChecked(runner, {"umount", dir});
}

std::string ExtlinuxConfig(const BootEntry& entry) {
  std::string text =
      "# Written by goldcast-agent install.\n"
      "DEFAULT goldcast\n"
      "PROMPT 0\n"
      "\n"
      "LABEL goldcast\n"
      "  KERNEL " +
      entry.kernel + "\n";
  if (!entry.initrd.empty()) text += "  INITRD " + entry.initrd + "\n";
  text += "  APPEND " + entry.append + "\n";
  return text;
}

std::string GrubEfiConfig(const BootEntry& entry) {
  std::string text =
      "# Written by goldcast-agent install.\n"
      "serial --unit=0 --speed=115200\n"
      "terminal_input serial console\n"
      "terminal_output serial console\n"
      "set default=0\n"
      "set timeout=0\n"
      "\n"
      "menuentry goldcast {\n"
      "  search --no-floppy --fs-uuid --set=root " +
      entry.boot_uuid + "\n  linux " + entry.kernel;
  std::stringstream words(entry.append);
  std::string word;
  while (words >> word) text += " " + GrubEscape(word);
  text += "\n";
  if (!entry.initrd.empty()) text += "  initrd " + entry.initrd + "\n";
  return text + "}\n";
}

Result<std::string> LoadMbrCode(const DiskPlan& plan, const std::string& syslinux_dir) {
  std::string path = syslinux_dir + (plan.label == "gpt" ? "/mbr/gptmbr.bin" : "/mbr/mbr.bin");
  auto code = Env::Default()->ReadFile(path);
  if (!code.ok()) {
    return NotFound("syslinux boot code " + path + " not found (" + code.status().message() +
                    "): install syslinux-common or pass --syslinux-dir");
  }
  if (code->empty() || code->size() > 440) {
    return InvalidArgument(path + " is " + std::to_string(code->size()) +
                           " bytes; MBR boot code is at most 440");
  }
  return code;
}

Status InstallBootloader(const DiskPlan& plan, const std::string& extlinux_dir,
                         const std::string& mbr_code, ProcessRunner* runner) {
  GC_RETURN_IF_ERROR(RunChecked(runner, {"extlinux", "--install", extlinux_dir}));
  // The first 440 bytes are boot code; the disk id and partition table
  // that follow them stay as sfdisk wrote them.
  UniqueFd disk(::open(plan.disk.path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!disk.valid()) return ErrnoError("open " + plan.disk.path + " to write the boot code");
  ssize_t n = ::pwrite(disk.get(), mbr_code.data(), mbr_code.size(), 0);
  if (n != static_cast<ssize_t>(mbr_code.size())) {
    return ErrnoError("write the boot code to " + plan.disk.path);
  }
  if (::fsync(disk.get()) != 0) return ErrnoError("fsync " + plan.disk.path);
  return Status::Ok();
}

Status CheckImageHasGrubEfi(const Manifest& image, const std::string& image_ref) {
  const std::string dir = std::string(kGrubEfiDir) + "/";
  std::set<std::string> present;
  for (const auto& entry : image.entries) {
    if (entry.path.rfind(dir, 0) == 0 || entry.path == "usr/bin/grub-mkimage" ||
        entry.path == "bin/grub-mkimage") {
      present.insert(entry.path);
    }
  }
  std::vector<std::string> missing;
  if (!present.count("usr/bin/grub-mkimage") && !present.count("bin/grub-mkimage")) {
    missing.push_back("/usr/bin/grub-mkimage");
  }
  std::vector<std::string> files = {"moddep.lst"};
  for (const char* module : kGrubEfiModules) files.push_back(std::string(module) + ".mod");
  for (const auto& file : files) {
    if (!present.count(dir + file)) missing.push_back("/" + dir + file);
  }
  if (missing.empty()) return Status::Ok();
  std::string named =
      JoinStrings(std::vector<std::string>(missing.begin(),
                                           missing.begin() + std::min<size_t>(3, missing.size())),
                  ", ");
  if (missing.size() > 3) named += " and " + std::to_string(missing.size() - 3) + " more";
  return FailedPrecondition("image " + image_ref + " has no UEFI boot loader files (" + named +
                            " missing): install grub-efi-amd64-bin on the golden client and "
                            "capture it again");
}

Status InstallGrubEfi(const DiskPlan& plan, const std::string& root, const std::string& config,
                      ProcessRunner* runner) {
  if (!plan.esp_index || plan.partitions[*plan.esp_index].mountpoint.size() < 2) {
    return Internal("the disk plan for " + plan.disk.path + " has no mounted EFI system partition");
  }
  // Beneath the root (no symlink followed), where the ESP is mounted.
  std::string dir = plan.partitions[*plan.esp_index].mountpoint.substr(1) + "/EFI/BOOT";
  GC_RETURN_IF_ERROR(OpenDirBeneath(root, dir, true).status());
  GC_RETURN_IF_ERROR(WriteFileBeneath(root, dir + "/grub.cfg", 0644, config));
  // The prefix has no device: GRUB reads grub.cfg from the ESP it was
  // loaded from. Every module is built in, so nothing else is read.
  std::vector<std::string> argv = {"chroot",
                                   root,
                                   "grub-mkimage",
                                   "-O",
                                   "x86_64-efi",
                                   "-d",
                                   "/" + std::string(kGrubEfiDir),
                                   "-p",
                                   "/EFI/BOOT",
                                   "-o",
                                   "/" + dir + "/BOOTX64.EFI"};
  argv.insert(argv.end(), std::begin(kGrubEfiModules), std::end(kGrubEfiModules));
  return RunChecked(runner, argv).WithContext("making the UEFI boot loader of " + plan.disk.path);
}

}  // namespace gc
