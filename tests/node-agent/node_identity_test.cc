#include "node-agent/node_identity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "tests/testing/fake_runner.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::ReadTestFile;
using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

IdentityOptions BasicOptions() {
  IdentityOptions options;
  options.hostname = "mosix3";
  options.domain = "cluster.local";
  options.ip = "10.77.0.12";
  options.config.server = "http://10.77.0.1:8470";
  options.config.node = "mosix3";
  options.config.secret = "00ff";
  options.config.image = "compute@2";
  options.config.kernel = "tiny@1";
  options.config.cluster_files = {"etc/openmosix.map"};
  options.cluster_files = {{"etc/openmosix.map", 0640, "1 10.77.0.10 4\n"}};
  return options;
}

// A golden tree as a capture leaves it: someone else's identity.
void MakeGoldenTree(const TempDir& root) {
  WriteTestFile(root.Sub("etc/hostname"), "golden\n");
  WriteTestFile(root.Sub("etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
  WriteTestFile(root.Sub("var/lib/dbus/machine-id"), "0123456789abcdef0123456789abcdef\n");
  WriteTestFile(root.Sub("etc/ssh/ssh_host_ed25519_key"), "secret");
  WriteTestFile(root.Sub("etc/ssh/ssh_host_ed25519_key.pub"), "public");
  WriteTestFile(root.Sub("etc/ssh/sshd_config"), "PermitRootLogin no\n");
}

TEST(NodeIdentityTest, WritesHostnameHostsMachineIdClusterFilesAndNodeJson) {
  TempDir root;
  MakeGoldenTree(root);
  testing::FakeRunner runner;
  IdentityOptions options = BasicOptions();
  options.fstab = "UUID=abc / ext4 errors=remount-ro 0 1\n";
  ASSERT_TRUE(WriteIdentity(root.path(), options, &runner).ok());

  EXPECT_EQ(ReadTestFile(root.Sub("etc/hostname")), "mosix3\n");
  std::string hosts = ReadTestFile(root.Sub("etc/hosts"));
  EXPECT_THAT(hosts, HasSubstr("127.0.0.1\tlocalhost\n"));
  EXPECT_THAT(hosts, HasSubstr("10.77.0.12\tmosix3.cluster.local mosix3\n"));
  std::string machine_id = ReadTestFile(root.Sub("etc/machine-id"));
  EXPECT_TRUE(std::regex_match(machine_id, std::regex("[0-9a-f]{32}\n"))) << machine_id;
  EXPECT_NE(machine_id, "0123456789abcdef0123456789abcdef\n");
  EXPECT_TRUE(fs::is_symlink(root.Sub("var/lib/dbus/machine-id")));
  EXPECT_EQ(fs::read_symlink(root.Sub("var/lib/dbus/machine-id")), "/etc/machine-id");
  EXPECT_FALSE(fs::exists(root.Sub("etc/ssh/ssh_host_ed25519_key")));
  EXPECT_FALSE(fs::exists(root.Sub("etc/ssh/ssh_host_ed25519_key.pub")));
  EXPECT_TRUE(fs::exists(root.Sub("etc/ssh/sshd_config")));
  EXPECT_TRUE(runner.calls.empty());  // the tree has no ssh-keygen
  EXPECT_EQ(ReadTestFile(root.Sub("etc/fstab")), *options.fstab);
  EXPECT_EQ(ReadTestFile(root.Sub("etc/openmosix.map")), "1 10.77.0.10 4\n");
  EXPECT_EQ(ModeOf(root.Sub("etc/openmosix.map")), 0644u);  // the node's mode, not the plan's
  EXPECT_EQ(ModeOf(root.Sub("etc/goldcast/node.json")), 0600u);
  auto config = ParseNodeConfig(ReadTestFile(root.Sub("etc/goldcast/node.json")), "node.json");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->node, "mosix3");
  EXPECT_EQ(config->secret, "00ff");
  EXPECT_EQ(config->image, "compute@2");
  EXPECT_EQ(config->kernel, "tiny@1");
  EXPECT_EQ(config->cluster_files, std::vector<std::string>{"etc/openmosix.map"});
}

TEST(NodeIdentityTest, WritesTheNetworkConfigOfTheNodesAddress) {
  TempDir root, dhcp;
  testing::FakeRunner runner;
  IdentityOptions options = BasicOptions();
  options.network.mac = "52:54:00:77:66:03";
  options.network.ip = "10.99.99.99";  // ignored: options.ip is the address
  options.network.prefix = 24;
  for (const TempDir* dir : {&root, &dhcp}) {
    WriteTestFile(dir->Sub("etc/systemd/network/50-dhcp.network"), "[Match]\nName=en*\n");
  }
  ASSERT_TRUE(WriteIdentity(root.path(), options, &runner).ok());
  std::string network = ReadTestFile(root.Sub("etc/systemd/network/10-goldcast.network"));
  EXPECT_THAT(network, HasSubstr("MACAddress=52:54:00:77:66:03\n"));
  EXPECT_THAT(network, HasSubstr("Address=10.77.0.12/24\n"));
  // No prefix known (an install into a directory): the image's DHCP stays.
  ASSERT_TRUE(WriteIdentity(dhcp.path(), BasicOptions(), &runner).ok());
  EXPECT_FALSE(fs::exists(dhcp.Sub("etc/systemd/network/10-goldcast.network")));
}

TEST(NodeIdentityTest, TwoInstallsGetDifferentMachineIds) {
  TempDir a, b;
  testing::FakeRunner runner;
  ASSERT_TRUE(WriteIdentity(a.path(), BasicOptions(), &runner).ok());
  ASSERT_TRUE(WriteIdentity(b.path(), BasicOptions(), &runner).ok());
  EXPECT_NE(ReadTestFile(a.Sub("etc/machine-id")), ReadTestFile(b.Sub("etc/machine-id")));
}

TEST(NodeIdentityTest, HostsWithoutAddressOrDomainUsesDebianLoopbackName) {
  EXPECT_THAT(HostsFile("n1", "", ""), HasSubstr("127.0.1.1\tn1\n"));
}

TEST(NodeIdentityTest, RegeneratesSshHostKeysInAChrootWhenTheImageHasSshKeygen) {
  TempDir root;
  MakeGoldenTree(root);
  WriteTestFile(root.Sub("usr/bin/ssh-keygen"), "#!/bin/sh\n");
  fs::create_directory(root.Sub("dev"));
  testing::FakeRunner runner;
  ASSERT_TRUE(WriteIdentity(root.path(), BasicOptions(), &runner).ok());
  // The tree's /dev is empty (as an image's is): the installer's /dev is
  // bind-mounted for ssh-keygen, which needs /dev/null, and unmounted after.
  ASSERT_EQ(runner.calls.size(), 3u);
  EXPECT_EQ(runner.calls[0],
            (std::vector<std::string>{"mount", "-o", "bind", "/dev", root.Sub("dev")}));
  EXPECT_EQ(runner.calls[1],
            (std::vector<std::string>{"chroot", root.path(), "/usr/bin/ssh-keygen", "-A"}));
  EXPECT_EQ(runner.calls[2], (std::vector<std::string>{"umount", root.Sub("dev")}));
  runner.exit_code = 1;
  runner.stderr_text = "ssh-keygen: boom";
  Status failed = WriteIdentity(root.path(), BasicOptions(), &runner);
  EXPECT_FALSE(failed.ok());
  EXPECT_THAT(failed.message(), HasSubstr("ssh-keygen: boom"));
}

TEST(NodeIdentityTest, RefusesToBindDevOntoASymlinkPlantedInTheImage) {
  TempDir root, outside;
  MakeGoldenTree(root);
  WriteTestFile(root.Sub("usr/bin/ssh-keygen"), "#!/bin/sh\n");
  fs::create_symlink(outside.path(), root.Sub("dev"));
  testing::FakeRunner runner;
  Status status = WriteIdentity(root.path(), BasicOptions(), &runner);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(root.Sub("dev") + " is a symlink"));
  EXPECT_TRUE(runner.calls.empty());
}

