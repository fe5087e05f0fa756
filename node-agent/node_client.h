// NodeClient: the agent's side of the node API (docs/node-api.md). Every
// call carries the node's name and secret; HTTP errors come back as a
// Status naming the URL, the status code and the server's one-line reason.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/http_client.h"
#include "common/manifest.h"
#include "common/status.h"
#include "common/tree_writer.h"
#include "node-agent/node_config.h"

namespace gc {

class NodeClient {
 public:
  // `config` needs server, node and a secret, or a token to Redeem.
  explicit NodeClient(NodeConfig config);
  ~NodeClient();

  const NodeConfig& config() const { return config_; }

  // Without a secret: trades config().token (the boot script's one-time
  // install token) for the node's secret (POST /v1/node/redeem), which
  // config() then holds. A refused token is kUnauthorized: only a reboot,
  // through a fresh boot script, gets another. With a secret: nothing.
  Status Redeem();

  // What a JSON answer (plan, layout, heartbeat answer) may weigh, and a
  // manifest (about 150 bytes per entry: a million files fit).
  static constexpr uint64_t kMaxJsonAnswer = 4 << 20;
  static constexpr uint64_t kMaxManifest = 512 << 20;

  // GET/POST under the server URL (path starts with "/v1/node/"); a non-2xx
  // answer is an error, and so is one longer than `max_bytes` (cut off as it
  // arrives). Both return the response body.
  Result<std::string> Get(const std::string& path, uint64_t max_bytes = kMaxJsonAnswer);
  Result<std::string> PostJson(const std::string& path, const std::string& json);
  // Streams a GET response body to `sink` (for modules.tar, vmlinuz).
  Status Download(const std::string& path, const std::function<Status(std::string_view)>& sink);

  // GET /v1/node/images/REF/manifest, parsed (network input: fully validated).
  Result<Manifest> GetManifest(const std::string& image_ref);
  // GET /v1/node/kernels/REF/modules.manifest, parsed likewise.
  Result<Manifest> GetKernelModulesManifest(const std::string& kernel_ref);

  // An ObjectSource over POST /v1/node/objects; valid while this client lives.
  ObjectSource* objects();

 private:
  class Objects;
  NodeConfig config_;
  HttpClient http_;
  std::unique_ptr<Objects> objects_;
};

}  // namespace gc
