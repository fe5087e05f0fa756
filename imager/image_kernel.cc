#include "imager/image_kernel.h"

#include <string_view>
#include <vector>

#include "common/text.h"

namespace gc {

std::string NewestImageKernel(const Manifest& manifest) {
  constexpr std::string_view kBoot = "boot/";
  std::vector<std::string> names;
  for (const Entry& entry : manifest.entries) {
    if (entry.type != EntryType::kFile && entry.type != EntryType::kSymlink &&
        entry.type != EntryType::kHardlink) {
      continue;
    }
    if (entry.path.rfind(kBoot, 0) == 0) names.push_back(entry.path.substr(kBoot.size()));
  }
  return NewestVmlinuzRelease(names);
}

}  // namespace gc
