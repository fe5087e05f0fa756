#include "node-agent/disk_setup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/text.h"

#include "tests/testing/fake_runner.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::ReadTestFile;
using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
using Argv = std::vector<std::string>;

void FakeDisk(const TempDir& sys, const std::string& name, uint64_t sectors, bool removable = false,
              bool ro = false) {
  WriteTestFile(sys.Sub("block/" + name + "/size"), std::to_string(sectors) + "\n");
  WriteTestFile(sys.Sub("block/" + name + "/removable"), removable ? "1\n" : "0\n");
  WriteTestFile(sys.Sub("block/" + name + "/ro"), ro ? "1\n" : "0\n");
  WriteTestFile(sys.Sub("block/" + name + "/queue/logical_block_size"), "512\n");
}

SystemPaths Paths(const TempDir& dir) {
  SystemPaths paths;
  paths.sys_dir = dir.Sub("sys");
  paths.proc_dir = dir.Sub("proc");
  paths.dev_dir = dir.Sub("dev");
  paths.tmp_dir = dir.Sub("tmp");
  paths.device_wait_ms = 300;
  return paths;
}

TEST(DiskSetupTest, AutoChoosesTheFirstSortedSuitableDisk) {
  TempDir sys;
  FakeDisk(sys, "sda", 1000, /*removable=*/true);  // a USB stick
  FakeDisk(sys, "sdb", 0);                         // no medium
  FakeDisk(sys, "vda", 1000, false, /*ro=*/true);
  FakeDisk(sys, "vdc", 4096);
  FakeDisk(sys, "vdb", 2048);
  FakeDisk(sys, "loop0", 9999);
  FakeDisk(sys, "zram0", 9999);
  FakeDisk(sys, "sr0", 9999);
  SystemPaths paths;
  paths.sys_dir = sys.path();
  auto disk = ChooseDisk(paths, "");
  ASSERT_TRUE(disk.ok()) << disk.status().message();
  EXPECT_EQ(disk->name, "vdb");
  EXPECT_EQ(disk->path, "/dev/vdb");
  EXPECT_EQ(disk->bytes, 2048u * 512);

  FakeDisk(sys, "nvme0n1", 8192);
  EXPECT_EQ(ChooseDisk(paths, "")->name, "nvme0n1");
}

TEST(DiskSetupTest, NamedDiskAndItsErrors) {
  TempDir sys;
  FakeDisk(sys, "vdb", 2048);
  FakeDisk(sys, "vdc", 2048, false, true);
  SystemPaths paths;
  paths.sys_dir = sys.path();
  EXPECT_EQ(ChooseDisk(paths, "/dev/vdb")->name, "vdb");
  EXPECT_EQ(ChooseDisk(paths, "vdb")->name, "vdb");
  EXPECT_THAT(ChooseDisk(paths, "/dev/vdz").status().message(), HasSubstr("'/dev/vdz'"));
  EXPECT_THAT(ChooseDisk(paths, "/dev/vdc").status().message(), HasSubstr("read-only"));
  TempDir empty;
  paths.sys_dir = empty.path();
  auto none = ChooseDisk(paths, "");
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("--disk"));
}

