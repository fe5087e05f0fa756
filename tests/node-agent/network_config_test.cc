#include "node-agent/network_config.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::ReadTestFile;
using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

NodeAddress Address() {
  NodeAddress address;
  address.interface = "eth0";
  address.mac = "52:54:00:77:66:03";
  address.ip = "10.77.0.13";
  address.prefix = 24;
  address.gateway = "10.77.0.1";
  return address;
}

void Symlink(const std::string& target, const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0) << path;
}

TEST(NetworkConfigTest, DetectsNetworkdByANetworkFile) {
  TempDir root;
  WriteTestFile(root.Sub("etc/systemd/network/50-dhcp.network"), "[Match]\nName=en*\n");
  WriteTestFile(root.Sub("etc/network/interfaces"), "auto lo\n");  // networkd wins
  WriteTestFile(root.Sub("usr/sbin/ifup"), "");
  Symlink("usr/sbin", root.Sub("sbin"));
  EXPECT_EQ(DetectNetworkStyle(root.path()), NetworkStyle::kNetworkd);
}

TEST(NetworkConfigTest, DetectsNetworkdByItsEnabledService) {
  TempDir root;
  WriteTestFile(root.Sub("etc/systemd/network/README"), "not a .network file");
  EXPECT_EQ(DetectNetworkStyle(root.path()), NetworkStyle::kUnknown);
  Symlink("/lib/systemd/system/systemd-networkd.service",
          root.Sub("etc/systemd/system/multi-user.target.wants/systemd-networkd.service"));
  EXPECT_EQ(DetectNetworkStyle(root.path()), NetworkStyle::kNetworkd);
}

TEST(NetworkConfigTest, DetectsIfupdownOnlyWithIfupInstalled) {
  TempDir root;
  WriteTestFile(root.Sub("etc/network/interfaces"), "auto lo\niface lo inet loopback\n");
  EXPECT_EQ(DetectNetworkStyle(root.path()), NetworkStyle::kUnknown);
  // Merged /usr: sbin -> usr/sbin, resolved inside the root.
  WriteTestFile(root.Sub("usr/sbin/ifup"), "");
  Symlink("usr/sbin", root.Sub("sbin"));
  EXPECT_EQ(DetectNetworkStyle(root.path()), NetworkStyle::kIfupdown);
}

TEST(NetworkConfigTest, ReadsTheDefaultGatewayOfTheInterface) {
  std::string route =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
      "eth1\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\n"
      "eth0\t004D0A00\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
      "eth0\t00000000\t014D0A0A\t0003\t0\t0\t0\t00000000\n";
  if (htonl(1) != 1) {  // the kernel writes its own byte order: little-endian here
    EXPECT_EQ(DefaultGateway(route, "eth0"), "10.10.77.1");
    EXPECT_EQ(DefaultGateway(route, "eth1"), "192.168.1.1");
  }
  EXPECT_EQ(DefaultGateway(route, "eth2"), "");
  EXPECT_EQ(DefaultGateway("", "eth0"), "");
}

TEST(NetworkConfigTest, FindsTheInterfaceHoldingTheAddress) {
  // Unit tests run in a network namespace with only lo up.
  Result<NodeAddress> lo = FindNodeAddress("127.0.0.1", "");
  ASSERT_TRUE(lo.ok()) << lo.status().message();
  EXPECT_EQ(lo->interface, "lo");
  EXPECT_EQ(lo->prefix, 8);
  EXPECT_EQ(lo->mac, "");  // all zeros: no NIC to match
  EXPECT_EQ(FindNodeAddress("192.0.2.77", "").status().code(), Code::kNotFound);
  EXPECT_EQ(FindNodeAddress("mosix3", "").status().code(), Code::kInvalidArgument);
}

