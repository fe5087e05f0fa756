#include "pxe/boot_script.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <vector>

namespace gc {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using Query = std::map<std::string, std::string>;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(ParseBootQueryTest, AcceptsWhatIpxeSends) {
  Query query = {{"mac", "52:54:00:AB:cd:01"},
                 {"uuid", "8C2A0B5E-1F6D-4C3A-9E7B-0A1B2C3D4E5F"},
                 {"arch", "x86_64"},
                 {"platform", "pcbios"}};
  auto request = ParseBootQuery(query, "10.77.0.201");
  ASSERT_TRUE(request.ok()) << request.status().message();
  EXPECT_EQ(request->mac, "52:54:00:ab:cd:01");
  EXPECT_EQ(request->uuid, "8c2a0b5e-1f6d-4c3a-9e7b-0a1b2c3d4e5f");
  EXPECT_EQ(request->arch, "x86_64");
  EXPECT_EQ(request->platform, "pcbios");
  EXPECT_EQ(request->remote_address, "10.77.0.201");

  // Unset iPXE settings expand to nothing; unknown arguments are ignored.
  auto minimal = ParseBootQuery(
      {{"mac", "52-54-00-00-00-07"}, {"uuid", ""}, {"platform", ""}, {"cachebust", "12"}}, "");
  ASSERT_TRUE(minimal.ok()) << minimal.status().message();
  EXPECT_EQ(minimal->mac, "52:54:00:00:00:07");
  EXPECT_EQ(minimal->uuid, "");
  EXPECT_EQ(minimal->arch, "");
}

TEST(ParseBootQueryTest, MacIsRequired) {
  for (const Query& query : {Query{}, Query{{"mac", ""}}, Query{{"uuid", "1234"}}}) {
    auto request = ParseBootQuery(query, "10.77.0.201");
    ASSERT_FALSE(request.ok());
    EXPECT_EQ(request.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(request.status().message(), AllOf(HasSubstr("mac"), HasSubstr("missing")));
  }
}

TEST(ParseBootQueryTest, BadValuesNameTheArgument) {
  struct Case {
    Query query;
    std::string argument;
  };
  const std::string mac = "52:54:00:00:00:01";
  std::vector<Case> cases = {
      {{{"mac", "52:54:00:00:00"}}, "mac"},
      {{{"mac", "52:54:00:00:00:0g"}}, "mac"},
      {{{"mac", "${net0/mac}"}}, "mac"},
      {{{"mac", mac}, {"uuid", std::string(37, 'a')}}, "uuid"},
      {{{"mac", mac}, {"uuid", "8c2a0b5e 1f6d"}}, "uuid"},
      {{{"mac", mac}, {"arch", "X86_64"}}, "arch"},
      {{{"mac", mac}, {"arch", "x86-64"}}, "arch"},
      {{{"mac", mac}, {"platform", std::string(17, 'e')}}, "platform"},
      {{{"mac", mac}, {"platform", "efi;reboot"}}, "platform"},
  };
  for (const Case& c : cases) {
    auto request = ParseBootQuery(c.query, "10.77.0.201");
    ASSERT_FALSE(request.ok()) << c.argument;
    EXPECT_EQ(request.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(request.status().message(), StartsWith("argument " + c.argument + " of"));
  }
}

TEST(ParseBootQueryTest, NeverEchoesMoreThan64CharactersOrRawControlCharacters) {
  std::string hostile = std::string(5000, 'A') + "\nFAKE LOG LINE";
  for (const char* argument : {"mac", "uuid", "arch", "platform"}) {
    Query query = {{"mac", "52:54:00:00:00:01"}};
    query[argument] = hostile;
    auto request = ParseBootQuery(query, "");
    ASSERT_FALSE(request.ok());
    std::string message = request.status().message();
    EXPECT_THAT(message, HasSubstr("'" + std::string(64, 'A') + "...'")) << argument;
    EXPECT_THAT(message, Not(HasSubstr(std::string(65, 'A'))));
    EXPECT_LT(message.size(), 250u);
  }
  auto control = ParseBootQuery({{"mac", "52:54\n00'x"}}, "");
  ASSERT_FALSE(control.ok());
  EXPECT_THAT(control.status().message(), HasSubstr("'52:54\\x0a00\\x27x'"));
  EXPECT_EQ(control.status().message().find('\n'), std::string::npos);
}

TEST(StartScriptTest, ChainsToTheNodeScriptWithRetry) {
  std::string script = StartScript("http://10.77.0.1:8470");
  std::vector<std::string> lines = Lines(script);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0], "#!ipxe");
  EXPECT_THAT(lines, ::testing::Contains(
                         "chain --replace --autofree http://10.77.0.1:8470/boot/ipxe?"
                         "mac=${net0/mac}&uuid=${uuid}&arch=${buildarch}&platform=${platform}"
                         " || goto retry"));
  EXPECT_THAT(lines, ::testing::Contains("sleep 3"));
  // The retry loop: a label before the chain, and a jump back to it.
  auto start = std::find(lines.begin(), lines.end(), ":start");
  auto retry = std::find(lines.begin(), lines.end(), ":retry");
  ASSERT_NE(start, lines.end());
  ASSERT_NE(retry, lines.end());
  EXPECT_LT(start, retry);
  EXPECT_EQ(lines.back(), "goto start");
  for (const std::string& line : lines) {
    if (line.find("goldcast:") != std::string::npos) {
      EXPECT_THAT(line, StartsWith("echo goldcast:"));
    }
  }
}

class NodeScriptTest : public ::testing::Test {
 protected:
  NodeScriptTest() {
    node_.index = 3;
    node_.name = "mosix3";
    node_.mac = "52:54:00:00:00:03";
    node_.install_secret = "00112233445566778899aabbccddeeff";
    node_.platform = "pcbios";
    group_.name = "compute";
    group_.kernel_args = "quiet net.ifnames=0";
    files_.server_url = "http://10.77.0.1:8470";
    files_.install_token = "ffeeddccbbaa99887766554433221100";
  }
  Node node_;
  NodeGroup group_;
  BootFiles files_;
};

TEST_F(NodeScriptTest, InstallBootsTheInstallerWithTheNodesIdentity) {
  node_.mode = BootMode::kInstall;
  std::vector<std::string> lines = Lines(NodeScript(node_, group_, files_));
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[0], "#!ipxe");
  EXPECT_EQ(lines[1], "echo goldcast: mosix3 (install)");
  EXPECT_EQ(lines[2],
            "kernel http://10.77.0.1:8470/boot/files/install/vmlinuz initrd=initrd.img "
            "console=ttyS0,115200 goldcast.server=http://10.77.0.1:8470 goldcast.node=mosix3 "
            "goldcast.token=ffeeddccbbaa99887766554433221100 goldcast.mode=install "
            "quiet net.ifnames=0 || goto failed");
  // Anyone may ask for this script: the node's secret is not in it.
  EXPECT_THAT(NodeScript(node_, group_, files_), Not(HasSubstr(node_.install_secret)));
  EXPECT_EQ(lines[3], "initrd http://10.77.0.1:8470/boot/files/install/initrd.img || goto failed");
  EXPECT_EQ(lines[4], "boot || goto failed");
  EXPECT_THAT(lines, ::testing::Contains(
                         "chain --replace --autofree http://10.77.0.1:8470/boot/start.ipxe"));
}

