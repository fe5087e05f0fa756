#include "imager/image_kernel.h"

#include <gtest/gtest.h>

namespace gc {
namespace {

Entry At(EntryType type, const std::string& path) {
  Entry entry;
  entry.type = type;
  entry.path = path;
  return entry;
}

TEST(ImageKernelTest, NewestReleaseByVersionOrder) {
  Manifest manifest;
  manifest.entries = {
      At(EntryType::kDir, "boot"), At(EntryType::kFile, "boot/config-6.1.0-10-amd64"),
      At(EntryType::kFile, "boot/vmlinuz-6.1.0-9-amd64"),
      At(EntryType::kFile, "boot/vmlinuz-6.1.0-10-amd64"), At(EntryType::kSymlink, "vmlinuz")};
  EXPECT_EQ(NewestImageKernel(manifest), "6.1.0-10-amd64");
}

TEST(ImageKernelTest, SymlinksAndHardlinksCountDirectoriesDoNot) {
  Manifest manifest;
  manifest.entries = {At(EntryType::kSymlink, "boot/vmlinuz-5.10.0-1")};
  EXPECT_EQ(NewestImageKernel(manifest), "5.10.0-1");
  manifest.entries = {At(EntryType::kHardlink, "boot/vmlinuz-5.10.0-2")};
  EXPECT_EQ(NewestImageKernel(manifest), "5.10.0-2");
  manifest.entries = {At(EntryType::kDir, "boot/vmlinuz-5.10.0-3")};
  EXPECT_EQ(NewestImageKernel(manifest), "");
}

TEST(ImageKernelTest, NoKernelIsEmpty) {
  Manifest manifest;
  manifest.entries = {At(EntryType::kFile, "boot/vmlinuz-"), At(EntryType::kFile, "vmlinuz-6.1"),
                      At(EntryType::kFile, "boot/grub/vmlinuz-6.1"),
                      At(EntryType::kFile, "usr/boot/vmlinuz-6.1")};
  EXPECT_EQ(NewestImageKernel(manifest), "");
}

}  // namespace
}  // namespace gc
