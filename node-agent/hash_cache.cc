#include "node-agent/hash_cache.h"

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/hash.h"
#include "common/log.h"

namespace gc {

namespace {

constexpr char kHeader[] = "goldcast-hashcache 1\n";

template <typename T>
bool TakeNumber(std::string_view* line, T* out) {
  auto [end, error] = std::from_chars(line->data(), line->data() + line->size(), *out);
  if (error != std::errc() || end == line->data()) return false;
  line->remove_prefix(static_cast<size_t>(end - line->data()));
  if (line->empty() || line->front() != ' ') return false;
  line->remove_prefix(1);
  return true;
}

// "dev ino size mtime_ns ctime_ns hash"
bool ParseLine(std::string_view line, FileKey* key, std::string_view* hash) {
  if (!TakeNumber(&line, &key->dev) || !TakeNumber(&line, &key->ino) ||
      !TakeNumber(&line, &key->size) || !TakeNumber(&line, &key->mtime_ns) ||
      !TakeNumber(&line, &key->ctime_ns)) {
    return false;
  }
  *hash = line;
  return IsValidHashHex(line);
}

}  // namespace

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
  // Hand-rolled parsing: sscanf rescans the rest of the buffer on every call,
  // which made loading quadratic in the number of files.
  std::string_view rest(*text);
  rest.remove_prefix(std::strlen(kHeader));
  while (!rest.empty()) {
    size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    if (line.empty()) continue;
    FileKey key;
    std::string_view hash;
    if (!ParseLine(line, &key, &hash)) {
      GC_LOG(Warning) << "hash cache " << path << " is malformed; starting afresh";
      cache->loaded_.clear();
      return cache;
    }
    cache->loaded_.emplace(key, std::string(hash));
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
