// RefCache: what the server derives from a published image version or
// kernel artifact (an image's object index, a kernel's modules tree), kept
// by ref. Versions and artifacts never change once published, so an entry
// is never stale; the cache is bounded only because a server holds a
// handful of groups at most.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace gc {

template <typename T>
class RefCache {
 public:
  explicit RefCache(size_t max_entries) : max_entries_(max_entries) {}
  RefCache(const RefCache&) = delete;
  RefCache& operator=(const RefCache&) = delete;

  // The value kept for `ref`, or what `load()` (returning
  // Result<std::shared_ptr<T>>) makes of it, which is kept. One load at a
  // time: a boot storm asks for the same image at once, and it is read
  // once. A full cache is emptied (the next loads refill it with what is
  // in use). A failed load is not kept. Thread-safe.
  template <typename Load>
  Result<std::shared_ptr<const T>> Get(const std::string& ref, Load&& load) {
    if (auto value = Find(ref)) return value;
    std::lock_guard<std::mutex> loading(load_mu_);
    if (auto value = Find(ref)) return value;
    GC_ASSIGN_OR_RETURN(std::shared_ptr<T> loaded, load());
    std::lock_guard<std::mutex> lock(mu_);
    if (values_.size() >= max_entries_) values_.clear();
    values_[ref] = loaded;
    return std::shared_ptr<const T>(std::move(loaded));
  }

 private:
  std::shared_ptr<const T> Find(const std::string& ref) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = values_.find(ref);
    return it == values_.end() ? nullptr : it->second;
  }

  const size_t max_entries_;
  std::mutex mu_;       // values_
  std::mutex load_mu_;  // held while loading
  std::map<std::string, std::shared_ptr<const T>> values_;
};

}  // namespace gc