TEST_F(NodeScriptTest, DisklessBootsTheImageInitrd) {
  node_.mode = BootMode::kDiskless;
  group_.kernel_args = "";
  files_.diskless_initrd = "/boot/files/diskless/compute@2.cpio.gz";
  std::vector<std::string> lines = Lines(NodeScript(node_, group_, files_));
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[1], "echo goldcast: mosix3 (diskless)");
  // The EFI stub finds the initrd by the name iPXE gives it: its file name.
  // The token stays in /proc/cmdline for as long as the node runs, spent.
  EXPECT_EQ(
      lines[2],
      "kernel http://10.77.0.1:8470/boot/files/diskless/vmlinuz "
      "initrd=compute@2.cpio.gz console=ttyS0,115200 "
      "goldcast.server=http://10.77.0.1:8470 goldcast.node=mosix3 "
      "goldcast.token=ffeeddccbbaa99887766554433221100 goldcast.mode=diskless || goto failed");
  EXPECT_EQ(lines[3],
            "initrd http://10.77.0.1:8470/boot/files/diskless/compute@2.cpio.gz || goto failed");
  EXPECT_EQ(lines[4], "boot || goto failed");
  EXPECT_THAT(NodeScript(node_, group_, files_), Not(HasSubstr(node_.install_secret)));
}

