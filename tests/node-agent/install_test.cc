#include "node-agent/install.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/hash.h"
#include "tests/testing/fake_runner.h"
#include "tests/testing/install_plan_json.h"
#include "tests/testing/memory_object_source.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::ReadTestFile;
using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
using json = nlohmann::json;
using Argv = std::vector<std::string>;

constexpr char kRelease[] = "6.1.176";

// Builds a manifest in memory; contents go into the source.
class TreeBuilder {
 public:
  explicit TreeBuilder(testing::MemorySource* source) : source_(source) { Dir("."); }
  TreeBuilder& Dir(const std::string& path) {
    Entry e = Base(path, EntryType::kDir, 0755);
    manifest_.entries.push_back(e);
    return *this;
  }
  TreeBuilder& File(const std::string& path, const std::string& content) {
    Entry e = Base(path, EntryType::kFile, 0644);
    e.size = content.size();
    e.hash = source_->Add(content);
    manifest_.entries.push_back(e);
    return *this;
  }
  TreeBuilder& Link(const std::string& path, const std::string& target) {
    Entry e = Base(path, EntryType::kSymlink, 0777);
    e.target = target;
    manifest_.entries.push_back(e);
    return *this;
  }
  Manifest Build() {
    std::sort(manifest_.entries.begin(), manifest_.entries.end(),
              [](const Entry& a, const Entry& b) { return ComparePaths(a.path, b.path) < 0; });
    Status valid = ValidateManifest(manifest_);
    EXPECT_TRUE(valid.ok()) << valid.message();
    return manifest_;
  }

 private:
  static Entry Base(const std::string& path, EntryType type, uint32_t mode) {
    Entry e;
    e.path = path;
    e.type = type;
    e.mode = mode;
    e.mtime_ns = 1'700'000'000'000'000'000;
    return e;
  }
  testing::MemorySource* source_;
  Manifest manifest_;
};

class FakeServer : public InstallServer {
 public:
  FakeServer() {
    image = TreeBuilder(&source)
                .Dir("boot")
                .Dir("etc")
                .File("etc/fstab", "/dev/sda1 / ext4 defaults 0 1\nproc /proc proc defaults 0 0\n")
                .File("etc/hostname", "golden\n")
                .Link("lib", "usr/lib")
                .Dir("usr")
                .Dir("usr/lib")
                .Dir("usr/lib/modules")
                .Dir("usr/lib/modules/6.1.176")
                .File("usr/lib/modules/6.1.176/stale.ko", "old")
                .Build();
    modules = TreeBuilder(&source)
                  .Dir("lib")
                  .Dir("lib/modules")
                  .Dir("lib/modules/6.1.176")
                  .Dir("lib/modules/6.1.176/kernel")
                  .File("lib/modules/6.1.176/kernel/dummy.ko", "module bytes")
                  .File("lib/modules/6.1.176/modules.dep", "kernel/dummy.ko:\n")
                  .Build();
    gets["/v1/node/plan"] = testing::PlanJson().dump();
    gets["/v1/node/images/compute@2/layout"] = R"({"format":1,"source":"import","disks":[]})";
    downloads["/v1/node/kernels/tiny@1/vmlinuz"] = "kernel image";
    downloads["/v1/node/kernels/tiny@1/System.map"] = "symbols";
    downloads["/v1/node/kernels/tiny@1/config"] = "CONFIG_X=y\n";
  }
  Result<std::string> Get(const std::string& path) override {
    requests.push_back(path);
    auto it = gets.find(path);
    if (it == gets.end()) return NotFound("404 for " + path);
    return it->second;
  }
  Result<Manifest> GetManifest(const std::string& ref) override {
    requests.push_back("manifest " + ref);
    return image;
  }
  Result<Manifest> GetKernelModulesManifest(const std::string& ref) override {
    requests.push_back("modules " + ref);
    return modules;
  }
  Status Download(const std::string& path,
                  const std::function<Status(std::string_view)>& sink) override {
    auto it = downloads.find(path);
    if (it == downloads.end()) return NotFound("404 for " + path);
    return sink(it->second);
  }
  Status PostProgress(const std::string& body) override {
    progress.push_back(json::parse(body));
    return Status::Ok();
  }
  ObjectSource* objects() override { return &source; }

