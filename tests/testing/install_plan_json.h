// The install plan the node API would send node mosix3 (image compute@2,
// kernel tiny@1 with modules, one cluster file), as JSON so a test can edit
// a field before it dumps and parses it. Header-only.
#pragma once

#include <nlohmann/json.hpp>

namespace gc::testing {

inline nlohmann::json PlanJson() {
  return nlohmann::json::parse(R"({"format":2,
    "node":{"name":"mosix3","ip":"10.77.0.12","domain":"cluster.local"},
    "image":{"ref":"compute@2","bytes":100},
    "kernel":{"ref":"tiny@1","release":"6.1.176","has_modules":true},
    "kernel_args":"quiet",
    "cluster_files":[{"path":"etc/openmosix.map","mode":420,"content":"1 10.77.0.10 4\n"}]})");
}

}  // namespace gc::testing
