#include "pxe/boot_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/log.h"
#include "common/manifest.h"
#include "common/unique_fd.h"

namespace gc {

namespace {
// Where BootFile serves STATE/boot from.
constexpr std::string_view kBootFilesUrl = "/boot/files/";
}  // namespace

HttpResponse KernelFileResponse(KernelStore* store, const KernelRef& ref, const std::string& file) {
  if (file != "vmlinuz" && file != "System.map" && file != "config") {
    return HttpResponse::Text(404, "no such kernel file (vmlinuz, System.map, config)\n");
  }
  std::string path = JoinPath(store->ArtifactDir(ref), file);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return HttpResponse::Text(404, "kernel " + ref.ToString() + " has no " + file + "\n");
  }
  return HttpResponse::File(std::move(fd), static_cast<uint64_t>(st.st_size));
}

std::string ServerUrl(const ClusterProfile& profile) {
  return "http://" + FormatIpv4(profile.network.server) + ":" +
         std::to_string(profile.network.http_port);
}

std::string NodeApiUrl(const ClusterProfile& profile) {
  return "https://" + FormatIpv4(profile.network.server) + ":" +
         std::to_string(profile.network.https_port);
}

BootService::BootService(const ClusterProfile& profile, NodeRegistry* registry,
                         TargetResolver* resolver, InstallTokens* tokens, std::string boot_files,
                         Env* env)
    : registry_(registry),
      resolver_(resolver),
      tokens_(tokens),
      boot_files_(std::move(boot_files)),
      env_(env),
      new_machines_(std::make_unique<KeyedRateLimiter>(kDefaultNewMachineLimit)) {
  files_.server_url = ServerUrl(profile);
  files_.node_url = NodeApiUrl(profile);
}

HttpResponse BootService::Handle(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    return HttpResponse::Text(405, "only GET\n").AddHeader("Allow", "GET, HEAD");
  }
  if (request.path == "/healthz") return HttpResponse::Text(200, "ok\n");
  if (request.path == "/boot/start.ipxe") {
    return HttpResponse::Text(200, StartScript(files_.server_url));
  }
  if (request.path == "/boot/ipxe") return NodeBootScript(request);
  if (request.path.starts_with(kBootFilesUrl)) {
    return BootFile(request.path.substr(kBootFilesUrl.size()));
  }
  if (request.path.rfind("/boot/kernels/", 0) == 0) return KernelFile(request.path.substr(14));
  return HttpResponse::Text(404, "no such path\n");
}

void BootService::SetNewMachineLimit(RateLimit limit) {
  new_machines_ = std::make_unique<KeyedRateLimiter>(limit);
}

HttpResponse BootService::NodeBootScript(const HttpRequest& request) {
  auto boot = ParseBootQuery(request.query, request.remote_address);
  if (!boot.ok()) return HttpResponse::Text(400, boot.status().message() + "\n");
  int64_t now = env_->NowNanos();
  // Every request from the address counts (the limiter cannot tell new
  // MACs from known ones before the registry does); a known MAC is served
  // all the same.
  boot->may_be_new = new_machines_->Take(boot->remote_address, now);
  auto registered = registry_->RegisterBoot(*boot, now);
  if (!registered.ok() && registered.status().code() == Code::kBusy) {
    return HttpResponse::Text(200,
                              SlowDownScript(registered.status().message(), files_.server_url));
  }
  if (!registered.ok()) {
    GC_LOG(Error) << "boot request from " << boot->mac << ": " << registered.status().message();
    return HttpResponse::Text(500, registered.status().message() + "\n");
  }
  if (registered->pending) {
    return HttpResponse::Text(200, PendingScript(*registered->pending, files_.server_url));
  }
  std::optional<Node>& node = registered->node;
  // Every mode needs the group (its kernel_args); only a diskless script
  // names what it resolves to, so only it asks the stores (a boot storm of
  // installs reads no image catalog).
  Result<const NodeGroup*> group = resolver_->GroupOf(*node);
  if (!group.ok()) {
    GC_LOG(Error) << "boot " << node->name << ": " << group.status().message();
    return HttpResponse::Text(500, group.status().message() + "\n");
  }
  GC_LOG(Info) << "boot: " << node->name << " (" << node->mac << ", " << node->ip << ") "
               << BootModeName(node->mode);
  BootFiles files = files_;
  if (node->mode == BootMode::kDiskless) {
    GroupTarget target = resolver_->Resolve(**group);
    if (!target.kernel_spec.empty()) {
      // A diskless node boots its group's kernel artifact directly.
      if (!target.kernel) return CannotBoot(*node, target.kernel_error);
      files.diskless_kernel = "/boot/kernels/" + target.kernel->ToString() + "/vmlinuz";
      files.diskless_kernel_ref = target.kernel->ToString();
    }
    // Unknown (no capture yet) leaves goldcast.image= off: the node boots
    // its initrd all the same, its heartbeats just cannot name the image.
    if (target.image) files.diskless_image_ref = target.image->ToString();
  }
  if (node->mode != BootMode::kLocal) {
    Status picked = PickInstaller(*node, **group, &files);
    if (!picked.ok()) return CannotBoot(*node, picked.message());
    files.install_token = tokens_->Issue(node->name, now);
  }
  return HttpResponse::Text(200, NodeScript(*node, **group, files));
}

