// `goldcast kernel build` and `kernel check`: the whole pipeline from a
// recipe to a stored kernel artifact.
//
//   inputs   patch files and hashes, versions, toolchain: checked first, and
//            condensed into the inputs key; a stored artifact with the same
//            key is returned without building
//   source   tarball verified against its SHA-256 (and signature), unpacked
//            once into the pristine cache; or --source-tree, refused when it
//            shows signs of a distro's patches
//   patch    series applied to a fresh copy of the pristine tree
//   config   base config + required options + olddefconfig, then verified
//   compile  out-of-tree, reproducible, through ccache when installed
//   package  vmlinuz, System.map, config, modules, log, inputs: published
//            atomically as NAME@N; a failed build stores nothing
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "kernel-build/kernel_store.h"
#include "kernel-build/work_tree.h"
#include "profiles/kernel_recipe.h"

namespace gc {

struct KernelBuildOptions {
  std::string state_dir;    // the kernel store is STATE/kernels
  std::string cache_dir;    // sources, ccache, work dirs, logs
  std::string source_tree;  // build this unpacked tree instead of the tarball
  bool allow_non_vanilla = false;
  int jobs = 0;                                  // make -jN; 0 = number of CPUs
  bool keep_work = false;                        // keep CACHE/work/<build> afterwards (debugging)
  WorkTreeMode work_tree = WorkTreeMode::kAuto;  // overlay over the pristine tree, or a copy
};

struct KernelBuildResult {
  KernelRef ref;
  bool reused = false;  // inputs unchanged: the stored artifact, nothing built
  double seconds = 0;
  std::string artifact_dir;
  std::vector<std::pair<std::string, double>> phases;  // seconds per phase
};

Result<KernelBuildResult> BuildKernel(const KernelRecipe& recipe, const KernelBuildOptions& options,
                                      Env* env = Env::Default(),
                                      ProcessRunner* runner = ProcessRunner::Default());

// `kernel check`: every problem with the recipe's inputs (files missing,
// hashes or signature wrong, patches for another version, toolchain not
// installed), without unpacking or building anything. Empty = ready.
std::vector<std::string> CheckRecipeInputs(const KernelRecipe& recipe,
                                           ProcessRunner* runner = ProcessRunner::Default());

// First line of `argv` output (e.g. "gcc (Debian 12.2.0-14) 12.2.0"); kNotFound
// naming `what` when the program is not installed.
Result<std::string> ToolVersion(ProcessRunner* runner, const std::vector<std::string>& argv,
                                const std::string& what);

}  // namespace gc
