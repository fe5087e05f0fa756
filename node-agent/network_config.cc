#include "node-agent/network_config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <bit>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>
#include <vector>

#include "common/beneath.h"
#include "common/list_dir.h"
#include "common/log.h"
#include "common/text.h"

namespace gc {

namespace {

// ROOT/relative exists (as anything, a dangling symlink too), symlinks on
// the way resolved inside ROOT: a merged-/usr image's sbin/ifup is
// usr/sbin/ifup.
bool ExistsBeneath(const std::string& root, const std::string& relative) {
  size_t slash = relative.rfind('/');
  std::string parent = slash == std::string::npos ? "." : relative.substr(0, slash);
  auto resolved = ResolveInRoot(root, parent);
  struct stat st;
  return resolved.ok() &&
         ::lstat((root + "/" + *resolved + "/" + relative.substr(slash + 1)).c_str(), &st) == 0;
}

bool HasNetworkFile(const std::string& root) {
  auto dir = OpenDirBeneath(root, "etc/systemd/network", false);
  if (!dir.ok()) return false;
  auto names = ListDirFd(dir->get(), root + "/etc/systemd/network");
  if (!names.ok()) return false;
  for (const auto& name : *names) {
    if (name.size() > 8 && name.compare(name.size() - 8, 8, ".network") == 0) return true;
  }
  return false;
}

std::vector<std::string> Words(std::string_view line) {
  std::stringstream in{std::string(line)};
  std::vector<std::string> words;
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

// The first words of interfaces(5) stanzas; other lines are options of the
// stanza above them.
bool StartsStanza(const std::string& word) {
  static const std::set<std::string> kKeywords = {"iface",        "mapping",          "auto",
                                                  "source",       "source-directory", "rename",
                                                  "no-auto-down", "no-scripts"};
  return kKeywords.count(word) > 0 || word.rfind("allow-", 0) == 0;
}

std::string FormatMac(const unsigned char* bytes, size_t size) {
  std::string mac;
  bool zero = true;
  for (size_t k = 0; k < size; ++k) {
    char part[4];
    std::snprintf(part, sizeof part, "%s%02x", k == 0 ? "" : ":", bytes[k]);
    mac += part;
    zero = zero && bytes[k] == 0;
  }
  return zero ? "" : mac;  // loopback's all-zero MAC names no NIC
}

}  // namespace

NetworkStyle DetectNetworkStyle(const std::string& root) {
  if (HasNetworkFile(root) ||
      ExistsBeneath(root, "etc/systemd/system/multi-user.target.wants/systemd-networkd.service")) {
    return NetworkStyle::kNetworkd;
  }
  if (ExistsBeneath(root, "etc/network/interfaces") && ExistsBeneath(root, "sbin/ifup")) {
    return NetworkStyle::kIfupdown;
  }
  return NetworkStyle::kUnknown;
}

std::string DefaultGateway(std::string_view route_text, const std::string& interface) {
  std::stringstream lines{std::string(route_text)};
  std::string line;
  while (std::getline(lines, line)) {
    // Iface Destination Gateway Flags ...: hex in the kernel's byte order.
    std::vector<std::string> fields = Words(line);
    if (fields.size() < 3 || fields[0] != interface || fields[1] != "00000000") continue;
    in_addr gateway{};
    gateway.s_addr = static_cast<uint32_t>(std::strtoul(fields[2].c_str(), nullptr, 16));
    if (gateway.s_addr == 0) continue;
    char text[INET_ADDRSTRLEN];
    return ::inet_ntop(AF_INET, &gateway, text, sizeof text) ? text : "";
  }
  return "";
}

Result<NodeAddress> FindNodeAddress(const std::string& ip, std::string_view route_text) {
  in_addr wanted{};
  if (::inet_pton(AF_INET, ip.c_str(), &wanted) != 1) {
    return InvalidArgument("node address '" + ip + "' is not an IPv4 address");
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return ErrnoError("getifaddrs");
  std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> owner(list, &::freeifaddrs);
  NodeAddress found;
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
    auto* addr = reinterpret_cast<sockaddr_in*>(it->ifa_addr);
    if (addr->sin_addr.s_addr != wanted.s_addr) continue;
    found.interface = it->ifa_name;
    found.ip = ip;
    if (it->ifa_netmask != nullptr) {
      uint32_t mask = reinterpret_cast<sockaddr_in*>(it->ifa_netmask)->sin_addr.s_addr;
      found.prefix = std::popcount(mask);
    }
  }
  if (found.interface.empty()) return NotFound("no local interface has address " + ip);
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_PACKET ||
        found.interface != it->ifa_name) {
      continue;
    }
    auto* link = reinterpret_cast<sockaddr_ll*>(it->ifa_addr);
    found.mac = FormatMac(link->sll_addr, std::min<size_t>(link->sll_halen, 8));
  }
  found.gateway = DefaultGateway(route_text, found.interface);
  return found;
}

