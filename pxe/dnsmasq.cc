#include "pxe/dnsmasq.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <bit>
#include <filesystem>
#include <memory>

#include "common/env.h"
#include "common/hash.h"

namespace gc {

namespace {

constexpr const char* kIpxeBinaries[] = {"undionly.kpxe", "snponly.efi", "ipxe.efi"};

std::string Netmask(int prefix_length) {
  Ipv4 mask = prefix_length <= 0 ? 0 : ~Ipv4{0} << (32 - std::min(prefix_length, 32));
  return FormatIpv4(mask);
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The common part of both modes: no DNS, only the one interface, no system
// files, and an unprivileged user once the ports are bound.
void RenderBase(const ClusterProfile& profile, const DnsmasqFiles& files, std::string* out) {
  const std::string& iface = profile.network.interface;
  *out += "# DNS off: this dnsmasq serves DHCP and TFTP only.\n";
  *out += "port=0\n";
  // bind-interfaces: sockets on this interface's addresses only, so a
  // system dnsmasq (or another goldcast) on other interfaces is unaffected.
  *out += "interface=" + iface + "\n";
  *out += "bind-interfaces\n";
  *out += "except-interface=lo\n";
  *out += "no-resolv\n";
  *out += "no-hosts\n";
  *out += "user=" + std::string(kDnsmasqUser) + "\n";
  // No /run/dnsmasq.pid: goldcast knows the pid, and a system dnsmasq may
  // own that file.
  *out += "pid-file\n";
  *out += "dhcp-leasefile=" + files.leases + "\n";
  *out += "log-dhcp\n";
  *out += "log-facility=" + files.log + "\n";
  *out += "enable-tftp\n";
  *out += "tftp-root=" + files.tftp_root + "\n";
  // Only files owned by dnsmasq's user are served (PrepareTftpRoot gives
  // it the iPXE binaries).
  *out += "tftp-secure\n";
}

// Tags shared by both modes: `ipxe` for clients already running iPXE (user
// class "iPXE", or iPXE's option 175), `efi64` for x86-64 UEFI firmware.
void RenderTags(std::string* out) {
  *out += "dhcp-userclass=set:ipxe,iPXE\n";
  *out += "dhcp-match=set:ipxe,175\n";
  *out += "dhcp-match=set:efi64,option:client-arch,7\n";
  *out += "dhcp-match=set:efi64,option:client-arch,9\n";
}

// Debian keeps dnsmasq in /usr/sbin, which is not in a normal user's PATH.
std::string DnsmasqProgram() {
  return ::access("/usr/sbin/dnsmasq", X_OK) == 0 ? "/usr/sbin/dnsmasq" : "dnsmasq";
}

std::string BootUrl(const ClusterProfile& profile) {
  return "http://" + FormatIpv4(profile.network.server) + ":" +
         std::to_string(profile.network.http_port) + "/boot/start.ipxe";
}

void RenderAuthoritative(const ClusterProfile& profile, const DnsmasqFiles& files,
                         const DnsmasqOptions& options, std::string* out) {
  const NetworkSettings& net = profile.network;
  std::string server = FormatIpv4(net.server);
  std::string mask = Netmask(net.prefix_length);
  *out += "# Authoritative: the only DHCP server on this network.\n";
  *out += "dhcp-authoritative\n";
  if (net.pool) {
    *out += "dhcp-range=" + FormatIpv4(net.pool->first) + "," + FormatIpv4(net.pool->last) + "," +
            mask + "," + net.lease_time + "\n";
  } else {
    // Without a pool only hosts of the hosts file get an address; dnsmasq
    // still needs a range to serve the subnet at all.
    *out +=
        "dhcp-range=" + FormatIpv4(net.subnet) + ",static," + mask + "," + net.lease_time + "\n";
  }
  // Named nodes: "MAC,IP,NAME" lines in the files of a directory; new
  // files are read as they appear, all of them again on SIGHUP.
  *out += "dhcp-hostsdir=" + files.hosts_dir + "\n";
  // dnsmasq would ping every new address for 3 s before offering it.
  *out += "no-ping\n";
  if (!profile.naming.domain.empty()) *out += "domain=" + profile.naming.domain + "\n";
  // No router and no DNS server: goldcast routes nothing and resolves
  // nothing, and must never become a node's way out.
  *out += "dhcp-option=option:router\n";
  *out += "dhcp-option=option:dns-server\n";
  if (!options.ipv6_ra_prefix.empty()) {
    // iPXE configures IPv6 beside IPv4 and waits for a router
    // advertisement; router lifetime 0 makes it no default route.
    *out += "enable-ra\n";
    *out += "dhcp-range=" + options.ipv6_ra_prefix + ",ra-only,64," + net.lease_time + "\n";
    *out += "ra-param=" + net.interface + ",10,0\n";
  }
  RenderTags(out);
  *out += "dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe,," + server + "\n";
  *out += "dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi,," + server + "\n";
  *out += "dhcp-boot=tag:ipxe," + BootUrl(profile) + "\n";
  // PXE discovery control 8: boot the file name at once, without waiting
  // ~3 s for ProxyDHCP offers that will not come.
  *out += "dhcp-option=vendor:PXEClient,6,8\n";
}

void RenderProxy(const ClusterProfile& profile, std::string* out) {
  const NetworkSettings& net = profile.network;
  *out += "# Proxy-DHCP: another server hands out addresses; this one only adds\n";
  *out += "# the PXE boot information. No dhcp-authoritative, no fixed addresses.\n";
  *out += "dhcp-range=" + FormatIpv4(net.subnet) + ",proxy," + Netmask(net.prefix_length) + "\n";
  RenderTags(out);
  // Firmware PXE clients get a one-entry PXE menu naming the iPXE binary
  // (with its suffix, so no ".0" is added); one entry boots without a
  // prompt, and for UEFI dnsmasq answers the port-4011 request directly.
  *out += "pxe-service=tag:!ipxe,x86PC,\"goldcast (BIOS)\",undionly.kpxe\n";
  *out += "pxe-service=tag:!ipxe,X86-64_EFI,\"goldcast (UEFI)\",snponly.efi\n";
  *out += "pxe-service=tag:!ipxe,BC_EFI,\"goldcast (UEFI)\",snponly.efi\n";
  // iPXE clients match no pxe-service, so dnsmasq answers them with
  // discovery control 8 and this file name (the script URL). The next-server
  // field matters: iPXE takes a ProxyDHCP offer as it is only if it has both
  // a next-server and a file name; otherwise it sends a ProxyDHCPREQUEST to
  // port 4011 and (iPXE 1.0.0+git-20190125, BIOS) never accepts the answer:
  // "Nothing to boot". UEFI offers get next-server anyway (port-4011
  // redirect), BIOS ones only from here.
  *out += "dhcp-boot=tag:ipxe," + BootUrl(profile) + ",," + FormatIpv4(net.server) + "\n";
}

}  // namespace

DnsmasqFiles DnsmasqFilesIn(const std::string& state_dir, const std::string& runtime_base) {
  std::string dir = JoinPath(state_dir, "pxe");
  DnsmasqFiles files;
  files.config = JoinPath(dir, "dnsmasq.conf");
  files.leases = JoinPath(dir, "dnsmasq.leases");
  files.log = JoinPath(dir, "dnsmasq.log");
  // One per state directory, so several serves (tests) never share one.
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(state_dir, ec);
  std::string normal = ec ? state_dir : absolute.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  std::string key = Sha256Hex(normal);
  files.runtime_dir = JoinPath(runtime_base, "pxe-" + key.substr(0, 16));
  files.hosts_dir = JoinPath(files.runtime_dir, "hosts.d");
  files.tftp_root = JoinPath(files.runtime_dir, "tftp");
  return files;
}

std::string RenderDnsmasqConfig(const ClusterProfile& profile, const DnsmasqFiles& files,
                                const DnsmasqOptions& options) {
  std::string out = "# dnsmasq configuration written by goldcast serve from " + profile.path +
                    ".\n# Rewritten at every start: change the profile, not this file.\n";
  RenderBase(profile, files, &out);
  if (profile.network.dhcp_mode == DhcpMode::kAuthoritative) {
    RenderAuthoritative(profile, files, options, &out);
  } else {
    RenderProxy(profile, &out);
  }
  return out;
}

std::optional<std::string> FindUlaPrefix(const std::string& interface) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> owner(list, &::freeifaddrs);
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_netmask == nullptr) continue;
    if (it->ifa_addr->sa_family != AF_INET6 || interface != it->ifa_name) continue;
    in6_addr address = reinterpret_cast<const sockaddr_in6*>(it->ifa_addr)->sin6_addr;
    const in6_addr& mask = reinterpret_cast<const sockaddr_in6*>(it->ifa_netmask)->sin6_addr;
    if ((address.s6_addr[0] & 0xfe) != 0xfc) continue;  // not fc00::/7
    int length = 0;
    for (uint8_t byte : mask.s6_addr) length += std::popcount(byte);
    if (length != 64) continue;  // SLAAC, and so the RA prefix, needs a /64
    for (int i = 8; i < 16; ++i) address.s6_addr[i] = 0;
    char text[INET6_ADDRSTRLEN];
    if (::inet_ntop(AF_INET6, &address, text, sizeof text) == nullptr) continue;
    return std::string(text);
  }
  return std::nullopt;
}