TEST(NodeIdentityTest, RefusesToWriteThroughASymlinkedEtc) {
  TempDir root, outside;
  fs::create_symlink(outside.path(), root.Sub("etc"));
  testing::FakeRunner runner;
  Status status = WriteIdentity(root.path(), BasicOptions(), &runner);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(root.Sub("etc") + " is a symlink"));
  EXPECT_TRUE(fs::is_empty(outside.path()));
}

TEST(NodeIdentityTest, RefusesClusterFilesOutsideTheRoot) {
  TempDir root;
  testing::FakeRunner runner;
  IdentityOptions options = BasicOptions();
  options.cluster_files = {{"../escape", 0644, "x"}};
  Status status = WriteIdentity(root.path(), options, &runner);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("../escape"));
  EXPECT_FALSE(fs::exists(root.path() + "/../escape"));
}

TEST(NodeIdentityTest, InstallsTheAgentBundleWrapperAndSystemdUnit) {
  TempDir root, bundle;
  WriteTestFile(bundle.Sub("goldcast-agent"), "#!/bin/sh\nexec bundle\n");
  ::chmod(bundle.Sub("goldcast-agent").c_str(), 0755);
  WriteTestFile(bundle.Sub("lib/goldcast-agent.bin"), "ELF");
  fs::create_symlink("goldcast-agent.bin", bundle.Sub("lib/alias"));
  fs::create_directories(root.Sub("etc/systemd/system"));
  WriteTestFile(root.Sub("usr/local/lib/goldcast-agent/stale"), "old");
  ASSERT_TRUE(InstallAgent(root.path(), bundle.path()).ok());
  std::string dest = root.Sub("usr/local/lib/goldcast-agent");
  EXPECT_EQ(ReadTestFile(dest + "/lib/goldcast-agent.bin"), "ELF");
  EXPECT_EQ(ModeOf(dest + "/goldcast-agent"), 0755u);
  EXPECT_EQ(fs::read_symlink(dest + "/lib/alias"), "goldcast-agent.bin");
  EXPECT_FALSE(fs::exists(dest + "/stale"));
  EXPECT_THAT(ReadTestFile(root.Sub("usr/local/sbin/goldcast-agent")),
              HasSubstr("exec /usr/local/lib/goldcast-agent/goldcast-agent \"$@\""));
  EXPECT_EQ(ModeOf(root.Sub("usr/local/sbin/goldcast-agent")), 0755u);
  std::string unit = ReadTestFile(root.Sub("etc/systemd/system/goldcast-agent.service"));
  EXPECT_THAT(unit, HasSubstr("ExecStart=/usr/local/sbin/goldcast-agent run\n"));
  EXPECT_THAT(unit, HasSubstr("Restart=always\n"));
  EXPECT_EQ(fs::read_symlink(
                root.Sub("etc/systemd/system/multi-user.target.wants/goldcast-agent.service")),
            "/etc/systemd/system/goldcast-agent.service");
}

