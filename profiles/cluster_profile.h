// The cluster profile: one YAML file describing a cluster's network, node
// naming, node groups, pre-declared nodes and cluster-wide settings. Loaded
// and validated here; nothing else in goldcast reads the YAML. Every error
// names file:line:column and the field, and unknown keys are errors (a typo
// must not pass silently). Reference: docs/cluster-profile.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "profiles/vocabulary.h"  // the types the profile is made of

namespace gc {

struct NetworkSettings {
  std::string interface;       // where dnsmasq serves DHCP/TFTP, e.g. "br0"
  Ipv4 server = 0;             // the server's address on it (HTTP, TFTP, next-server)
  uint16_t http_port = 8470;   // plain HTTP: what firmware fetches (iPXE scripts, kernels)
  uint16_t https_port = 8471;  // TLS: the node API, and everything else too
  Ipv4 subnet = 0;             // network address
  int prefix_length = 24;      // netmask bits
  DhcpMode dhcp_mode = DhcpMode::kAuthoritative;
  // Dynamic addresses for machines not yet named (authoritative mode only).
  std::optional<Ipv4Range> pool;
  // Fixed addresses for named nodes, given out in index order: the node with
  // index naming.first gets node_addresses.first (authoritative mode only).
  std::optional<Ipv4Range> node_addresses;
  std::string lease_time = "1h";  // dnsmasq syntax
};

// The server's TLS certificate and key (PEM files). Without them serve
// makes a self-signed pair in its state directory on first start.
struct TlsSettings {
  std::string cert;  // absolute paths
  std::string key;
};

struct NamingSettings {
  std::string prefix = "node";  // "mosix" -> mosix1, mosix2, ...
  int first = 1;                // index of the first node
  int width = 0;                // zero padding: 3 -> mosix001
  std::string domain;           // optional, e.g. "cluster.local"
  // Unknown machines wait for `goldcast nodes accept` unless the profile
  // says auto: anyone on the boot LAN could otherwise become a node.
  Enrollment enroll = Enrollment::kManual;
  std::string NameFor(int index) const;
};

struct NodeGroup {
  std::string name;
  std::string image;   // image spec as `goldcast image` takes it: name, name@N, name:tag
  std::string kernel;  // kernel artifact spec (optional)
  BootMode mode = BootMode::kInstall;
  std::string kernel_args;  // appended to the kernel command line
};

struct DeclaredNode {
  std::string mac;           // normalised lowercase aa:bb:cc:dd:ee:ff
  std::optional<int> index;  // fixes the name and address
  std::string name;          // optional explicit name (must not collide)
  std::string group;         // empty = the default group
};

struct OpenMosixSettings {
  bool enabled = false;
  bool compress_ranges = true;  // consecutive nodes in one map line "ID IP COUNT"
  std::string calibration;      // e.g. "mosctl setyard P/133"; empty = none
};

struct ClusterProfile {
  std::string path;     // the file it came from (for messages)
  std::string cluster;  // the cluster's name
  NetworkSettings network;
  std::optional<TlsSettings> tls;
  NamingSettings naming;
  std::map<std::string, NodeGroup> groups;  // at least one
  std::string default_group;                // for nodes not declared otherwise
  std::vector<DeclaredNode> nodes;
  OpenMosixSettings openmosix;

  const NodeGroup& GroupOf(const DeclaredNode& node) const;
  // The fixed address of the node with `index`, if the profile assigns one.
  std::optional<Ipv4> AddressFor(int index) const;
};

// Parses and validates. `file_name` is used in messages.
Result<ClusterProfile> ParseClusterProfile(std::string_view yaml, std::string_view file_name);
Result<ClusterProfile> LoadClusterProfile(const std::string& path);

}  // namespace gc