TEST(DiskSetupTest, RefusesADiskWithAMountedPartitionOrActiveSwap) {
  TempDir dir;
  SystemPaths paths = Paths(dir);
  WriteTestFile(dir.Sub("sys/block/vdb/dev"), "254:16\n");
  WriteTestFile(dir.Sub("sys/block/vdb/vdb1/dev"), "254:17\n");
  WriteTestFile(dir.Sub("sys/block/vdb/vdb2/dev"), "254:18\n");
  DiskInfo disk{"vdb", "/dev/vdb", 1 << 30, 512};
  WriteTestFile(dir.Sub("proc/self/mountinfo"),
                "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
                "23 22 0:5 / /proc rw - proc proc rw\n");
  WriteTestFile(dir.Sub("proc/swaps"), "Filename Type Size Used Priority\n");
  EXPECT_TRUE(CheckDiskNotInUse(paths, disk).ok());

  WriteTestFile(dir.Sub("proc/self/mountinfo"),
                "30 22 254:17 / /mnt/data rw - ext4 /dev/vdb1 rw\n");
  Status busy = CheckDiskNotInUse(paths, disk);
  EXPECT_EQ(busy.code(), Code::kBusy);
  EXPECT_THAT(busy.message(), HasSubstr("/dev/vdb1 is mounted on /mnt/data"));
  // Found by device number even when the source is named otherwise.
  WriteTestFile(dir.Sub("proc/self/mountinfo"), "30 22 254:18 / /srv rw - ext4 /dev/root rw\n");
  EXPECT_FALSE(CheckDiskNotInUse(paths, disk).ok());

  WriteTestFile(dir.Sub("proc/self/mountinfo"), "");
  WriteTestFile(dir.Sub("proc/swaps"),
                "Filename Type Size Used Priority\n/dev/vdb2 partition 1024 0 -2\n");
  EXPECT_THAT(CheckDiskNotInUse(paths, disk).message(), HasSubstr("/dev/vdb2 is active swap"));
}

// What PlanDisk makes of a golden /boot (ext2), root (ext4), extended
// partition and swap, plus a vfat one.
DiskPlan GoldenLikePlan() {
  DiskPlan plan;
  plan.disk = {"vda", "/dev/vda", 20ull << 30, 512};
  plan.label = "dos";
  auto add = [&](int number, const std::string& fstype, const std::string& label,
                 const std::string& uuid) {
    PartitionPlan p;
    p.number = number;
    p.device = PartitionDevice(plan.disk.path, number);
    p.fstype = fstype;
    p.label = label;
    p.uuid = uuid;
    plan.partitions.push_back(p);
  };
  add(1, "ext2", "boot", "11111111-1111-4111-8111-111111111111");
  add(2, "ext4", "", "22222222-2222-4222-8222-222222222222");
  add(3, "", "", "");
  add(5, "swap", "", "55555555-5555-4555-8555-555555555555");
  add(6, "vfat", "DATA", "ABCD-1234");
  plan.root_index = 1;
  plan.boot_index = 0;
  return plan;
}

TEST(DiskSetupTest, MakeFileSystemsKeepsLabelsAndSetsTheNewIds) {
  DiskPlan plan = GoldenLikePlan();
  testing::FakeRunner runner;
  ASSERT_TRUE(MakeFileSystems(plan, &runner).ok());
  ASSERT_EQ(runner.calls.size(), 4u);  // nothing for the extended partition
  EXPECT_EQ(runner.calls[0], (Argv{"mkfs.ext4", "-t", "ext2", "-F", "-q", "-U",
                                   plan.partitions[0].uuid, "-L", "boot", "/dev/vda1"}));
  EXPECT_EQ(runner.calls[1], (Argv{"mkfs.ext4", "-t", "ext4", "-F", "-q", "-U",
                                   plan.partitions[1].uuid, "/dev/vda2"}));
  EXPECT_EQ(runner.calls[2], (Argv{"mkswap", "-U", plan.partitions[3].uuid, "/dev/vda5"}));
  EXPECT_EQ(runner.calls[3], (Argv{"mkfs.vfat", "-i", "ABCD1234", "-n", "DATA", "/dev/vda6"}));

  // An ext4 /boot is made without 64bit block numbers, for extlinux.
  plan.boot_index = 1;
  runner.calls.clear();
  ASSERT_TRUE(MakeFileSystems(plan, &runner).ok());
  EXPECT_EQ(runner.calls[1], (Argv{"mkfs.ext4", "-t", "ext4", "-F", "-q", "-U",
                                   plan.partitions[1].uuid, "-O", "^64bit", "/dev/vda2"}));
}

