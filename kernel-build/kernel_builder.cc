#include "kernel-build/kernel_builder.h"

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <thread>

#include "common/hash.h"
#include "common/log.h"
#include "common/stopwatch.h"
#include "common/temp_dirs.h"
#include "common/text.h"
#include "kernel-build/build_steps.h"
#include "kernel-build/config_check.h"
#include "kernel-build/kconfig.h"
#include "kernel-build/kernel_inputs.h"
#include "kernel-build/kernel_source.h"
#include "kernel-build/patch_series.h"
#include "kernel-build/work_tree.h"

namespace gc {

namespace {

Status CopyFile(Env* env, const std::string& from, const std::string& to) {
  GC_ASSIGN_OR_RETURN(std::string data, env->ReadFile(from));
  return env->WriteFileAtomic(to, data);
}

// Removes a directory when the build is over, unless asked to keep it.
class ScopedDir {
 public:
  ScopedDir(Env* env, std::string path, bool keep)
      : env_(env), path_(std::move(path)), keep_(keep) {}
  ~ScopedDir() {
    if (!keep_ && !path_.empty()) (void)env_->RemoveTree(path_);
  }
  ScopedDir(const ScopedDir&) = delete;
  ScopedDir& operator=(const ScopedDir&) = delete;

 private:
  Env* env_;
  std::string path_;
  bool keep_;
};

// Unmounts and removes a build's work directory when the build is over.
class WorkGuard {
 public:
  WorkGuard(Env* env, std::string path, bool keep)
      : env_(env), path_(std::move(path)), keep_(keep) {}
  ~WorkGuard() {
    if (keep_) return;
    ReleaseWorkTree(path_);
    (void)env_->RemoveTree(path_);
  }
  WorkGuard(const WorkGuard&) = delete;
  WorkGuard& operator=(const WorkGuard&) = delete;

 private:
  Env* env_;
  std::string path_;
  bool keep_;
};

// `make modules_install` only warns when depmod is missing and still exits
// 0, leaving a tree without modules.dep that no modprobe on a node can use;
// and it links build/ and source/ back to this machine's build tree, which
// would dangle on every node.
Status FinishModulesTree(Env* env, const std::string& dir) {
  if (!env->Exists(dir + "/modules.dep")) {
    return NotFound("make modules_install wrote no " + dir +
                    "/modules.dep (depmod is missing: install the kmod package)");
  }
  for (const char* link : {"build", "source"}) {
    std::string path = dir + "/" + link;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      GC_RETURN_IF_ERROR(env->RemoveFile(path));
    }
  }
  return Status::Ok();
}

// One build: the steps in order, sharing the paths and the log.
class Build {
 public:
  Build(const KernelRecipe& recipe, const KernelBuildOptions& options, Env* env,
        ProcessRunner* runner)
      : recipe_(recipe),
        options_(options),
        env_(env),
        runner_(runner),
        progress_("kernel " + recipe.name) {}

  Result<KernelBuildResult> Run();

 private:
  KernelBuildResult Reused(const KernelStore& store, const KernelRef& ref,
                           const Stopwatch& stopwatch);
  Status CheckGivenTree(TreeVersion* version);
  Result<FileLock> LockCache();
  Result<std::string> NewWorkDir();
  Status SetUpWork(const std::string& pristine, const TreeVersion& version);
  Status PatchAndConfigure();
  Status CheckInputs();
  Status PrepareSource(std::string* pristine);
  Status CheckTree(const std::string& pristine, TreeVersion* version);
  Status Configure();
  Status Compile();
  Status Package(const std::string& staging);
  // Runs make; on failure names the step and quotes the end of the log.
  Status Make(const std::string& step, const std::vector<std::string>& targets, bool parallel,
              const std::vector<std::string>& extra = {});
  Status Failed(Status status);