// The installer made for what the group runs; only with a lookup, so a
// boot storm of installs without one reads no store. A diskless node boots
// the same kernel and initramfs: its /init fills a RAM root instead of a disk.
// Without an installer the boot files' install/ ones serve, if an admin put
// them there; otherwise the node cannot boot.
Status BootService::PickInstaller(const Node& node, const NodeGroup& group, BootFiles* files) {
  Result<InstallerUrls> urls = installer_lookup_
                                   ? installer_lookup_(resolver_->Resolve(group))
                                   : Result<InstallerUrls>(NotFound("no installer lookup"));
  if (urls.ok()) {
    files->install_kernel = files->diskless_kernel = urls->kernel;
    files->install_initrd = files->diskless_initrd = urls->initrd;
    return Status::Ok();
  }
  // The initrd: a diskless node's kernel may be an artifact, its initrd is
  // always one of the boot files.
  const std::string& fallback =
      node.mode == BootMode::kInstall ? files->install_initrd : files->diskless_initrd;
  if (!installer_lookup_ ||
      env_->Exists(JoinPath(boot_files_, fallback.substr(kBootFilesUrl.size())))) {
    if (installer_lookup_) {
      GC_LOG(Warning) << "boot " << node.name << ": no installer for group " << node.group << ": "
                      << urls.status().message() << "; serving " << fallback;
    }
    return Status::Ok();
  }
  return FailedPrecondition("no installer for group " + node.group + ": " +
                            urls.status().message());
}

// Recorded as the node's failed install, so `goldcast nodes show` says it,
// and printed on its console by a script that asks again later.
HttpResponse BootService::CannotBoot(const Node& node, const std::string& reason) {
  GC_LOG(Error) << "boot " << node.name << ": cannot boot: " << reason;
  InstallProgress failed;
  failed.phase = "failed";
  failed.message = "the server cannot boot it: " + reason;
  if (auto recorded = registry_->RecordProgress(node.name, failed, env_->NowNanos());
      !recorded.ok()) {
    GC_LOG(Error) << "boot " << node.name << ": " << recorded.status().message();
  }
  return HttpResponse::Text(200, CannotBootScript(node, reason, files_.server_url));
}

HttpResponse BootService::BootFile(const std::string& relative) {
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
HttpResponse BootService::KernelFile(const std::string& rest) {
  size_t slash = rest.find('/');
  if (slash == std::string::npos) return HttpResponse::Text(404, "no such kernel file\n");
  auto store = resolver_->kernels();
  if (!store.ok()) return HttpResponse::Text(404, store.status().message() + "\n");
  auto ref = (*store)->Resolve(rest.substr(0, slash));
  if (!ref.ok()) return HttpResponse::Text(404, ref.status().message() + "\n");
  return KernelFileResponse(*store, *ref, rest.substr(slash + 1));
}

}  // namespace gc