TEST(DiskSetupTest, AnEspIsFat32AndVfatIsMountedQuietly) {
  DiskPlan plan = GoldenLikePlan();
  plan.esp_index = 4;
  plan.partitions[4].size = (64ull << 20) / 512;
  testing::FakeRunner runner;
  ASSERT_TRUE(MakeFileSystems(plan, &runner).ok());
  EXPECT_EQ(runner.calls[3],
            (Argv{"mkfs.vfat", "-i", "ABCD1234", "-F", "32", "-n", "DATA", "/dev/vda6"}));
  // Too small for FAT32: mkfs.vfat picks.
  plan.partitions[4].size = (32ull << 20) / 512;
  runner.calls.clear();
  ASSERT_TRUE(MakeFileSystems(plan, &runner).ok());
  EXPECT_EQ(runner.calls[3], (Argv{"mkfs.vfat", "-i", "ABCD1234", "-n", "DATA", "/dev/vda6"}));

  runner.calls.clear();
  ASSERT_TRUE(MountPartition(plan.partitions[4], "/mnt/boot/efi", &runner).ok());
  ASSERT_TRUE(MountPartition(plan.partitions[1], "/mnt", &runner).ok());
  EXPECT_EQ(runner.calls[0],
            (Argv{"mount", "-t", "vfat", "-o", "quiet", "/dev/vda6", "/mnt/boot/efi"}));
  EXPECT_EQ(runner.calls[1], (Argv{"mount", "-t", "ext4", "/dev/vda2", "/mnt"}));
}

TEST(DiskSetupTest, PartitionDiskRunsSfdiskWithTheScriptAndWaitsForNodes) {
  TempDir dir;
  SystemPaths paths = Paths(dir);
  DiskInfo disk{"vda", dir.Sub("dev/vda"), 64ull << 20, 512};
  auto plan = PlanDisk(R"({"disks":[]})", disk, 0);
  ASSERT_TRUE(plan.ok());
  testing::FakeRunner runner;
  runner.make_nodes = {dir.Sub("dev/vda1")};
  ASSERT_TRUE(PartitionDisk(*plan, paths, &runner).ok());
  ASSERT_EQ(runner.calls.size(), 1u);
  const Argv& call = runner.calls[0];
  EXPECT_EQ(call[0], "sh");
  EXPECT_EQ(call[2], "exec sfdisk --wipe always --wipe-partitions always -q \"$1\" < \"$2\"");
  EXPECT_EQ(call[4], dir.Sub("dev/vda"));
  EXPECT_EQ(runner.script, SfdiskScript(*plan));
  EXPECT_FALSE(fs::exists(call[5]));  // the script file is cleaned up

  // No node ever appears: a re-read is tried, then a clear error.
  fs::remove(dir.Sub("dev/vda1"));
  runner.make_nodes.clear();
  runner.calls.clear();
  Status status = PartitionDisk(*plan, paths, &runner);
  EXPECT_THAT(status.message(), HasSubstr("vda1 did not appear"));
  ASSERT_EQ(runner.calls.size(), 2u);
  EXPECT_EQ(runner.calls[1], (Argv{"blockdev", "--rereadpt", dir.Sub("dev/vda")}));
}

