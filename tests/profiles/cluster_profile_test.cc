#include "profiles/cluster_profile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Line numbers matter: the error tests below name positions in this text.
const char kGood[] = R"(cluster: mosix-lab
network:
  interface: br0
  server: 10.77.0.1
  http_port: 8470
  subnet: 10.77.0.0/24
  dhcp:
    mode: authoritative
    pool: 10.77.0.200-10.77.0.250
    lease_time: 1h
  node_addresses: 10.77.0.101-10.77.0.199
naming:
  prefix: mosix
  first: 1
  width: 0
  domain: cluster.local
groups:
  compute:
    image: compute
    kernel: om-test
    mode: install
    kernel_args: "quiet"
  ram:
    image: compute@3
    mode: diskless
default_group: compute
nodes:
  - mac: 52:54:00:12:34:01
    index: 1
  - mac: 52-54-00-AB-CD-02
    name: head
    group: ram
openmosix:
  enabled: true
  compress_ranges: false
  calibration: "mosctl setyard P/133"
)";

const char kProxy[] = R"(cluster: farm
network:
  interface: eth1
  server: 192.168.5.2
  subnet: 192.168.4.0/23
  dhcp:
    mode: proxy
naming:
  prefix: node
  width: 3
groups:
  compute:
    image: compute:stable
)";

// kGood with the first occurrence of `from` replaced by `to`.
std::string With(std::string_view from, std::string_view to, std::string text = kGood) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "test bug: '" << from << "' not in the profile";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::string ErrorOf(const std::string& text) {
  auto profile = ParseClusterProfile(text, "cluster.yaml");
  if (profile.ok()) return "(no error)";
  EXPECT_EQ(profile.status().code(), Code::kInvalidArgument);
  return profile.status().message();
}

TEST(ClusterProfileTest, ParsesEveryField) {
  auto profile = ParseClusterProfile(kGood, "cluster.yaml");
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  EXPECT_EQ(profile->path, "cluster.yaml");
  EXPECT_EQ(profile->cluster, "mosix-lab");
  const NetworkSettings& net = profile->network;
  EXPECT_EQ(net.interface, "br0");
  EXPECT_EQ(FormatIpv4(net.server), "10.77.0.1");
  EXPECT_EQ(net.http_port, 8470);
  EXPECT_EQ(FormatIpv4(net.subnet), "10.77.0.0");
  EXPECT_EQ(net.prefix_length, 24);
  EXPECT_EQ(net.dhcp_mode, DhcpMode::kAuthoritative);
  ASSERT_TRUE(net.pool && net.node_addresses);
  EXPECT_EQ(FormatIpv4(net.pool->first), "10.77.0.200");
  EXPECT_EQ(net.pool->size(), 51u);
  EXPECT_EQ(FormatIpv4(net.node_addresses->last), "10.77.0.199");
  EXPECT_EQ(net.lease_time, "1h");
  EXPECT_EQ(profile->naming.prefix, "mosix");
  EXPECT_EQ(profile->naming.domain, "cluster.local");
  ASSERT_EQ(profile->groups.size(), 2u);
  const NodeGroup& compute = profile->groups.at("compute");
  EXPECT_EQ(compute.name, "compute");
  EXPECT_EQ(compute.image, "compute");
  EXPECT_EQ(compute.kernel, "om-test");
  EXPECT_EQ(compute.mode, BootMode::kInstall);
  EXPECT_EQ(compute.kernel_args, "quiet");
  EXPECT_EQ(profile->groups.at("ram").mode, BootMode::kDiskless);
  EXPECT_EQ(profile->default_group, "compute");
  ASSERT_EQ(profile->nodes.size(), 2u);
  EXPECT_EQ(profile->nodes[0].mac, "52:54:00:12:34:01");
  EXPECT_EQ(profile->nodes[0].index, 1);
  EXPECT_EQ(profile->nodes[1].mac, "52:54:00:ab:cd:02");
  EXPECT_FALSE(profile->nodes[1].index.has_value());
  EXPECT_EQ(profile->nodes[1].name, "head");
  EXPECT_EQ(&profile->GroupOf(profile->nodes[0]), &compute);
  EXPECT_EQ(profile->GroupOf(profile->nodes[1]).name, "ram");
  EXPECT_TRUE(profile->openmosix.enabled);
  EXPECT_FALSE(profile->openmosix.compress_ranges);
  EXPECT_EQ(profile->openmosix.calibration, "mosctl setyard P/133");
}

