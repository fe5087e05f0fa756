#include "pxe/installer_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "imager/import_export.h"
#include "pxe/installer_cache.h"
#include "tests/testing/cpio_listing.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_kernel.h"

namespace gc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ReadCpio;
using testing::ReadTestFile;
using testing::WriteTestFile;

// ldd as the host would answer it: busybox is static, every tool needs
// libc and the loader of the fake host.
class FakeLdd : public ProcessRunner {
 public:
  Result<ProcessResult> Run(const std::vector<std::string>& argv) override {
    calls.push_back(argv);
    auto answer = answers.find(argv.back());
    if (answer != answers.end()) return answer->second;
    return ProcessResult{0, "\tlibc.so.6 => " + libc + " (0x7f)\n\t" + loader + " (0x7f)\n", ""};
  }
  std::map<std::string, ProcessResult> answers;
  std::vector<std::vector<std::string>> calls;
  std::string libc, loader;
};

constexpr char kRelease[] = "6.1.0-18-amd64";

class InstallerBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string host = dir_.Sub("host");
    WriteTestFile(host + "/bin/busybox", "static busybox");
    WriteTestFile(host + "/mbr.bin", "mbr");
    WriteTestFile(host + "/lib/libc.so.6", "libc");
    WriteTestFile(host + "/lib64/ld.so", "loader");
    options_.host.busybox = host + "/bin/busybox";
    options_.host.mbr = host + "/mbr.bin";
    options_.host.mke2fs_conf = host + "/absent.conf";
    options_.host.search_dirs = {host + "/sbin"};
    for (const auto& tool : options_.host.tools) WriteTestFile(host + "/sbin/" + tool.name, "elf");
    ldd_.answers[options_.host.busybox] = ProcessResult{1, "", "\tnot a dynamic executable\n"};
    ldd_.libc = host + "/lib/libc.so.6";
    ldd_.loader = host + "/lib64/ld.so";
    WriteTestFile(dir_.Sub("bundle/goldcast-agent"), "#!/bin/sh\n");
    ::chmod(dir_.Sub("bundle/goldcast-agent").c_str(), 0755);
    WriteTestFile(dir_.Sub("bundle/lib/goldcast-agent.bin"), "agent");
    options_.state_dir = state_;
    options_.agent_bundle = dir_.Sub("bundle");
    options_.runner = &ldd_;
  }

  // A merged-/usr golden client: /lib is a symlink to usr/lib, /boot has
  // an older and a newer kernel, modules.dep lists plain and compressed
  // modules.
  void ImportImage(bool with_kernel = true, bool with_modules = true) {
    std::string tree = dir_.Sub("tree");
    WriteTestFile(tree + "/etc/hostname", "golden\n");
    if (with_kernel) {
      WriteTestFile(tree + "/boot/vmlinuz-6.1.0-9-amd64", "old kernel");
      WriteTestFile(tree + "/boot/vmlinuz-" + std::string(kRelease), "debian kernel");
    }
    std::string modules = tree + "/usr/lib/modules/" + kRelease;
    if (with_modules) {
      for (const char* name :
           {"virtio_pci", "virtio", "virtio_blk", "virtio_net", "ext4", "jbd2"}) {
        WriteTestFile(modules + "/kernel/" + name + ".ko", std::string("module ") + name);
      }
      WriteTestFile(modules + "/modules.dep",
                    "kernel/virtio_pci.ko: kernel/virtio.ko\nkernel/virtio.ko:\n"
                    "kernel/virtio_blk.ko: kernel/virtio.ko\n"
                    "kernel/virtio_net.ko: kernel/virtio.ko\n"
                    "kernel/ext4.ko: kernel/jbd2.ko\nkernel/jbd2.ko:\n");
      WriteTestFile(modules + "/modules.builtin", "kernel/fs/fat/vfat.ko\n");
    } else {
      WriteTestFile(tree + "/usr/lib/os-release", "debian\n");
    }
    ASSERT_EQ(::symlink("usr/lib", (tree + "/lib").c_str()), 0);
    auto store = ImageStore::Open(state_, /*create=*/true);
    ASSERT_TRUE(store.ok()) << store.status().message();
    auto imported = ImportDirectory(store->get(), tree, "node", "");
    ASSERT_TRUE(imported.ok()) << imported.status().message();
  }

  static InstallerSource Image() { return InstallerSource{ImageRef{"node", 1}, std::nullopt}; }

  testing::TempDir dir_;
  std::string state_ = dir_.Sub("state");
  FakeLdd ldd_;
  InstallerOptions options_;
};