  std::vector<std::string> Phases() const {
    std::vector<std::string> phases;
    for (const auto& p : progress) {
      if (phases.empty() || phases.back() != p["phase"]) phases.push_back(p["phase"]);
    }
    return phases;
  }

  testing::MemorySource source;
  Manifest image, modules;
  std::map<std::string, std::string> gets, downloads;
  std::vector<std::string> requests;
  std::vector<json> progress;
};

NodeConfig Config() {
  NodeConfig config;
  config.server = "http://10.77.0.1:8470";
  config.node = "mosix3";
  config.secret = "abcdef";
  return config;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(InstallTest, TargetRootGetsImageKernelModulesAndIdentity) {
  TempDir root, bundle;
  WriteTestFile(bundle.Sub("goldcast-agent"), "#!/bin/sh\n");
  FakeServer server;
  testing::FakeRunner runner;
  InstallOptions options;
  options.target_root = root.path();
  options.agent_bundle = bundle.path();
  Status status = RunInstall(options, Config(), &server, &runner);
  ASSERT_TRUE(status.ok()) << status.message();

  EXPECT_EQ(ReadTestFile(root.Sub("etc/hostname")), "mosix3\n");
  EXPECT_EQ(ReadTestFile(root.Sub("usr/lib/modules/6.1.176/kernel/dummy.ko")), "module bytes");
  EXPECT_FALSE(fs::exists(root.Sub("usr/lib/modules/6.1.176/stale.ko")));  // replaced
  EXPECT_FALSE(fs::exists(root.Sub("usr/lib/modules/.goldcast-staging")));
  EXPECT_TRUE(fs::is_symlink(root.Sub("lib")));
  EXPECT_EQ(ReadTestFile(root.Sub("boot/vmlinuz-6.1.176")), "kernel image");
  EXPECT_EQ(ReadTestFile(root.Sub("boot/System.map-6.1.176")), "symbols");
  EXPECT_EQ(ReadTestFile(root.Sub("boot/config-6.1.176")), "CONFIG_X=y\n");
  EXPECT_EQ(ModeOf(root.Sub("boot/vmlinuz-6.1.176")), 0644u);
  // No disk: the image's fstab stays.
  EXPECT_THAT(ReadTestFile(root.Sub("etc/fstab")), HasSubstr("/dev/sda1 / ext4"));
  EXPECT_EQ(ReadTestFile(root.Sub("etc/openmosix.map")), "1 10.77.0.10 4\n");
  auto config = ParseNodeConfig(ReadTestFile(root.Sub("etc/goldcast/node.json")), "node.json");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->image, "compute@2");
  EXPECT_EQ(config->kernel, "tiny@1");
  EXPECT_EQ(config->secret, "abcdef");
  EXPECT_EQ(config->cluster_files, std::vector<std::string>{"etc/openmosix.map"});
  EXPECT_TRUE(fs::exists(root.Sub("usr/local/sbin/goldcast-agent")));

  EXPECT_THAT(server.Phases(), ElementsAre("image", "kernel", "identity", "done"));
  EXPECT_TRUE(runner.calls.empty());
  // The image's last report counts every file.
  json last_image;
  for (const auto& p : server.progress) {
    if (p["phase"] == "image" && p.contains("done")) last_image = p;
  }
  EXPECT_EQ(last_image["done"], 3);
  EXPECT_EQ(last_image["total"], 3);
}