std::string NetworkdFile(const NodeAddress& address) {
  std::string text =
      "# Written by goldcast-agent install: this node's address (the one the goldcast\n"
      "# server's DHCP hands to this MAC), static so the node keeps it without DHCP.\n"
      "[Match]\n"
      "MACAddress=" +
      address.mac +
      "\n\n"
      "[Network]\n"
      "Address=" +
      address.ip + "/" + std::to_string(address.prefix) + "\n";
  if (!address.gateway.empty()) text += "Gateway=" + address.gateway + "\n";
  return text;
}

std::string RewriteInterfaces(std::string_view interfaces, const NodeAddress& address) {
  std::stringstream lines{std::string(interfaces)};
  std::string line, out;
  bool skipping = false;  // inside a stanza being replaced: drop its options
  while (std::getline(lines, line)) {
    std::vector<std::string> words = Words(line);
    bool comment = !words.empty() && words[0][0] == '#';
    if (words.empty() || comment) {
      out += line + "\n";
      continue;
    }
    if (StartsStanza(words[0])) skipping = false;
    if (skipping) continue;
    if (words[0] == "iface" && words.size() >= 4 && words[1] != "lo" && words[2] == "inet") {
      out += "# goldcast-agent install: this node's address (the server's DHCP hands it by MAC)\n";
      out += "iface " + words[1] + " inet static\n\taddress " + address.ip + "/" +
             std::to_string(address.prefix) + "\n";
      if (!address.gateway.empty()) out += "\tgateway " + address.gateway + "\n";
      skipping = true;
      continue;
    }
    out += line + "\n";
  }
  return out;
}

Status WriteNetworkConfig(const std::string& root, const NodeAddress& address) {
  if (address.ip.empty() || address.prefix == 0 || address.mac.empty()) {
    // The plan names no address, or this machine's interfaces do not hold
    // it (an install into a directory): the image keeps its own (DHCP)
    // configuration, and the server's DHCP pins the address by MAC.
    GC_LOG(Info) << "network: no address with a known prefix and MAC for this node; " << root
                 << " keeps the image's network configuration (DHCP)";
    return Status::Ok();
  }
  switch (DetectNetworkStyle(root)) {
    case NetworkStyle::kNetworkd:
      return WriteFileBeneath(root, "etc/systemd/network/10-goldcast.network", 0644,
                              NetworkdFile(address));
    case NetworkStyle::kIfupdown: {
      GC_ASSIGN_OR_RETURN(std::string text, ReadFileBeneath(root, "etc/network/interfaces"));
      std::string rewritten = RewriteInterfaces(text, address);
      if (rewritten == text) {
        GC_LOG(Warning) << root << "/etc/network/interfaces configures no IPv4 interface: "
                        << "left as it is";
        return Status::Ok();
      }
      return WriteFileBeneath(root, "etc/network/interfaces", 0644, rewritten);
    }
    case NetworkStyle::kUnknown:
      break;
  }
  GC_LOG(Warning) << root << " uses neither systemd-networkd nor ifupdown: no network "
                  << "configuration written for " << address.ip;
  return Status::Ok();
}

}  // namespace gc
