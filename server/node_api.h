// NodeApi: the server side of the node API (docs/node-api.md), everything
// under /v1/node/: install plans, the plan's image (manifest, layout,
// objects) and kernel (files, modules), install progress and heartbeats.
// Every request is authenticated by the node's name and secret, except
// POST /v1/node/redeem, which trades a one-time install token for the
// secret (protocol/redeem.h). Plain
// request -> response, so it is tested without a network; `goldcast serve`
// routes /v1/node/ here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/drift.h"
#include "cluster/install_tokens.h"
#include "cluster/node_registry.h"
#include "cluster/target_resolver.h"
#include "common/env.h"
#include "common/http_server.h"
#include "common/status.h"
#include "profiles/cluster_profile.h"
#include "server/ref_cache.h"

namespace gc {

constexpr char kNodeApiPrefix[] = "/v1/node/";
// JSON bodies (progress, heartbeat).
constexpr size_t kNodeApiMaxJsonBytes = 1 << 20;
// POST /v1/node/objects: its body, and the number of hashes in it. The HTTP
// server's max_body_bytes must allow this much.
constexpr size_t kNodeApiMaxBodyBytes = 8 << 20;
constexpr size_t kNodeApiMaxObjects = 100000;

class NodeApi {
 public:
  // `env` gives the clock that stamps reports. The registry, the resolver
  // and the tokens (which the boot service issues) must outlive the NodeApi.
  NodeApi(const ClusterProfile& profile, NodeRegistry* registry, TargetResolver* resolver,
          InstallTokens* tokens, Env* env = Env::Default());
  ~NodeApi();
  NodeApi(const NodeApi&) = delete;
  NodeApi& operator=(const NodeApi&) = delete;

  static bool Handles(std::string_view path) { return path.rfind(kNodeApiPrefix, 0) == 0; }

  // Any request whose path starts with kNodeApiPrefix. Thread-safe.
  HttpResponse Handle(const HttpRequest& request);
  // Before its body: a request that does not authenticate as a node is
  // answered 401 at once; the others may send what their endpoint takes
  // (objects: kNodeApiMaxBodyBytes, reports: kNodeApiMaxJsonBytes, reads:
  // nothing). Thread-safe.
  HttpAdmission Admit(const HttpRequest& head);

 private:
  struct ImageIndex;
  struct ModulesTree;
  struct PlanRefs {
    std::optional<ImageRef> image;
    std::optional<KernelRef> kernel;
  };

  struct Credentials {
    std::string node, bearer;
  };
  static Result<Credentials> ReadCredentials(const HttpRequest& request);
  Result<Node> Authenticate(const HttpRequest& request);
  HttpResponse Redeem(const HttpRequest& request);
  static HttpResponse Refusal(const HttpRequest& request, const Status& status);
  HttpResponse Route(const Node& node, const HttpRequest& request);
  HttpResponse Plan(const Node& node);
  HttpResponse Image(const Node& node, const std::string& rest);
  HttpResponse Kernel(const Node& node, const std::string& rest);
  HttpResponse Objects(const Node& node, const std::string& body);
  HttpResponse Progress(const Node& node, const std::string& body);
  // `address`: where the heartbeat came from (in proxy mode, the node's).
  HttpResponse Beat(const Node& node, const std::string& body, const std::string& address);

  // What the node may read: its group's image and kernel as resolved now,
  // and those of the last plan it was handed (so a capture published
  // during an install does not pull the image from under the installer).
  std::vector<PlanRefs> Allowed(const Node& node);
  Result<std::shared_ptr<const ImageIndex>> LoadImage(const ImageRef& ref);
  Result<std::shared_ptr<const ModulesTree>> LoadModules(const KernelRef& ref);

  const ClusterProfile& profile_;
  NodeRegistry* registry_;
  TargetResolver* resolver_;
  InstallTokens* tokens_;
  Env* env_;

  std::mutex mu_;
  std::map<std::string, PlanRefs> served_;  // node name -> its last plan
  RefCache<ImageIndex> images_;
  RefCache<ModulesTree> modules_;
};

}  // namespace gc