TEST(DiskSetupTest, ExtlinuxConfigAndBootCode) {
  EXPECT_EQ(ExtlinuxConfig({"/boot/vmlinuz-6.1.176", "", "root=PARTUUID=ab-01 rw", ""}),
            "# Written by goldcast-agent install.\nDEFAULT goldcast\nPROMPT 0\n\nLABEL goldcast\n"
            "  KERNEL /boot/vmlinuz-6.1.176\n  APPEND root=PARTUUID=ab-01 rw\n");
  EXPECT_THAT(ExtlinuxConfig({"/vmlinuz-6", "/initrd.img-6", "x", ""}),
              HasSubstr("  INITRD /initrd.img-6\n"));

  TempDir dir;
  std::string image = dir.Sub("disk.img");
  std::string table(1024, '\x5a');
  WriteTestFile(image, table);
  WriteTestFile(dir.Sub("syslinux/mbr/mbr.bin"), std::string(440, '\x01'));
  DiskInfo disk{"vda", image, 1024, 512};
  auto plan = PlanDisk(R"({"disks":[]})", disk, 0);
  ASSERT_FALSE(plan.ok());  // 1 KiB is too small; build the plan by hand
  DiskPlan by_hand;
  by_hand.disk = disk;
  by_hand.label = "dos";
  auto code = LoadMbrCode(by_hand, dir.Sub("syslinux"));
  ASSERT_TRUE(code.ok()) << code.status().message();
  by_hand.label = "gpt";
  EXPECT_THAT(LoadMbrCode(by_hand, dir.Sub("syslinux")).status().message(),
              HasSubstr("mbr/gptmbr.bin not found"));
  testing::FakeRunner runner;
  ASSERT_TRUE(InstallBootloader(by_hand, dir.Sub("root/boot/extlinux"), *code, &runner).ok());
  EXPECT_EQ(runner.calls[0], (Argv{"extlinux", "--install", dir.Sub("root/boot/extlinux")}));
  std::string written = ReadTestFile(image);
  EXPECT_EQ(written.substr(0, 440), std::string(440, '\x01'));
  EXPECT_EQ(written.substr(440), table.substr(440));  // disk id and partition table kept
}

TEST(DiskSetupTest, GrubEfiConfigBootsTheSameEntryOverTheSerialConsole) {
  BootEntry entry{"/boot/vmlinuz-6.1.176", "", "root=PARTUUID=ab-cd rootwait rw quiet",
                  "0b5e6c7a-0000-4000-8000-000000000002"};
  EXPECT_EQ(GrubEfiConfig(entry),
            "# Written by goldcast-agent install.\n"
            "serial --unit=0 --speed=115200\n"
            "terminal_input serial console\n"
            "terminal_output serial console\n"
            "set default=0\n"
            "set timeout=0\n"
            "\n"
            "menuentry goldcast {\n"
            "  search --no-floppy --fs-uuid --set=root 0b5e6c7a-0000-4000-8000-000000000002\n"
            "  linux /boot/vmlinuz-6.1.176 root=PARTUUID=ab-cd rootwait rw quiet\n"
            "}\n");
  entry.initrd = "/initrd.img-6";
  EXPECT_THAT(GrubEfiConfig(entry), HasSubstr("quiet\n  initrd /initrd.img-6\n}\n"));
  // GRUB's quoting and variables would change the kernel's arguments.
  entry.append = "a=$x b=\"y z\" c;d";
  EXPECT_THAT(GrubEfiConfig(entry), HasSubstr(" a=\\$x b=\\\"y z\\\" c\\;d\n"));
}

// The paths grub-efi-amd64-bin and grub-common put in a Debian image.
Manifest ImageWithGrub() {
  Manifest image;
  auto add = [&](const std::string& path, EntryType type) {
    Entry e;
    e.path = path;
    e.type = type;
    image.entries.push_back(e);
  };
  add("usr/bin/grub-mkimage", EntryType::kFile);
  add("usr/lib/grub/x86_64-efi", EntryType::kDir);
  for (const char* name :
       {"moddep.lst", "part_gpt.mod", "part_msdos.mod", "fat.mod", "ext2.mod", "normal.mod",
        "linux.mod", "configfile.mod", "search.mod", "search_fs_uuid.mod", "echo.mod", "ls.mod",
        "test.mod", "gzio.mod", "all_video.mod", "efi_gop.mod", "serial.mod", "terminal.mod"}) {
    add(std::string("usr/lib/grub/x86_64-efi/") + name, EntryType::kFile);
  }
  return image;
}

