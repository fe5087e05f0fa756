// The node's install plan (GET /v1/node/plan, docs/node-api.md): what
// the server tells the installer to put on this node. Network input, so
// parsing is strict.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "node-agent/node_identity.h"

namespace gc {

struct InstallPlan {
  std::string server;
  std::string node_name;
  int64_t node_index = 0;
  std::string mac, ip, gateway, domain, group;
  int64_t prefix_length = 0;
  std::string image_ref;
  uint64_t image_files = 0;
  uint64_t image_bytes = 0;
  bool has_kernel = false;  // false: keep the image's own kernel
  std::string kernel_ref;
  std::string kernel_release;
  bool kernel_has_modules = false;
  std::string kernel_args;
  std::vector<ClusterFile> cluster_files;
};

// Strict: wrong types, missing fields and unsafe values (a release with
// '/', a cluster file path with "..") are errors naming the field.
Result<InstallPlan> ParseInstallPlan(std::string_view json);

}  // namespace gc
