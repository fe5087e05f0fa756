#include "pxe/initramfs_tree.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pxe/installer_resources.h"
#include "tests/testing/cpio_listing.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ReadCpio;
using testing::WriteTestFile;

TEST(InitramfsTreeTest, WritesNewcCpioWithParentsFirst) {
  testing::TempDir dir;
  InitramfsTree tree;
  tree.AddFile("usr/lib/syslinux/mbr/mbr.bin", 0644, "mbr");
  tree.AddSymlink("bin/sh", "busybox");
  tree.AddFile("bin/busybox", 0755, "bb");
  tree.AddCharDevice("dev/console", 0600, 5, 1);
  tree.AddDir("tmp", 01777);
  ASSERT_TRUE(tree.WriteCpio(dir.Sub("initrd.img")).ok());
  std::vector<std::string> order;
  auto members = ReadCpio(dir.Sub("initrd.img"), &order);
  EXPECT_THAT(order, ElementsAre("bin", "bin/busybox", "bin/sh", "dev", "dev/console", "tmp", "usr",
                                 "usr/lib", "usr/lib/syslinux", "usr/lib/syslinux/mbr",
                                 "usr/lib/syslinux/mbr/mbr.bin"));
  EXPECT_THAT(members["bin"].format, HasSubstr("SVR4"));  // newc, what the kernel reads
  EXPECT_EQ(members["bin/busybox"].data, "bb");
  EXPECT_EQ(members["bin/busybox"].mode, 0755u);
  EXPECT_EQ(members["bin/sh"].type, 'l');
  EXPECT_EQ(members["bin/sh"].data, "busybox");
  EXPECT_EQ(members["dev/console"].type, 'c');
  EXPECT_EQ(members["dev/console"].rdev_major, 5u);
  EXPECT_EQ(members["dev/console"].rdev_minor, 1u);
  EXPECT_EQ(members["tmp"].mode, 01777u);
  EXPECT_EQ(tree.FileBytes(), 5u);
}

TEST(InitramfsTreeTest, LddOutputGivesLibrariesAndLoader) {
  auto libraries = ParseLddOutput(
      "\tlinux-vdso.so.1 (0x00007ffd)\n"
      "\tlibblkid.so.1 => /lib/x86_64-linux-gnu/libblkid.so.1 (0x00007f)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n",
      "/usr/sbin/sfdisk");
  ASSERT_TRUE(libraries.ok());
  EXPECT_THAT(*libraries,
              ElementsAre("/lib/x86_64-linux-gnu/libblkid.so.1", "/lib/x86_64-linux-gnu/libc.so.6",
                          "/lib64/ld-linux-x86-64.so.2"));
  auto missing = ParseLddOutput("\tlibfdisk.so.1 => not found\n", "/usr/sbin/sfdisk");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("/usr/sbin/sfdisk needs libfdisk.so.1"));
  EXPECT_TRUE(ParseLddOutput("\tstatically linked\n", "busybox")->empty());
}

TEST(InitramfsTreeTest, TheAgentBundleHashFollowsContentAndModes) {
  testing::TempDir dir;
  WriteTestFile(dir.Sub("b/goldcast-agent"), "#!/bin/sh\n");
  ASSERT_EQ(::chmod(dir.Sub("b/goldcast-agent").c_str(), 0755), 0);
  WriteTestFile(dir.Sub("b/lib/goldcast-agent.bin"), "elf");
  ASSERT_EQ(::symlink("goldcast-agent.bin", dir.Sub("b/lib/alias").c_str()), 0);
  auto files = ReadAgentBundle(dir.Sub("b"), Env::Default());
  ASSERT_TRUE(files.ok()) << files.status().message();
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[0].path, "goldcast-agent");
  EXPECT_EQ((*files)[0].mode, 0755u);
  EXPECT_EQ((*files)[1].path, "lib/alias");
  EXPECT_TRUE((*files)[1].symlink);
  EXPECT_EQ((*files)[1].data, "goldcast-agent.bin");
  std::string before = HashAgentBundle(*files);
  WriteTestFile(dir.Sub("b/lib/goldcast-agent.bin"), "elf2");
  EXPECT_NE(HashAgentBundle(*ReadAgentBundle(dir.Sub("b"), Env::Default())), before);

  auto none = ReadAgentBundle(dir.Sub("b/lib"), Env::Default());
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(), HasSubstr("holds no goldcast-agent bundle"));
}

TEST(InitramfsTreeTest, InitLoadsTheModulesBeforeTheNetwork) {
  InitramfsTree tree;
  AddInitFiles({"/lib/modules/6.1/kernel/a.ko", "/lib/modules/6.1/kernel/b.ko"}, &tree);
  EXPECT_TRUE(tree.Has("init"));
  EXPECT_TRUE(tree.Has("etc/udhcpc.script"));
  EXPECT_TRUE(tree.Has("dev/console"));
  std::string init(kInstallerInit);
  EXPECT_THAT(init, HasSubstr("/opt/goldcast-agent/goldcast-agent install"));
  size_t insmod = init.find("insmod \"$module\"");
  size_t dhcp = init.find("udhcpc -i");
  ASSERT_NE(insmod, std::string::npos);
  EXPECT_LT(insmod, dhcp);
  EXPECT_EQ(init.rfind("#!/bin/sh\n", 0), 0u);
}

}  // namespace
}  // namespace gc