TEST(DiskSetupTest, AnImageWithoutGrubEfiIsRefusedNamingWhatIsMissing) {
  Manifest image = ImageWithGrub();
  EXPECT_TRUE(CheckImageHasGrubEfi(image, "compute@2").ok());
  image.entries[0].path = "bin/grub-mkimage";  // not merged /usr
  EXPECT_TRUE(CheckImageHasGrubEfi(image, "compute@2").ok());

  image.entries.erase(image.entries.begin());
  Status status = CheckImageHasGrubEfi(image, "compute@2");
  EXPECT_EQ(status.code(), Code::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "image compute@2 has no UEFI boot loader files (/usr/bin/grub-mkimage missing): "
            "install grub-efi-amd64-bin on the golden client and capture it again");

  status = CheckImageHasGrubEfi(Manifest{}, "compute@2");
  EXPECT_THAT(status.message(),
              HasSubstr("(/usr/bin/grub-mkimage, /usr/lib/grub/x86_64-efi/moddep.lst, "
                        "/usr/lib/grub/x86_64-efi/part_gpt.mod and 16 more missing)"));
}

DiskPlan UefiPlan(const std::string& disk_path) {
  DiskInfo disk{"vda", disk_path, 1ull << 30, 512};
  auto plan = PlanDisk(R"({"disks":[]})", disk, 0, Firmware::kUefi);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  return *plan;
}

TEST(DiskSetupTest, InstallGrubEfiWritesTheConfigAndBuildsBootx64InTheImage) {
  TempDir root;
  DiskPlan plan = UefiPlan("/dev/vda");
  testing::FakeRunner runner;
  Status status = InstallGrubEfi(plan, root.path(), "the config\n", &runner);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(ReadTestFile(root.Sub("boot/efi/EFI/BOOT/grub.cfg")), "the config\n");
  ASSERT_EQ(runner.calls.size(), 1u);
  EXPECT_EQ(runner.calls[0], (Argv{"chroot",
                                   root.path(),
                                   "grub-mkimage",
                                   "-O",
                                   "x86_64-efi",
                                   "-d",
                                   "/usr/lib/grub/x86_64-efi",
                                   "-p",
                                   "/EFI/BOOT",
                                   "-o",
                                   "/boot/efi/EFI/BOOT/BOOTX64.EFI",
                                   "part_gpt",
                                   "part_msdos",
                                   "fat",
                                   "ext2",
                                   "normal",
                                   "linux",
                                   "configfile",
                                   "search",
                                   "search_fs_uuid",
                                   "echo",
                                   "ls",
                                   "test",
                                   "gzio",
                                   "all_video",
                                   "efi_gop",
                                   "serial",
                                   "terminal"}));

  runner.exit_code = 1;
  runner.stderr_text = "grub-mkimage: error: cannot open `/usr/lib/grub/x86_64-efi/moddep.lst'";
  EXPECT_THAT(InstallGrubEfi(plan, root.path(), "", &runner).message(),
              HasSubstr("making the UEFI boot loader of /dev/vda: chroot"));

  // Never through a symlink out of the image.
  TempDir linked;
  fs::create_directories(linked.Sub("boot"));
  fs::create_symlink(root.path(), linked.Sub("boot/efi"));
  runner.exit_code = 0;
  EXPECT_FALSE(InstallGrubEfi(plan, linked.path(), "x", &runner).ok());

  plan.esp_index.reset();
  EXPECT_THAT(InstallGrubEfi(plan, root.path(), "", &runner).message(),
              HasSubstr("no mounted EFI system partition"));
}

// The real commands on a real loop device: sfdisk writes the table into a
// disk image file, mkfs.ext4 formats the partition, the mount and
// extlinux --install work on it, and the boot code lands in the MBR. The
// partition gets its own loop device (offset 1 MiB) so the test does not
// depend on the kernel scanning partitions of loop devices.
class LoopDevice {
 public:
  ~LoopDevice() {
    if (!mounted.empty()) (void)ProcessRunner::Default()->Run({"umount", mounted});
    if (!path.empty()) (void)ProcessRunner::Default()->Run({"losetup", "-d", path});
  }
  std::string path;
  std::string mounted;
};

