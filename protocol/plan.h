// InstallPlan: GET /v1/node/plan (docs/node-api.md), what the server tells
// the installer to put on a node: its name and address, the image, the
// kernel and the cluster files. The server encodes it, the agent decodes
// it; only fields the installer reads travel.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/cluster_file.h"

namespace gc {

// The plan's `format`. 2: format 1 without the fields no installer read
// (server, node.index, node.mac, node.prefix_length, node.gateway,
// node.group, image.files).
constexpr int kPlanFormat = 2;

struct InstallPlan {
  std::string node_name;     // host name, e.g. "mosix3"
  std::string ip;            // fixed address, or "" (the node uses DHCP)
  std::string domain;        // "" or e.g. "cluster.local"
  std::string image_ref;     // "compute@2"
  uint64_t image_bytes = 0;  // apparent size of the image's regular files
  bool has_kernel = false;   // false: keep the image's own kernel ("kernel": null)
  std::string kernel_ref;    // "test-6.1-tiny@1"
  std::string kernel_release;
  bool kernel_has_modules = false;
  std::string kernel_args;  // the group's, appended to the kernel command line
  std::vector<ClusterFile> cluster_files;
  bool operator==(const InstallPlan&) const = default;
};

std::string EncodeInstallPlan(const InstallPlan& plan);

// Strict: another format, wrong types, missing fields and unsafe values (a
// release with '/', a cluster file path with "..", a control character in
// kernel_args) are errors "plan: field <name>: <problem>". Unknown fields
// are ignored and null reads as absent.
Result<InstallPlan> DecodeInstallPlan(std::string_view json);

}  // namespace gc