TEST(ClusterProfileTest, ProxyModeAndDefaults) {
  auto profile = ParseClusterProfile(kProxy, "farm.yaml");
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  EXPECT_EQ(profile->network.dhcp_mode, DhcpMode::kProxy);
  EXPECT_EQ(profile->network.prefix_length, 23);
  EXPECT_EQ(profile->network.http_port, 8470);
  EXPECT_FALSE(profile->network.pool.has_value());
  EXPECT_FALSE(profile->network.node_addresses.has_value());
  EXPECT_EQ(profile->naming.first, 1);
  EXPECT_EQ(profile->naming.NameFor(1), "node001");
  EXPECT_EQ(profile->default_group, "compute");  // the only group
  EXPECT_EQ(profile->groups.at("compute").mode, BootMode::kInstall);
  EXPECT_TRUE(profile->nodes.empty());
  EXPECT_FALSE(profile->openmosix.enabled);
  EXPECT_FALSE(profile->AddressFor(1).has_value());        // the other DHCP server decides
  EXPECT_EQ(profile->naming.enroll, Enrollment::kManual);  // unknown machines wait
}

TEST(ClusterProfileTest, TlsPortAndCertificate) {
  auto profile = ParseClusterProfile(kGood, "cluster.yaml");
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  EXPECT_EQ(profile->network.https_port, 8471);
  EXPECT_FALSE(profile->tls);  // serve makes its own
  std::string text = With("  http_port: 8470", "  http_port: 80\n  https_port: 443") +
                     "tls:\n  cert: /etc/goldcast/tls.crt\n  key: /etc/goldcast/tls.key\n";
  profile = ParseClusterProfile(text, "cluster.yaml");
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  EXPECT_EQ(profile->network.http_port, 80);
  EXPECT_EQ(profile->network.https_port, 443);
  ASSERT_TRUE(profile->tls);
  EXPECT_EQ(profile->tls->cert, "/etc/goldcast/tls.crt");
  EXPECT_EQ(profile->tls->key, "/etc/goldcast/tls.key");

  EXPECT_THAT(ErrorOf(With("  http_port: 8470", "  http_port: 8471")),
              StartsWith("cluster.yaml:5:14: network.http_port: http_port and https_port are "
                         "both 8471"));
  EXPECT_THAT(ErrorOf(std::string(kGood) + "tls:\n  cert: /etc/goldcast/tls.crt\n"),
              HasSubstr("tls.key: missing"));
  EXPECT_THAT(ErrorOf(std::string(kGood) + "tls:\n  cert: tls.crt\n  key: /k\n"),
              HasSubstr("tls.cert: 'tls.crt' is not an absolute path"));
}

TEST(ClusterProfileTest, EnrollIsManualOrAuto) {
  auto with = [](const std::string& value) {
    std::string text = kProxy;
    size_t naming = text.find("naming:\n");
    text.insert(naming + 8, "  enroll: " + value + "\n");
    return ParseClusterProfile(text, "farm.yaml");
  };
  auto automatic = with("auto");
  ASSERT_TRUE(automatic.ok()) << automatic.status().message();
  EXPECT_EQ(automatic->naming.enroll, Enrollment::kAuto);
  auto manual = with("manual");
  ASSERT_TRUE(manual.ok()) << manual.status().message();
  EXPECT_EQ(manual->naming.enroll, Enrollment::kManual);
  auto typo = with("automatic");
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.status().message(),
              HasSubstr("naming.enroll: 'automatic' is not one of manual, auto"));
}

TEST(ClusterProfileTest, OpenMosixSectionEnablesByDefault) {
  auto profile = ParseClusterProfile(std::string(kProxy) + "openmosix:\n  calibration: x\n", "p");
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  EXPECT_TRUE(profile->openmosix.enabled);
  EXPECT_TRUE(profile->openmosix.compress_ranges);
}

TEST(ClusterProfileErrorTest, TheIssueExample) {
  EXPECT_EQ(ErrorOf(With("mode: authoritative", "mode: authorative")),
            "cluster.yaml:8:11: network.dhcp.mode: 'authorative' is not one of authoritative, "
            "proxy");
}