Status PrepareTftpRoot(const std::string& tftp_root, const std::string& ipxe_dir, int owner) {
  Env* env = Env::Default();
  for (const char* name : kIpxeBinaries) {
    std::string source = JoinPath(ipxe_dir, name);
    if (!env->Exists(source)) {
      return NotFound("iPXE binary " + source +
                      " is missing: install the Debian package ipxe (apt-get install ipxe)");
    }
  }
  GC_RETURN_IF_ERROR(env->CreateDirs(tftp_root));
  for (const char* name : kIpxeBinaries) {
    std::string source = JoinPath(ipxe_dir, name);
    GC_ASSIGN_OR_RETURN(std::string data, env->ReadFile(source));
    std::string target = JoinPath(tftp_root, name);
    GC_RETURN_IF_ERROR(env->WriteFileAtomic(target, data));
    if (owner >= 0 &&
        ::chown(target.c_str(), static_cast<uid_t>(owner), static_cast<gid_t>(-1)) != 0) {
      return ErrnoError("give " + target + " to dnsmasq's user");
    }
  }
  return Status::Ok();
}

std::vector<std::string> DnsmasqCommand(const DnsmasqFiles& files) {
  return {DnsmasqProgram(), "--keep-in-foreground", "--conf-file=" + files.config};
}

Status CheckDnsmasqConfig(ProcessRunner* runner, const std::string& config) {
  Result<ProcessResult> result = runner->Run({DnsmasqProgram(), "--test", "--conf-file=" + config});
  if (!result.ok()) {
    if (result.status().code() == Code::kNotFound) {
      return NotFound("dnsmasq is not installed: install the Debian package dnsmasq " +
                      std::string("(apt-get install dnsmasq)"));
    }
    return result.status().WithContext("check dnsmasq config " + config);
  }
  if (result->exit_code != 0) {
    std::string message = Trim(result->stderr_text + result->stdout_text);
    return InvalidArgument("dnsmasq rejects the config " + config + " (exit " +
                           std::to_string(result->exit_code) + "): " + message);
  }
  return Status::Ok();
}

}  // namespace gc
