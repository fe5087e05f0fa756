// `goldcast kernel ...`: build, list, show, check, rm (docs/kernel-build.md).
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "common/progress.h"
#include "common/text.h"
#include "kernel-build/kernel_builder.h"
#include "kernel-build/kernel_store.h"
#include "profiles/kernel_recipe.h"

namespace gc {

namespace {

using nlohmann::json;

json InfoJson(const KernelInfo& info, const std::string& dir) {
  json out = {{"kernel", info.ref.ToString()},
              {"name", info.ref.name},
              {"version", info.ref.version},
              {"artifact_dir", dir},
              {"inputs_key", info.inputs_key}};
  for (const char* key : {"kernel_release", "vmlinuz_sha256", "vmlinuz_size", "built_at_ns",
                          "recipe", "source", "modules", "ccache", "phases"}) {
    if (info.artifact.contains(key)) out[key] = info.artifact[key];
  }
  return out;
}

template <typename T>
T JsonOr(const json& object, const char* key, T fallback) {
  if (!object.is_object() || !object.contains(key)) return fallback;
  try {
    return object[key].get<T>();
  } catch (const std::exception&) {
    return fallback;
  }
}

struct BuildFlags {
  std::string recipe, source_tree, cache;
  bool allow_non_vanilla = false, keep_work = false, json = false;
  int jobs = 0;
};

void PrintBuildResult(const KernelBuildResult& result, bool json_out) {
  if (json_out) {
    json phases = json::object();
    for (const auto& [phase, seconds] : result.phases) phases[phase] = seconds;
    json out = {{"kernel", result.ref.ToString()},
                {"name", result.ref.name},
                {"version", result.ref.version},
                {"reused", result.reused},
                {"seconds", result.seconds},
                {"artifact_dir", result.artifact_dir},
                {"phases", phases}};
    std::printf("%s\n", out.dump(2).c_str());
  } else if (result.reused) {
    std::printf("kernel %s is up to date (inputs unchanged)\n  artifact: %s\n",
                result.ref.ToString().c_str(), result.artifact_dir.c_str());
  } else {
    std::printf("built kernel %s in %s\n  artifact: %s\n", result.ref.ToString().c_str(),
                FormatSeconds(result.seconds).c_str(), result.artifact_dir.c_str());
  }
}

Status RunBuild(const CliContext& context, const BuildFlags& flags) {
  GC_ASSIGN_OR_RETURN(KernelRecipe recipe, LoadKernelRecipe(flags.recipe));
  KernelBuildOptions options;
  options.state_dir = context.state_dir;
  options.cache_dir =
      flags.cache.empty() ? JoinPath(context.state_dir, "cache/kernel") : flags.cache;
  options.source_tree = flags.source_tree;
  options.allow_non_vanilla = flags.allow_non_vanilla;
  options.jobs = flags.jobs;
  options.keep_work = flags.keep_work;
  auto start = std::chrono::steady_clock::now();
  GC_ASSIGN_OR_RETURN(KernelBuildResult result, BuildKernel(recipe, options));
  // Includes removing the work tree, which BuildKernel's own clock does not.
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PrintBuildResult(result, flags.json);
  return Status::Ok();
}

void AddBuild(CLI::App* kernel, CliContext* context) {
  auto flags = std::make_shared<BuildFlags>();
  auto* cmd = kernel->add_subcommand(
      "build",
      "Build the kernel a recipe describes (or return the stored one if its inputs "
      "are unchanged)");
  cmd->add_option("--recipe", flags->recipe, "Kernel recipe (YAML)")->required();
  cmd->add_option("--source-tree", flags->source_tree,
                  "Build this unpacked tree instead of the recipe's tarball");
  cmd->add_flag("--allow-non-vanilla", flags->allow_non_vanilla,
                "Build a --source-tree even if it shows a distro's patches");
  cmd->add_option("--cache", flags->cache,
                  "Cache for sources, ccache and work dirs (default STATE/cache/kernel)");
  cmd->add_option("--jobs", flags->jobs, "Parallel make jobs (default: number of CPUs)");
  cmd->add_flag("--keep-work", flags->keep_work, "Keep the work tree (debugging)");
  cmd->add_flag("--json", flags->json, "Print the result as JSON");
  cmd->callback([=] { context->run = [=] { return RunBuild(*context, *flags); }; });
}

Status RunList(const CliContext& context, bool json_out) {
  GC_ASSIGN_OR_RETURN(auto store, KernelStore::Open(context.state_dir, false));
  GC_ASSIGN_OR_RETURN(auto kernels, store->List());
  if (json_out) {
    json out = json::array();
    for (const auto& info : kernels) out.push_back(InfoJson(info, store->ArtifactDir(info.ref)));
    std::printf("%s\n", out.dump(2).c_str());
    return Status::Ok();
  }
  if (kernels.empty()) {
    std::printf("no kernels (build one with goldcast kernel build --recipe FILE)\n");
    return Status::Ok();
  }
  std::printf("%-28s %-16s %-22s %10s  %s\n", "KERNEL", "RELEASE", "BUILT", "VMLINUZ", "INPUTS");
  for (const auto& info : kernels) {
    std::printf("%-28s %-16s %-22s %10s  %.12s\n", info.ref.ToString().c_str(),
                JsonOr<std::string>(info.artifact, "kernel_release", "?").c_str(),
                FormatUtcTime(JsonOr<int64_t>(info.artifact, "built_at_ns", 0)).c_str(),
                FormatBytes(JsonOr<uint64_t>(info.artifact, "vmlinuz_size", 0)).c_str(),
                info.inputs_key.c_str());
  }
  return Status::Ok();
}

void AddList(CLI::App* kernel, CliContext* context) {
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = kernel->add_subcommand("list", "List stored kernels");
  cmd->add_flag("--json", *json_out, "Print JSON");
  cmd->callback([=] { context->run = [=] { return RunList(*context, *json_out); }; });
}

struct ShowFlags {
  std::string spec;
  bool json = false;
};

// The artifact (artifact.json), then every input (inputs.json).
void PrintShowText(const KernelInfo& info, const std::string& dir) {
  const json& in = info.inputs;
  std::printf("kernel:      %s\n", info.ref.ToString().c_str());
  std::printf("release:     %s\n",
              JsonOr<std::string>(info.artifact, "kernel_release", "?").c_str());
  std::printf("built:       %s from %s\n",
              FormatUtcTime(JsonOr<int64_t>(info.artifact, "built_at_ns", 0)).c_str(),
              JsonOr<std::string>(info.artifact, "recipe", "?").c_str());
  std::printf("artifact:    %s\n", dir.c_str());
  std::printf("vmlinuz:     %s, sha256 %s\n",
              FormatBytes(JsonOr<uint64_t>(info.artifact, "vmlinuz_size", 0)).c_str(),
              JsonOr<std::string>(info.artifact, "vmlinuz_sha256", "?").c_str());
  json source = JsonOr<json>(in, "source", json::object());
  std::printf("source:      %s sha256 %s\n", JsonOr<std::string>(source, "kind", "?").c_str(),
              JsonOr<std::string>(source, "sha256", "?").c_str());
  for (const auto& patch : JsonOr<std::vector<std::string>>(in, "patches_sha256", {})) {
    std::printf("patch:       %s\n", patch.c_str());
  }
  std::printf("base config: %s\n", JsonOr<std::string>(in, "base_config", "?").c_str());
  for (const auto& option : JsonOr<std::vector<std::string>>(in, "required", {})) {
    std::printf("required:    %s\n", option.c_str());
  }
  std::printf("config:      sha256 %s\n",
              JsonOr<std::string>(in, "resolved_config_sha256", "?").c_str());
  json tool = JsonOr<json>(in, "toolchain", json::object());
  std::printf("compiler:    %s\n", JsonOr<std::string>(tool, "cc_version", "?").c_str());
  std::printf("make:        %s\n", JsonOr<std::string>(tool, "make_version", "?").c_str());
  std::printf("inputs key:  %s\n", info.inputs_key.c_str());
}

Status RunShow(const CliContext& context, const ShowFlags& flags) {
  GC_ASSIGN_OR_RETURN(auto store, KernelStore::Open(context.state_dir, false));
  GC_ASSIGN_OR_RETURN(KernelRef ref, store->Resolve(flags.spec));
  GC_ASSIGN_OR_RETURN(KernelInfo info, store->Info(ref));
  std::string dir = store->ArtifactDir(ref);
  if (flags.json) {
    json out = InfoJson(info, dir);
    out["inputs"] = info.inputs;
    std::printf("%s\n", out.dump(2).c_str());
    return Status::Ok();
  }
  PrintShowText(info, dir);
  return Status::Ok();
}

void AddShow(CLI::App* kernel, CliContext* context) {
  auto flags = std::make_shared<ShowFlags>();
  auto* cmd = kernel->add_subcommand("show", "Show one kernel (default: the newest version)");
  cmd->add_option("KERNEL", flags->spec, "NAME or NAME@VERSION")->required();
  cmd->add_flag("--json", flags->json, "Print JSON (with every input)");
  cmd->callback([=] { context->run = [=] { return RunShow(*context, *flags); }; });
}

Status RunCheck(const std::string& recipe_path) {
  GC_ASSIGN_OR_RETURN(KernelRecipe recipe, LoadKernelRecipe(recipe_path));
  auto problems = CheckRecipeInputs(recipe);
  if (!problems.empty()) {
    std::string message = recipe_path + ": " + std::to_string(problems.size()) +
                          " problem(s) with the recipe's inputs:";
    for (const auto& problem : problems) message += "\n  - " + problem;
    return InvalidArgument(message);
  }
  std::printf(
      "%s: ok: kernel %s, linux %s, %zu patches, %zu required options; every "
      "input is present and matches its sha256\n",
      recipe_path.c_str(), recipe.name.c_str(), recipe.version.c_str(), recipe.patches.size(),
      recipe.required.size());
  return Status::Ok();
}

void AddCheck(CLI::App* kernel, CliContext* context) {
  auto recipe_path = std::make_shared<std::string>();
  auto* cmd = kernel->add_subcommand(
      "check", "Validate a recipe and its inputs (files, hashes, versions) without building");
  cmd->add_option("--recipe", *recipe_path, "Kernel recipe (YAML)")->required();
  cmd->callback([=] { context->run = [=] { return RunCheck(*recipe_path); }; });
}

Status RunRm(const CliContext& context, const std::string& spec) {
  if (spec.find('@') == std::string::npos) {
    return InvalidArgument("kernel rm needs an explicit version: NAME@VERSION");
  }
  GC_ASSIGN_OR_RETURN(auto store, KernelStore::Open(context.state_dir, false));
  GC_ASSIGN_OR_RETURN(KernelRef ref, store->Resolve(spec));
  GC_RETURN_IF_ERROR(store->Remove(ref));
  std::printf("removed kernel %s\n", ref.ToString().c_str());
  return Status::Ok();
}

void AddRm(CLI::App* kernel, CliContext* context) {
  auto spec = std::make_shared<std::string>();
  auto* cmd = kernel->add_subcommand("rm", "Remove one kernel version");
  cmd->add_option("KERNEL", *spec, "NAME@VERSION")->required();
  cmd->callback([=] { context->run = [=] { return RunRm(*context, *spec); }; });
}

}  // namespace

void AddKernelCommands(CLI::App* app, CliContext* context) {
  auto* kernel = app->add_subcommand("kernel", "Build and manage cluster kernels");
  kernel->require_subcommand(1);
  AddBuild(kernel, context);
  AddList(kernel, context);
  AddShow(kernel, context);
  AddCheck(kernel, context);
  AddRm(kernel, context);
}

}  // namespace gc