TEST(ClusterProfileErrorTest, NotYaml) {
  EXPECT_THAT(ErrorOf("cluster: [unclosed\n"), StartsWith("cluster.yaml:2:1: not valid YAML: "));
  EXPECT_THAT(ErrorOf("a: b\n\tc: d\n"), StartsWith("cluster.yaml:2:"));
  EXPECT_EQ(ErrorOf(""),
            "cluster.yaml:1:1: the file is empty (expected a cluster profile: a map with cluster, "
            "network, naming and groups, see profiles/examples/)");
  EXPECT_THAT(ErrorOf("# only a comment\n"), StartsWith("cluster.yaml:1:1: the file is empty"));
  EXPECT_THAT(ErrorOf(std::string(kGood) + "---\ncluster: other\n"),
              StartsWith("cluster.yaml:37:1: more than one YAML document"));
  // yaml-cpp's LoadAll never returns on these (found by the fuzzer); Load
  // alone would silently drop everything after the stray ','.
  EXPECT_THAT(ErrorOf(", cluster: x\n"), StartsWith("cluster.yaml:1:1: more than one YAML "
                                                    "document"));
  EXPECT_THAT(ErrorOf("- a\n,\ncluster: x\n"), StartsWith("cluster.yaml:2:1: more than one"));
  EXPECT_THAT(ErrorOf("- a\n- b\n"), StartsWith("cluster.yaml:1:1: expected a map (with keys "
                                                "cluster, network, naming, groups"));
  EXPECT_THAT(ErrorOf(std::string(1 << 21, '#')), StartsWith("cluster.yaml:1:1: the file is "));
}

TEST(ClusterProfileErrorTest, DeepNestingIsAnErrorNotACrash) {
  std::string flow = "cluster: " + std::string(100000, '[');
  EXPECT_THAT(ErrorOf(flow), StartsWith("cluster.yaml:1:"));
  std::string block;
  for (int i = 0; i < 50000; ++i) block += "- ";
  EXPECT_THAT(ErrorOf("nodes:\n  " + block + "x\n"), HasSubstr("nested too deeply"));
  std::string maps = "x";
  for (int i = 0; i < 5000; ++i) maps = "{a: " + maps + "}";
  EXPECT_THAT(ErrorOf("cluster: " + maps + "\n"), StartsWith("cluster.yaml:1:"));
}

TEST(ClusterProfileErrorTest, UnknownKeysListTheAllowedOnes) {
  EXPECT_EQ(ErrorOf(With("cluster: mosix-lab", "clustr: mosix-lab")),
            "cluster.yaml:1:1: clustr: unknown key (allowed: cluster, network, naming, groups, "
            "default_group, nodes, openmosix, tls; check the spelling)");
  EXPECT_THAT(ErrorOf(With("    pool:", "    pools:")),
              StartsWith("cluster.yaml:9:5: network.dhcp.pools: unknown key (allowed: mode, "
                         "pool, lease_time;"));
  EXPECT_THAT(ErrorOf(With("    kernel_args:", "    kernel_arg:")),
              StartsWith("cluster.yaml:22:5: groups.compute.kernel_arg: unknown key (allowed: "
                         "image, kernel, mode, kernel_args;"));
  EXPECT_THAT(ErrorOf(With("    name: head", "    hostname: head")),
              StartsWith("cluster.yaml:31:5: nodes[1].hostname: unknown key (allowed: mac, "
                         "index, name, group;"));
  EXPECT_THAT(ErrorOf(With("  calibration:", "  calibrate:")),
              StartsWith("cluster.yaml:36:3: openmosix.calibrate: unknown key"));
  EXPECT_THAT(ErrorOf(With("  width: 0", "  padding: 0")),
              StartsWith("cluster.yaml:15:3: naming.padding: unknown key (allowed: prefix, "
                         "first, width, domain, enroll;"));
  EXPECT_THAT(ErrorOf(With("  http_port: 8470", "  [a]: 8470")),
              StartsWith("cluster.yaml:5:3: network: a key must be a single value"));
}

TEST(ClusterProfileErrorTest, DuplicateKeys) {
  EXPECT_EQ(ErrorOf(With("  http_port: 8470", "  server: 10.77.0.2")),
            "cluster.yaml:5:3: network.server: duplicate key (first at line 4; keep one)");
  EXPECT_THAT(ErrorOf(With("  ram:", "  compute:")),
              StartsWith("cluster.yaml:23:3: groups.compute: duplicate key (first at line 18"));
}

