// ImageStore: content-addressed objects plus versioned image manifests under
// STATE/store (format in docs/store-format.md). Publishing is atomic; objects
// are deduplicated across versions and images; writers and the garbage
// collector are kept apart by a lock so gc never removes an object that a
// capture in progress has written but not yet published.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/env.h"
#include "common/manifest.h"
#include "common/status.h"
#include "imager/write_session.h"

namespace gc {

constexpr int kStoreFormatVersion = 1;

// "name", "name@3" or "name:tag".
struct ImageSpec {
  std::string name;
  std::optional<uint64_t> version;
  std::string tag;
};
Result<ImageSpec> ParseImageSpec(std::string_view text);
Status ValidateImageName(std::string_view name);
Status ValidateTagName(std::string_view tag);

struct ImageRef {
  std::string name;
  uint64_t version = 0;
  std::string ToString() const { return name + "@" + std::to_string(version); }
};

// Where a version came from; stored as capture.json beside the manifest.
struct CaptureRecord {
  int64_t time_ns = 0;
  std::string source;  // "golden-client 10.0.0.5:8470", "dir /srv/root", "tar x.tar"
  std::string message;
  uint64_t files = 0;
  uint64_t bytes_total = 0;
  uint64_t bytes_transferred = 0;
  double seconds = 0;
};

struct VersionInfo {
  ImageRef ref;
  CaptureRecord record;
  std::vector<std::string> tags;
};

// Writes one object: content goes to a temp file and is hashed on the way;
// Commit checks the hash and moves it into place.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Skip(uint64_t length) = 0;  // a hole of zeros
  // Checks the content against `expected_hash` (if not empty) and stores it.
  // Returns the hash. A mismatch is kCorrupt and stores nothing.
  virtual Result<std::string> Commit(const std::string& expected_hash) = 0;
  virtual uint64_t size() const = 0;
};

class ImageStore {
 public:
  // Opens (and with create, initialises) STATE/store. Removes temp files left
  // by writers that died (kill -9), and checks the objects of write sessions
  // that never ended (imager/write_session.h) unless another process writes.
  static Result<std::unique_ptr<ImageStore>> Open(const std::string& state_dir, bool create,
                                                  Env* env = Env::Default());
  ~ImageStore();

  const std::string& root() const { return root_; }
  // The store's Env: its files, and the clock that dates its versions.
  Env* env() const { return env_; }

  // --- objects --- (thread-safe, as is writing objects through NewObject)
  bool HasObject(const std::string& hash);
  std::string ObjectPath(const std::string& hash) const;
  Result<UniqueFd> OpenObject(const std::string& hash);

  // A write session keeps gc out while objects are written and until the
  // version that references them is published. Take it before writing. It
  // ends with the store: everything written is made durable then.
  Status BeginWrite();
  Result<std::unique_ptr<ObjectWriter>> NewObject();
  // Records that an object was just stored (used by ObjectWriter).
  void NoteObject(const std::string& hash);

  // --- versions ---
  // Publishes `manifest` as the next version of `name` (every file object
  // must be present), after making all objects durable. Returns the ref.
  Result<ImageRef> Publish(const std::string& name, const Manifest& manifest,
                           const std::string& layout_json, const CaptureRecord& record);

  Result<ImageRef> Resolve(const ImageSpec& spec);
  Result<ImageRef> Resolve(std::string_view spec_text);
  // The newest version of `name`, or nullopt if it has none.
  Result<std::optional<ImageRef>> Latest(const std::string& name);
  Result<Manifest> LoadManifest(const ImageRef& ref);
  Result<std::string> LoadLayout(const ImageRef& ref);
  Result<VersionInfo> Info(const ImageRef& ref);
  // All versions of all images (or of `name`), sorted by name then version.
  Result<std::vector<VersionInfo>> List(const std::string& name = "");

  Status Tag(const ImageRef& ref, const std::string& tag);
  Status Untag(const std::string& name, const std::string& tag);
  // Removes a version (and the tags pointing at it); objects stay until gc.
  Status Remove(const ImageRef& ref);

  struct GcStats {
    uint64_t objects_kept = 0;
    uint64_t objects_removed = 0;
    uint64_t bytes_freed = 0;
    uint64_t temp_removed = 0;
  };
  // Removes objects no version references. Fails with kBusy while a write
  // session (getimage, import) is open.
  Result<GcStats> CollectGarbage();

  struct VerifyReport {
    uint64_t versions = 0;
    uint64_t objects_checked = 0;
    std::vector<std::string> problems;  // empty = valid
  };
  // Re-parses manifests and re-hashes every referenced object (of `only`, or
  // of every version). Each problem names the object and the image paths.
  Result<VerifyReport> Verify(const std::optional<ImageRef>& only = std::nullopt);

 private:
  ImageStore(std::string root, Env* env);
  std::string VersionDir(const ImageRef& ref) const;
  std::string ImageDir(const std::string& name) const;
  Result<std::vector<uint64_t>> Versions(const std::string& name);
  Result<std::vector<std::pair<std::string, uint64_t>>> LoadTags(const std::string& name);
  Status SaveTags(const std::string& name,
                  const std::vector<std::pair<std::string, uint64_t>>& tags);
  std::string NewTempPath(const std::string& label) const;

  std::string root_;
  Env* env_;
  std::optional<FileLock> write_lock_;
  // After the lock: ends (syncfs, marker removed) before the lock goes.
  std::optional<WriteSession> session_;
  // Objects known to be present, loaded by listing objects/ once per write
  // session: while the session's lock is held gc cannot run, so an object
  // seen present stays present (one listing beats a stat per file).
  std::optional<std::unordered_set<std::string>> present_;
  std::mutex present_mutex_;  // getimage writes objects from several threads
};

}  // namespace gc
