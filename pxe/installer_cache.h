// The installers `goldcast serve` hands out: one per group target, built on
// the first install boot that needs it (seconds) and served from
// STATE/boot/installers afterwards, so nobody copies kernels by hand. What
// a failed build said is kept for a minute, so a boot storm does not
// rebuild it for every node.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "cluster/target_resolver.h"
#include "common/status.h"
#include "pxe/installer_builder.h"

namespace gc {

class InstallerCache {
 public:
  explicit InstallerCache(InstallerOptions options) : options_(std::move(options)) {}

  // The installer for what `target` resolves to now. Thread-safe; builds
  // one at a time.
  Result<InstallerResult> For(const GroupTarget& target);

 private:
  struct Outcome {
    std::optional<InstallerResult> result;
    Status error;
    int64_t at_ns = 0;
  };

  std::mutex mu_;
  const InstallerOptions options_;
  std::map<std::string, Outcome> outcomes_;  // by InstallerSource::ToString()
};

}  // namespace gc
