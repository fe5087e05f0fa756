#include "server/serve.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "cluster/cluster_state.h"
#include "cluster/node_registry.h"
#include "cluster/target_resolver.h"
#include "common/env.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/manifest.h"
#include "common/tls.h"
#include "kernel-build/kernel_store.h"
#include "profiles/cluster_profile.h"
#include "pxe/boot_service.h"
#include "pxe/dnsmasq.h"
#include "pxe/dnsmasq_supervisor.h"
#include "pxe/hosts_sync.h"
#include "pxe/installer_cache.h"
#include "server/node_api.h"
#include "server/router.h"

namespace gc {

namespace {

volatile sig_atomic_t g_stop = 0;
void OnStopSignal(int) { g_stop = 1; }

// SIGTERM/SIGINT stop serve from the first moment: a stop during start-up
// must still stop dnsmasq and exit cleanly, never leave it behind. One
// descriptor per client during a boot storm: use the whole hard limit.
void PrepareProcess() {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  struct rlimit open_files;
  if (::getrlimit(RLIMIT_NOFILE, &open_files) == 0 && open_files.rlim_cur < open_files.rlim_max) {
    open_files.rlim_cur = open_files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &open_files);
  }
}

// The profile's interface must exist and carry the server address, or
// dnsmasq and the HTTP server would serve the wrong network (or none).
Status CheckInterface(const ClusterProfile& profile) {
  const NetworkSettings& network = profile.network;
  if (::if_nametoindex(network.interface.c_str()) == 0) {
    return NotFound(profile.path + ": network.interface '" + network.interface +
                    "' does not exist on this host (ip link shows the interfaces)");
  }
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return ErrnoError("getifaddrs");
  bool found = false;
  for (auto* item = list; item; item = item->ifa_next) {
    if (!item->ifa_addr || item->ifa_addr->sa_family != AF_INET) continue;
    if (network.interface != item->ifa_name) continue;
    auto* sin = reinterpret_cast<sockaddr_in*>(item->ifa_addr);
    if (ntohl(sin->sin_addr.s_addr) == network.server) found = true;
  }
  ::freeifaddrs(list);
  if (!found) {
    return InvalidArgument(profile.path + ": network.server " + FormatIpv4(network.server) +
                           " is not an address of interface '" + network.interface +
                           "' (add it with ip addr add, or fix the profile)");
  }
  return Status::Ok();
}

// A group that names a kernel not built yet is not fatal (it can be built
// while serve runs) but the admin should hear about it now.
void WarnAboutMissingKernels(const ClusterProfile& profile, const std::string& state_dir) {
  std::unique_ptr<KernelStore> store;
  for (const auto& [name, group] : profile.groups) {
    if (group.kernel.empty()) continue;
    if (!store) {
      auto opened = KernelStore::Open(state_dir, /*create=*/false);
      if (!opened.ok()) {
        GC_LOG(Warning) << "serve: group " << name << " names kernel " << group.kernel
                        << " but no kernel is built yet (goldcast kernel build --recipe ...)";
        continue;
      }
      store = std::move(opened).value();
    }
    auto ref = store->Resolve(group.kernel);
    if (!ref.ok()) GC_LOG(Warning) << "serve: group " << name << ": " << ref.status().message();
  }
}

// Writes dnsmasq's configuration and TFTP root for the profile and checks
// the configuration with `dnsmasq --test`.
Result<DnsmasqFiles> PrepareDnsmasq(const ClusterProfile& profile, const ServeOptions& options) {
  Env* env = Env::Default();
  DnsmasqFiles files = DnsmasqFilesIn(options.state_dir);
  struct passwd* user = ::getpwnam(kDnsmasqUser);
  if (user == nullptr) {
    return NotFound(std::string("no user '") + kDnsmasqUser +
                    "' for dnsmasq to run as: install the Debian package dnsmasq (apt-get "
                    "install dnsmasq), which makes it");
  }
  // Readable by dnsmasq's user (the state directory is not): the host list
  // and the iPXE binaries, nothing secret.
  GC_RETURN_IF_ERROR(env->CreateDirs(files.tftp_root));
  GC_RETURN_IF_ERROR(env->CreateDirs(files.hosts_dir));
  for (const std::string& dir : {files.runtime_dir, files.tftp_root, files.hosts_dir}) {
    if (::chmod(dir.c_str(), 0755) != 0) return ErrnoError("chmod " + dir);
  }
  GC_RETURN_IF_ERROR(
      PrepareTftpRoot(files.tftp_root, options.ipxe_dir, static_cast<int>(user->pw_uid)));
  DnsmasqOptions dnsmasq_options;
  if (auto prefix = FindUlaPrefix(profile.network.interface)) {
    dnsmasq_options.ipv6_ra_prefix = *prefix;
  } else if (profile.network.dhcp_mode == DhcpMode::kAuthoritative) {
    GC_LOG(Info) << "serve: " << profile.network.interface
                 << " has no IPv6 ULA; iPXE may wait ~13 s for router advertisements "
                    "(an address like fd77::1/64 on it avoids that)";
  }
  GC_RETURN_IF_ERROR(
      env->WriteFileAtomic(files.config, RenderDnsmasqConfig(profile, files, dnsmasq_options)));
  GC_RETURN_IF_ERROR(CheckDnsmasqConfig(ProcessRunner::Default(), files.config));
  return files;
}

// Each group's installer, built into BOOT_FILES/installers on the first
// install boot that needs it and served as /boot/files/installers/KEY/.
InstallerOptions InstallerOptionsFor(const ServeOptions& options, const std::string& boot_files) {
  InstallerOptions installer;
  installer.state_dir = options.state_dir;
  installer.cache_dir = JoinPath(boot_files, "installers");
  installer.agent_bundle = options.agent_bundle;
  installer.progress = [](const std::string& line) { GC_LOG(Info) << "serve: " << line; };
  return installer;
}

// The node API travels only over TLS: its secrets and images must not be
// readable on the wire. Its plain-HTTP side says where to go instead,
// before reading any body.
HttpResponse UseTls(const ClusterProfile& profile) {
  return HttpResponse::Text(
      403, "the node API is served over TLS only: " + NodeApiUrl(profile) + kNodeApiPrefix + "\n");
}

// Everything serve answers over HTTP, made once the registry is open.
struct Areas {
  Areas(const ClusterProfile& profile, NodeRegistry* registry, const ServeOptions& options,
        const std::string& boot_files, const std::string& pin)
      : resolver(profile, options.state_dir),
        installers(InstallerOptionsFor(options, boot_files)),
        boot(profile, registry, &resolver, &tokens, boot_files),
        node_api(profile, registry, &resolver, &tokens) {
    boot.SetServerPin(pin);
    double per_minute = options.new_machines_per_address;
    boot.SetNewMachineLimit({per_minute, std::max(1.0, per_minute)});
    boot.SetInstallerLookup([this](const GroupTarget& target) -> Result<InstallerUrls> {
      GC_ASSIGN_OR_RETURN(InstallerResult installer, installers.For(target));
      std::string base = "/boot/files/installers/" + installer.key;
      return InstallerUrls{base + "/vmlinuz", base + "/initrd.img"};
    });
    // The node API has its own methods (POST for reports and objects);
    // the boot service is read-only.
    router.Add(
        "node API", NodeApi::Handles, [this](const HttpRequest& r) { return node_api.Handle(r); },
        [this](const HttpRequest& head) { return node_api.Admit(head); });
    router.Add("boot", BootService::Handles,
               [this](const HttpRequest& r) { return boot.Handle(r); });
    HttpResponse use_tls = UseTls(profile);
    plain_router.Add(
        "node API", NodeApi::Handles, [use_tls](const HttpRequest&) { return use_tls; },
        [use_tls](const HttpRequest&) {
          return HttpAdmission{use_tls, 0};
        });
    plain_router.Add("boot", BootService::Handles,
                     [this](const HttpRequest& r) { return boot.Handle(r); });
  }