TEST(InstallTest, DisklessRootGetsTheImageAndIdentityButNoDoneAndNoDisks) {
  TempDir root, bundle;
  WriteTestFile(bundle.Sub("goldcast-agent"), "#!/bin/sh\n");
  FakeServer server;
  testing::FakeRunner runner;
  InstallOptions options;
  options.diskless_root = root.path();
  options.agent_bundle = bundle.path();
  Status status = RunInstall(options, Config(), &server, &runner);
  ASSERT_TRUE(status.ok()) << status.message();

  EXPECT_EQ(ReadTestFile(root.Sub("etc/hostname")), "mosix3\n");
  EXPECT_EQ(ReadTestFile(root.Sub("usr/lib/modules/6.1.176/kernel/dummy.ko")), "module bytes");
  // The root is RAM: no "/" line and no disk in the fstab.
  EXPECT_EQ(ReadTestFile(root.Sub("etc/fstab")), "proc /proc proc defaults 0 0\n");
  auto config = ParseNodeConfig(ReadTestFile(root.Sub("etc/goldcast/node.json")), "node.json");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->secret, "abcdef");
  EXPECT_EQ(ModeOf(root.Sub("etc/goldcast/node.json")), 0600u);
  EXPECT_TRUE(fs::exists(root.Sub("etc/systemd/system/multi-user.target.wants/"
                                  "goldcast-agent.service")) ||
              !fs::exists(root.Sub("etc/systemd")));
  // "done" would switch the node to boot from its disk.
  EXPECT_THAT(server.Phases(), ElementsAre("image", "kernel", "identity"));
  // No layout asked for, nothing partitioned or mounted.
  EXPECT_THAT(server.requests,
              ::testing::Not(::testing::Contains("/v1/node/images/compute@2/layout")));
  EXPECT_TRUE(runner.calls.empty());
}

struct DiskFixture {
  DiskFixture(uint64_t disk_bytes = 64ull << 20) {
    options.paths.sys_dir = dir.Sub("sys");
    options.paths.proc_dir = dir.Sub("proc");
    options.paths.dev_dir = dir.Sub("dev");
    options.paths.tmp_dir = dir.Sub("tmp");
    options.paths.device_wait_ms = 500;
    options.mount_dir = dir.Sub("mnt");
    options.syslinux_dir = dir.Sub("syslinux");
    options.agent_bundle = dir.Sub("bundle");
    WriteTestFile(dir.Sub("bundle/goldcast-agent"), "#!/bin/sh\n");
    WriteTestFile(dir.Sub("sys/block/vda/size"), std::to_string(disk_bytes / 512) + "\n");
    WriteTestFile(dir.Sub("sys/block/vda/removable"), "0\n");
    WriteTestFile(dir.Sub("sys/block/vda/ro"), "0\n");
    WriteTestFile(dir.Sub("sys/block/vda/dev"), "254:0\n");
    WriteTestFile(dir.Sub("proc/cmdline"),
                  "console=ttyS0 goldcast.mode=install goldcast.node=mosix3\n");
    WriteTestFile(dir.Sub("proc/self/mountinfo"), "22 1 0:20 / / rw - rootfs rootfs rw\n");
    WriteTestFile(dir.Sub("dev/vda"), std::string(4096, '\0'));
    WriteTestFile(dir.Sub("syslinux/mbr/mbr.bin"), std::string(440, 'M'));
    runner.make_nodes = {dir.Sub("dev/vda1"), dir.Sub("dev/vda2"), dir.Sub("dev/vda5")};
  }
  TempDir dir;
  InstallOptions options;
  FakeServer server;
  testing::FakeRunner runner;
};

