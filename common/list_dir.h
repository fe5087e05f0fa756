// The one readdir loop: every listing of a directory goes through here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gc {

// The names in the directory open on `dir_fd`, without "." and "..", in
// readdir order (sort them if order matters). Reads from a duplicate of the
// fd, rewound first, so the same fd can be listed again; `dir_fd` stays
// open. `shown` names the directory in errors.
Result<std::vector<std::string>> ListDirFd(int dir_fd, std::string_view shown);

}  // namespace gc
