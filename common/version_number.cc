#include "common/version_number.h"

#include <algorithm>

#include "common/text.h"

namespace gc {

std::string LastVersionPath(const std::string& dir) { return JoinPath(dir, "last"); }

Result<uint64_t> NextVersionNumber(Env* env, const std::string& dir,
                                   const std::vector<uint64_t>& existing) {
  uint64_t last = existing.empty() ? 0 : *std::max_element(existing.begin(), existing.end());
  std::string path = LastVersionPath(dir);
  if (env->Exists(path)) {
    GC_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
    uint64_t recorded = 0;
    if (ParseDecimal(Trim(text), &recorded)) last = std::max(last, recorded);
  }
  return last + 1;
}

}  // namespace gc
