// BootService: what booting machines ask the image server over HTTP, as a
// plain request -> response (tested without a network): the iPXE start
// script, each node's script (GET /boot/ipxe names an unknown MAC in boot
// order; an install or diskless script carries a one-time install token),
// the installer and diskless boot files and the kernel artifacts. `goldcast serve` routes /boot/
// and /healthz here. See docs/boot-service.md.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cluster/install_tokens.h"
#include "cluster/node_registry.h"
#include "cluster/target_resolver.h"
#include "common/env.h"
#include "common/http_server.h"
#include "common/rate_limiter.h"
#include "profiles/cluster_profile.h"
#include "pxe/boot_script.h"

namespace gc {

// A kernel artifact's vmlinuz, System.map or config (404 for anything else
// or a file that is missing); /boot/kernels/ and /v1/node/kernels/ share it.
HttpResponse KernelFileResponse(KernelStore* store, const KernelRef& ref, const std::string& file);

// "http://10.77.0.1:8470": where firmware fetches boot scripts, kernels and
// initrds (iPXE, no TLS).
std::string ServerUrl(const ClusterProfile& profile);
// "https://10.77.0.1:8471": where nodes' agents talk to the server (the
// node API), over TLS with the server's pinned key.
std::string NodeApiUrl(const ClusterProfile& profile);

// Where a group's installer is, as paths under the server URL.
struct InstallerUrls {
  std::string kernel;  // "/boot/files/installers/KEY/vmlinuz"
  std::string initrd;
};
// The installer for a group as resolved now (built on first use).
using InstallerLookup = std::function<Result<InstallerUrls>(const GroupTarget&)>;

constexpr RateLimit kDefaultNewMachineLimit = {/*per_minute=*/10, /*burst=*/10};

class BootService {
 public:
  // `boot_files` holds install/ and diskless/ (vmlinuz, initrd.img). The
  // registry, resolver (which knows the profile's groups) and tokens (which
  // the node API redeems) must outlive the service; `env` gives the clock.
  BootService(const ClusterProfile& profile, NodeRegistry* registry, TargetResolver* resolver,
              InstallTokens* tokens, std::string boot_files, Env* env = Env::Default());

  static bool Handles(std::string_view path) {
    return path == "/healthz" || path.rfind("/boot/", 0) == 0;
  }

  // Any request Handles() accepts. Thread-safe.
  HttpResponse Handle(const HttpRequest& request);

  // Install scripts name the group's installer from `lookup` (thread-safe;
  // set before serving). Without one, or when it fails (logged), they name
  // install/vmlinuz and install/initrd.img of the boot files; when the
  // lookup failed and those are not there either, the node gets
  // CannotBootScript and the reason as its failed install.
  void SetInstallerLookup(InstallerLookup lookup) { installer_lookup_ = std::move(lookup); }

  // Boot requests one address may send for MACs the registry does not know
  // (default kDefaultNewMachineLimit; per_minute 0: no limit). Past it
  // such a MAC gets a script that waits a minute, and is neither named nor
  // kept pending: one machine on the boot LAN cannot use up the names,
  // addresses or pending list that every other machine needs. A rack
  // boots one request per machine, each from its own address.
  void SetNewMachineLimit(RateLimit limit);

  // The pin of the server's TLS key ("sha256//..."), which install and
  // diskless scripts hand the agent with the node API's URL (set before
  // serving).
  void SetServerPin(std::string pin) { files_.server_pin = std::move(pin); }

 private:
  HttpResponse NodeBootScript(const HttpRequest& request);
  HttpResponse BootFile(const std::string& relative);
  HttpResponse KernelFile(const std::string& rest);
  Status PickInstaller(const Node& node, const NodeGroup& group, BootFiles* files);
  HttpResponse CannotBoot(const Node& node, const std::string& reason);

  NodeRegistry* registry_;
  TargetResolver* resolver_;
  InstallTokens* tokens_;
  const std::string boot_files_;
  Env* env_;
  BootFiles files_;
  InstallerLookup installer_lookup_;
  std::unique_ptr<KeyedRateLimiter> new_machines_;
};

}  // namespace gc