TEST(InstallTest, DiskModePartitionsFormatsMountsAndInstallsExtlinux) {
  DiskFixture f;
  Status status = RunInstall(f.options, Config(), &f.server, &f.runner);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_THAT(f.runner.Programs(), ElementsAre("sh", "mkfs.ext4", "mount", "extlinux", "umount"));
  const Argv& mount = f.runner.calls[2];
  EXPECT_EQ(mount, (Argv{"mount", "-t", "ext4", f.dir.Sub("dev/vda1"), f.dir.Sub("mnt")}));
  EXPECT_EQ(f.runner.calls[3], (Argv{"extlinux", "--install", f.dir.Sub("mnt/boot/extlinux")}));
  EXPECT_EQ(f.runner.calls[4], (Argv{"umount", f.dir.Sub("mnt")}));
  EXPECT_THAT(f.server.Phases(), ElementsAre("partition", "format", "image", "kernel", "identity",
                                             "bootloader", "done"));
  EXPECT_THAT(f.server.progress[0]["message"].get<std::string>(),
              HasSubstr("erasing " + f.dir.Sub("dev/vda") + " (64.0 MiB, first disk found)"));

  // The mount is a fake, so the image landed in the mount directory.
  std::string root = f.dir.Sub("mnt");
  const Argv& mkfs = f.runner.calls[1];
  std::string uuid = mkfs[std::find(mkfs.begin(), mkfs.end(), "-U") - mkfs.begin() + 1];
  std::string fstab = ReadTestFile(root + "/etc/fstab");
  EXPECT_EQ(fstab,
            "UUID=" + uuid + " / ext4 errors=remount-ro 0 1\nproc /proc proc defaults 0 0\n");
  std::string conf = ReadTestFile(root + "/boot/extlinux/extlinux.conf");
  EXPECT_THAT(conf, HasSubstr("DEFAULT goldcast\n"));
  EXPECT_THAT(conf, HasSubstr("  KERNEL /boot/vmlinuz-6.1.176\n"));
  EXPECT_THAT(conf, ::testing::Not(HasSubstr("INITRD")));
  std::smatch match;
  ASSERT_TRUE(std::regex_search(conf, match, std::regex("APPEND root=PARTUUID=([0-9a-f]{8})-01 ")))
      << conf;
  EXPECT_THAT(conf,
              HasSubstr(" rw console=ttyS0,115200 goldcast.node=mosix3 goldcast.kernel=tiny@1 "
                        "goldcast.image=compute@2 quiet\n"));
  EXPECT_EQ(ReadTestFile(f.dir.Sub("dev/vda")).substr(0, 440), std::string(440, 'M'));
}

TEST(InstallTest, ReplicatedLayoutWritesEachFileSystemUnderItsMountPoint) {
  DiskFixture f(20ull << 30);
  f.server.gets["/v1/node/images/compute@2/layout"] = R"({"bootloader":"bios",
    "block_devices":[{"path":"/dev/sda","children":[
      {"path":"/dev/sda1","fstype":"ext4","uuid":"old-boot","mountpoint":"/boot"},
      {"path":"/dev/sda2","fstype":"ext4","uuid":"old-root","mountpoint":"/"}]}],
    "disks":[{"path":"/dev/sda","partitiontable":{"label":"dos","sectorsize":512,"partitions":[
      {"node":"/dev/sda1","start":2048,"size":1048576,"type":"83","bootable":true},
      {"node":"/dev/sda2","start":1050624,"size":16777216,"type":"83"}]}}]})";
  f.server.image = TreeBuilder(&f.server.source)
                       .Dir("boot")
                       .File("boot/grub.cfg", "old loader")
                       .Dir("etc")
                       .File("etc/fstab",
                             "UUID=old-root / ext4 defaults 0 1\n"
                             "UUID=old-boot /boot ext4 defaults 0 2\n")
                       .Build();
  Status status = RunInstall(f.options, Config(), &f.server, &f.runner);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_THAT(f.runner.Programs(), ElementsAre("sh", "mkfs.ext4", "mkfs.ext4", "mount", "mount",
                                               "extlinux", "umount", "umount"));
  EXPECT_EQ(f.runner.calls[3][4], f.dir.Sub("mnt"));
  EXPECT_EQ(f.runner.calls[3][3], f.dir.Sub("dev/vda2"));
  EXPECT_EQ(f.runner.calls[4][3], f.dir.Sub("dev/vda1"));
  EXPECT_EQ(f.runner.calls[4][4], f.dir.Sub("mnt/boot"));
  EXPECT_EQ(f.runner.calls[6][1], f.dir.Sub("mnt/boot"));  // children unmounted first
  EXPECT_EQ(ReadTestFile(f.dir.Sub("mnt/boot/grub.cfg")), "old loader");
  // /boot is its own file system: the loader sees its files at its top.
  EXPECT_THAT(ReadTestFile(f.dir.Sub("mnt/boot/extlinux/extlinux.conf")),
              HasSubstr("KERNEL /vmlinuz-6.1.176\n"));
  std::string fstab = ReadTestFile(f.dir.Sub("mnt/etc/fstab"));
  EXPECT_THAT(fstab, ::testing::Not(HasSubstr("old-")));
  EXPECT_THAT(fstab, ::testing::ContainsRegex("^UUID=[0-9a-f-]{36} / ext4 defaults 0 1\n"
                                              "UUID=[0-9a-f-]{36} /boot ext4 defaults 0 2\n$"));
}