TEST(ClusterProfileErrorTest, WrongTypes) {
  EXPECT_EQ(ErrorOf(With("http_port: 8470", "http_port: {a: 1}")),
            "cluster.yaml:5:14: network.http_port: expected a number, got a map (expected a "
            "number from 1 to 65535)");
  EXPECT_THAT(ErrorOf(With("http_port: 8470", "http_port: http")),
              StartsWith("cluster.yaml:5:14: network.http_port: expected a number, got 'http'"));
  EXPECT_THAT(ErrorOf(With("http_port: 8470", "http_port: 08470")),
              StartsWith("cluster.yaml:5:14: network.http_port: expected a number"));
  EXPECT_THAT(ErrorOf(With("http_port: 8470", "http_port: 70000")),
              StartsWith("cluster.yaml:5:14: network.http_port: 70000 is out of range"));
  EXPECT_THAT(ErrorOf(With("http_port: 8470", "http_port:")),
              StartsWith("cluster.yaml:5:3: network.http_port: expected a number, got nothing"));
  EXPECT_THAT(ErrorOf(With("  dhcp:\n    mode: proxy", "  dhcp: proxy", kProxy)),
              StartsWith("cluster.yaml:6:9: network.dhcp: expected a map (with keys mode, pool, "
                         "lease_time), got a single value"));
  EXPECT_THAT(ErrorOf(With("interface: br0", "interface: [br0]")),
              StartsWith("cluster.yaml:3:14: network.interface: expected an interface name, got "
                         "a list"));
  EXPECT_THAT(ErrorOf(With("  compute:\n    image: compute:stable", "  - compute", kProxy)),
              StartsWith("cluster.yaml:12:3: groups: expected a map of groups"));
  EXPECT_THAT(ErrorOf(std::string(kProxy) + "nodes: {a: b}\n"),
              StartsWith("cluster.yaml:14:8: nodes: expected a list of nodes"));
  EXPECT_THAT(ErrorOf(With("enabled: true", "enabled: yes")),
              StartsWith("cluster.yaml:34:12: openmosix.enabled: expected true or false, got "
                         "'yes'"));
  EXPECT_THAT(ErrorOf(With("  - mac: 52:54:00:12:34:01\n    index: 1", "  - 52:54:00:12:34:01")),
              StartsWith("cluster.yaml:28:5: nodes[0]: expected a map (with keys mac, index, "
                         "name, group), got a single value"));
}

TEST(ClusterProfileErrorTest, MissingRequiredFields) {
  EXPECT_THAT(ErrorOf(With("cluster: mosix-lab\n", "")),
              StartsWith("cluster.yaml:1:1: cluster: missing (required: "));
  EXPECT_THAT(ErrorOf(With("  interface: br0\n", "")),
              StartsWith("cluster.yaml:2:1: network.interface: missing (required: "));
  EXPECT_THAT(ErrorOf(With("  server: 10.77.0.1\n", "")),
              StartsWith("cluster.yaml:2:1: network.server: missing"));
  EXPECT_THAT(ErrorOf(With("  subnet: 10.77.0.0/24\n", "")),
              StartsWith("cluster.yaml:2:1: network.subnet: missing"));
  EXPECT_THAT(ErrorOf(With("    mode: authoritative\n", "")),
              StartsWith("cluster.yaml:7:3: network.dhcp.mode: missing (required: authoritative "
                         "or proxy)"));
  EXPECT_THAT(ErrorOf(With("    pool: 10.77.0.200-10.77.0.250\n", "")),
              StartsWith("cluster.yaml:7:3: network.dhcp.pool: missing"));
  EXPECT_THAT(ErrorOf(With("  node_addresses: 10.77.0.101-10.77.0.199\n", "")),
              StartsWith("cluster.yaml:2:1: network.node_addresses: missing"));
  EXPECT_THAT(ErrorOf(With("  prefix: mosix\n", "")),
              StartsWith("cluster.yaml:12:1: naming.prefix: missing"));
  EXPECT_THAT(ErrorOf(With("    image: compute\n", "")),
              StartsWith("cluster.yaml:18:3: groups.compute.image: missing"));
  EXPECT_THAT(ErrorOf(With("  - mac: 52-54-00-AB-CD-02\n    name", "  - name")),
              StartsWith("cluster.yaml:30:5: nodes[1].mac: missing"));
  std::string no_dhcp = With(
      "  dhcp:\n    mode: authoritative\n    pool: 10.77.0.200-10.77.0.250\n"
      "    lease_time: 1h\n",
      "");
  EXPECT_THAT(ErrorOf(no_dhcp), StartsWith("cluster.yaml:2:1: network.dhcp: missing"));
  EXPECT_THAT(ErrorOf(With("default_group: compute\n", "")),
              StartsWith("cluster.yaml:17:1: default_group: missing (required when there is more "
                         "than one group: one of compute, ram)"));
  EXPECT_THAT(ErrorOf(With("groups:\n  compute:\n    image: compute:stable", "groups: {}", kProxy)),
              StartsWith("cluster.yaml:11:9: groups: expected at least one group"));
}

