#include "pxe/installer_builder.h"

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/cpio_writer.h"
#include "common/hash.h"
#include "common/temp_dirs.h"
#include "imager/image_kernel.h"
#include "pxe/image_files.h"
#include "pxe/module_deps.h"

namespace gc {

std::string InstallerSource::ToString() const {
  if (kernel) return "kernel " + kernel->ToString();
  if (image) return "image " + image->ToString();
  return "nothing";
}

Result<InstallerSource> InstallerSourceFor(const GroupTarget& target) {
  InstallerSource source;
  if (!target.kernel_spec.empty()) {
    if (!target.kernel) return NotFound(target.kernel_error);
    source.kernel = target.kernel;
  } else {
    if (!target.image) return NotFound(target.image_error);
    source.image = target.image;
  }
  return source;
}

std::string InstallerCacheKey(const InstallerSource& source, const std::string& bundle_hash) {
  std::string inputs = "goldcast installer format " + std::to_string(kInstallerFormatVersion) +
                       "\n" + source.ToString() + "\nagent bundle " + bundle_hash + "\n";
  std::string name = source.ToString();
  std::replace(name.begin(), name.end(), ' ', '-');
  return name + "-" + Sha256Hex(inputs).substr(0, 16);
}

std::string DefaultAgentBundle() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  auto bin = self.parent_path();
  for (const auto& candidate : {bin / "agent-bundle", bin.parent_path() / "agent-bundle",
                                bin.parent_path() / "lib/goldcast/agent-bundle"}) {
    if (::access((candidate / "goldcast-agent").c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

namespace {

using nlohmann::json;

void Progress(const InstallerOptions& options, const std::string& line) {
  if (options.progress) options.progress(line);
}

// "kernel/fs/ext4/ext4.ko.xz" -> "kernel/fs/ext4/ext4.ko": the builder
// decompresses, so busybox insmod needs no xz or zstd.
std::string PlainModulePath(const std::string& path) {
  size_t ko = path.rfind(".ko");
  return ko == std::string::npos ? path : path.substr(0, ko + 3);
}

struct Payload {
  std::string vmlinuz;
  std::string release;
  std::vector<std::string> modules;  // initramfs paths, load order
};

// The image's own newest kernel and, from its modules tree, what the
// installer needs to reach the disk and the server.
Result<Payload> ImageKernel(const ImageRef& ref, const InstallerOptions& options,
                            InitramfsTree* tree) {
  GC_ASSIGN_OR_RETURN(auto store, ImageStore::Open(options.state_dir, /*create=*/false));
  GC_ASSIGN_OR_RETURN(Manifest manifest, store->LoadManifest(ref));
  std::string what = "image " + ref.ToString();
  ImageFiles files(store.get(), std::move(manifest), what);
  Payload payload;
  payload.release = NewestImageKernel(files.manifest());
  if (payload.release.empty()) {
    return NotFound(what +
                    " has no /boot/vmlinuz-*: install a kernel in the golden client and capture "
                    "again, or build the installer for a kernel artifact (--kernel NAME@N, and "
                    "kernel: in the group)");
  }
  GC_ASSIGN_OR_RETURN(payload.vmlinuz, files.ReadFile("boot/vmlinuz-" + payload.release));
  std::string modules_dir = "lib/modules/" + payload.release;
  auto dir = files.Resolve(modules_dir);
  if (!dir.ok()) {
    return NotFound(what + " has /boot/vmlinuz-" + payload.release + " but no /" + modules_dir +
                    ": the installer could not load its disk and network drivers; install the "
                    "kernel's modules in the golden client and capture again");
  }
  std::string dep_source = what + ":/" + modules_dir + "/modules.dep";
  auto dep = files.ReadFile(*dir + "/modules.dep");
  if (!dep.ok()) {
    return NotFound(dep_source + " is missing: run `depmod " + payload.release +
                    "` in the golden client and capture again");
  }
  auto builtin = files.ReadFile(*dir + "/modules.builtin");  // absent: nothing built in
  GC_ASSIGN_OR_RETURN(ModuleDeps deps,
                      ParseModuleDeps(*dep, builtin.ok() ? *builtin : "", dep_source));
  GC_ASSIGN_OR_RETURN(auto order, ModuleLoadOrder(deps, InstallerModules(), dep_source));
  for (const std::string& path : order) {
    GC_ASSIGN_OR_RETURN(std::string packed, files.ReadFile(*dir + "/" + path));
    GC_ASSIGN_OR_RETURN(std::string plain, Decompress(packed, what + ":/" + *dir + "/" + path));
    std::string target = modules_dir + "/" + PlainModulePath(path);
    tree->AddFile(target, 0644, std::move(plain));
    payload.modules.push_back("/" + target);
  }
  return payload;
}

Result<Payload> ArtifactKernel(const KernelRef& ref, const InstallerOptions& options) {
  GC_ASSIGN_OR_RETURN(auto store, KernelStore::Open(options.state_dir, /*create=*/false));
  GC_ASSIGN_OR_RETURN(KernelInfo info, store->Info(ref));
  Payload payload;
  GC_ASSIGN_OR_RETURN(payload.vmlinuz,
                      options.env->ReadFile(JoinPath(store->ArtifactDir(ref), "vmlinuz")));
  if (info.artifact.is_object() && info.artifact.contains("kernel_release") &&
      info.artifact["kernel_release"].is_string()) {
    payload.release = info.artifact["kernel_release"].get<std::string>();
  }
  return payload;
}

Result<InstallerResult> LoadCached(const std::string& dir, const std::string& key, Env* env) {
  GC_ASSIGN_OR_RETURN(std::string text, env->ReadFile(JoinPath(dir, "installer.json")));
  InstallerResult result;
  result.key = key;
  result.dir = dir;
  result.reused = true;
  try {
    json j = json::parse(text);
    result.kernel_release = j.value("kernel_release", "");
    result.modules = j.value("modules", std::vector<std::string>{});
    result.initrd_bytes = j.value("initrd_bytes", uint64_t{0});
  } catch (const std::exception& e) {
    return Corrupt(JoinPath(dir, "installer.json") + ": " + e.what() + " (remove " + dir +
                   " to rebuild it)");
  }
  return result;
}

// Writes the installer into a staging directory and renames it to `dir`.
Status Publish(const InstallerSource& source, const Payload& payload, const InitramfsTree& tree,
               const std::string& bundle_hash, InstallerResult* result,
               const InstallerOptions& options) {
  Env* env = options.env;
  std::string tmp = JoinPath(options.cache_dir, "tmp");
  GC_RETURN_IF_ERROR(env->CreateDirs(tmp));
  GC_RETURN_IF_ERROR(RemoveDeadTemps(tmp, env));
  std::string staging = JoinPath(tmp, PidTempName("installer"));
  GC_RETURN_IF_ERROR(env->CreateDirs(staging));
  Status status = [&]() -> Status {
    GC_RETURN_IF_ERROR(env->WriteFile(JoinPath(staging, "vmlinuz"), payload.vmlinuz));
    GC_RETURN_IF_ERROR(tree.WriteCpio(JoinPath(staging, "initrd.img")));
    GC_ASSIGN_OR_RETURN(result->initrd_bytes, env->FileSize(JoinPath(staging, "initrd.img")));
    json info = {{"format", kInstallerFormatVersion},    {"key", result->key},
                 {"source", source.ToString()},          {"kernel_release", payload.release},
                 {"agent_bundle_sha256", bundle_hash},   {"modules", payload.modules},
                 {"initrd_bytes", result->initrd_bytes}, {"built_at_ns", env->NowNanos()}};
    GC_RETURN_IF_ERROR(env->WriteFile(JoinPath(staging, "installer.json"), info.dump(2) + "\n"));
    GC_RETURN_IF_ERROR(env->SyncFileSystem(staging));
    return env->Rename(staging, result->dir);
  }();
  if (!status.ok()) {
    (void)env->RemoveTree(staging);
    // Another build of the same key won the rename: the same installer.
    if (env->Exists(JoinPath(result->dir, "installer.json"))) return Status::Ok();
    return status;
  }
  return env->SyncDir(options.cache_dir);
}

}  // namespace

Result<InstallerResult> BuildInstaller(const InstallerSource& source,
                                       const InstallerOptions& given) {
  InstallerOptions options = given;
  if (options.cache_dir.empty()) options.cache_dir = JoinPath(options.state_dir, "boot/installers");
  if (options.agent_bundle.empty()) options.agent_bundle = DefaultAgentBundle();
  if (options.agent_bundle.empty()) {
    return NotFound(
        "no agent bundle beside this goldcast: make one with scripts/bundle-agent.sh "
        "BUILD/node-agent/goldcast-agent DIR (a Release build) and pass --agent-bundle DIR");
  }
  if (source.image.has_value() == source.kernel.has_value()) {
    return InvalidArgument("an installer is built for an image or for a kernel artifact");
  }
  GC_ASSIGN_OR_RETURN(auto bundle, ReadAgentBundle(options.agent_bundle, options.env));
  std::string bundle_hash = HashAgentBundle(bundle);
  InstallerResult result;
  result.key = InstallerCacheKey(source, bundle_hash);
  result.dir = JoinPath(options.cache_dir, result.key);
  if (options.env->Exists(JoinPath(result.dir, "installer.json"))) {
    return LoadCached(result.dir, result.key, options.env);
  }

  Progress(options, "building the installer for " + source.ToString());
  InitramfsTree tree;
  Payload payload;
  if (source.image) {
    GC_ASSIGN_OR_RETURN(payload, ImageKernel(*source.image, options, &tree));
    Progress(options, "kernel " + payload.release + " from " + source.ToString() + ", " +
                          std::to_string(payload.modules.size()) + " modules");
  } else {
    GC_ASSIGN_OR_RETURN(payload, ArtifactKernel(*source.kernel, options));
    Progress(options, "kernel " + source.kernel->ToString() + " (drivers built in)");
  }
  GC_RETURN_IF_ERROR(AddHostFiles(options.host, options.runner, options.env, &tree));
  Progress(options, "busybox, installer tools and their libraries from this host");
  for (BundleFile& file : bundle) {
    std::string path = "opt/goldcast-agent/" + file.path;
    if (file.symlink) {
      tree.AddSymlink(path, std::move(file.data));
    } else {
      tree.AddFile(path, file.mode, std::move(file.data));
    }
  }
  Progress(options, "agent bundle " + options.agent_bundle);
  AddInitFiles(payload.modules, &tree);
  result.kernel_release = payload.release;
  result.modules = payload.modules;
  GC_RETURN_IF_ERROR(Publish(source, payload, tree, bundle_hash, &result, options));
  Progress(options, "installer in " + result.dir);
  return result;
}

}  // namespace gc
