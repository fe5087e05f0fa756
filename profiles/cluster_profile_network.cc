// The cluster profile's network section (docs/cluster-profile.md): the
// interface, subnet, server address, HTTP port, DHCP mode with its pool and
// lease time, and the fixed node addresses. The rest of the profile is read
// in cluster_profile.cc.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "profiles/cluster_profile.h"
#include "profiles/cluster_profile_internal.h"
#include "profiles/yaml_reader.h"

namespace gc {

namespace cluster_profile_internal {

Result<Ipv4> Parser::Address(const Field& field) {
  GC_ASSIGN_OR_RETURN(std::string text, yaml_.Text(field, "an IPv4 address like 10.77.0.1"));
  auto address = ParseIpv4(text);
  if (!address.ok()) return Error(field, address.status().message());
  return *address;
}

// An address range for hosts of the subnet that leaves the server out.
Result<Ipv4Range> Parser::Range(const Field& field, const NetworkSettings& net) {
  GC_ASSIGN_OR_RETURN(std::string text, yaml_.Text(field, "an address range FIRST-LAST"));
  auto range = ParseIpv4Range(text);
  if (!range.ok()) return Error(field, range.status().message());
  Ipv4 mask = ~uint32_t{0} << (32 - net.prefix_length);
  Ipv4 broadcast = net.subnet | ~mask;
  std::string subnet = FormatIpv4(net.subnet) + "/" + std::to_string(net.prefix_length);
  for (Ipv4 end : {range->first, range->last}) {
    if ((end & mask) != net.subnet) {
      return Error(field, FormatIpv4(end) + " is outside network.subnet " + subnet +
                              " (expected addresses of that subnet)");
    }
  }
  if (range->Contains(net.subnet) || range->Contains(broadcast)) {
    return Error(field, FormatIpv4Range(*range) + " includes the network or broadcast address of " +
                            subnet + " (expected host addresses only)");
  }
  if (range->Contains(net.server)) {
    return Error(field, FormatIpv4Range(*range) + " contains network.server " +
                            FormatIpv4(net.server) + " (leave the server's address out)");
  }
  return *range;
}

// "10.77.0.0/24": the network address and a prefix length leaving room for
// a server and nodes.
Status Parser::ParseSubnet(const Field& field, NetworkSettings* net) {
  GC_ASSIGN_OR_RETURN(std::string cidr, yaml_.Text(field, "a network like 10.77.0.0/24"));
  size_t slash = cidr.find('/');
  int64_t bits = 0;
  auto base = ParseIpv4(std::string_view(cidr).substr(0, slash));
  if (slash == std::string::npos || !base.ok() ||
      !ParsePlainDecimal(cidr.substr(slash + 1), &bits)) {
    return Error(field,
                 QuoteValue(cidr) + " is not a network (expected ADDRESS/BITS like 10.77.0.0/24)");
  }
  if (bits < 8 || bits > 30) {
    return Error(field, "prefix length /" + std::to_string(bits) +
                            " is out of range (expected /8 to /30: room for a server and nodes)");
  }
  net->prefix_length = static_cast<int>(bits);
  Ipv4 mask = ~uint32_t{0} << (32 - bits);
  if (*base & ~mask) {
    return Error(field, QuoteValue(cidr) + " has host bits set (expected the network address: " +
                            FormatIpv4(*base & mask) + "/" + std::to_string(bits) + ")");
  }
  net->subnet = *base;
  return Status::Ok();
}

Status Parser::ParseNetwork(const Field& field, NetworkSettings* net) {
  GC_ASSIGN_OR_RETURN(Section s, yaml_.Map(field, {"interface", "server", "http_port", "https_port",
                                                   "subnet", "dhcp", "node_addresses"}));
  GC_ASSIGN_OR_RETURN(const Field* f,
                      yaml_.Require(s, "interface", "the interface dnsmasq serves on, e.g. br0"));
  GC_ASSIGN_OR_RETURN(net->interface, yaml_.Text(*f, "an interface name"));
  const std::string& name = net->interface;
  if (name.empty() || name.size() > 15 || name == "." || name == ".." ||
      !std::all_of(name.begin(), name.end(), [](char c) { return IsStoreNameChar(c); })) {
    return Error(*f, QuoteValue(name) +
                         " is not an interface name (expected 1 to 15 letters, digits, '.', '_' "
                         "or '-', as `ip link` shows it)");
  }

  GC_ASSIGN_OR_RETURN(f, yaml_.Require(s, "subnet",
                                       "the cluster network in CIDR form, e.g. "
                                       "10.77.0.0/24"));
  GC_RETURN_IF_ERROR(ParseSubnet(*f, net));
  // Canonical: ParseSubnet refuses leading zeros, so this is the text as written.
  std::string cidr = FormatIpv4(net->subnet) + "/" + std::to_string(net->prefix_length);
  Ipv4 mask = ~uint32_t{0} << (32 - net->prefix_length);

  GC_ASSIGN_OR_RETURN(f, yaml_.Require(s, "server", "this server's address on the interface"));
  GC_ASSIGN_OR_RETURN(net->server, Address(*f));
  if ((net->server & mask) != net->subnet) {
    return Error(*f, FormatIpv4(net->server) + " is outside network.subnet " + cidr +
                         " (expected this server's address on that subnet)");
  }
  if (net->server == net->subnet || net->server == (net->subnet | ~mask)) {
    return Error(*f, FormatIpv4(net->server) + " is the network or broadcast address of " + cidr +
                         " (expected a host address)");
  }
  if ((f = s.Get("http_port"))) {
    GC_ASSIGN_OR_RETURN(net->http_port, yaml_.Number(*f, 1, 65535));
  }
  if ((f = s.Get("https_port"))) {
    GC_ASSIGN_OR_RETURN(net->https_port, yaml_.Number(*f, 1, 65535));
  }
  if (net->https_port == net->http_port) {
    const Field* at = f ? f : s.Get("http_port");
    return Error(at ? *at : field, "http_port and https_port are both " +
                                       std::to_string(net->http_port) +
                                       " (plain HTTP for firmware and TLS for nodes need a "
                                       "port each)");
  }

  GC_ASSIGN_OR_RETURN(f,
                      yaml_.Require(s, "dhcp",
                                    "mode: authoritative (goldcast's DHCP hands out addresses) or "
                                    "mode: proxy (another DHCP server does)"));
  GC_RETURN_IF_ERROR(ParseDhcp(*f, net));

  f = s.Get("node_addresses");
  if (net->dhcp_mode == DhcpMode::kProxy) {
    if (f) {
      return Error(*f,
                   "not allowed with network.dhcp.mode proxy (the other DHCP server hands out "
                   "addresses; remove node_addresses)");
    }
    return Status::Ok();
  }
  if (!f) {
    return yaml_.Missing(s, "node_addresses",
                         "the fixed addresses for named nodes in boot order, e.g. "
                         "10.77.0.101-10.77.0.199");
  }
  GC_ASSIGN_OR_RETURN(Ipv4Range range, Range(*f, *net));
  if (range.first <= net->pool->last && net->pool->first <= range.last) {
    return Error(*f, FormatIpv4Range(range) + " overlaps network.dhcp.pool " +
                         FormatIpv4Range(*net->pool) +
                         " (the pool is for machines not yet named: use separate addresses)");
  }
  net->node_addresses = range;
  return Status::Ok();
}

Status Parser::ParseDhcp(const Field& field, NetworkSettings* net) {
  GC_ASSIGN_OR_RETURN(Section s, yaml_.Map(field, {"mode", "pool", "lease_time"}));
  GC_ASSIGN_OR_RETURN(const Field* f, yaml_.Require(s, "mode", "authoritative or proxy"));
  GC_ASSIGN_OR_RETURN(std::string mode, yaml_.Text(*f, "authoritative or proxy"));
  auto parsed = ParseDhcpMode(mode);
  if (!parsed.ok()) return Error(*f, parsed.status().message());
  net->dhcp_mode = *parsed;
  bool proxy = net->dhcp_mode == DhcpMode::kProxy;
  const char* proxy_note = " (in proxy mode the other DHCP server hands out addresses; remove ";
  f = s.Get("pool");
  if (proxy && f) return Error(*f, std::string("not allowed with mode proxy") + proxy_note + "it)");
  if (!proxy) {
    if (!f) {
      return yaml_.Missing(s, "pool",
                           "the dynamic addresses for machines not yet named, e.g. "
                           "10.77.0.200-10.77.0.250");
    }
    GC_ASSIGN_OR_RETURN(net->pool, Range(*f, *net));
  }
  if ((f = s.Get("lease_time"))) {
    if (proxy) return Error(*f, std::string("not allowed with mode proxy") + proxy_note + "it)");
    GC_ASSIGN_OR_RETURN(net->lease_time, yaml_.Text(*f, "a lease time like 1h"));
    const std::string& t = net->lease_time;
    int64_t amount = 0;
    bool ok =
        t == "infinite" ||
        (t.size() >= 2 && std::string_view("smhd").find(t.back()) != std::string::npos &&
         ParsePlainDecimal(std::string_view(t).substr(0, t.size() - 1), &amount) && amount > 0);
    if (!ok) {
      return Error(*f, QuoteValue(t) +
                           " is not a lease time (expected a positive number with s, m, h or d, "
                           "like 45m or 12h, or infinite)");
    }
  }
  return Status::Ok();
}

}  // namespace cluster_profile_internal

}  // namespace gc
