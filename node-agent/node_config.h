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
  std::string server;  // "http://10.77.0.1:8470"
  std::string node;    // "mosix3"
  std::string secret;  // hex
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
// goldcast.secret= (required), goldcast.image=, goldcast.kernel= (optional).
// `boot_secret` (from the secret initrd, protocol/boot_secret.h), when not
// empty, is the secret of a command line that has none.
Result<NodeConfig> NodeConfigFromCmdline(std::string_view cmdline,
                                         std::string_view boot_secret = {});

}  // namespace gc