std::string RunOk(const Argv& argv) {
  auto result = ProcessRunner::Default()->Run(argv);
  EXPECT_TRUE(result.ok()) << argv[0] << ": " << result.status().message();
  if (!result.ok()) return "";
  EXPECT_EQ(result->exit_code, 0) << argv[0] << ": " << result->stderr_text;
  return result->stdout_text;
}

TEST(DiskSetupLoopTest, PartitionsFormatsMountsAndInstallsExtlinuxForReal) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (losetup, mount)";
  TempDir dir;
  std::string image = dir.Sub("disk.img");
  constexpr uint64_t kDisk = 64ull << 20;
  WriteTestFile(image, "");
  fs::resize_file(image, kDisk);
  DiskInfo disk{"disk", image, kDisk, 512};
  auto plan = PlanDisk(R"({"format":1,"source":"import","disks":[]})", disk, 1 << 20);
  ASSERT_TRUE(plan.ok()) << plan.status().message();

  LoopDevice loop;
  loop.path = Trim(RunOk({"losetup", "--find", "--show", "--offset", "1048576", "--sizelimit",
                          std::to_string(kDisk - (1 << 20)), image}));
  ASSERT_FALSE(loop.path.empty());
  plan->partitions[0].device = loop.path;

  SystemPaths paths;
  paths.tmp_dir = dir.Sub("tmp");
  ProcessRunner* runner = ProcessRunner::Default();
  ASSERT_TRUE(PartitionDisk(*plan, paths, runner).ok());
  Status made = MakeFileSystems(*plan, runner);
  ASSERT_TRUE(made.ok()) << made.message();
  fs::create_directories(dir.Sub("mnt"));
  Status mounted = MountPartition(plan->partitions[0], dir.Sub("mnt"), runner);
  ASSERT_TRUE(mounted.ok()) << mounted.message();
  loop.mounted = dir.Sub("mnt");
  WriteTestFile(dir.Sub("mnt/boot/extlinux/extlinux.conf"),
                ExtlinuxConfig({"/boot/vmlinuz-x", "", RootArgument(*plan, true), ""}));
  auto code = LoadMbrCode(*plan, "/usr/lib/syslinux");
  ASSERT_TRUE(code.ok()) << code.status().message();
  Status boot = InstallBootloader(*plan, dir.Sub("mnt/boot/extlinux"), *code, runner);
  ASSERT_TRUE(boot.ok()) << boot.message();
  EXPECT_TRUE(fs::exists(dir.Sub("mnt/boot/extlinux/ldlinux.sys")));
  ASSERT_TRUE(Unmount(dir.Sub("mnt"), runner).ok());
  loop.mounted.clear();

  auto table = nlohmann::json::parse(RunOk({"sfdisk", "--json", image}))["partitiontable"];
  EXPECT_EQ(table["label"], "dos");
  EXPECT_EQ(table["id"], plan->label_id);
  ASSERT_EQ(table["partitions"].size(), 1u);
  EXPECT_EQ(table["partitions"][0]["start"], 2048);
  EXPECT_EQ(table["partitions"][0]["size"], kDisk / 512 - 2048);  // grew to the end
  EXPECT_EQ(table["partitions"][0]["bootable"], true);
  std::string ids = RunOk({"blkid", "-o", "export", loop.path});
  EXPECT_THAT(ids, HasSubstr("UUID=" + plan->partitions[0].uuid + "\n"));
  EXPECT_THAT(ids, HasSubstr("LABEL=root\n"));
  EXPECT_THAT(ids, HasSubstr("TYPE=ext4\n"));
  std::string features = RunOk({"dumpe2fs", "-h", loop.path});
  EXPECT_THAT(features, HasSubstr("extent"));
  EXPECT_THAT(features, ::testing::Not(HasSubstr(" 64bit")));
  EXPECT_EQ(ReadTestFile(image).substr(0, code->size()), *code);
}