  const KernelRecipe& recipe_;
  KernelBuildOptions options_;
  Env* env_;
  ProcessRunner* runner_;
  PhaseProgress progress_;
  KernelInputs inputs_;
  BuildEnvironment build_env_;
  std::string work_, srcarch_, log_path_;
  std::unique_ptr<LoggedRunner> logged_;
  DotConfig resolved_;
  std::string work_tree_kind_;           // "overlay" or "copy"
  std::optional<KconfigIndex> kconfig_;  // of the patched tree, read once
};

Status Build::CheckInputs() {
  GC_RETURN_IF_ERROR(ProblemsToStatus(CheckPatchFiles(recipe_.patches),
                                      "problems with the patch series of " + recipe_.path));
  KernelVersion declared;
  ParseKernelVersion(recipe_.version, &declared);
  GC_RETURN_IF_ERROR(CheckPatchVersions(recipe_.patches, declared,
                                        "the recipe's source (version: " + recipe_.version + ")"));
  if (recipe_.base.kind == BaseConfigKind::kFile) {
    auto digest = Sha256File(recipe_.base.file);
    if (!digest.ok()) {
      return NotFound("config.base.file " + recipe_.base.file + " cannot be read (" +
                      digest.status().message() + ")");
    }
    inputs_.base_config = "file:" + *digest;
  }
  GC_ASSIGN_OR_RETURN(inputs_.cc_version,
                      ToolVersion(runner_, {recipe_.build.toolchain.cc, "--version"},
                                  "the compiler (build.toolchain.cc)"));
  GC_ASSIGN_OR_RETURN(inputs_.make_version,
                      ToolVersion(runner_, {recipe_.build.toolchain.make, "--version"},
                                  "make (build.toolchain.make)"));
  return Status::Ok();
}

Status Build::CheckTree(const std::string& pristine, TreeVersion* version) {
  GC_ASSIGN_OR_RETURN(*version, ReadTreeVersion(pristine, env_));
  std::string what =
      options_.source_tree.empty() ? "the source tarball" : "--source-tree " + pristine;
  if (!options_.source_tree.empty()) {
    auto signs = FindNonVanillaSigns(pristine, *version, recipe_.extraversion, env_);
    if (!signs.empty()) {
      std::string list;
      for (const auto& sign : signs) list += "\n  - " + sign;
      if (!options_.allow_non_vanilla) {
        return InvalidArgument(pristine +
                               " is not a vanilla kernel tree (patches for the cluster "
                               "kernel are made against vanilla sources; a distro's tree carries "
                               "its own patches and makes them fail or misbehave). Found:" +
                               list +
                               "\nUse the vanilla tarball the recipe declares, or pass "
                               "--allow-non-vanilla to build it anyway.");
      }
      GC_LOG(Warning) << pristine << " is not vanilla (--allow-non-vanilla):" << list;
    }
  }
  if (version->version.ToString() != recipe_.version ||
      (options_.source_tree.empty() && version->extraversion != recipe_.extraversion)) {
    return InvalidArgument(what + " is linux " + version->ToString() + " but " + recipe_.path +
                           " declares version " + recipe_.version + recipe_.extraversion +
                           ": fix the recipe's version, or use the source it names");
  }
  return CheckPatchVersions(recipe_.patches, version->version, what);
}

Status Build::PrepareSource(std::string* pristine) {
  std::string tarball = recipe_.source.tarball;
  if (!recipe_.source.url.empty()) {
    GC_ASSIGN_OR_RETURN(
        tarball, FetchTarball(recipe_.source.url, recipe_.source.sha256, options_.cache_dir, env_));
  }
  GC_RETURN_IF_ERROR(VerifyTarballHash(tarball, recipe_.source.sha256));
  if (!recipe_.source.signature.empty()) {
    GC_RETURN_IF_ERROR(
        VerifySignature(runner_, tarball, recipe_.source.signature, recipe_.source.keyring));
  }
  progress_.Start("unpack");
  SourceCache cache(options_.cache_dir, env_, runner_);
  GC_ASSIGN_OR_RETURN(*pristine, cache.Pristine(tarball, recipe_.source.sha256));
  return Status::Ok();
}

Status Build::Make(const std::string& step, const std::vector<std::string>& targets, bool parallel,
                   const std::vector<std::string>& extra) {
  auto argv = MakeCommand(recipe_, build_env_, targets, parallel, extra);
  GC_ASSIGN_OR_RETURN(
      int code, logged_->Run(argv, [&](std::string_view line) { progress_.CountLine(line); }));
  if (code != 0) {
    return InvalidArgument(step + " failed (make exit " + std::to_string(code) + "); the end of " +
                           "the build log:\n" + logged_->Tail(25));
  }
  return Status::Ok();
}

Status Build::Configure() {
  const std::string& out = build_env_.out;
  GC_RETURN_IF_ERROR(env_->CreateDirs(out));
  std::string config_path = out + "/.config";
  switch (recipe_.base.kind) {
    case BaseConfigKind::kFile:
      GC_RETURN_IF_ERROR(CopyFile(env_, recipe_.base.file, config_path));
      break;
    case BaseConfigKind::kDefconfig:
      if (build_env_.legacy) {
        // 2.4's Configure falls back to arch/<arch>/defconfig; make it explicit.
        GC_RETURN_IF_ERROR(
            CopyFile(env_, build_env_.src + "/arch/" + srcarch_ + "/defconfig", config_path));
        break;
      }
      [[fallthrough]];
    default:
      if (build_env_.legacy) {
        return InvalidArgument("config.base " + recipe_.base.ToString() +
                               " needs a 2.6 or newer "
                               "tree; a " +
                               recipe_.version + " tree takes defconfig or {file: PATH}");
      }
      GC_RETURN_IF_ERROR(Make("make " + recipe_.base.ToString(), {recipe_.base.ToString()}, false));
  }
  GC_ASSIGN_OR_RETURN(std::string base, env_->ReadFile(config_path));
  GC_RETURN_IF_ERROR(
      env_->WriteFileAtomic(config_path, MergeRequiredOptions(base, recipe_.required)));
  if (build_env_.legacy) {
    GC_RETURN_IF_ERROR(Make("make oldconfig", {"oldconfig"}, false));
  } else {
    GC_RETURN_IF_ERROR(
        Make("make olddefconfig", {"olddefconfig"}, false, {"KCONFIG_WARN_UNKNOWN_SYMBOLS=1"}));
  }
  GC_ASSIGN_OR_RETURN(std::string resolved_text, env_->ReadFile(config_path));
  resolved_ = ParseDotConfig(resolved_text);
  inputs_.resolved_config_sha256 = Sha256Hex(resolved_text);
  // olddefconfig exits 0 even when it dropped options; this is the real check.
  return ProblemsToStatus(VerifyRequiredOptions(recipe_.required, resolved_, *kconfig_),
                          "required options did not resolve as the recipe requires (olddefconfig "
                          "changes them silently; nothing was compiled)");
}

Status Build::Compile() {
  for (const auto& step : recipe_.build.pre_steps) {
    GC_RETURN_IF_ERROR(Make("make " + step, {step}, false));
  }
  std::vector<std::string> targets = recipe_.build.targets;
  if (resolved_["CONFIG_MODULES"] == "y" &&
      std::find(targets.begin(), targets.end(), "modules") == targets.end()) {
    targets.push_back("modules");
  }
  std::string all;
  for (const auto& target : targets) all += " " + target;
  return Make("make" + all, targets, true);
}

Status Build::Package(const std::string& staging) {
  const std::string& out = build_env_.out;
  std::string image;
  for (const auto& target : recipe_.build.targets) {
    image = KernelImagePath(out, srcarch_, target);
    if (!image.empty()) break;
  }
  if (image.empty() || !env_->Exists(image)) {
    return InvalidArgument("the build made no kernel image (targets: build.targets; looked for " +
                           (image.empty() ? std::string("a bzImage/Image/vmlinux target") : image) +
                           ")");
  }
  GC_RETURN_IF_ERROR(CopyFile(env_, image, staging + "/vmlinuz"));
  GC_RETURN_IF_ERROR(CopyFile(env_, out + "/System.map", staging + "/System.map"));
  GC_RETURN_IF_ERROR(CopyFile(env_, out + "/.config", staging + "/config"));
  GC_RETURN_IF_ERROR(env_->CreateDirs(staging + "/modules"));
  std::string release;
  auto release_text = env_->ReadFile(out + "/include/config/kernel.release");
  if (release_text.ok()) {
    release = Trim(*release_text);
  } else {
    auto version = ReadTreeVersion(build_env_.src, env_);
    if (version.ok()) release = version->ToString();
  }
  bool modules = resolved_["CONFIG_MODULES"] == "y";
  if (modules) {
    GC_RETURN_IF_ERROR(Make("make modules_install", {"modules_install"}, false,
                            {"INSTALL_MOD_PATH=" + staging + "/modules"}));
    GC_RETURN_IF_ERROR(FinishModulesTree(env_, staging + "/modules/lib/modules/" + release));
  }
  GC_ASSIGN_OR_RETURN(std::string image_hash, Sha256File(staging + "/vmlinuz"));
  GC_ASSIGN_OR_RETURN(uint64_t image_size, env_->FileSize(staging + "/vmlinuz"));
  nlohmann::json phases = nlohmann::json::object();
  for (const auto& [phase, seconds] : progress_.timings()) phases[phase] = seconds;
  nlohmann::json artifact = {
      {"name", recipe_.name},
      {"recipe", recipe_.path},
      {"kernel_release", release},
      {"vmlinuz_sha256", image_hash},
      {"vmlinuz_size", image_size},
      {"built_at_ns", env_->NowNanos()},
      {"modules", modules},
      {"ccache", !build_env_.ccache_dir.empty()},
      {"jobs", build_env_.jobs},
      {"work_tree", work_tree_kind_},
      {"source", options_.source_tree.empty() ? recipe_.source.tarball + recipe_.source.url
                                              : options_.source_tree},
      {"phases", phases}};
  GC_RETURN_IF_ERROR(
      env_->WriteFileAtomic(staging + "/inputs.json", inputs_.ToJson().dump(2) + "\n"));
  GC_RETURN_IF_ERROR(env_->WriteFileAtomic(staging + "/artifact.json", artifact.dump(2) + "\n"));
  // The log last, so it holds every command including modules_install.
  return CopyFile(env_, log_path_, staging + "/build.log");
}

Status Build::Failed(Status status) {
  if (!log_path_.empty() && env_->Exists(log_path_)) {
    std::string saved = options_.cache_dir + "/logs/" + recipe_.name + ".failed.log";
    if (env_->CreateDirs(options_.cache_dir + "/logs").ok() &&
        CopyFile(env_, log_path_, saved).ok()) {
      return status.WithContext("kernel " + recipe_.name + " (build log kept in " + saved + ")");
    }
  }
  return status.WithContext("kernel " + recipe_.name);
}

KernelBuildResult Build::Reused(const KernelStore& store, const KernelRef& ref,
                                const Stopwatch& stopwatch) {
  progress_.Discard();
  return KernelBuildResult{ref, true, stopwatch.Seconds(), store.ArtifactDir(ref), {}};
}

// An unpacked tree (--source-tree) is judged (vanilla? right version?)
// before anything else.
Status Build::CheckGivenTree(TreeVersion* version) {
  if (options_.source_tree.empty()) return Status::Ok();
  if (!env_->Exists(options_.source_tree + "/Makefile")) {
    return NotFound("--source-tree " + options_.source_tree +
                    " has no Makefile: is it a kernel tree?");
  }
  GC_RETURN_IF_ERROR(CheckTree(options_.source_tree, version));
  inputs_.source_kind = "tree";
  GC_ASSIGN_OR_RETURN(inputs_.source_sha256, TreeContentHash(options_.source_tree));
  return Status::Ok();
}

// One build per cache at a time: they share the pristine trees and ccache,
// and a kernel compile already uses every CPU.
Result<FileLock> Build::LockCache() {
  std::string lock_path = options_.cache_dir + "/build.lock";
  GC_RETURN_IF_ERROR(env_->CreateDirs(options_.cache_dir));
  auto lock = FileLock::Acquire(lock_path, FileLock::Mode::kExclusive, false, "");
  if (!lock.ok() && lock.status().code() == Code::kBusy) {
    GC_LOG(Info) << "waiting for another kernel build that uses " << options_.cache_dir;
    lock = FileLock::Acquire(lock_path, FileLock::Mode::kExclusive, true, "");
  }
  return lock;
}

// A fresh pid-named work directory's path (not yet created), after removing
// those of dead builds.
Result<std::string> Build::NewWorkDir() {
  std::string work_root = options_.cache_dir + "/work";
  GC_RETURN_IF_ERROR(env_->CreateDirs(work_root));
  GC_RETURN_IF_ERROR(RemoveDeadWorkDirs(work_root, env_));
  return work_root + "/" + PidTempName(recipe_.name);
}

// Creates work_ with its log and decides how make runs there.
Status Build::SetUpWork(const std::string& pristine, const TreeVersion& version) {
  GC_RETURN_IF_ERROR(env_->CreateDirs(work_));
  log_path_ = work_ + "/build.log";
  logged_ = std::make_unique<LoggedRunner>(runner_, log_path_);

  build_env_.legacy = IsLegacyKernel(version.version);
  build_env_.src = work_ + "/src";
  build_env_.out = build_env_.legacy ? build_env_.src : work_ + "/out";
  build_env_.jobs = options_.jobs > 0
                        ? options_.jobs
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto ccache = runner_->Run({"ccache", "--version"});
  if (ccache.ok() && ccache->exit_code == 0) {
    build_env_.ccache_dir = options_.cache_dir + "/ccache";
    build_env_.ccache_basedir = work_;
  }
  srcarch_ = SourceArch(pristine, recipe_.build.toolchain.arch);
  return Status::Ok();
}

// Patches the work tree, then configures it.
Status Build::PatchAndConfigure() {
  GC_RETURN_IF_ERROR(ApplyPatchSeries(runner_, build_env_.src, recipe_.patches, work_));
  // Fail fast on options the tree does not have, before running make at all.
  progress_.Start("config");
  GC_ASSIGN_OR_RETURN(auto index, KconfigIndex::Load(build_env_.src, srcarch_));
  kconfig_.emplace(std::move(index));
  GC_RETURN_IF_ERROR(ProblemsToStatus(UnknownRequiredOptions(recipe_.required, *kconfig_),
                                      "required options unknown to this tree"));
  return Configure();
}

Result<KernelBuildResult> Build::Run() {
  Stopwatch stopwatch;
  progress_.Start("verify");
  inputs_ = InputsFromRecipe(recipe_);
  GC_RETURN_IF_ERROR(CheckInputs());
  TreeVersion version;
  GC_RETURN_IF_ERROR(CheckGivenTree(&version));

  GC_ASSIGN_OR_RETURN(auto store, KernelStore::Open(options_.state_dir, /*create=*/true, env_));
  std::string key = inputs_.Key();
  GC_ASSIGN_OR_RETURN(auto existing, store->FindByInputsKey(recipe_.name, key));
  if (existing) return Reused(*store, *existing, stopwatch);
  GC_ASSIGN_OR_RETURN(FileLock lock, LockCache());
  // The build we waited for may have been this very one.
  GC_ASSIGN_OR_RETURN(existing, store->FindByInputsKey(recipe_.name, key));
  if (existing) return Reused(*store, *existing, stopwatch);

  std::string pristine = options_.source_tree;
  if (pristine.empty()) {
    Status prepared = PrepareSource(&pristine);
    if (!prepared.ok()) return Failed(prepared);
    GC_RETURN_IF_ERROR(CheckTree(pristine, &version));
  }
  GC_ASSIGN_OR_RETURN(work_, NewWorkDir());
  WorkGuard work_guard(env_, work_, options_.keep_work);
  GC_RETURN_IF_ERROR(SetUpWork(pristine, version));

  progress_.Start("patch");
  // The pristine tree is shared by every build and never edited: the build
  // works on an overlay over it (or a copy).
  auto tree_kind = MakeWorkTree(pristine, work_, options_.work_tree, runner_);
  if (!tree_kind.ok()) return Failed(tree_kind.status());
  work_tree_kind_ = *tree_kind;
  Status status = PatchAndConfigure();
  if (status.ok()) {
    progress_.Start("compile");
    status = Compile();
  }
  std::string staging;
  if (status.ok()) {
    progress_.Start("package");
    auto dir = store->NewStagingDir();
    status = dir.status();
    if (dir.ok()) staging = *dir;
  }
  ScopedDir staging_guard(env_, staging, false);
  if (status.ok()) status = Package(staging);
  progress_.Finish();
  if (!status.ok()) return Failed(status);
  GC_ASSIGN_OR_RETURN(KernelRef ref, store->Publish(recipe_.name, staging));
  return KernelBuildResult{ref, false, stopwatch.Seconds(), store->ArtifactDir(ref),
                           progress_.timings()};
}

}  // namespace

