#include "pxe/module_deps.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// As depmod writes it for a Debian kernel: compressed paths, every
// dependency with a line of its own.
constexpr char kDep[] =
    "kernel/drivers/virtio/virtio_pci.ko.xz: kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz "
    "kernel/drivers/virtio/virtio_ring.ko.xz kernel/drivers/virtio/virtio.ko.xz\n"
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz:\n"
    "kernel/drivers/virtio/virtio_ring.ko.xz:\n"
    "kernel/drivers/virtio/virtio.ko.xz:\n"
    "kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz "
    "kernel/net/core/failover.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz "
    "kernel/drivers/virtio/virtio.ko.xz\n"
    "kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz\n"
    "kernel/net/core/failover.ko.xz:\n"
    "kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz "
    "kernel/fs/jbd2/jbd2.ko.xz\n"
    "kernel/lib/crc16.ko.xz:\n"
    "kernel/fs/mbcache.ko.xz:\n"
    "kernel/fs/jbd2/jbd2.ko.xz:\n";

TEST(ModuleDepsTest, NamesIgnoreDirectorySuffixAndDashes) {
  EXPECT_EQ(ModuleName("kernel/fs/ext4/ext4.ko.xz"), "ext4");
  EXPECT_EQ(ModuleName("kernel/drivers/net/e1000e.ko"), "e1000e");
  EXPECT_EQ(ModuleName("virtio-pci"), "virtio_pci");
  EXPECT_EQ(ModuleName("crc32c-generic.ko.zst"), "crc32c_generic");
}

TEST(ModuleDepsTest, EveryModuleAfterWhatItNeedsEachOnce) {
  auto deps = ParseModuleDeps(kDep, "kernel/fs/fat/vfat.ko\n", "modules.dep");
  ASSERT_TRUE(deps.ok()) << deps.status().message();
  auto order = ModuleLoadOrder(*deps,
                               {{"virtio_pci", true},
                                {"virtio-net", true},
                                {"ext4", true},
                                {"vfat", true},
                                {"e1000e", false}},
                               "modules.dep");
  ASSERT_TRUE(order.ok()) << order.status().message();
  EXPECT_THAT(
      *order,
      ElementsAre("kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz",
                  "kernel/drivers/virtio/virtio_ring.ko.xz", "kernel/drivers/virtio/virtio.ko.xz",
                  "kernel/drivers/virtio/virtio_pci.ko.xz", "kernel/net/core/failover.ko.xz",
                  "kernel/drivers/net/net_failover.ko.xz", "kernel/drivers/net/virtio_net.ko.xz",
                  "kernel/lib/crc16.ko.xz", "kernel/fs/mbcache.ko.xz", "kernel/fs/jbd2/jbd2.ko.xz",
                  "kernel/fs/ext4/ext4.ko.xz"));
}

TEST(ModuleDepsTest, ARequiredModuleNeitherThereNorBuiltInIsNamed) {
  auto deps = ParseModuleDeps(kDep, "", "image debian@1:/lib/modules/6.1.0-18/modules.dep");
  ASSERT_TRUE(deps.ok());
  auto order = ModuleLoadOrder(*deps, {{"ext4", true}, {"vfat", true}},
                               "image debian@1:/lib/modules/6.1.0-18/modules.dep");
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().code(), Code::kNotFound);
  EXPECT_THAT(order.status().message(),
              HasSubstr("module vfat is neither in image debian@1:/lib/modules/6.1.0-18/"
                        "modules.dep nor built in"));
  // Optional: left out.
  auto optional = ModuleLoadOrder(*deps, {{"vfat", false}}, "modules.dep");
  ASSERT_TRUE(optional.ok());
  EXPECT_TRUE(optional->empty());
}

TEST(ModuleDepsTest, ADependencyWithoutALineIsCorrupt) {
  auto deps = ParseModuleDeps("kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\n", "", "m.dep");
  ASSERT_TRUE(deps.ok());
  auto order = ModuleLoadOrder(*deps, {{"ext4", true}}, "m.dep");
  ASSERT_FALSE(order.ok());
  EXPECT_THAT(order.status().message(),
              HasSubstr("m.dep lists kernel/fs/jbd2/jbd2.ko as a dependency of "
                        "kernel/fs/ext4/ext4.ko but has no line for it"));
}

TEST(ModuleDepsTest, ACycleIsCorruptNotALoop) {
  auto deps = ParseModuleDeps("a.ko: b.ko\nb.ko: a.ko\n", "", "m.dep");
  ASSERT_TRUE(deps.ok());
  auto order = ModuleLoadOrder(*deps, {{"a", true}}, "m.dep");
  ASSERT_FALSE(order.ok());
  EXPECT_THAT(order.status().message(), HasSubstr("depends on itself"));
}

TEST(ModuleDepsTest, ALineWithoutAModuleIsRefusedWithItsNumber) {
  auto deps = ParseModuleDeps("a.ko:\n\nrubbish\n", "", "m.dep");
  ASSERT_FALSE(deps.ok());
  EXPECT_THAT(deps.status().message(), HasSubstr("m.dep:3: expected 'path.ko: dependencies'"));
}

TEST(ModuleDepsTest, TheInstallerNeedsDiskNicAndFileSystems) {
  std::vector<std::string> required;
  for (const auto& module : InstallerModules()) {
    if (module.required) required.push_back(module.name);
  }
  EXPECT_THAT(required, ElementsAre("virtio_pci", "virtio_blk", "virtio_net", "ext4", "vfat"));
}

}  // namespace
}  // namespace gc