// The UEFI default layout for real: sfdisk writes the GPT, mkfs.vfat
// the ESP as FAT32, the quiet vfat mount takes the modes the installer
// writes, and grub-mkimage (the host's, through `chroot /`) accepts every
// module the installer names.
TEST(DiskSetupLoopTest, MakesTheEspAndBuildsGrubEfiForReal) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (losetup, mount)";
  if (!fs::exists("/usr/lib/grub/x86_64-efi/linux.mod")) {
    GTEST_SKIP() << "needs grub-efi-amd64-bin (scripts/install-deps.sh)";
  }
  TempDir dir;
  std::string image = dir.Sub("disk.img");
  constexpr uint64_t kDisk = 128ull << 20;
  WriteTestFile(image, "");
  fs::resize_file(image, kDisk);
  DiskPlan plan = UefiPlan(image);
  plan.disk.bytes = kDisk;
  LoopDevice loop;
  loop.path = Trim(RunOk({"losetup", "--find", "--show", "--offset", "1048576", "--sizelimit",
                          std::to_string(64ull << 20), image}));
  ASSERT_FALSE(loop.path.empty());
  plan.partitions[0].device = loop.path;
  plan.partitions[1].fstype = "";  // only the ESP is made here

  SystemPaths paths;
  paths.tmp_dir = dir.Sub("tmp");
  ProcessRunner* runner = ProcessRunner::Default();
  plan.partitions[1].device = image;  // exists: PartitionDisk waits for nothing
  ASSERT_TRUE(PartitionDisk(plan, paths, runner).ok());
  Status made = MakeFileSystems(plan, runner);
  ASSERT_TRUE(made.ok()) << made.message();
  fs::create_directories(dir.Sub("mnt"));
  // A kernel without vfat (some CI hosts) gets GRUB in a plain directory.
  bool vfat = ReadTestFile("/proc/filesystems").find("\tvfat\n") != std::string::npos;
  if (vfat) {
    Status mounted = MountPartition(plan.partitions[0], dir.Sub("mnt"), runner);
    ASSERT_TRUE(mounted.ok()) << mounted.message();
    loop.mounted = dir.Sub("mnt");
  }
  // The ESP seen from `chroot /`: mounted at the temporary directory.
  plan.partitions[0].mountpoint = dir.Sub("mnt");
  Status grub = InstallGrubEfi(plan, "/", "set timeout=0\n", runner);
  ASSERT_TRUE(grub.ok()) << grub.message();
  std::string efi = ReadTestFile(dir.Sub("mnt/EFI/BOOT/BOOTX64.EFI"));
  EXPECT_EQ(efi.substr(0, 2), "MZ");  // a PE image
  EXPECT_EQ(ReadTestFile(dir.Sub("mnt/EFI/BOOT/grub.cfg")), "set timeout=0\n");
  if (vfat) {
    ASSERT_TRUE(Unmount(dir.Sub("mnt"), runner).ok());
    loop.mounted.clear();
  }

  auto table = nlohmann::json::parse(RunOk({"sfdisk", "--json", image}))["partitiontable"];
  EXPECT_EQ(table["label"], "gpt");
  ASSERT_EQ(table["partitions"].size(), 2u);
  EXPECT_EQ(table["partitions"][0]["type"], kEspGptType);
  EXPECT_EQ(table["partitions"][1]["start"], 133120);
  std::string ids = RunOk({"blkid", "-o", "export", loop.path});
  EXPECT_THAT(ids, HasSubstr("UUID=" + plan.partitions[0].uuid + "\n"));
  EXPECT_THAT(RunOk({"blkid", "-p", "-o", "export", loop.path}), HasSubstr("VERSION=FAT32\n"));
}

}  // namespace
}  // namespace gc