  TargetResolver resolver;  // one resolution for boot scripts, plans and drift
  InstallerCache installers;
  InstallTokens tokens;  // issued by boot scripts, redeemed through the node API
  BootService boot;
  NodeApi node_api;
  Router router;        // HTTPS: everything
  Router plain_router;  // HTTP: what firmware fetches (iPXE speaks no TLS here)
};

struct Servers {
  std::unique_ptr<HttpServer> plain, tls;
  void Stop() {
    if (plain) plain->Stop();
    if (tls) tls->Stop();
  }
};

// Both listeners, answering 503 until the areas exist. Each area says,
// before a body is read, who may send one and how much: only
// authenticated nodes, and only what their endpoint takes.
Result<Servers> StartHttp(const ClusterProfile& profile,
                          std::shared_ptr<std::unique_ptr<Areas>> areas, unsigned max_per_address,
                          const TlsIdentity& identity) {
  Servers servers;
  for (bool tls : {false, true}) {
    HttpServerOptions options;
    options.address = FormatIpv4(profile.network.server);
    options.port = tls ? profile.network.https_port : profile.network.http_port;
    options.max_connections_per_address = max_per_address;
    options.idle_timeout_s = 30;
    // A handler waiting for the registry's disk holds its thread: in a boot
    // storm of new machines a batch (one fsync) is as large as the threads
    // waiting, so more threads, more names per fsync.
    options.threads = 32;
    if (tls) {
      options.tls_cert_pem = identity.cert_pem;
      options.tls_key_pem = identity.key_pem;
    }
    auto router = [areas, tls]() -> const Router* {
      if (!*areas) return nullptr;
      return tls ? &(*areas)->router : &(*areas)->plain_router;
    };
    options.admit = [router](const HttpRequest& head) {
      const Router* r = router();
      if (!r) return HttpAdmission{HttpResponse::Text(503, "starting\n"), 0};
      return r->Admit(head);
    };
    GC_ASSIGN_OR_RETURN(auto server, HttpServer::Start(options, [router](const HttpRequest& r) {
                          const Router* chosen = router();
                          if (!chosen) return HttpResponse::Text(503, "starting\n");
                          return chosen->Handle(r);
                        }));
    (tls ? servers.tls : servers.plain) = std::move(server);
  }
  return servers;
}

// The profile's certificate and key, or the self-signed pair in
// STATE/tls (made on first start). Its pin goes to STATE/tls/pin: nodes
// get it from their boot script, an admin may want to compare it.
Result<TlsIdentity> LoadServeIdentity(const ClusterProfile& profile, const std::string& state_dir,
                                      std::string* pin) {
  std::string dir = JoinPath(state_dir, "tls");
  std::string address = FormatIpv4(profile.network.server);
  Result<TlsIdentity> identity = profile.tls ? LoadTlsIdentity(profile.tls->cert, profile.tls->key)
                                             : LoadOrCreateTlsIdentity(dir, address, {address});
  if (!identity.ok()) return identity.status().WithContext(profile.path + ": tls");
  GC_ASSIGN_OR_RETURN(*pin, PublishPin(dir, *identity));
  return identity;
}

void MainLoop(DnsmasqSupervisor* dnsmasq, HostsSync* hosts) {
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    dnsmasq->Tick();
    Result<bool> reload = hosts->Tick();
    if (!reload.ok()) {
      GC_LOG(Error) << "serve: cannot update dnsmasq's hosts: " << reload.status().message();
    } else if (*reload) {
      dnsmasq->Reload();
      GC_LOG(Debug) << "serve: a host changed or went away, dnsmasq reloaded";
    }
  }
}

}  // namespace