TEST(InstallTest, RefusesToEraseADiskOutsideTheInstaller) {
  DiskFixture f;
  WriteTestFile(f.dir.Sub("proc/cmdline"), "root=/dev/vda1 ro quiet\n");
  Status status = RunInstall(f.options, Config(), &f.server, &f.runner);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("--yes-erase"));
  EXPECT_TRUE(f.runner.calls.empty());
  EXPECT_TRUE(f.server.requests.empty());

  f.options.yes_erase = true;
  EXPECT_TRUE(RunInstall(f.options, Config(), &f.server, &f.runner).ok());
}

// The fake server's image with what grub-efi-amd64-bin and grub-common
// install.
void AddGrubEfi(FakeServer* server) {
  TreeBuilder tree(&server->source);
  tree.Dir("boot")
      .Dir("etc")
      .File("etc/fstab", "UUID=old / ext4 defaults 0 1\nUUID=0ld-1 /boot/efi vfat umask=0077 0 1\n")
      .Dir("usr")
      .Dir("usr/bin")
      .File("usr/bin/grub-mkimage", "ELF")
      .Dir("usr/lib")
      .Dir("usr/lib/grub")
      .Dir("usr/lib/grub/x86_64-efi")
      .File("usr/lib/grub/x86_64-efi/moddep.lst", "");
  for (const char* module : {"part_gpt", "part_msdos", "fat", "ext2", "normal", "linux",
                             "configfile", "search", "search_fs_uuid", "echo", "ls", "test", "gzio",
                             "all_video", "efi_gop", "serial", "terminal"}) {
    tree.File(std::string("usr/lib/grub/x86_64-efi/") + module + ".mod", module);
  }
  server->image = tree.Build();
}

