// Fuzzes ParseClusterProfile: arbitrary bytes as a profile must never crash,
// hang or throw. Invariants: an error message starts with "FILE:LINE:COL: "
// (so the admin sees where), and an accepted profile keeps every promise the
// loader makes (addresses inside the subnet, ranges disjoint, groups exist,
// MACs normalised, indexes with addresses).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "profiles/cluster_profile.h"
#include "tests/fuzz/yaml_error_position.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "cluster_profile_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void CheckAccepted(const gc::ClusterProfile& profile) {
  using gc::FormatIpv4;
  const gc::NetworkSettings& net = profile.network;
  if (profile.cluster.empty() || net.interface.empty()) Fail("empty name", profile.cluster);
  if (net.prefix_length < 8 || net.prefix_length > 30) Fail("bad prefix", net.interface);
  uint32_t mask = ~uint32_t{0} << (32 - net.prefix_length);
  if ((net.subnet & ~mask) != 0) Fail("host bits in subnet", FormatIpv4(net.subnet));
  if ((net.server & mask) != net.subnet) Fail("server outside subnet", FormatIpv4(net.server));
  auto inside = [&](const gc::Ipv4Range& range) {
    return (range.first & mask) == net.subnet && (range.last & mask) == net.subnet &&
           range.first <= range.last && !range.Contains(net.server);
  };
  if (net.dhcp_mode == gc::DhcpMode::kAuthoritative) {
    if (!net.pool || !net.node_addresses) Fail("authoritative without ranges", profile.cluster);
    if (!inside(*net.pool) || !inside(*net.node_addresses)) Fail("bad range", profile.cluster);
    if (net.pool->first <= net.node_addresses->last &&
        net.node_addresses->first <= net.pool->last) {
      Fail("pool overlaps node_addresses", profile.cluster);
    }
  } else if (net.pool || net.node_addresses) {
    Fail("proxy mode with ranges", profile.cluster);
  }
  if (profile.groups.empty() || !profile.groups.count(profile.default_group)) {
    Fail("default group missing", profile.default_group);
  }
  std::set<std::string> macs, names;
  std::set<int> indexes;
  for (const auto& node : profile.nodes) {
    if (node.mac.size() != 17 || !gc::NormalizeMac(node.mac).ok() ||
        *gc::NormalizeMac(node.mac) != node.mac) {
      Fail("MAC not normalised", node.mac);
    }
    if (!macs.insert(node.mac).second) Fail("duplicate MAC", node.mac);
    if (!node.group.empty() && !profile.groups.count(node.group)) Fail("no group", node.group);
    (void)profile.GroupOf(node);
    if (node.index) {
      if (!indexes.insert(*node.index).second) Fail("duplicate index", node.mac);
      if (*node.index < profile.naming.first) Fail("index below first", node.mac);
      if (net.dhcp_mode == gc::DhcpMode::kAuthoritative && !profile.AddressFor(*node.index)) {
        Fail("declared index without address", node.mac);
      }
    }
    if (!node.name.empty() && !names.insert(node.name).second) Fail("duplicate name", node.name);
  }
  for (const auto& node : profile.nodes) {
    if (!node.index) continue;
    std::string generated = profile.naming.NameFor(*node.index);
    for (const auto& other : profile.nodes) {
      if (&other != &node && other.name == generated) Fail("name collision", generated);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto profile = gc::ParseClusterProfile(input, "fuzz.yaml");
  if (!profile.ok()) {
    if (!gc::fuzz::StartsWithPosition(profile.status().message(), "fuzz.yaml")) {
      Fail("error message does not start with FILE:LINE:COL", profile.status().message());
    }
    return 0;
  }
  CheckAccepted(*profile);
  return 0;
}
