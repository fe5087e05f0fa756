#include "node-agent/layout.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;

class FakeRunner : public ProcessRunner {
 public:
  Result<ProcessResult> Run(const std::vector<std::string>& argv) override {
    calls.push_back(argv[0]);
    if (argv[0] == "lsblk") {
      return ProcessResult{0,
                           R"({"blockdevices":[{"name":"vda","path":"/dev/vda","type":"disk",)"
                           R"("size":1073741824},{"name":"sr0","path":"/dev/sr0","type":"rom"}]})",
                           ""};
    }
    if (argv[0] == "sfdisk") {
      return ProcessResult{0,
                           R"({"partitiontable":{"label":"gpt","device":"/dev/vda",)"
                           R"("partitions":[{"node":"/dev/vda1","start":2048,"size":2097152}]}})",
                           ""};
    }
    return NotFound("'" + argv[0] + "' was not found in PATH");
  }
  std::vector<std::string> calls;
};

TEST(LayoutTest, DirectoryRootRecordsFstabAndKernelsButNoDisks) {
  TempDir dir;
  WriteTestFile(dir.Sub("etc/fstab"), "UUID=abc / ext4 defaults 0 1\n");
  WriteTestFile(dir.Sub("lib/modules/6.1.0-13-amd64/modules.dep"), "");
  WriteTestFile(dir.Sub("boot/grub/grub.cfg"), "");
  FakeRunner runner;
  auto text = CollectLayout({dir.path(), "/sys"}, &runner);
  ASSERT_TRUE(text.ok()) << text.status().message();
  auto layout = nlohmann::json::parse(*text);
  EXPECT_EQ(layout["source"], "directory");
  EXPECT_EQ(layout["fstab"], "UUID=abc / ext4 defaults 0 1\n");
  EXPECT_EQ(layout["kernels"], nlohmann::json::array({"6.1.0-13-amd64"}));
  EXPECT_EQ(layout["bootloader"], "bios");
  EXPECT_TRUE(layout["disks"].empty());
  EXPECT_TRUE(runner.calls.empty());  // the host's disks are not the tree's
}

TEST(LayoutTest, RealRootRecordsPartitionTablesOfDisks) {
  TempDir sys;
  WriteTestFile(sys.Sub("firmware/efi/marker"), "");
  FakeRunner runner;
  auto text = CollectLayout({"/", sys.path()}, &runner);
  ASSERT_TRUE(text.ok()) << text.status().message();
  auto layout = nlohmann::json::parse(*text);
  EXPECT_EQ(layout["source"], "root");
  EXPECT_EQ(layout["bootloader"], "uefi");
  ASSERT_EQ(layout["disks"].size(), 1u);  // the rom is not a disk
  EXPECT_EQ(layout["disks"][0]["path"], "/dev/vda");
  EXPECT_EQ(layout["disks"][0]["partitiontable"]["label"], "gpt");
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"lsblk", "sfdisk"}));
}

TEST(LayoutTest, MissingToolsBecomeWarningsNotFailures) {
  class NothingInstalled : public ProcessRunner {
   public:
    Result<ProcessResult> Run(const std::vector<std::string>& argv) override {
      return NotFound("'" + argv[0] + "' was not found in PATH");
    }
  } runner;
  auto text = CollectLayout({"/", "/nonexistent-sys"}, &runner);
  ASSERT_TRUE(text.ok());
  auto layout = nlohmann::json::parse(*text);
  EXPECT_EQ(layout["bootloader"], "bios");
  ASSERT_FALSE(layout["warnings"].empty());
  EXPECT_NE(layout["warnings"][0].get<std::string>().find("lsblk"), std::string::npos);
}

TEST(LayoutTest, MissingRootIsAnError) {
  FakeRunner runner;
  EXPECT_FALSE(CollectLayout({"/nonexistent-root", "/sys"}, &runner).ok());
}

}  // namespace
}  // namespace gc
