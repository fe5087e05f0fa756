// Merging the recipe's required options into a .config and verifying the
// resolved result. `make olddefconfig` (and merge_config.sh) exit 0 after
// silently dropping an option whose dependencies are unmet, so this check is
// goldcast's own: every required option must come out exactly as asked, and
// a miss is explained from the tree's Kconfig (kconfig.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "kernel-build/kconfig.h"
#include "profiles/kernel_recipe.h"

namespace gc {

// The .config text with every line of a required symbol removed and the
// required lines appended, ready for olddefconfig (no "override" warnings).
std::string MergeRequiredOptions(std::string_view config,
                                 const std::vector<RequiredOption>& required);

// Required options that no Kconfig file of the tree defines: typically the
// patch that adds them is missing from the series. Checked before any make.
std::vector<std::string> UnknownRequiredOptions(const std::vector<RequiredOption>& required,
                                                const KconfigIndex& index);

// One message per required option that did not resolve as required, each
// naming the option, what it became and why (unmet `depends on`, a limiting
// tristate, a selecting symbol, a range). Empty when all are satisfied.
std::vector<std::string> VerifyRequiredOptions(const std::vector<RequiredOption>& required,
                                               const DotConfig& resolved,
                                               const KconfigIndex& index);

// Folds problems into one error: "WHAT:\n  - problem\n  - problem".
Status ProblemsToStatus(const std::vector<std::string>& problems, const std::string& what);

}  // namespace gc
