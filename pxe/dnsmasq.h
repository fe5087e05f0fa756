// dnsmasq as goldcast runs it: the config file (DHCP or proxy-DHCP, TFTP with
// only the iPXE binaries, the iPXE chain to goldcast's HTTP boot script), the
// host list (a directory HostsSync keeps, pxe/hosts_sync.h), the check with
// `dnsmasq --test`, and the TFTP root.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cluster/node_registry.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "profiles/cluster_profile.h"

namespace gc {

// dnsmasq starts as root (to bind DHCP and TFTP ports) and then runs as an
// unprivileged user, kDnsmasqUser. What it opens at its start (config,
// leases, log) stays in STATE/pxe/; what it reads later as that user (the
// host list, the TFTP files on each request) lives in a runtime
// directory it can reach, since the state directory is root's alone.
// Nothing there is secret: MACs, addresses, names, the iPXE binaries.
struct DnsmasqFiles {
  std::string config;       // STATE/pxe/dnsmasq.conf (written)
  std::string leases;       // STATE/pxe/dnsmasq.leases
  std::string log;          // STATE/pxe/dnsmasq.log
  std::string runtime_dir;  // RUNTIME/pxe-<hash of STATE>
  std::string hosts_dir;    // RUNTIME/.../hosts.d: dhcp-hostsdir (pxe/hosts_sync.h)
  std::string tftp_root;    // RUNTIME/.../tftp: holds only the iPXE binaries
};

// The user dnsmasq runs as once its ports are bound (Debian's dnsmasq
// package makes it).
constexpr char kDnsmasqUser[] = "dnsmasq";

// The layout for `state_dir`; the runtime directory goes under
// `runtime_base` (/run/goldcast), one per state directory.
DnsmasqFiles DnsmasqFilesIn(const std::string& state_dir,
                            const std::string& runtime_base = "/run/goldcast");

struct DnsmasqOptions {
  // A /64 IPv6 ULA prefix on the interface ("fd77::"), or empty. When set
  // (and only in authoritative mode), dnsmasq sends router advertisements
  // for it with router lifetime 0, so iPXE's IPv6 autoconfiguration ends at
  // once instead of waiting ~13 s for a router. Never in proxy mode: the
  // network belongs to another DHCP server and its hosts would configure
  // addresses from our prefix. FindUlaPrefix(interface) fills it.
  std::string ipv6_ra_prefix;
};

// The config for the profile. Clients without the iPXE user class get the
// iPXE binary for their firmware over TFTP (undionly.kpxe for BIOS,
// snponly.efi for UEFI); iPXE clients get http://SERVER:PORT/boot/start.ipxe.
// Run it as `dnsmasq --keep-in-foreground --conf-file=CONFIG`; it reads new
// files in the hosts directory by itself, and all of them again on SIGHUP.
std::string RenderDnsmasqConfig(const ClusterProfile& profile, const DnsmasqFiles& files,
                                const DnsmasqOptions& options = {});

// The network of the first IPv6 ULA (fc00::/7) with prefix length 64 on
// `interface`, as dnsmasq wants it ("fd77::"); nullopt if there is none.
std::optional<std::string> FindUlaPrefix(const std::string& interface);

// Copies the iPXE binaries from the ipxe package into the TFTP root, owned
// by `owner` (dnsmasq's tftp-secure serves only files of its own user; -1
// leaves them the caller's). Missing binaries are an error naming the
// package to install.
Status PrepareTftpRoot(const std::string& tftp_root, const std::string& ipxe_dir = "/usr/lib/ipxe",
                       int owner = -1);

// argv of the supervised dnsmasq: in the foreground (so the pid is the
// daemon's), reading only this config (not /etc/dnsmasq.conf nor
// /etc/dnsmasq.d). Errors before its log opens (unknown interface, address
// in use) go to stderr: ChildProcess::Start(DnsmasqCommand(files), files.log).
std::vector<std::string> DnsmasqCommand(const DnsmasqFiles& files);

// Runs `dnsmasq --test --conf-file=CONFIG`; a failure quotes dnsmasq's
// message. dnsmasq not installed is an error naming the package.
Status CheckDnsmasqConfig(ProcessRunner* runner, const std::string& config);

}  // namespace gc
