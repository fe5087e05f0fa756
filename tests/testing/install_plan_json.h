// The install plan the node API would send node mosix3 (image compute@2,
// kernel tiny@1 with modules, one cluster file), as JSON so a test can edit
// a field before it dumps and parses it. Header-only.
#pragma once

#include <nlohmann/json.hpp>

namespace gc::testing {

inline nlohmann::json PlanJson() {
  return nlohmann::json::parse(R"({"format":1,"server":"http://10.77.0.1:8470",
    "node":{"name":"mosix3","index":3,"mac":"52:54:00:12:34:03","ip":"10.77.0.12",
            "prefix_length":24,"gateway":"","domain":"cluster.local","group":"compute"},
    "image":{"ref":"compute@2","files":4,"bytes":100},
    "kernel":{"ref":"tiny@1","release":"6.1.176","has_modules":true},
    "kernel_args":"quiet",
    "cluster_files":[{"path":"etc/openmosix.map","mode":420,"content":"1 10.77.0.10 4\n"}]})");
}

}  // namespace gc::testing
