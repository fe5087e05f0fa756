#include "node-agent/hash_cache.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/hash.h"
#include "common/log.h"

namespace gc {

namespace {
constexpr char kHeader[] = "goldcast-hashcache 1\n";
}

size_t FileKeyHash::operator()(const FileKey& key) const {
  uint64_t h = key.ino * 0x9E3779B97F4A7C15ull;
  h ^= key.dev + 0x7f4a7c15 + (h << 6) + (h >> 2);
  h ^= key.size + (h << 6) + (h >> 2);
  h ^= static_cast<uint64_t>(key.mtime_ns) + (h << 6) + (h >> 2);
  h ^= static_cast<uint64_t>(key.ctime_ns) + (h << 6) + (h >> 2);
  return static_cast<size_t>(h);
}

std::unique_ptr<HashCache> HashCache::Load(Env* env, const std::string& path) {
  std::unique_ptr<HashCache> cache(new HashCache(env, path));
  if (!env->Exists(path)) return cache;
  auto text = env->ReadFile(path);
  if (!text.ok() || text->rfind(kHeader, 0) != 0) {
    GC_LOG(Warning) << "ignoring unreadable hash cache " << path;
    return cache;
  }
  const char* p = text->c_str() + std::strlen(kHeader);
  const char* end = text->c_str() + text->size();
  while (p < end) {
    FileKey key;
    char hash[kHashHexLength + 1];
    int consumed = 0;
    int fields =
        std::sscanf(p, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %64s%n",
                    &key.dev, &key.ino, &key.size, &key.mtime_ns, &key.ctime_ns, hash, &consumed);
    if (fields != 6 || !IsValidHashHex(hash)) {
      GC_LOG(Warning) << "hash cache " << path << " is malformed; starting afresh";
      cache->loaded_.clear();
      return cache;
    }
    cache->loaded_.emplace(key, hash);
    p += consumed;
    while (p < end && (*p == '\n' || *p == ' ')) ++p;
  }
  return cache;
}

std::optional<std::string> HashCache::Lookup(const FileKey& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = used_.find(key);
  if (it == used_.end()) {
    auto loaded = loaded_.find(key);
    if (loaded == loaded_.end()) {
      ++misses_;
      return std::nullopt;
    }
    it = used_.emplace(key, loaded->second).first;
  }
  ++hits_;
  return it->second;
}

void HashCache::Insert(const FileKey& key, const std::string& hash) {
  std::lock_guard<std::mutex> lock(mutex_);
  used_[key] = hash;
}

Status HashCache::Save() {
  std::string text = kHeader;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    text.reserve(used_.size() * 120);
    char line[256];
    for (const auto& [key, hash] : used_) {
      std::snprintf(line, sizeof line,
                    "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %s\n", key.dev,
                    key.ino, key.size, key.mtime_ns, key.ctime_ns, hash.c_str());
      text += line;
    }
  }
  return env_->WriteFileAtomic(path_, text);
}

}  // namespace gc
