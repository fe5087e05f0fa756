#include "imager/serve.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "common/child_process.h"
#include "common/env.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/manifest.h"
#include "imager/drift.h"
#include "imager/node_api.h"
#include "kernel-build/kernel_store.h"
#include "profiles/cluster_profile.h"
#include "pxe/boot_script.h"
#include "pxe/dnsmasq.h"
#include "pxe/node_registry.h"

namespace gc {

namespace {

volatile sig_atomic_t g_stop = 0;
void OnStopSignal(int) { g_stop = 1; }

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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

std::string LogTail(const std::string& path) {
  auto text = Env::Default()->ReadFile(path);
  if (!text.ok()) return "";
  std::string tail = text->size() > 600 ? text->substr(text->size() - 600) : *text;
  return tail;
}

// Keeps dnsmasq running: restarts it with growing pauses when it dies,
// and asks it to re-read the hosts file with SIGHUP.
class DnsmasqSupervisor {
 public:
  explicit DnsmasqSupervisor(DnsmasqFiles files) : files_(std::move(files)) {}

  Status Start() {
    GC_ASSIGN_OR_RETURN(child_,
                        ChildProcess::Start(DnsmasqCommand(files_), files_.log + ".stderr"));
    started_ = std::chrono::steady_clock::now();
    // dnsmasq fails at once on bind or permission errors: report them now.
    if (auto status = child_->Wait(std::chrono::milliseconds(300))) {
      return Internal("dnsmasq exited with status " + std::to_string(*status) +
                      " right after starting: " + LogTail(files_.log + ".stderr"));
    }
    GC_LOG(Info) << "serve: dnsmasq running (pid " << child_->pid() << ")";
    return Status::Ok();
  }

  void Tick() {
    auto now = std::chrono::steady_clock::now();
    if (child_) {
      auto status = child_->Poll();
      if (!status) {
        if (now - started_ > std::chrono::seconds(60)) backoff_ = std::chrono::seconds(1);
        return;
      }
      GC_LOG(Warning) << "serve: dnsmasq exited with status " << *status << "; restarting in "
                      << backoff_.count() << " s";
      child_.reset();
      restart_at_ = now + backoff_;
      backoff_ = std::min(backoff_ * 2, std::chrono::seconds(30));
      return;
    }
    if (now < restart_at_) return;
    Status status = Start();
    if (!status.ok()) {
      child_.reset();
      GC_LOG(Error) << "serve: " << status.message();
      restart_at_ = now + backoff_;
      backoff_ = std::min(backoff_ * 2, std::chrono::seconds(30));
    }
  }

  void Reload() {
    if (child_) (void)child_->Signal(SIGHUP);
  }

  void Stop() {
    if (child_) child_->Stop();
    child_.reset();
  }

 private:
  DnsmasqFiles files_;
  std::unique_ptr<ChildProcess> child_;
  std::chrono::steady_clock::time_point started_, restart_at_;
  std::chrono::seconds backoff_{1};
};

std::string ServerUrl(const ClusterProfile& profile) {
  return "http://" + FormatIpv4(profile.network.server) + ":" +
         std::to_string(profile.network.http_port);
}

class BootService {
 public:
  BootService(const ClusterProfile& profile, NodeRegistry* registry, std::string boot_files,
              const std::string& state_dir)
      : profile_(profile),
        registry_(registry),
        boot_files_(std::move(boot_files)),
        resolver_(state_dir),
        node_api_(profile, registry, &resolver_, ServerUrl(profile)) {
    files_.server_url = ServerUrl(profile);
  }

  HttpResponse Handle(const HttpRequest& request) {
    // The node API has its own methods (POST for reports and objects);
    // everything else is read-only.
    if (NodeApi::Handles(request.path)) return node_api_.Handle(request);
    if (request.method != "GET" && request.method != "HEAD") {
      return HttpResponse::Text(405, "only GET\n").AddHeader("Allow", "GET, HEAD");
    }
    if (request.path == "/healthz") return HttpResponse::Text(200, "ok\n");
    if (request.path == "/boot/start.ipxe") {
      return HttpResponse::Text(200, StartScript(files_.server_url));
    }
    if (request.path == "/boot/ipxe") return BootScript(request);
    if (request.path.rfind("/boot/files/", 0) == 0) return BootFile(request.path.substr(12));
    if (request.path.rfind("/boot/kernels/", 0) == 0) return KernelFile(request.path.substr(14));
    return HttpResponse::Text(404, "no such path\n");
  }