TEST_F(NodeScriptTest, DisklessNamesItsKernelArtifactAndImage) {
  node_.mode = BootMode::kDiskless;
  files_.diskless_kernel = "/boot/kernels/tiny@1/vmlinuz";
  files_.diskless_kernel_ref = "tiny@1";
  files_.diskless_image_ref = "compute@2";
  std::vector<std::string> lines = Lines(NodeScript(node_, group_, files_));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[2],
            "kernel http://10.77.0.1:8470/boot/kernels/tiny@1/vmlinuz initrd=initrd.img "
            "console=ttyS0,115200 goldcast.server=http://10.77.0.1:8470 goldcast.node=mosix3 "
            "goldcast.token=ffeeddccbbaa99887766554433221100 goldcast.mode=diskless "
            "goldcast.kernel=tiny@1 goldcast.image=compute@2 quiet net.ifnames=0 || goto failed");

  // Only the image known: only goldcast.image=.
  files_.diskless_kernel_ref.clear();
  lines = Lines(NodeScript(node_, group_, files_));
  EXPECT_THAT(lines[2], HasSubstr("goldcast.mode=diskless goldcast.image=compute@2 quiet"));
  EXPECT_THAT(lines[2], Not(HasSubstr("goldcast.kernel=")));

  // The installer learns both from its plan, not from the command line.
  node_.mode = BootMode::kInstall;
  files_.diskless_kernel_ref = "tiny@1";
  lines = Lines(NodeScript(node_, group_, files_));
  EXPECT_THAT(lines[2], Not(HasSubstr("goldcast.kernel=")));
  EXPECT_THAT(lines[2], Not(HasSubstr("goldcast.image=")));
}

TEST_F(NodeScriptTest, LocalBootOnBiosUsesTheFirstDisk) {
  node_.mode = BootMode::kLocal;
  for (const char* platform : {"pcbios", ""}) {  // unknown platform: BIOS way, then exit
    node_.platform = platform;
    std::string script = NodeScript(node_, group_, files_);
    std::vector<std::string> lines = Lines(script);
    ASSERT_GE(lines.size(), 3u);
    EXPECT_EQ(lines[0], "#!ipxe");
    EXPECT_EQ(lines[1], "echo goldcast: mosix3 (local)");
    EXPECT_EQ(lines[2], "sanboot --no-describe --drive 0x80 || goto failed");
    EXPECT_EQ(lines.back(), "exit");
    EXPECT_THAT(script, Not(HasSubstr("kernel")));
    EXPECT_THAT(script, Not(HasSubstr(node_.install_secret)));
    EXPECT_THAT(script, Not(HasSubstr("goldcast.token")));
  }
}

TEST_F(NodeScriptTest, LocalBootOnEfiReturnsToTheFirmwareAsAFailedBootOption) {
  // A failure, so the firmware tries its next boot entry (the disk) instead
  // of showing its setup menu.
  node_.mode = BootMode::kLocal;
  node_.platform = "efi";
  EXPECT_EQ(NodeScript(node_, group_, files_), "#!ipxe\necho goldcast: mosix3 (local)\nexit 1\n");
}

TEST_F(NodeScriptTest, MarkersStartTheirLines) {
  for (BootMode mode : {BootMode::kInstall, BootMode::kDiskless, BootMode::kLocal}) {
    node_.mode = mode;
    for (const std::string& line : Lines(NodeScript(node_, group_, files_))) {
      if (line.find("goldcast:") != std::string::npos) {
        EXPECT_THAT(line, StartsWith("echo goldcast:"));
      }
    }
  }
}

}  // namespace
}  // namespace gc