Result<std::string> ToolVersion(ProcessRunner* runner, const std::vector<std::string>& argv,
                                const std::string& what) {
  auto result = runner->Run(argv);
  if (!result.ok()) {
    if (result.status().code() == Code::kNotFound) {
      return NotFound(what + " '" + argv[0] +
                      "' is not installed (install it, or name "
                      "another in the recipe's build.toolchain)");
    }
    return result.status();
  }
  std::string text = result->stdout_text.empty() ? result->stderr_text : result->stdout_text;
  if (result->exit_code != 0) {
    return InvalidArgument(what + " '" + argv[0] + " --version' failed: " + Trim(text));
  }
  return Trim(text.substr(0, text.find('\n')));
}

Result<KernelBuildResult> BuildKernel(const KernelRecipe& recipe, const KernelBuildOptions& options,
                                      Env* env, ProcessRunner* runner) {
  if (options.state_dir.empty() || options.cache_dir.empty()) {
    return InvalidArgument("BuildKernel needs a state and a cache directory");
  }
  KernelBuildOptions absolute = options;
  // Every path handed to make must survive make -C changing directory.
  for (std::string* path : {&absolute.state_dir, &absolute.cache_dir, &absolute.source_tree}) {
    if (!path->empty()) *path = std::filesystem::absolute(*path).lexically_normal().string();
    while (path->size() > 1 && path->back() == '/') path->pop_back();
  }
  Build build(recipe, absolute, env, runner);
  return build.Run();
}

