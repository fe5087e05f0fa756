#include "common/text.h"

#include <gtest/gtest.h>

namespace gc {
namespace {

TEST(TextTest, JoinStrings) {
  EXPECT_EQ(JoinStrings({}, ", "), "");
  EXPECT_EQ(JoinStrings({"a"}, ", "), "a");
  EXPECT_EQ(JoinStrings({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(JoinStrings({"usr", "lib", "modules"}, "/"), "usr/lib/modules");
  EXPECT_EQ(JoinStrings({"a", "b"}, ""), "ab");
  // Empty items are items unless skipped.
  EXPECT_EQ(JoinStrings({"", "a", "", "b"}, ","), ",a,,b");
  EXPECT_EQ(JoinStrings({"", "a", "", "b", ""}, " ", /*skip_empty=*/true), "a b");
  EXPECT_EQ(JoinStrings({"", ""}, " ", /*skip_empty=*/true), "");
}

TEST(TextTest, Trim) {
  EXPECT_EQ(Trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(Trim(" \n"), "");
}

TEST(NewestVmlinuzReleaseTest, VersionOrderAndOnlyKernels) {
  EXPECT_EQ(NewestVmlinuzRelease({"config-6.1.0-10-amd64", "vmlinuz-6.1.0-9-amd64",
                                  "vmlinuz-6.1.0-10-amd64", "initrd.img-6.1.0-11-amd64"}),
            "6.1.0-10-amd64");
  EXPECT_EQ(NewestVmlinuzRelease({"vmlinuz-", "vmlinuz", "grub/vmlinuz-6.1"}), "");
  EXPECT_EQ(NewestVmlinuzRelease({}), "");
}

}  // namespace
}  // namespace gc