TEST_F(InstallerBuilderTest, ImageKernelWithItsModulesInLoadOrder) {
  ASSERT_NO_FATAL_FAILURE(ImportImage());
  auto result = BuildInstaller(Image(), options_);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_FALSE(result->reused);
  EXPECT_EQ(result->dir, state_ + "/boot/installers/" + result->key);
  EXPECT_EQ(result->kernel_release, kRelease);
  const std::string lib = std::string("/lib/modules/") + kRelease + "/kernel/";
  EXPECT_THAT(result->modules,
              ElementsAre(lib + "virtio.ko", lib + "virtio_pci.ko", lib + "virtio_blk.ko",
                          lib + "virtio_net.ko", lib + "jbd2.ko", lib + "ext4.ko"));
  EXPECT_EQ(ReadTestFile(result->dir + "/vmlinuz"), "debian kernel");  // the newest

  auto cpio = ReadCpio(result->dir + "/initrd.img");
  EXPECT_EQ(cpio["etc/goldcast/modules"].data, lib + "virtio.ko\n" + lib + "virtio_pci.ko\n" + lib +
                                                   "virtio_blk.ko\n" + lib + "virtio_net.ko\n" +
                                                   lib + "jbd2.ko\n" + lib + "ext4.ko\n");
  EXPECT_EQ(cpio[lib.substr(1) + "ext4.ko"].data, "module ext4");
  EXPECT_EQ(cpio["bin/busybox"].data, "static busybox");
  EXPECT_EQ(cpio["bin/insmod"].data, "busybox");
  EXPECT_EQ(cpio["sbin/mkfs.vfat"].data, "elf");
  EXPECT_EQ(cpio[ldd_.libc.substr(1)].data, "libc");  // at the path ldd named
  EXPECT_EQ(cpio[ldd_.loader.substr(1)].data, "loader");
  EXPECT_EQ(cpio["usr/lib/syslinux/mbr/mbr.bin"].data, "mbr");
  EXPECT_EQ(cpio["opt/goldcast-agent/lib/goldcast-agent.bin"].data, "agent");
  EXPECT_EQ(cpio["opt/goldcast-agent/goldcast-agent"].mode, 0755u);
  EXPECT_EQ(cpio["init"].mode, 0755u);
  EXPECT_EQ(cpio["dev/console"].type, 'c');
  EXPECT_EQ(cpio.count("etc/mke2fs.conf"), 0u);  // the host has none

  std::string info = ReadTestFile(result->dir + "/installer.json");
  EXPECT_THAT(info, HasSubstr("\"source\": \"image node@1\""));
  EXPECT_THAT(info, HasSubstr("\"kernel_release\": \"6.1.0-18-amd64\""));
}

TEST_F(InstallerBuilderTest, TheSameInputsAreBuiltOnce) {
  ASSERT_NO_FATAL_FAILURE(ImportImage());
  auto first = BuildInstaller(Image(), options_);
  ASSERT_TRUE(first.ok()) << first.status().message();
  size_t ldd_calls = ldd_.calls.size();
  auto second = BuildInstaller(Image(), options_);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_TRUE(second->reused);
  EXPECT_EQ(second->dir, first->dir);
  EXPECT_EQ(second->modules, first->modules);
  EXPECT_EQ(ldd_.calls.size(), ldd_calls);  // nothing was looked at again
  // Another agent: another installer.
  WriteTestFile(dir_.Sub("bundle/lib/goldcast-agent.bin"), "agent 2");
  auto third = BuildInstaller(Image(), options_);
  ASSERT_TRUE(third.ok()) << third.status().message();
  EXPECT_FALSE(third->reused);
  EXPECT_NE(third->key, first->key);
  EXPECT_THAT(Env::Default()->ListDir(state_ + "/boot/installers/tmp").value(), IsEmpty());
}

TEST_F(InstallerBuilderTest, KernelArtifactHasNoModules) {
  ASSERT_NO_FATAL_FAILURE(testing::PublishTestKernel(state_, "tiny"));
  auto result = BuildInstaller(InstallerSource{std::nullopt, KernelRef{"tiny", 1}}, options_);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->key.rfind("kernel-tiny@1-", 0), 0u) << result->key;
  EXPECT_EQ(result->kernel_release, "6.1.176");
  EXPECT_THAT(result->modules, IsEmpty());
  EXPECT_EQ(ReadTestFile(result->dir + "/vmlinuz"), "bzImage bytes");
  auto cpio = ReadCpio(result->dir + "/initrd.img");
  EXPECT_EQ(cpio["etc/goldcast/modules"].data, "");
  EXPECT_EQ(cpio.count("lib/modules"), 0u);
}