std::vector<std::string> CheckRecipeInputs(const KernelRecipe& recipe, ProcessRunner* runner) {
  std::vector<std::string> problems;
  const RecipeSource& source = recipe.source;
  if (!source.tarball.empty()) {
    bool exists = std::filesystem::exists(source.tarball);
    if (!exists) {
      problems.push_back("source.tarball " + source.tarball +
                         " not found (download the vanilla "
                         "tarball there; see the comments in " +
                         recipe.path + ")");
    }
    if (IsPlaceholderHash(source.sha256)) {
      problems.push_back(
          "source.sha256 is the all-zero placeholder: replace it with the "
          "sha256sum of your copy of the tarball once its signature verified");
    } else if (exists) {
      Status status = VerifyTarballHash(source.tarball, source.sha256);
      if (!status.ok()) problems.push_back(status.message());
    }
    if (exists && !source.signature.empty()) {
      Status status = VerifySignature(runner, source.tarball, source.signature, source.keyring);
      if (!status.ok()) problems.push_back(status.message());
    }
  } else if (IsPlaceholderHash(source.sha256)) {
    problems.push_back(
        "source.sha256 is the all-zero placeholder: replace it with the sha256sum "
        "of the tarball at " +
        source.url);
  }
  for (const std::string* file : {&source.signature, &source.keyring}) {
    if (!file->empty() && !std::filesystem::exists(*file)) {
      problems.push_back(*file + " (source signature/keyring) not found");
    }
  }
  auto patch_problems = CheckPatchFiles(recipe.patches);
  problems.insert(problems.end(), patch_problems.begin(), patch_problems.end());
  KernelVersion declared;
  ParseKernelVersion(recipe.version, &declared);
  Status versions = CheckPatchVersions(recipe.patches, declared,
                                       "the recipe's source (version: " + recipe.version + ")");
  if (!versions.ok()) problems.push_back(versions.message());
  if (recipe.base.kind == BaseConfigKind::kFile && !std::filesystem::exists(recipe.base.file)) {
    problems.push_back("config.base.file " + recipe.base.file + " not found");
  }
  if (IsLegacyKernel(declared) && (recipe.base.kind == BaseConfigKind::kTinyconfig ||
                                   recipe.base.kind == BaseConfigKind::kAllnoconfig)) {
    problems.push_back("config.base " + recipe.base.ToString() + " does not exist in a " +
                       recipe.version + " tree: use defconfig or {file: PATH}");
  }
  for (const auto& [argv, what] :
       {std::pair{std::vector<std::string>{recipe.build.toolchain.cc, "--version"},
                  std::string("the compiler (build.toolchain.cc)")},
        std::pair{std::vector<std::string>{recipe.build.toolchain.make, "--version"},
                  std::string("make (build.toolchain.make)")}}) {
    auto version = ToolVersion(runner, argv, what);
    if (!version.ok()) problems.push_back(version.status().message());
  }
  return problems;
}

}  // namespace gc
