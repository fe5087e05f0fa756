#include "kernel-build/kernel_inputs.h"

#include <algorithm>

#include "common/hash.h"

namespace gc {

std::string KernelInputs::Canonical() const {
  std::string text = "goldcast-kernel-inputs " + std::to_string(kKernelPipelineVersion) + "\n";
  auto line = [&](const std::string& field, const std::string& value) {
    // Values never hold a newline (the recipe loader refuses them), but a
    // stray one must not let two different inputs print the same text.
    std::string clean = value;
    std::replace(clean.begin(), clean.end(), '\n', ' ');
    text += field + " " + clean + "\n";
  };
  line("source", source_kind + ":" + source_sha256);
  line("version", kernel_version);
  for (const auto& patch : patch_sha256) line("patch", patch);
  line("base", base_config);
  for (const auto& option : required) line("required", option);
  line("cc", cc);
  line("cc_version", cc_version);
  line("make", make);
  line("make_version", make_version);
  line("arch", arch);
  for (const auto& step : pre_steps) line("pre_step", step);
  for (const auto& target : targets) line("target", target);
  line("timestamp", reproducible.timestamp);
  line("source_date_epoch", std::to_string(reproducible.source_date_epoch));
  line("user", reproducible.user);
  line("host", reproducible.host);
  line("build_version", reproducible.build_version);
  return text;
}

std::string KernelInputs::Key() const { return Sha256Hex(Canonical()); }

nlohmann::json KernelInputs::ToJson() const {
  return {{"inputs_key", Key()},
          {"pipeline_version", kKernelPipelineVersion},
          {"source", {{"kind", source_kind}, {"sha256", source_sha256}}},
          {"kernel_version", kernel_version},
          {"patches_sha256", patch_sha256},
          {"base_config", base_config},
          {"required", required},
          {"resolved_config_sha256", resolved_config_sha256},
          {"toolchain",
           {{"cc", cc},
            {"cc_version", cc_version},
            {"make", make},
            {"make_version", make_version},
            {"arch", arch}}},
          {"targets", targets},
          {"pre_steps", pre_steps},
          {"reproducible",
           {{"timestamp", reproducible.timestamp},
            {"source_date_epoch", reproducible.source_date_epoch},
            {"user", reproducible.user},
            {"host", reproducible.host},
            {"build_version", reproducible.build_version}}}};
}

KernelInputs InputsFromRecipe(const KernelRecipe& recipe) {
  KernelInputs inputs;
  inputs.source_kind = "tarball";
  inputs.source_sha256 = recipe.source.sha256;
  inputs.kernel_version = recipe.version + recipe.extraversion;
  for (const auto& patch : recipe.patches) inputs.patch_sha256.push_back(patch.sha256);
  inputs.base_config = recipe.base.ToString();
  for (const auto& option : recipe.required) inputs.required.push_back(option.ConfigLine());
  std::sort(inputs.required.begin(), inputs.required.end());
  inputs.cc = recipe.build.toolchain.cc;
  inputs.make = recipe.build.toolchain.make;
  inputs.arch = recipe.build.toolchain.arch;
  inputs.targets = recipe.build.targets;
  inputs.pre_steps = recipe.build.pre_steps;
  inputs.reproducible = recipe.build.reproducible;
  return inputs;
}

}  // namespace gc
