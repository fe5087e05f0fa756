#include "pxe/installer_cache.h"

namespace gc {

namespace {
constexpr int64_t kRetryFailedNanos = 60'000'000'000;
}  // namespace

Result<InstallerResult> InstallerCache::For(const GroupTarget& target) {
  GC_ASSIGN_OR_RETURN(InstallerSource source, InstallerSourceFor(target));
  std::lock_guard<std::mutex> lock(mu_);
  const std::string name = source.ToString();
  const int64_t now = options_.env->NowNanos();
  auto it = outcomes_.find(name);
  if (it != outcomes_.end()) {
    if (it->second.result) return *it->second.result;
    if (now - it->second.at_ns < kRetryFailedNanos) return it->second.error;
  }
  Outcome& outcome = outcomes_[name];
  outcome.at_ns = now;
  auto built = BuildInstaller(source, options_);
  if (!built.ok()) {
    outcome.error = built.status();
    return outcome.error;
  }
  outcome.result = *built;
  return built;
}

}  // namespace gc