TEST(ClusterProfileErrorTest, NetworkValues) {
  EXPECT_THAT(ErrorOf(With("cluster: mosix-lab", "cluster: Mosix_Lab")),
              StartsWith("cluster.yaml:1:10: cluster: 'Mosix_Lab' is not a cluster name"));
  EXPECT_THAT(ErrorOf(With("interface: br0", "interface: a-very-long-bridge0")),
              StartsWith("cluster.yaml:3:14: network.interface: 'a-very-long-bridge0' is not an "
                         "interface name"));
  EXPECT_THAT(ErrorOf(With("server: 10.77.0.1", "server: 10.77.0.256")),
              StartsWith("cluster.yaml:4:11: network.server: '10.77.0.256' is not an IPv4 "
                         "address"));
  EXPECT_THAT(ErrorOf(With("server: 10.77.0.1", "server: 10.78.0.1")),
              StartsWith("cluster.yaml:4:11: network.server: 10.78.0.1 is outside "
                         "network.subnet 10.77.0.0/24"));
  EXPECT_THAT(ErrorOf(With("server: 10.77.0.1", "server: 10.77.0.255")),
              StartsWith("cluster.yaml:4:11: network.server: 10.77.0.255 is the network or "
                         "broadcast address"));
  EXPECT_EQ(ErrorOf(With("subnet: 10.77.0.0/24", "subnet: 10.77.0.5/24")),
            "cluster.yaml:6:11: network.subnet: '10.77.0.5/24' has host bits set (expected the "
            "network address: 10.77.0.0/24)");
  EXPECT_THAT(ErrorOf(With("subnet: 10.77.0.0/24", "subnet: 10.77.0.0")),
              StartsWith("cluster.yaml:6:11: network.subnet: '10.77.0.0' is not a network"));
  EXPECT_THAT(ErrorOf(With("subnet: 10.77.0.0/24", "subnet: 10.77.0.0/31")),
              StartsWith("cluster.yaml:6:11: network.subnet: prefix length /31 is out of range"));
  EXPECT_THAT(ErrorOf(With("lease_time: 1h", "lease_time: 1 hour")),
              StartsWith("cluster.yaml:10:17: network.dhcp.lease_time: '1 hour' is not a lease "
                         "time"));
  EXPECT_THAT(ErrorOf(With("lease_time: 1h", "lease_time: 0m")),
              StartsWith("cluster.yaml:10:17: network.dhcp.lease_time: '0m' is not"));
  EXPECT_TRUE(ParseClusterProfile(With("lease_time: 1h", "lease_time: infinite"), "x").ok());
}

TEST(ClusterProfileErrorTest, AddressRanges) {
  EXPECT_THAT(ErrorOf(With("pool: 10.77.0.200-10.77.0.250", "pool: 10.77.0.250-10.77.0.200")),
              StartsWith("cluster.yaml:9:11: network.dhcp.pool: '10.77.0.250-10.77.0.200' runs "
                         "backwards"));
  EXPECT_THAT(ErrorOf(With("pool: 10.77.0.200-10.77.0.250", "pool: 10.77.0.200")),
              StartsWith("cluster.yaml:9:11: network.dhcp.pool: '10.77.0.200' is not an address "
                         "range"));
  EXPECT_THAT(ErrorOf(With("pool: 10.77.0.200-10.77.0.250", "pool: 10.77.0.200-10.77.1.5")),
              StartsWith("cluster.yaml:9:11: network.dhcp.pool: 10.77.1.5 is outside "
                         "network.subnet 10.77.0.0/24"));
  EXPECT_THAT(ErrorOf(With("pool: 10.77.0.200-10.77.0.250", "pool: 10.77.0.200-10.77.0.255")),
              StartsWith("cluster.yaml:9:11: network.dhcp.pool: 10.77.0.200-10.77.0.255 includes "
                         "the network or broadcast address"));
  EXPECT_THAT(ErrorOf(With("node_addresses: 10.77.0.101-10.77.0.199",
                           "node_addresses: 10.77.0.1-10.77.0.99")),
              StartsWith("cluster.yaml:11:19: network.node_addresses: 10.77.0.1-10.77.0.99 "
                         "contains network.server 10.77.0.1"));
  EXPECT_EQ(ErrorOf(With("node_addresses: 10.77.0.101-10.77.0.199",
                         "node_addresses: 10.77.0.101-10.77.0.210")),
            "cluster.yaml:11:19: network.node_addresses: 10.77.0.101-10.77.0.210 overlaps "
            "network.dhcp.pool 10.77.0.200-10.77.0.250 (the pool is for machines not yet named: "
            "use separate addresses)");
  // A small node range is fine: nodes beyond it are refused when they boot.
  EXPECT_TRUE(ParseClusterProfile(With("node_addresses: 10.77.0.101-10.77.0.199",
                                       "node_addresses: 10.77.0.101 - 10.77.0.101"),
                                  "x")
                  .ok());
}