 private:
  HttpResponse BootScript(const HttpRequest& request) {
    auto boot = ParseBootQuery(request.query, request.remote_address);
    if (!boot.ok()) return HttpResponse::Text(400, boot.status().message() + "\n");
    auto node = registry_->RegisterBoot(*boot, NowNs());
    if (!node.ok()) {
      GC_LOG(Error) << "boot request from " << boot->mac << ": " << node.status().message();
      return HttpResponse::Text(500, node.status().message() + "\n");
    }
    auto group = profile_.groups.find(node->group);
    if (group == profile_.groups.end()) {
      return HttpResponse::Text(
          500, "node " + node->name + " is in unknown group '" + node->group + "'\n");
    }
    GC_LOG(Info) << "boot: " << node->name << " (" << node->mac << ", " << node->ip << ") "
                 << BootModeName(node->mode);
    BootFiles files = files_;
    if (node->mode == BootMode::kDiskless) {
      GroupTarget target = resolver_.Resolve(group->second);
      if (!group->second.kernel.empty()) {
        // A diskless node boots its group's kernel artifact directly.
        if (!target.kernel) {
          std::string message = target.kernel_error + " (build it with goldcast kernel build)";
          GC_LOG(Error) << "boot " << node->name << ": " << message;
          return HttpResponse::Text(500, message + "\n");
        }
        files.diskless_kernel = "/boot/kernels/" + target.kernel->ToString() + "/vmlinuz";
        files.diskless_kernel_ref = target.kernel->ToString();
      }
      // Unknown (no capture yet) leaves goldcast.image= off: the node boots
      // its initrd all the same, its heartbeats just cannot name the image.
      if (target.image) files.diskless_image_ref = target.image->ToString();
    }
    return HttpResponse::Text(200, NodeScript(*node, group->second, files));
  }

  HttpResponse BootFile(const std::string& relative) {
    auto normalized = NormalizeRelativePath(relative);
    if (!normalized.ok() || *normalized == ".") return HttpResponse::Text(404, "no such file\n");
    // O_NOFOLLOW on every component would be stricter; resolving and
    // checking the prefix refuses symlinks that leave the boot directory.
    std::error_code ec;
    auto base = std::filesystem::canonical(boot_files_, ec);
    auto path = std::filesystem::canonical(JoinPath(boot_files_, *normalized), ec);
    if (ec || path.string().rfind(base.string() + "/", 0) != 0) {
      return HttpResponse::Text(404, "no such file\n");
    }
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st;
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return HttpResponse::Text(404, "no such file\n");
    }
    return HttpResponse::File(std::move(fd), static_cast<uint64_t>(st.st_size));
  }

  // GET /boot/kernels/NAME@N/{vmlinuz,System.map,config}
  HttpResponse KernelFile(const std::string& rest) {
    size_t slash = rest.find('/');
    if (slash == std::string::npos) return HttpResponse::Text(404, "no such kernel file\n");
    auto store = resolver_.kernels();
    if (!store.ok()) return HttpResponse::Text(404, store.status().message() + "\n");
    auto ref = (*store)->Resolve(rest.substr(0, slash));
    if (!ref.ok()) return HttpResponse::Text(404, ref.status().message() + "\n");
    return KernelFileResponse(*store, *ref, rest.substr(slash + 1));
  }

  const ClusterProfile& profile_;
  NodeRegistry* registry_;
  std::string boot_files_;
  TargetResolver resolver_;
  NodeApi node_api_;
  BootFiles files_;
};

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

}  // namespace

std::string ActiveProfilePath(const std::string& state_dir) {
  return JoinPath(state_dir, "pxe/profile.yaml");
}

std::string RegistryPath(const std::string& state_dir) {
  return JoinPath(state_dir, "registry.db");
}

