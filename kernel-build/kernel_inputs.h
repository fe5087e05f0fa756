// Everything a kernel build's output depends on, recorded with the artifact
// (inputs.json) and condensed into an inputs key: the SHA-256 of a canonical
// text of all inputs EXCEPT the resolved .config. The key can therefore be
// computed before anything is unpacked or configured, and a build whose key
// matches a stored artifact is not run again.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "profiles/kernel_recipe.h"

namespace gc {

// Bumped when goldcast changes how it builds (so old artifacts are not reused).
constexpr int kKernelPipelineVersion = 1;

struct KernelInputs {
  std::string source_kind;                // "tarball" or "tree" (--source-tree)
  std::string source_sha256;              // the tarball's hash, or TreeContentHash of the tree
  std::string kernel_version;             // the recipe's version (+ extraversion)
  std::vector<std::string> patch_sha256;  // in series order
  std::string base_config;                // "tinyconfig", or "file:<sha256 of the file>"
  std::vector<std::string> required;      // .config lines, sorted
  std::string cc, cc_version, make, make_version, arch;  // versions: first line of --version
  std::vector<std::string> targets, pre_steps;
  ReproducibleSettings reproducible;
  std::string resolved_config_sha256;  // recorded after configuring; not in the key

  // The canonical text hashed into the key: one "field value" line each.
  std::string Canonical() const;
  std::string Key() const;
  nlohmann::json ToJson() const;
};

// The inputs a recipe declares; source_sha256, the toolchain versions and
// the base file hash are filled in by the caller (they need I/O).
KernelInputs InputsFromRecipe(const KernelRecipe& recipe);

}  // namespace gc