TEST_F(InstallerBuilderTest, AnImageWithoutKernelOrModulesSaysWhatToDo) {
  ASSERT_NO_FATAL_FAILURE(ImportImage(/*with_kernel=*/false, /*with_modules=*/false));
  auto no_kernel = BuildInstaller(Image(), options_);
  ASSERT_FALSE(no_kernel.ok());
  EXPECT_THAT(no_kernel.status().message(),
              HasSubstr("image node@1 has no /boot/vmlinuz-*: install a kernel"));
  WriteTestFile(dir_.Sub("tree/boot/vmlinuz-6.1.0-18-amd64"), "k");
  ASSERT_TRUE(
      ImportDirectory(ImageStore::Open(state_, false)->get(), dir_.Sub("tree"), "node", "").ok());
  auto no_modules = BuildInstaller(InstallerSource{ImageRef{"node", 2}, std::nullopt}, options_);
  ASSERT_FALSE(no_modules.ok());
  EXPECT_THAT(no_modules.status().message(),
              HasSubstr("image node@2 has /boot/vmlinuz-6.1.0-18-amd64 but no "
                        "/lib/modules/6.1.0-18-amd64"));
}

TEST_F(InstallerBuilderTest, HostProblemsNameTheDebianPackage) {
  ASSERT_NO_FATAL_FAILURE(testing::PublishTestKernel(state_, "tiny"));
  InstallerSource kernel{std::nullopt, KernelRef{"tiny", 1}};
  ldd_.answers[options_.host.busybox] =
      ProcessResult{0, "\tlibc.so.6 => /lib/libc.so.6 (0x7f)\n", ""};
  auto dynamic = BuildInstaller(kernel, options_);
  ASSERT_FALSE(dynamic.ok());
  EXPECT_THAT(dynamic.status().message(),
              HasSubstr("is dynamically linked; install busybox-static"));
  ldd_.answers.clear();
  ldd_.answers[options_.host.busybox] = ProcessResult{1, "", "not a dynamic executable"};
  ASSERT_EQ(::unlink((options_.host.search_dirs[0] + "/mkfs.vfat").c_str()), 0);
  auto missing = BuildInstaller(kernel, options_);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("'mkfs.vfat' not found; install dosfstools"));
  options_.agent_bundle = dir_.Sub("nowhere");
  auto no_bundle = BuildInstaller(kernel, options_);
  ASSERT_FALSE(no_bundle.ok());
  EXPECT_THAT(no_bundle.status().message(), HasSubstr("scripts/bundle-agent.sh"));
}

TEST(InstallerCacheKeyTest, NamesTheSourceAndChangesWithEveryInput) {
  InstallerSource image{ImageRef{"node", 1}, std::nullopt};
  InstallerSource kernel{std::nullopt, KernelRef{"node", 1}};
  std::string key = InstallerCacheKey(image, "aaaa");
  EXPECT_EQ(key.rfind("image-node@1-", 0), 0u) << key;
  EXPECT_EQ(key.size(), std::string("image-node@1-").size() + 16);
  EXPECT_EQ(InstallerCacheKey(image, "aaaa"), key);
  EXPECT_NE(InstallerCacheKey(image, "bbbb"), key);
  EXPECT_NE(InstallerCacheKey(InstallerSource{ImageRef{"node", 2}, std::nullopt}, "aaaa"), key);
  EXPECT_EQ(InstallerCacheKey(kernel, "aaaa").rfind("kernel-node@1-", 0), 0u);
}

TEST(InstallerSourceTest, AGroupWithKernelBootsTheArtifactElseTheImage) {
  GroupTarget target;
  target.image = ImageRef{"compute", 3};
  auto image = InstallerSourceFor(target);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->ToString(), "image compute@3");
  target.kernel_spec = "mig";
  target.kernel_error = "kernel mig is not built (goldcast kernel build)";
  auto unbuilt = InstallerSourceFor(target);
  ASSERT_FALSE(unbuilt.ok());
  EXPECT_THAT(unbuilt.status().message(), HasSubstr("kernel mig is not built"));
  target.kernel = KernelRef{"mig", 2};
  EXPECT_EQ(InstallerSourceFor(target)->ToString(), "kernel mig@2");
  GroupTarget uncaptured;
  uncaptured.image_error = "image compute has no version yet";
  EXPECT_THAT(InstallerSourceFor(uncaptured).status().message(), HasSubstr("no version yet"));
}

TEST_F(InstallerBuilderTest, ServeBuildsOnFirstUseAndRemembersFailuresForAMinute) {
  ASSERT_NO_FATAL_FAILURE(testing::PublishTestKernel(state_, "tiny"));
  InstallerCache cache(options_);
  GroupTarget target;
  target.kernel_spec = "tiny";
  target.kernel = KernelRef{"tiny", 1};
  auto first = cache.For(target);
  ASSERT_TRUE(first.ok()) << first.status().message();
  size_t ldd_calls = ldd_.calls.size();
  auto again = cache.For(target);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->dir, first->dir);
  EXPECT_EQ(ldd_.calls.size(), ldd_calls);

  target.kernel = KernelRef{"tiny", 7};  // not in the store
  EXPECT_FALSE(cache.For(target).ok());
  EXPECT_FALSE(cache.For(target).ok());
}

}  // namespace
}  // namespace gc