Status RunServe(const ServeOptions& options) {
  // Handle SIGTERM/SIGINT from the first moment: a stop during start-up must
  // still stop dnsmasq and exit cleanly, never leave it behind.
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  // One descriptor per client during a boot storm: use the whole hard limit.
  struct rlimit open_files;
  if (::getrlimit(RLIMIT_NOFILE, &open_files) == 0 && open_files.rlim_cur < open_files.rlim_max) {
    open_files.rlim_cur = open_files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &open_files);
  }
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

  DnsmasqFiles files = DnsmasqFilesIn(options.state_dir);
  GC_RETURN_IF_ERROR(env->CreateDirs(files.tftp_root));
  GC_RETURN_IF_ERROR(PrepareTftpRoot(files.tftp_root, options.ipxe_dir));
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
  if (!env->Exists(files.hosts_file))
    GC_RETURN_IF_ERROR(env->WriteFileAtomic(files.hosts_file, ""));
  GC_RETURN_IF_ERROR(CheckDnsmasqConfig(ProcessRunner::Default(), files.config));

  // The registry is opened only once everything that can be wrong with the
  // host has been checked, so a failed start leaves it untouched.
  std::unique_ptr<NodeRegistry> registry;
  auto service_holder = std::make_shared<std::unique_ptr<BootService>>();
  HttpServerOptions server_options;
  server_options.address = FormatIpv4(profile.network.server);
  server_options.port = profile.network.http_port;
  // Object requests of the node API carry up to 8 MiB of hashes; it checks
  // the smaller limit of its JSON bodies itself.
  server_options.max_body_bytes = kNodeApiMaxBodyBytes;
  GC_ASSIGN_OR_RETURN(auto server,
                      HttpServer::Start(server_options, [service_holder](const HttpRequest& r) {
                        if (!*service_holder) return HttpResponse::Text(503, "starting\n");
                        return (*service_holder)->Handle(r);
                      }));
  GC_ASSIGN_OR_RETURN(registry, NodeRegistry::Open(RegistryPath(options.state_dir), profile));
  GC_ASSIGN_OR_RETURN(std::string profile_text, env->ReadFile(options.profile_path));
  GC_RETURN_IF_ERROR(env->WriteFileAtomic(ActiveProfilePath(options.state_dir), profile_text));
  *service_holder =
      std::make_unique<BootService>(profile, registry.get(), boot_files, options.state_dir);
  WarnAboutMissingKernels(profile, options.state_dir);

  // The generation moves when a node's name, address, MAC, group, mode or
  // state changes (not on heartbeats); even then dnsmasq is only reloaded
  // when the host list it serves actually changed.
  std::string hosts_written;
  auto write_hosts = [&]() -> Result<bool> {
    GC_ASSIGN_OR_RETURN(auto nodes, registry->List());
    std::string hosts = RenderHostsFile(nodes);
    if (hosts == hosts_written) return false;
    GC_RETURN_IF_ERROR(env->WriteFileAtomic(files.hosts_file, hosts));
    hosts_written = std::move(hosts);
    return true;
  };
  GC_RETURN_IF_ERROR(write_hosts().status());
  GC_ASSIGN_OR_RETURN(int64_t generation, registry->Generation());

  DnsmasqSupervisor dnsmasq(files);
  GC_RETURN_IF_ERROR(dnsmasq.Start());

  GC_LOG(Info) << "serve: cluster " << profile.cluster << " on "
               << profile.network.interface << ", http://" << server_options.address << ":"
               << server->port() << "/, DHCP "
               << (profile.network.dhcp_mode == DhcpMode::kProxy ? "proxy" : "authoritative");

  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    dnsmasq.Tick();
    auto current = registry->Generation();
    if (!current.ok()) {
      GC_LOG(Warning) << "serve: " << current.status().message();
      continue;
    }
    if (*current == generation) continue;
    auto changed = write_hosts();
    if (!changed.ok()) {
      GC_LOG(Error) << "serve: cannot update dnsmasq hosts: " << changed.status().message();
      continue;
    }
    generation = *current;
    if (*changed) {
      dnsmasq.Reload();
      GC_LOG(Debug) << "serve: hosts changed, dnsmasq reloaded";
    }
  }
  GC_LOG(Info) << "serve: stopping";
  server->Stop();
  dnsmasq.Stop();
  return Status::Ok();
}

}  // namespace gc
