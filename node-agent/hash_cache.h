// HashCache: remembers the SHA-256 of files by (device, inode, size, mtime,
// ctime) between captures, so re-capturing an unchanged tree reads no file
// contents. Any change to a file changes its ctime, so a stale hit needs a
// deliberate ctime forgery, which needs root on the golden client anyway.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/env.h"
#include "common/status.h"

namespace gc {

struct FileKey {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileKey&) const = default;
};

struct FileKeyHash {
  size_t operator()(const FileKey& key) const;
};

class HashCache {
 public:
  // A missing file is an empty cache; an unreadable or malformed one is
  // discarded with a warning (it is only a cache).
  static std::unique_ptr<HashCache> Load(Env* env, const std::string& path);

  std::optional<std::string> Lookup(const FileKey& key);
  void Insert(const FileKey& key, const std::string& hash);
  // Writes the entries used or added since Load (stale ones drop out).
  Status Save();

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  HashCache(Env* env, std::string path) : env_(env), path_(std::move(path)) {}
  Env* env_;
  std::string path_;
  std::mutex mutex_;
  std::unordered_map<FileKey, std::string, FileKeyHash> loaded_, used_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace gc
