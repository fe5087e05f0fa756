#include "common/versioned_dir.h"

#include <algorithm>

#include "common/text.h"

namespace gc {

namespace {

std::string LastVersionPath(const std::string& dir) { return JoinPath(dir, "last"); }

// One more than the highest existing version and than DIR/last. Call it
// under the metadata lock.
Result<uint64_t> NextVersionNumber(Env* env, const std::string& dir) {
  GC_ASSIGN_OR_RETURN(auto existing, ListVersions(env, dir));
  uint64_t last = existing.empty() ? 0 : existing.back();
  std::string path = LastVersionPath(dir);
  if (env->Exists(path)) {
    GC_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
    uint64_t recorded = 0;
    if (ParseDecimal(Trim(text), &recorded)) last = std::max(last, recorded);
  }
  return last + 1;
}

}  // namespace

Result<FileLock> LockMetadata(const std::string& root) {
  return FileLock::Acquire(JoinPath(root, "meta.lock"), FileLock::Mode::kExclusive,
                           /*wait=*/true, "store metadata");
}

std::string VersionDirPath(const std::string& dir, uint64_t version) {
  return JoinPath(dir, std::to_string(version));
}

Result<std::vector<uint64_t>> ListVersions(Env* env, const std::string& dir) {
  GC_ASSIGN_OR_RETURN(auto entries, env->ListDir(dir));
  std::vector<uint64_t> versions;
  for (const auto& entry : entries) {
    uint64_t version;
    if (ParseDecimal(entry, &version)) versions.push_back(version);
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

Status CheckVersionExists(const std::string& name, uint64_t version,
                          const std::vector<uint64_t>& versions) {
  if (std::binary_search(versions.begin(), versions.end(), version)) return Status::Ok();
  std::string known;
  for (uint64_t v : versions) known += (known.empty() ? "" : ", ") + std::to_string(v);
  return NotFound(name + "@" + std::to_string(version) + " does not exist; its versions are " +
                  known);
}

Result<uint64_t> PublishVersionDir(Env* env, const std::string& root, const std::string& dir,
                                   const std::string& staging) {
  GC_RETURN_IF_ERROR(env->CreateDirs(dir));
  GC_ASSIGN_OR_RETURN(FileLock lock, LockMetadata(root));
  GC_ASSIGN_OR_RETURN(uint64_t version, NextVersionNumber(env, dir));
  // DIR/last goes in before the version: synced by the same syncfs, it is
  // on disk whenever the version is.
  std::string last = LastVersionPath(dir);
  GC_RETURN_IF_ERROR(env->WriteFile(last + ".new", std::to_string(version) + "\n"));
  GC_RETURN_IF_ERROR(env->Rename(last + ".new", last));
  GC_RETURN_IF_ERROR(env->SyncFileSystem(staging));
  GC_RETURN_IF_ERROR(env->Rename(staging, VersionDirPath(dir, version)));
  GC_RETURN_IF_ERROR(env->SyncDir(dir));
  return version;
}

Status RemoveVersionDir(Env* env, const std::string& dir, uint64_t version,
                        const std::string& doomed) {
  GC_RETURN_IF_ERROR(env->Rename(VersionDirPath(dir, version), doomed));
  GC_RETURN_IF_ERROR(env->SyncDir(dir));
  return env->RemoveTree(doomed);
}

}  // namespace gc
