// Random names and ids from the kernel's generator (getrandom).
#pragma once

#include <cstddef>
#include <string>

namespace gc {

// `bytes` random bytes as lowercase hex. Aborts if the kernel has no
// randomness to give: every node would otherwise share its identity.
std::string RandomHex(size_t bytes);
// A random (version 4) UUID, lowercase.
std::string RandomUuid();

}  // namespace gc
