// The lab cluster the pxe and node API tests run against, built by hand as
// the loader would build it, so that those tests do not depend on YAML.
// Header-only: only tests that link gc_profiles include it.
#pragma once

#include "profiles/cluster_profile.h"

namespace gc::testing {

// A dotted quad the test knows is valid.
inline Ipv4 Ip(const char* text) { return ParseIpv4(text).value(); }

// Cluster "lab" on br0, server 10.77.0.1 in 10.77.0.0/16; nodes mosix1,
// mosix2, ... get 10.77.1.1, 10.77.1.2, ... and unknown machines the pool
// 10.77.3.1-250 (authoritative DHCP only); groups compute (install, the
// default) and render (diskless).
inline ClusterProfile LabProfile(DhcpMode mode = DhcpMode::kAuthoritative) {
  ClusterProfile p;
  p.path = "/etc/goldcast/lab.yaml";
  p.cluster = "lab";
  p.network.interface = "br0";
  p.network.server = Ip("10.77.0.1");
  p.network.subnet = Ip("10.77.0.0");
  p.network.prefix_length = 16;
  p.network.dhcp_mode = mode;
  if (mode == DhcpMode::kAuthoritative) {
    p.network.pool = Ipv4Range{Ip("10.77.3.1"), Ip("10.77.3.250")};
    p.network.node_addresses = Ipv4Range{Ip("10.77.1.1"), Ip("10.77.2.255")};
  }
  p.naming.prefix = "mosix";
  p.naming.first = 1;
  p.naming.enroll = Enrollment::kAuto;  // the tests name machines as they boot
  p.groups["compute"] = NodeGroup{"compute", "compute", "", BootMode::kInstall, ""};
  p.groups["render"] = NodeGroup{"render", "render", "", BootMode::kDiskless, ""};
  p.default_group = "compute";
  return p;
}

}  // namespace gc::testing
