// The golden client's own kernel as an image holds it: what a group
// without `kernel:` boots. Checked by the server before it hands out an
// install plan, so a node is never erased for an image it cannot boot.
#pragma once

#include <string>

#include "common/manifest.h"

namespace gc {

// The release of the newest boot/vmlinuz-RELEASE (a file, or a symlink as
// some distributions ship) in `manifest`, by version order (6.1.0-9 before
// 6.1.0-10); "" when the image has none.
std::string NewestImageKernel(const Manifest& manifest);

}  // namespace gc