Status RunServe(const ServeOptions& options) {
  PrepareProcess();
  Env* env = Env::Default();
  GC_ASSIGN_OR_RETURN(ClusterProfile profile, LoadClusterProfile(options.profile_path));
  GC_RETURN_IF_ERROR(CheckInterface(profile));

  GC_RETURN_IF_ERROR(env->CreateDirs(JoinPath(options.state_dir, "pxe")));
  GC_ASSIGN_OR_RETURN(
      auto lock,
      FileLock::Acquire(JoinPath(options.state_dir, "serve.lock"), FileLock::Mode::kExclusive,
                        /*wait=*/false,
                        "another goldcast serve is running with --state " + options.state_dir));
  std::string boot_files =
      options.boot_files.empty() ? JoinPath(options.state_dir, "boot") : options.boot_files;
  GC_RETURN_IF_ERROR(env->CreateDirs(boot_files));
  GC_ASSIGN_OR_RETURN(DnsmasqFiles files, PrepareDnsmasq(profile, options));
  // Made again at every start; gone with serve (after dnsmasq, declared later).
  struct RemoveAtExit {
    std::string dir;
    ~RemoveAtExit() { (void)Env::Default()->RemoveTree(dir); }
  } runtime{files.runtime_dir};

  // The registry is opened only once everything that can be wrong with the
  // host has been checked, so a failed start leaves it untouched.
  // Declared before the server, so the server stops before they go.
  std::unique_ptr<NodeRegistry> registry;
  auto areas = std::make_shared<std::unique_ptr<Areas>>();
  std::string pin;
  GC_ASSIGN_OR_RETURN(TlsIdentity identity, LoadServeIdentity(profile, options.state_dir, &pin));
  GC_ASSIGN_OR_RETURN(Servers servers,
                      StartHttp(profile, areas, options.max_connections_per_address, identity));
  GC_ASSIGN_OR_RETURN(registry, NodeRegistry::Open(RegistryPath(options.state_dir), profile));
  GC_ASSIGN_OR_RETURN(std::string profile_text, env->ReadFile(options.profile_path));
  GC_RETURN_IF_ERROR(env->WriteFileAtomic(ActiveProfilePath(options.state_dir), profile_text));
  *areas = std::make_unique<Areas>(profile, registry.get(), options, boot_files, pin);
  WarnAboutMissingKernels(profile, options.state_dir);

  HostsSync hosts(registry.get(), files.hosts_dir);
  GC_RETURN_IF_ERROR(hosts.Start());
  DnsmasqSupervisor dnsmasq(files);
  GC_RETURN_IF_ERROR(dnsmasq.Start());

  GC_LOG(Info) << "serve: cluster " << profile.cluster << " on "
               << profile.network.interface << ", " << ServerUrl(profile) << "/ (firmware), "
               << NodeApiUrl(profile) << "/ (nodes, TLS key " << pin << "), DHCP "
               << DhcpModeName(profile.network.dhcp_mode);
  MainLoop(&dnsmasq, &hosts);
  GC_LOG(Info) << "serve: stopping";
  servers.Stop();
  dnsmasq.Stop();
  return Status::Ok();
}

}  // namespace gc