TEST(ClusterProfileErrorTest, ProxyModeForbidsAddresses) {
  std::string proxy = With("mode: authoritative", "mode: proxy");
  EXPECT_THAT(ErrorOf(proxy),
              StartsWith("cluster.yaml:9:11: network.dhcp.pool: not allowed with mode proxy"));
  proxy = With("    pool: 10.77.0.200-10.77.0.250\n", "", proxy);
  EXPECT_THAT(ErrorOf(proxy), StartsWith("cluster.yaml:9:17: network.dhcp.lease_time: not "
                                         "allowed with mode proxy"));
  proxy = With("    lease_time: 1h\n", "", proxy);
  EXPECT_THAT(ErrorOf(proxy), StartsWith("cluster.yaml:9:19: network.node_addresses: not allowed "
                                         "with network.dhcp.mode proxy"));
  proxy = With("  node_addresses: 10.77.0.101-10.77.0.199\n", "", proxy);
  EXPECT_EQ(ErrorOf(proxy), "(no error)");
}

TEST(ClusterProfileErrorTest, NamingValues) {
  EXPECT_THAT(ErrorOf(With("prefix: mosix", "prefix: Mosix")),
              StartsWith("cluster.yaml:13:11: naming.prefix: 'Mosix' is not a name prefix"));
  EXPECT_THAT(ErrorOf(With("prefix: mosix", "prefix: 1node")),
              StartsWith("cluster.yaml:13:11: naming.prefix: '1node' is not a name prefix"));
  EXPECT_THAT(ErrorOf(With("first: 1", "first: -1")),
              StartsWith("cluster.yaml:14:10: naming.first: expected a number, got '-1'"));
  EXPECT_THAT(ErrorOf(With("width: 0", "width: 7")),
              StartsWith("cluster.yaml:15:10: naming.width: 7 is out of range (expected a number "
                         "from 0 to 6)"));
  EXPECT_THAT(ErrorOf(With("domain: cluster.local", "domain: cluster..local")),
              StartsWith("cluster.yaml:16:11: naming.domain: 'cluster..local' is not a domain"));
  EXPECT_THAT(ErrorOf(With("domain: cluster.local", "domain: cluster.local.")),
              StartsWith("cluster.yaml:16:11: naming.domain: 'cluster.local.' is not a domain"));
}

TEST(ClusterProfileErrorTest, GroupValues) {
  EXPECT_THAT(ErrorOf(With("  ram:", "  Ram:")),
              StartsWith("cluster.yaml:23:3: groups.Ram: 'Ram' is not a group name"));
  EXPECT_THAT(ErrorOf(With("image: compute@3", "image: compute@0")),
              StartsWith("cluster.yaml:24:12: groups.ram.image: 'compute@0': the version after "
                         "'@' must be a positive number"));
  EXPECT_THAT(ErrorOf(With("image: compute@3", "image: compute:12")),
              StartsWith("cluster.yaml:24:12: groups.ram.image: 'compute:12': the tag after ':'"));
  EXPECT_THAT(ErrorOf(With("image: compute@3", "image: ../etc")),
              StartsWith("cluster.yaml:24:12: groups.ram.image: '../etc' is not a valid name"));
  EXPECT_THAT(ErrorOf(With("kernel: om-test", "kernel: om-test:stable")),
              StartsWith("cluster.yaml:20:13: groups.compute.kernel: 'om-test:stable' is not a "
                         "valid name"));
  EXPECT_EQ(ErrorOf(With("mode: diskless", "mode: ramdisk")),
            "cluster.yaml:25:11: groups.ram.mode: 'ramdisk' is not one of install, diskless, "
            "local");
  EXPECT_THAT(ErrorOf(With("kernel_args: \"quiet\"", "kernel_args: \"quiet\\ninit=/bin/sh\"")),
              StartsWith("cluster.yaml:22:18: groups.compute.kernel_args: expected one line of at "
                         "most 1024 characters without control characters, got "
                         "'quiet\\x0ainit=/bin/sh'"));
  EXPECT_THAT(ErrorOf(With("default_group: compute", "default_group: gpu")),
              StartsWith("cluster.yaml:26:16: default_group: 'gpu' is not a group of this profile "
                         "(expected one of compute, ram)"));
  // An underscore is fine in a group name.
  EXPECT_TRUE(ParseClusterProfile(
                  With("group: ram", "group: ram_nodes", With("  ram:", "  ram_nodes:")), "x")
                  .ok());
}

