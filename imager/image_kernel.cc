#include "imager/image_kernel.h"

#include <string.h>

#include <string_view>

namespace gc {

std::string NewestImageKernel(const Manifest& manifest) {
  constexpr std::string_view kPrefix = "boot/vmlinuz-";
  std::string newest;
  for (const Entry& entry : manifest.entries) {
    if (entry.type != EntryType::kFile && entry.type != EntryType::kSymlink &&
        entry.type != EntryType::kHardlink) {
      continue;
    }
    if (entry.path.rfind(kPrefix, 0) != 0 || entry.path.size() == kPrefix.size()) continue;
    std::string release = entry.path.substr(kPrefix.size());
    if (release.find('/') != std::string::npos) continue;
    if (newest.empty() || ::strverscmp(release.c_str(), newest.c_str()) > 0) newest = release;
  }
  return newest;
}

}  // namespace gc
