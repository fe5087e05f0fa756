// KernelStore: built kernels under STATE/kernels/ (beside the image store),
// as versions NAME@N that are published atomically (a staging directory
// renamed into place) and never renumbered. An artifact directory holds:
//
//   vmlinuz      the boot image (bzImage on x86)
//   System.map   symbol map of that image
//   config       the resolved .config it was built with
//   modules/     INSTALL_MOD_PATH root: lib/modules/<release>/... (may be empty)
//   build.log    every command and its output
//   inputs.json  hashes of every input and the inputs key
//   artifact.json  kernel release, image hash and size, build time, phases
//
// Staging directories are pid-named under STATE/kernels/tmp/, so a build
// killed with -9 leaves only temp files that the next Open removes.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace gc {

struct KernelRef {
  std::string name;
  uint64_t version = 0;
  std::string ToString() const { return name + "@" + std::to_string(version); }
};

// "NAME" (newest) or "NAME@N".
struct KernelSpec {
  std::string name;
  std::optional<uint64_t> version;
};
Result<KernelSpec> ParseKernelSpec(std::string_view text);

struct KernelInfo {
  KernelRef ref;
  std::string inputs_key;
  nlohmann::json inputs;    // inputs.json
  nlohmann::json artifact;  // artifact.json
};

class KernelStore {
 public:
  // Opens STATE/kernels (created on first publish when `create`), removing
  // staging directories of dead builds.
  static Result<std::unique_ptr<KernelStore>> Open(const std::string& state_dir, bool create,
                                                   Env* env = Env::Default());

  const std::string& root() const { return root_; }

  // A fresh pid-named staging directory to fill with the artifact's files.
  Result<std::string> NewStagingDir();
  // Moves a filled staging directory into place as the next version of
  // `name`. Every file listed above must be there.
  Result<KernelRef> Publish(const std::string& name, const std::string& staging_dir);

  // The newest version of `name` built from inputs with this key, if any.
  Result<std::optional<KernelRef>> FindByInputsKey(const std::string& name, const std::string& key);
  Result<KernelRef> Resolve(std::string_view spec);
  Result<KernelInfo> Info(const KernelRef& ref);
  // Every version of every kernel, sorted by name then version.
  Result<std::vector<KernelInfo>> List();
  Status Remove(const KernelRef& ref);

  std::string ArtifactDir(const KernelRef& ref) const;

 private:
  KernelStore(std::string root, Env* env) : root_(std::move(root)), env_(env) {}
  Result<std::vector<uint64_t>> Versions(const std::string& name);

  std::string root_;
  Env* env_;
};

}  // namespace gc