TEST(ClusterProfileErrorTest, DeclaredNodes) {
  EXPECT_THAT(ErrorOf(With("mac: 52:54:00:12:34:01", "mac: 52:54:00:12:34")),
              StartsWith("cluster.yaml:28:10: nodes[0].mac: '52:54:00:12:34' is not a MAC "
                         "address"));
  EXPECT_EQ(ErrorOf(With("52-54-00-AB-CD-02", "52:54:00:12:34:01")),
            "cluster.yaml:30:10: nodes[1].mac: 52:54:00:12:34:01 is already declared by nodes[0] "
            "(expected each MAC once)");
  EXPECT_THAT(ErrorOf(With("    name: head", "    index: 1")),
              StartsWith("cluster.yaml:31:12: nodes[1].index: index 1 is already declared by "
                         "nodes[0]"));
  EXPECT_THAT(ErrorOf(With("    index: 1", "    index: 0")),
              StartsWith("cluster.yaml:29:12: nodes[0].index: 0 is out of range (expected a "
                         "number from 1 to 999999)"));
  EXPECT_EQ(ErrorOf(With("    index: 1", "    index: 100")),
            "cluster.yaml:29:12: nodes[0].index: index 100 has no address in "
            "network.node_addresses 10.77.0.101-10.77.0.199 (expected 1 to 99, or widen "
            "node_addresses)");
  EXPECT_EQ(ErrorOf(With("    index: 1", "    index: 99")), "(no error)");
  EXPECT_THAT(ErrorOf(With("name: head", "name: Head")),
              StartsWith("cluster.yaml:31:11: nodes[1].name: 'Head' is not a host name"));
  EXPECT_THAT(ErrorOf(With("    index: 1", "    name: head")),
              StartsWith("cluster.yaml:31:11: nodes[1].name: 'head' is already declared by "
                         "nodes[0]"));
  EXPECT_THAT(ErrorOf(With("group: ram", "group: gpu")),
              StartsWith("cluster.yaml:32:12: nodes[1].group: 'gpu' is not a group of this "
                         "profile (expected one of compute, ram)"));
}

TEST(ClusterProfileErrorTest, ExplicitNamesMustNotCollideWithBootOrderNames) {
  // Index 7 is free: the 7th machine to boot would also be mosix7.
  EXPECT_EQ(ErrorOf(With("name: head", "name: mosix7")),
            "cluster.yaml:31:11: nodes[1].name: 'mosix7' is the boot-order name of index 7: the "
            "node that boots into that index would be named the same (give this node index: 7 "
            "instead, or a name that is not mosix followed by a number)");
  // Index 1 is taken by nodes[0], whose name is therefore mosix1.
  EXPECT_THAT(ErrorOf(With("name: head", "name: mosix1")),
              StartsWith("cluster.yaml:31:11: nodes[1].name: 'mosix1' is the boot-order name of "
                         "index 1, which nodes[0] declares"));
  // Declaring the matching index is consistent, not a collision.
  EXPECT_EQ(ErrorOf(With("    name: head", "    index: 7\n    name: mosix7")), "(no error)");
  // Not generated names: padding differs, or below naming.first, or no number.
  EXPECT_EQ(ErrorOf(With("name: head", "name: mosix007")), "(no error)");
  EXPECT_EQ(ErrorOf(With("name: head", "name: mosix0")), "(no error)");
  EXPECT_EQ(ErrorOf(With("name: head", "name: mosix-head")), "(no error)");
  // With width 3, mosix007 is index 7's name.
  EXPECT_THAT(ErrorOf(With("width: 0", "width: 3", With("name: head", "name: mosix007"))),
              StartsWith("cluster.yaml:31:11: nodes[1].name: 'mosix007' is the boot-order name "
                         "of index 7"));
}

TEST(ClusterProfileErrorTest, ValuesInMessagesAreEscaped) {
  std::string message = ErrorOf(With("interface: br0", "interface: \"br\\e[31m0\""));
  EXPECT_THAT(message, HasSubstr("'br\\x1b[31m0'"));
  EXPECT_EQ(message.find('\x1b'), std::string::npos);
  message = ErrorOf(With("  width: 0", "  \"w\\e]0;x\\a\xff\": 0"));
  EXPECT_THAT(message, StartsWith("cluster.yaml:15:3: naming.'w\\x1b]0;x\\x07\\xff': unknown key"));
  EXPECT_EQ(message.find('\x1b'), std::string::npos);
}