TEST(NodeIdentityTest, NoSystemdMeansNoUnit) {
  TempDir root, bundle;
  WriteTestFile(bundle.Sub("goldcast-agent"), "#!/bin/sh\n");
  ASSERT_TRUE(InstallAgent(root.path(), bundle.path()).ok());
  EXPECT_TRUE(fs::exists(root.Sub("usr/local/sbin/goldcast-agent")));
  EXPECT_FALSE(fs::exists(root.Sub("etc/systemd")));
  Status missing = InstallAgent(root.path(), root.Sub("nowhere"));
  EXPECT_THAT(missing.message(), HasSubstr("bundle-agent.sh"));
}

DiskPlan DefaultDisk() {
  DiskInfo disk{"vda", "/dev/vda", 8ull << 30, 512};
  auto plan = PlanDisk(R"({"format":1,"source":"import","disks":[]})", disk, 0);
  EXPECT_TRUE(plan.ok());
  return *plan;
}

TEST(NodeIdentityTest, DefaultLayoutFstabReplacesRootAndDropsTheGoldenDisks) {
  DiskPlan plan = DefaultDisk();
  std::string fstab =
      "# /etc/fstab: static file system information.\n"
      "UUID=1111-old / ext4 defaults 0 1\n"
      "/dev/sda2 none swap sw 0 0\n"
      "LABEL=data /data xfs defaults 0 2\n"
      "proc /proc proc defaults 0 0\n"
      "server:/home /home nfs defaults 0 0\n";
  std::string out = RewriteFstab(fstab, plan);
  EXPECT_EQ(out,
            "# /etc/fstab: static file system information.\n"
            "UUID=" +
                plan.partitions[0].uuid +
                " / ext4 errors=remount-ro 0 1\n"
                "proc /proc proc defaults 0 0\n"
                "server:/home /home nfs defaults 0 0\n");
  // No root line in the image: one is added.
  EXPECT_EQ(RewriteFstab("", plan),
            "UUID=" + plan.partitions[0].uuid + " / ext4 errors=remount-ro 0 1\n");
}