TEST(InstallTest, UefiNodeGetsAnEspAndGrubEfiFromTheImage) {
  DiskFixture f(256ull << 20);
  std::filesystem::create_directories(f.dir.Sub("sys/firmware/efi"));
  AddGrubEfi(&f.server);
  Status status = RunInstall(f.options, Config(), &f.server, &f.runner);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_THAT(f.runner.Programs(), ElementsAre("sh", "mkfs.vfat", "mkfs.ext4", "mount", "mount",
                                               "chroot", "umount", "umount"));
  EXPECT_THAT(f.runner.script, HasSubstr("label: gpt\n"));
  EXPECT_THAT(f.runner.calls[1], ::testing::Contains("32"));  // FAT32
  EXPECT_EQ(f.runner.calls[3][3], f.dir.Sub("dev/vda2"));
  EXPECT_EQ(f.runner.calls[4], (Argv{"mount", "-t", "vfat", "-o", "quiet", f.dir.Sub("dev/vda1"),
                                     f.dir.Sub("mnt/boot/efi")}));
  const Argv& grub = f.runner.calls[5];
  EXPECT_EQ(Argv(grub.begin(), grub.begin() + 3),
            (Argv{"chroot", f.dir.Sub("mnt"), "grub-mkimage"}));
  EXPECT_THAT(grub, ::testing::Contains("/boot/efi/EFI/BOOT/BOOTX64.EFI"));
  EXPECT_THAT(f.server.Phases(), ElementsAre("partition", "format", "image", "kernel", "identity",
                                             "bootloader", "done"));
  EXPECT_THAT(f.server.progress.back()["message"].get<std::string>(), HasSubstr("installed"));

  // The same entry extlinux would get, found by the root's file system id.
  const Argv& mkfs = f.runner.calls[2];
  std::string uuid = mkfs[std::find(mkfs.begin(), mkfs.end(), "-U") - mkfs.begin() + 1];
  std::string cfg = ReadTestFile(f.dir.Sub("mnt/boot/efi/EFI/BOOT/grub.cfg"));
  EXPECT_THAT(cfg, HasSubstr("  search --no-floppy --fs-uuid --set=root " + uuid + "\n"));
  EXPECT_THAT(cfg, ::testing::ContainsRegex(
                       "  linux /boot/vmlinuz-6.1.176 root=PARTUUID=[0-9a-f-]{36} rootwait rw "
                       "console=ttyS0,115200 goldcast.node=mosix3 goldcast.kernel=tiny@1 "
                       "goldcast.image=compute@2 quiet\n"));
  EXPECT_FALSE(fs::exists(f.dir.Sub("mnt/boot/extlinux")));
  EXPECT_EQ(ReadTestFile(f.dir.Sub("dev/vda")), std::string(4096, '\0'));  // no MBR code

  // The ESP is mounted by its new id; the golden client's line is gone.
  const Argv& vfat = f.runner.calls[1];
  std::string esp_id = vfat[std::find(vfat.begin(), vfat.end(), "-i") - vfat.begin() + 1];
  std::string fstab = ReadTestFile(f.dir.Sub("mnt/etc/fstab"));
  EXPECT_EQ(fstab, "UUID=" + uuid + " / ext4 errors=remount-ro 0 1\nUUID=" + esp_id.substr(0, 4) +
                       "-" + esp_id.substr(4) + " /boot/efi vfat umask=0077,nofail 0 2\n");
}

TEST(InstallTest, UefiNodeRefusesAnImageWithoutGrubEfiBeforeTouchingTheDisk) {
  DiskFixture f(256ull << 20);
  std::filesystem::create_directories(f.dir.Sub("sys/firmware/efi"));
  Status status = RunInstall(f.options, Config(), &f.server, &f.runner);
  EXPECT_EQ(status.code(), Code::kFailedPrecondition);
  EXPECT_THAT(status.message(),
              HasSubstr("image compute@2 has no UEFI boot loader files (/usr/bin/grub-mkimage, "));
  EXPECT_THAT(status.message(),
              HasSubstr("install grub-efi-amd64-bin on the golden client and capture it again"));
  EXPECT_TRUE(f.runner.calls.empty());
  ASSERT_FALSE(f.server.progress.empty());
  EXPECT_EQ(f.server.progress.back()["phase"], "failed");
  EXPECT_EQ(f.server.progress.back()["message"], status.message());
}

TEST(InstallTest, ADiskTooSmallIsRefusedBeforeItIsTouched) {
  DiskFixture f(80ull << 20);
  std::filesystem::create_directories(f.dir.Sub("sys/firmware/efi"));
  AddGrubEfi(&f.server);
  Status status = RunInstall(f.options, Config(), &f.server, &f.runner);
  EXPECT_THAT(status.message(), HasSubstr("disk " + f.dir.Sub("dev/vda") +
                                          " has 80.0 MiB; the image needs about 81.0 MiB with "
                                          "the default UEFI layout: give the node a bigger disk"));
  EXPECT_TRUE(f.runner.calls.empty());
  EXPECT_EQ(f.server.progress.back()["phase"], "failed");
}

