// The patch series: checked completely before anything is touched (each
// file exists, matches its SHA-256 and is declared for this kernel version),
// then applied in order to a fresh copy of the pristine tree, each patch
// dry-run first (`patch -Np1 --dry-run`) so none is ever half-applied.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "common/subprocess.h"
#include "profiles/kernel_recipe.h"

namespace gc {

// Problems with the patch files themselves: missing, unreadable, wrong hash.
std::vector<std::string> CheckPatchFiles(const std::vector<RecipePatch>& patches);

// Fails naming every patch whose `for` does not fit `tree_version`.
Status CheckPatchVersions(const std::vector<RecipePatch>& patches,
                          const KernelVersion& tree_version, const std::string& tree_description);

// Applies the series to `tree` (which the caller owns: a fresh copy). For each
// patch: dry run, then apply; stops at the first that does not apply, naming
// it and quoting patch's output, and telling an already-applied patch apart.
// Compressed patches (.gz, .bz2, .xz) are decompressed into `scratch_dir`.
Status ApplyPatchSeries(ProcessRunner* runner, const std::string& tree,
                        const std::vector<RecipePatch>& patches, const std::string& scratch_dir);

}  // namespace gc
