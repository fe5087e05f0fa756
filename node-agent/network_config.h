// The node's network configuration, in the format its image uses: a
// systemd-networkd .network file or ifupdown's /etc/network/interfaces.
// The installer knows the node's address (the plan's ip); the prefix, the
// gateway and the NIC's MAC it learns from the interface that DHCP gave
// that address (dnsmasq pins it by MAC), so the installed node keeps the
// same address even without the server's DHCP.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace gc {

enum class NetworkStyle { kUnknown, kNetworkd, kIfupdown };

// Which network configuration the tree at `root` uses: networkd when it has
// etc/systemd/network/*.network or enables systemd-networkd.service for
// multi-user.target; else ifupdown when it has etc/network/interfaces and
// sbin/ifup; else unknown (nothing is written).
NetworkStyle DetectNetworkStyle(const std::string& root);

struct NodeAddress {
  std::string interface;  // as the installer's kernel names it, e.g. "eth0"
  std::string mac;        // "52:54:00:12:34:56"
  std::string ip;         // "10.77.0.11"
  int prefix = 0;         // 24; 0 = unknown
  std::string gateway;    // "" = none
};

// The local interface holding `ip`, with its MAC and prefix, and the
// default gateway through it from `route_text` (/proc/net/route). kNotFound
// when no interface has the address (an install into a directory).
Result<NodeAddress> FindNodeAddress(const std::string& ip, std::string_view route_text);

// The default gateway on `interface` in /proc/net/route's text, "" if none.
std::string DefaultGateway(std::string_view route_text, const std::string& interface);

// systemd-networkd: the node's NIC by MAC, its address and gateway.
std::string NetworkdFile(const NodeAddress& address);

// ifupdown: `interfaces` with every non-loopback "iface NAME inet ..."
// stanza made static with the node's address (the golden client's NIC
// name: the nodes are alike). Other lines stay; nothing to rewrite leaves
// the text as it was.
std::string RewriteInterfaces(std::string_view interfaces, const NodeAddress& address);

// Writes the node's address beneath `root` in the image's format:
// networkd: etc/systemd/network/10-goldcast.network (sorts before the
// image's own files, so it wins for this NIC); ifupdown: etc/network/
// interfaces rewritten. Without a known prefix or MAC nothing is written:
// the image's DHCP config stays, and dnsmasq hands the node its address by
// MAC all the same.
Status WriteNetworkConfig(const std::string& root, const NodeAddress& address);

}  // namespace gc