TEST(NetworkConfigTest, NetworkdFileMatchesTheMac) {
  EXPECT_EQ(NetworkdFile(Address()),
            "# Written by goldcast-agent install: this node's address (the one the goldcast\n"
            "# server's DHCP hands to this MAC), static so the node keeps it without DHCP.\n"
            "[Match]\nMACAddress=52:54:00:77:66:03\n\n"
            "[Network]\nAddress=10.77.0.13/24\nGateway=10.77.0.1\n");
  NodeAddress no_gateway = Address();
  no_gateway.gateway.clear();
  EXPECT_THAT(NetworkdFile(no_gateway), ::testing::Not(HasSubstr("Gateway")));
}

TEST(NetworkConfigTest, RewritesTheImagesInterfaceStanza) {
  std::string interfaces =
      "source /etc/network/interfaces.d/*\n"
      "auto lo\n"
      "iface lo inet loopback\n"
      "\n"
      "allow-hotplug ens3\n"
      "iface ens3 inet dhcp\n"
      "\thostname golden\n"
      "iface ens3 inet6 auto\n";
  EXPECT_EQ(RewriteInterfaces(interfaces, Address()),
            "source /etc/network/interfaces.d/*\n"
            "auto lo\n"
            "iface lo inet loopback\n"
            "\n"
            "allow-hotplug ens3\n"
            "# goldcast-agent install: this node's address (the server's DHCP hands it by MAC)\n"
            "iface ens3 inet static\n"
            "\taddress 10.77.0.13/24\n"
            "\tgateway 10.77.0.1\n"
            "iface ens3 inet6 auto\n");
  std::string only_lo = "auto lo\niface lo inet loopback\n";
  EXPECT_EQ(RewriteInterfaces(only_lo, Address()), only_lo);
}

TEST(NetworkConfigTest, WritesTheImagesFormat) {
  TempDir networkd, ifupdown;
  WriteTestFile(networkd.Sub("etc/systemd/network/50-dhcp.network"), "[Match]\nName=en*\n");
  ASSERT_TRUE(WriteNetworkConfig(networkd.path(), Address()).ok());
  EXPECT_EQ(ReadTestFile(networkd.Sub("etc/systemd/network/10-goldcast.network")),
            NetworkdFile(Address()));
  EXPECT_EQ(ReadTestFile(networkd.Sub("etc/systemd/network/50-dhcp.network")),
            "[Match]\nName=en*\n");

  WriteTestFile(ifupdown.Sub("etc/network/interfaces"), "auto eth0\niface eth0 inet dhcp\n");
  WriteTestFile(ifupdown.Sub("sbin/ifup"), "");
  ASSERT_TRUE(WriteNetworkConfig(ifupdown.path(), Address()).ok());
  EXPECT_THAT(ReadTestFile(ifupdown.Sub("etc/network/interfaces")),
              HasSubstr("iface eth0 inet static\n\taddress 10.77.0.13/24\n"));
}

TEST(NetworkConfigTest, WithoutPrefixOrMacKeepsTheImagesDhcp) {
  for (auto clear : {+[](NodeAddress* a) { a->prefix = 0; }, +[](NodeAddress* a) { a->mac = ""; },
                     +[](NodeAddress* a) { a->ip = ""; }}) {
    TempDir root;
    WriteTestFile(root.Sub("etc/systemd/network/50-dhcp.network"), "[Match]\nName=en*\n");
    NodeAddress address = Address();
    clear(&address);
    ASSERT_TRUE(WriteNetworkConfig(root.path(), address).ok());
    EXPECT_FALSE(fs::exists(root.Sub("etc/systemd/network/10-goldcast.network")));
  }
}

TEST(NetworkConfigTest, NeverWritesThroughASymlinkOutOfTheRoot) {
  TempDir root, outside;
  WriteTestFile(root.Sub("etc/systemd/network/50-dhcp.network"), "[Match]\nName=en*\n");
  Symlink(outside.Sub("x"), root.Sub("etc/systemd/network/10-goldcast.network"));
  ASSERT_TRUE(WriteNetworkConfig(root.path(), Address()).ok());
  EXPECT_FALSE(fs::exists(outside.Sub("x")));
  EXPECT_FALSE(fs::is_symlink(root.Sub("etc/systemd/network/10-goldcast.network")));
}

}  // namespace
}  // namespace gc
