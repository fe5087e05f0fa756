// NodeConfig: who this node is and which server it answers to. Written by
// the installer to /etc/goldcast/node.json (mode 0600); a diskless node has
// none and takes the same facts from its kernel command line. Format:
// docs/node-api.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gc {

constexpr char kNodeConfigPath[] = "/etc/goldcast/node.json";

struct NodeConfig {
  std::string server;  // "https://10.77.0.1:8471"
  // The pin of the server's TLS key, "sha256//<base64>" (goldcast.pin=):
  // the only key the agent accepts from `server`. Empty: a plain http://
  // server (tests, labs), or https:// checked against the system's CAs.
  std::string pin;
  std::string node;    // "mosix3"
  std::string secret;  // hex
  // The boot script's one-time install token (goldcast.token=), redeemed
  // for the secret (NodeClient::Redeem); never written to node.json.
  std::string token;
  std::string image;   // "compute@2", or "" if unknown
  std::string kernel;  // kernel artifact "name@N", or "" (the image's own kernel)
  // Cluster-wide files the installer wrote (relative to /); heartbeats
  // report their hashes so the server can flag a node whose copy drifted.
  std::vector<std::string> cluster_files;
};

// Parses node.json; errors name `source_name` and the field.
Result<NodeConfig> ParseNodeConfig(std::string_view json, std::string_view source_name);
std::string SerializeNodeConfig(const NodeConfig& config);

// From a kernel command line: goldcast.server=, goldcast.node=,
// goldcast.token= (required), goldcast.pin=, goldcast.image=,
// goldcast.kernel= (optional).
// The result has a token and no secret.
Result<NodeConfig> NodeConfigFromCmdline(std::string_view cmdline);

}  // namespace gc