TEST(NodeIdentityTest, DisklessFstabKeepsNeitherRootNorDisks) {
  EXPECT_EQ(DisklessFstab("# static file system information.\n"
                          "UUID=1111-old / ext4 defaults 0 1\n"
                          "/dev/sda2 none swap sw 0 0\n"
                          "UUID=2222 /boot/efi vfat umask=0077 0 1\n"
                          "proc /proc proc defaults 0 0\n"
                          "tmpfs /tmp tmpfs defaults 0 0\n"
                          "server:/home /home nfs defaults 0 0\n"),
            "# static file system information.\n"
            "proc /proc proc defaults 0 0\n"
            "tmpfs /tmp tmpfs defaults 0 0\n"
            "server:/home /home nfs defaults 0 0\n");
  EXPECT_EQ(DisklessFstab(""), "");
}

TEST(NodeIdentityTest, ReplicatedLayoutFstabMapsOldNamesToNewOnes) {
  DiskPlan plan;
  plan.replicated = true;
  plan.label = "dos";
  PartitionPlan root;
  root.number = 1;
  root.device = "/dev/vda1";
  root.uuid = "new-root";
  root.partuuid = "abcd-01";
  root.fstype = "ext4";
  root.mountpoint = "/";
  root.old_uuid = "OLD-ROOT";
  root.old_device = "/dev/sda1";
  root.old_partuuid = "1234-01";
  PartitionPlan swap = root;
  swap.number = 2;
  swap.uuid = "new-swap";
  swap.partuuid = "abcd-02";
  swap.fstype = "swap";
  swap.mountpoint = "";
  swap.old_uuid = "old-swap";
  swap.old_device = "/dev/sda2";
  swap.old_partuuid = "1234-02";
  plan.partitions = {root, swap};
  std::string out = RewriteFstab(
      "UUID=old-root /  ext4 errors=remount-ro 0 1\n"
      "/dev/sda2 none swap sw 0 0\n"
      "PARTUUID=1234-02 none swap sw 0 0\n"
      "/dev/disk/by-uuid/old-swap none swap sw 0 0\n"
      "UUID=other /mnt ext4 defaults 0 2\n",
      plan);
  EXPECT_EQ(out,
            "UUID=new-root / ext4 errors=remount-ro 0 1\n"
            "UUID=new-swap none swap sw 0 0\n"
            "PARTUUID=abcd-02 none swap sw 0 0\n"
            "UUID=new-swap none swap sw 0 0\n"
            "UUID=other /mnt ext4 defaults 0 2\n");
}

}  // namespace
}  // namespace gc
