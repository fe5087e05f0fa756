// NAME@N numbering shared by the image and kernel stores. The next number is
// one more than the highest existing version and the number recorded in
// DIR/last, so a number is never handed out twice, even after removals: a
// node that installed compute@3 must never meet a different compute@3.
// Call it under the store's metadata lock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace gc {

// DIR/last; the caller writes the new number there when it publishes.
std::string LastVersionPath(const std::string& dir);

Result<uint64_t> NextVersionNumber(Env* env, const std::string& dir,
                                   const std::vector<uint64_t>& existing);

}  // namespace gc