TEST(InstallTest, AFailureIsReportedAndTheDiskUnmounted) {
  DiskFixture f;
  f.server.source.objects.erase(Sha256Hex("golden\n"));
  Status status = RunInstall(f.options, Config(), &f.server, &f.runner);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(f.server.progress.back()["phase"], "failed");
  EXPECT_EQ(f.server.progress.back()["message"], status.message());
  EXPECT_EQ(f.runner.calls.back(), (Argv{"umount", f.dir.Sub("mnt")}));
}

// A server that refuses the plan until its setup is ready (409), then hands
// it out: the installer waits without touching anything, then installs.
class NotReadyServer : public FakeServer {
 public:
  Result<std::string> Get(const std::string& path) override {
    if (path == "/v1/node/plan" && refusals_left > 0) {
      --refusals_left;
      requests.push_back(path);
      return FailedPrecondition("GET /v1/node/plan: 409 kernel 'tiny' is not built");
    }
    return FakeServer::Get(path);
  }
  int refusals_left = 2;
};

TEST(InstallTest, WaitsForAPlanTheServerIsNotReadyToGive) {
  TempDir root;
  NotReadyServer server;
  testing::FakeRunner runner;
  InstallOptions options;
  options.target_root = root.path();
  options.plan_retry_s = 0;
  ASSERT_TRUE(RunInstall(options, Config(), &server, &runner).ok());
  EXPECT_EQ(std::count(server.requests.begin(), server.requests.end(), "/v1/node/plan"), 3);
  ASSERT_GE(server.progress.size(), 3u);
  EXPECT_EQ(server.progress[0]["phase"], "failed");
  EXPECT_THAT(server.progress[0]["message"].get<std::string>(),
              HasSubstr("kernel 'tiny' is not built (nothing was written; asking again in 0 s)"));
  EXPECT_EQ(server.progress.back()["phase"], "done");
}

TEST(InstallTest, GivesUpAfterThePlanAttemptsWithTheServersReason) {
  TempDir root;
  NotReadyServer server;
  server.refusals_left = 100;
  testing::FakeRunner runner;
  InstallOptions options;
  options.target_root = root.path();
  options.plan_retry_s = 0;
  options.plan_attempts = 2;
  Status status = RunInstall(options, Config(), &server, &runner);
  EXPECT_EQ(status.code(), Code::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("kernel 'tiny' is not built"));
  EXPECT_EQ(std::count(server.requests.begin(), server.requests.end(), "/v1/node/plan"), 2);
  EXPECT_TRUE(runner.calls.empty());
  EXPECT_TRUE(std::filesystem::is_empty(root.path()));
}

TEST(InstallTest, RefusesAPlanForAnotherNode) {
  TempDir root;
  FakeServer server;
  testing::FakeRunner runner;
  NodeConfig config = Config();
  config.node = "mosix4";
  InstallOptions options;
  options.target_root = root.path();
  EXPECT_THAT(RunInstall(options, config, &server, &runner).message(),
              HasSubstr("plan is for node 'mosix3' but this node is 'mosix4'"));
}

