#include "kernel-build/kernel_store.h"

#include <algorithm>
#include <cctype>

#include "common/log.h"
#include "common/temp_dirs.h"
#include "common/text.h"
#include "common/versioned_dir.h"

namespace gc {

namespace {

constexpr const char* kArtifactFiles[] = {"vmlinuz",   "System.map",  "config",       "modules",
                                          "build.log", "inputs.json", "artifact.json"};

Status ValidateKernelName(std::string_view name) {
  bool ok =
      !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0])) &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  if (!ok) {
    return InvalidArgument("kernel name '" + std::string(name) +
                           "' must be 1 to 64 letters, digits, '.', '_' or '-', starting with a "
                           "letter or digit");
  }
  return Status::Ok();
}

Result<nlohmann::json> ReadJson(Env* env, const std::string& path) {
  GC_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Corrupt(path + ": " + e.what());
  }
}

}  // namespace

Result<KernelSpec> ParseKernelSpec(std::string_view text) {
  KernelSpec spec;
  size_t at = text.find('@');
  spec.name = std::string(text.substr(0, at));
  if (at != std::string_view::npos) {
    uint64_t version = 0;
    if (!ParseDecimal(text.substr(at + 1), &version) || version == 0) {
      return InvalidArgument("'" + std::string(text) +
                             "': the version after '@' must be a positive number, e.g. "
                             "openmosix@2");
    }
    spec.version = version;
  }
  GC_RETURN_IF_ERROR(ValidateKernelName(spec.name));
  return spec;
}

Result<std::unique_ptr<KernelStore>> KernelStore::Open(const std::string& state_dir, bool create,
                                                       Env* env) {
  std::string root = JoinPath(state_dir, "kernels");
  if (create) GC_RETURN_IF_ERROR(env->CreateDirs(JoinPath(root, "tmp")));
  auto store = std::unique_ptr<KernelStore>(new KernelStore(root, env));
  uint64_t removed = 0;
  Status status = RemoveDeadTemps(JoinPath(root, "tmp"), env, &removed);
  if (!status.ok()) GC_LOG(Warning) << "cleaning stale kernel staging dirs: " << status.message();
  if (removed > 0) GC_LOG(Debug) << "removed " << removed << " staging dirs of interrupted builds";
  return store;
}

Result<std::string> KernelStore::NewStagingDir() {
  std::string dir = JoinPath(JoinPath(root_, "tmp"), PidTempName("artifact"));
  GC_RETURN_IF_ERROR(env_->CreateDirs(dir));
  return dir;
}

std::string KernelStore::ArtifactDir(const KernelRef& ref) const {
  return VersionDirPath(JoinPath(root_, ref.name), ref.version);
}

Result<std::vector<uint64_t>> KernelStore::Versions(const std::string& name) {
  return ListVersions(env_, JoinPath(root_, name));
}

Result<KernelRef> KernelStore::Publish(const std::string& name, const std::string& staging_dir) {
  GC_RETURN_IF_ERROR(ValidateKernelName(name));
  if (name == "tmp") return InvalidArgument("'tmp' is reserved; name the kernel differently");
  for (const char* file : kArtifactFiles) {
    if (!env_->Exists(JoinPath(staging_dir, file))) {
      return Internal("cannot publish kernel " + name + ": the artifact has no " + file);
    }
  }
  GC_ASSIGN_OR_RETURN(uint64_t version,
                      PublishVersionDir(env_, root_, JoinPath(root_, name), staging_dir));
  return KernelRef{name, version};
}

Result<std::optional<KernelRef>> KernelStore::FindByInputsKey(const std::string& name,
                                                              const std::string& key) {
  GC_ASSIGN_OR_RETURN(auto versions, Versions(name));
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    KernelRef ref{name, *it};
    auto info = Info(ref);
    if (!info.ok()) {
      GC_LOG(Warning) << "skipping kernel " << ref.ToString() << ": " << info.status().message();
      continue;
    }
    if (info->inputs_key == key) return std::optional<KernelRef>(ref);
  }
  return std::optional<KernelRef>();
}

Result<KernelRef> KernelStore::Resolve(std::string_view text) {
  GC_ASSIGN_OR_RETURN(KernelSpec spec, ParseKernelSpec(text));
  GC_ASSIGN_OR_RETURN(auto versions, Versions(spec.name));
  if (versions.empty()) {
    return NotFound("kernel '" + spec.name + "' does not exist (goldcast kernel list shows them)");
  }
  if (!spec.version) return KernelRef{spec.name, versions.back()};
  GC_RETURN_IF_ERROR(CheckVersionExists(spec.name, *spec.version, versions));
  return KernelRef{spec.name, *spec.version};
}

Result<KernelInfo> KernelStore::Info(const KernelRef& ref) {
  KernelInfo info;
  info.ref = ref;
  std::string dir = ArtifactDir(ref);
  GC_ASSIGN_OR_RETURN(info.inputs, ReadJson(env_, JoinPath(dir, "inputs.json")));
  GC_ASSIGN_OR_RETURN(info.artifact, ReadJson(env_, JoinPath(dir, "artifact.json")));
  if (!info.inputs.is_object() || !info.inputs.contains("inputs_key") ||
      !info.inputs["inputs_key"].is_string()) {
    return Corrupt(JoinPath(dir, "inputs.json") + " has no inputs_key");
  }
  info.inputs_key = info.inputs["inputs_key"].get<std::string>();
  return info;
}

Result<std::vector<KernelInfo>> KernelStore::List() {
  GC_ASSIGN_OR_RETURN(auto names, env_->ListDir(root_));
  std::vector<KernelInfo> out;
  for (const auto& name : names) {
    if (name == "tmp" || name == "meta.lock" || !ValidateKernelName(name).ok()) continue;
    GC_ASSIGN_OR_RETURN(auto versions, Versions(name));
    for (uint64_t version : versions) {
      GC_ASSIGN_OR_RETURN(auto info, Info(KernelRef{name, version}));
      out.push_back(std::move(info));
    }
  }
  return out;
}

Status KernelStore::Remove(const KernelRef& ref) {
  GC_ASSIGN_OR_RETURN(auto lock, LockMetadata(root_));
  GC_ASSIGN_OR_RETURN(KernelRef resolved, Resolve(ref.ToString()));
  GC_RETURN_IF_ERROR(env_->CreateDirs(JoinPath(root_, "tmp")));
  return RemoveVersionDir(env_, JoinPath(root_, resolved.name), resolved.version,
                          JoinPath(JoinPath(root_, "tmp"), PidTempName("removed")));
}

}  // namespace gc