TEST(ClusterProfileTest, LoadNamesTheMissingFile) {
  auto profile = LoadClusterProfile("/nonexistent/goldcast/cluster.yaml");
  ASSERT_FALSE(profile.ok());
  EXPECT_THAT(profile.status().message(),
              StartsWith("cannot read cluster profile /nonexistent/goldcast/cluster.yaml: "));
}

TEST(ClusterProfileTest, LoadReadsAFileAndNamesItInErrors) {
  testing::TempDir dir;
  testing::WriteTestFile(dir.Sub("good.yaml"), kGood);
  auto profile = LoadClusterProfile(dir.Sub("good.yaml"));
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  EXPECT_EQ(profile->path, dir.Sub("good.yaml"));
  testing::WriteTestFile(dir.Sub("bad.yaml"), With("width: 0", "width: x"));
  profile = LoadClusterProfile(dir.Sub("bad.yaml"));
  ASSERT_FALSE(profile.ok());
  EXPECT_THAT(profile.status().message(), StartsWith(dir.Sub("bad.yaml") + ":15:10: naming.width"));
}

TEST(ClusterProfileTest, ShippedExamplesLoad) {
  std::filesystem::path examples = std::filesystem::path(GC_SOURCE_DIR) / "profiles/examples";
  auto mosix = LoadClusterProfile((examples / "mosix-small.yaml").string());
  ASSERT_TRUE(mosix.ok()) << mosix.status().message();
  EXPECT_EQ(mosix->naming.NameFor(mosix->naming.first), "mosix1");
  EXPECT_EQ(mosix->network.dhcp_mode, DhcpMode::kAuthoritative);
  EXPECT_TRUE(mosix->openmosix.enabled);
  EXPECT_FALSE(mosix->openmosix.calibration.empty());
  auto proxy = LoadClusterProfile((examples / "compute-proxy.yaml").string());
  ASSERT_TRUE(proxy.ok()) << proxy.status().message();
  EXPECT_EQ(proxy->network.dhcp_mode, DhcpMode::kProxy);
  EXPECT_EQ(proxy->naming.NameFor(1), "node001");
  bool has_diskless = false, has_install = false;
  for (const auto& [name, group] : proxy->groups) {
    has_diskless |= group.mode == BootMode::kDiskless;
    has_install |= group.mode == BootMode::kInstall;
  }
  EXPECT_TRUE(has_diskless && has_install);
  EXPECT_FALSE(proxy->nodes.empty());
}

TEST(NamingTest, NameForPadsToWidth) {
  NamingSettings naming;
  naming.prefix = "mosix";
  EXPECT_EQ(naming.NameFor(1), "mosix1");
  EXPECT_EQ(naming.NameFor(12), "mosix12");
  naming.width = 3;
  naming.prefix = "node";
  EXPECT_EQ(naming.NameFor(0), "node000");
  EXPECT_EQ(naming.NameFor(7), "node007");
  EXPECT_EQ(naming.NameFor(123), "node123");
  EXPECT_EQ(naming.NameFor(1234), "node1234");  // wider than width: no truncation
}

TEST(AddressTest, AddressForCountsFromFirstIndex) {
  auto profile = ParseClusterProfile(kGood, "cluster.yaml");
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  EXPECT_EQ(profile->AddressFor(0), std::nullopt);  // below naming.first
  EXPECT_EQ(FormatIpv4(*profile->AddressFor(1)), "10.77.0.101");
  EXPECT_EQ(FormatIpv4(*profile->AddressFor(99)), "10.77.0.199");
  EXPECT_EQ(profile->AddressFor(100), std::nullopt);  // the range is used up
  EXPECT_EQ(profile->AddressFor(-5), std::nullopt);
  profile->naming.first = 0;
  EXPECT_EQ(FormatIpv4(*profile->AddressFor(0)), "10.77.0.101");
  EXPECT_EQ(FormatIpv4(*profile->AddressFor(98)), "10.77.0.199");
  EXPECT_EQ(profile->AddressFor(99), std::nullopt);
  profile->network.dhcp_mode = DhcpMode::kProxy;
  EXPECT_EQ(profile->AddressFor(1), std::nullopt);
}

}  // namespace
}  // namespace gc