TEST(InstallTest, SplitManifestReRootsEntriesBelowMountPoints) {
  testing::MemorySource source;
  Manifest manifest = TreeBuilder(&source)
                          .Dir("boot")
                          .File("boot/vmlinuz", "k")
                          .Dir("var")
                          .Dir("var/log")
                          .File("var/log/syslog", "s")
                          .File("var/x", "x")
                          .Build();
  auto parts = SplitManifest(manifest, {"var/log", "boot"});
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  ASSERT_EQ(parts->size(), 3u);
  auto paths = [](const Manifest& m) {
    std::vector<std::string> out;
    for (const auto& e : m.entries) out.push_back(e.path);
    return out;
  };
  EXPECT_EQ((*parts)[0].first, "");
  EXPECT_THAT(paths((*parts)[0].second), ElementsAre(".", "boot", "var", "var/log", "var/x"));
  EXPECT_EQ((*parts)[1].first, "boot");
  EXPECT_THAT(paths((*parts)[1].second), ElementsAre(".", "vmlinuz"));
  EXPECT_EQ((*parts)[2].first, "var/log");
  EXPECT_THAT(paths((*parts)[2].second), ElementsAre(".", "syslog"));
  for (const auto& [mountpoint, part] : *parts) {
    EXPECT_TRUE(ValidateManifest(part).ok()) << mountpoint;
  }
  // A mount point the image does not have gets an empty root.
  auto extra = SplitManifest(manifest, {"srv"});
  EXPECT_THAT(paths((*extra)[1].second), ElementsAre("."));

  Manifest file_there = TreeBuilder(&source).File("boot", "not a dir").Build();
  EXPECT_THAT(SplitManifest(file_there, {"boot"}).status().message(),
              HasSubstr("boot is a regular file but the layout mounts a file system there"));
}

TEST(InstallTest, BootEntryWithoutKernelArtifactUsesTheImagesNewestKernel) {
  TempDir root;
  WriteTestFile(root.Sub("boot/vmlinuz-6.1.0-9-amd64"), "k9");
  WriteTestFile(root.Sub("boot/vmlinuz-6.1.0-13-amd64"), "k13");
  WriteTestFile(root.Sub("boot/initrd.img-6.1.0-13-amd64"), "i13");
  auto plan = DecodeInstallPlan(testing::PlanJson().dump());
  plan->has_kernel = false;
  DiskInfo disk{"vda", "/dev/vda", 1ull << 30, 512};
  auto disk_plan = PlanDisk(R"({"disks":[]})", disk, 0);
  auto entry = MakeBootEntry(*plan, *disk_plan, root.path());
  ASSERT_TRUE(entry.ok()) << entry.status().message();
  EXPECT_EQ(entry->kernel, "/boot/vmlinuz-6.1.0-13-amd64");
  EXPECT_EQ(entry->initrd, "/boot/initrd.img-6.1.0-13-amd64");
  EXPECT_EQ(entry->append, "root=UUID=" + disk_plan->partitions[0].uuid +
                               " rw console=ttyS0,115200 goldcast.node=mosix3 "
                               "goldcast.image=compute@2 quiet");
  TempDir empty;
  fs::create_directories(empty.Sub("boot"));
  EXPECT_THAT(MakeBootEntry(*plan, *disk_plan, empty.path()).status().message(),
              HasSubstr("no /boot/vmlinuz-*"));
}

TEST(InstallTest, FindsTheBundleItRunsFrom) {
  TempDir dir;
  WriteTestFile(dir.Sub("bundle/goldcast-agent"), "#!/bin/sh\n");
  WriteTestFile(dir.Sub("bundle/lib/goldcast-agent.bin"), "ELF");
  WriteTestFile(dir.Sub("bundle/lib/ld-linux-x86-64.so.2"), "ELF");
  fs::create_directories(dir.Sub("proc/self"));
  fs::create_symlink(dir.Sub("bundle/lib/ld-linux-x86-64.so.2"), dir.Sub("proc/self/exe"));
  SystemPaths paths;
  paths.proc_dir = dir.Sub("proc");
  EXPECT_EQ(FindAgentBundle(paths), dir.Sub("bundle"));
  fs::remove(dir.Sub("proc/self/exe"));
  fs::create_symlink(dir.Sub("build/goldcast-agent"), dir.Sub("proc/self/exe"));
  EXPECT_EQ(FindAgentBundle(paths), "");
}

}  // namespace
}  // namespace gc
