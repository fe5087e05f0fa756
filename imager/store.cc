#include "imager/store.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/hash.h"
#include "common/log.h"
#include "common/temp_dirs.h"
#include "common/text.h"
#include "common/versioned_dir.h"

namespace gc {

namespace {

constexpr char kFormatLine[] = "goldcast-store 1\n";
constexpr size_t kMaxNameLength = 64;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return InvalidArgument(std::string(what) + " must be 1 to 64 characters");
  }
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) {
    return InvalidArgument(std::string(what) + " '" + std::string(name) +
                           "' must start with a letter or digit");
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return InvalidArgument(std::string(what) + " '" + std::string(name) +
                             "' may only hold letters, digits, '.', '_' and '-'");
    }
  }
  return Status::Ok();
}

nlohmann::json RecordToJson(const CaptureRecord& record) {
  return {{"time_ns", record.time_ns},         {"source", record.source},
          {"message", record.message},         {"files", record.files},
          {"bytes_total", record.bytes_total}, {"bytes_transferred", record.bytes_transferred},
          {"seconds", record.seconds}};
}

// The files of a version, written without fsync: PublishVersionDir's one
// syncfs makes them and every object of the capture durable at once.
Status WriteVersionFiles(Env* env, const std::string& staging, const Manifest& manifest,
                         const std::string& layout_json, const CaptureRecord& record) {
  GC_RETURN_IF_ERROR(env->CreateDirs(staging));
  GC_RETURN_IF_ERROR(env->WriteFile(JoinPath(staging, "manifest"), SerializeManifest(manifest)));
  GC_RETURN_IF_ERROR(env->WriteFile(JoinPath(staging, "layout.json"), layout_json));
  return env->WriteFile(JoinPath(staging, "capture.json"), RecordToJson(record).dump(2));
}

Result<CaptureRecord> RecordFromJson(const std::string& text, const std::string& path) {
  try {
    auto json = nlohmann::json::parse(text);
    CaptureRecord record;
    record.time_ns = json.at("time_ns").get<int64_t>();
    record.source = json.at("source").get<std::string>();
    record.message = json.value("message", "");
    record.files = json.value("files", uint64_t{0});
    record.bytes_total = json.value("bytes_total", uint64_t{0});
    record.bytes_transferred = json.value("bytes_transferred", uint64_t{0});
    record.seconds = json.value("seconds", 0.0);
    return record;
  } catch (const std::exception& e) {
    return Corrupt(path + ": " + e.what());
  }
}

// Objects are written as anonymous files (O_TMPFILE) and linked into place
// once their hash is known: no temp directory entry, no rename, and nothing
// to clean up after a crash.
class StoreObjectWriter : public ObjectWriter {
 public:
  StoreObjectWriter(ImageStore* store, std::unique_ptr<WritableFile> file)
      : store_(store), file_(std::move(file)) {}

  Status Append(std::string_view data) override {
    hasher_.Update(data);
    size_ += data.size();
    return file_->Append(data);
  }

  Status Skip(uint64_t length) override {
    static const std::string kZeros(1 << 16, '\0');
    for (uint64_t left = length; left > 0;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, kZeros.size()));
      hasher_.Update(std::string_view(kZeros.data(), n));
      left -= n;
    }
    size_ += length;
    return file_->Skip(length);
  }

  Result<std::string> Commit(const std::string& expected_hash) override {
    std::string hash = hasher_.FinishHex();
    if (!expected_hash.empty() && hash != expected_hash) {
      return Corrupt("content does not match its hash: expected " + expected_hash + ", got " +
                     hash);
    }
    if (store_->HasObject(hash)) return hash;  // dropping file_ discards the copy
    Status linked = file_->LinkAs(store_->ObjectPath(hash));
    if (!linked.ok() && linked.code() != Code::kAlreadyExists) return linked;
    store_->NoteObject(hash);
    return hash;
  }

  uint64_t size() const override { return size_; }

 private:
  ImageStore* store_;
  std::unique_ptr<WritableFile> file_;
  Sha256 hasher_;
  uint64_t size_ = 0;
};

}  // namespace

Status ValidateImageName(std::string_view name) { return ValidateName("image name", name); }

Status ValidateTagName(std::string_view tag) {
  GC_RETURN_IF_ERROR(ValidateName("tag", tag));
  uint64_t ignored;
  if (ParseDecimal(tag, &ignored)) {
    return InvalidArgument("tag '" + std::string(tag) +
                           "' must not be a number (numbers are versions)");
  }
  return Status::Ok();
}

Result<ImageSpec> ParseImageSpec(std::string_view text) {
  ImageSpec spec;
  size_t at = text.find('@');
  size_t colon = text.find(':');
  if (at != std::string_view::npos) {
    spec.name = std::string(text.substr(0, at));
    uint64_t version = 0;
    if (!ParseDecimal(text.substr(at + 1), &version) || version == 0) {
      std::string message = "'";
      message.append(text);
      message.append("': the version after '@' must be a positive number, e.g. compute@2");
      return InvalidArgument(message);
    }
    spec.version = version;
  } else if (colon != std::string_view::npos) {
    spec.name = std::string(text.substr(0, colon));
    spec.tag = std::string(text.substr(colon + 1));
    GC_RETURN_IF_ERROR(ValidateTagName(spec.tag));
  } else {
    spec.name = std::string(text);
  }
  GC_RETURN_IF_ERROR(ValidateImageName(spec.name));
  return spec;
}

ImageStore::ImageStore(std::string root, Env* env) : root_(std::move(root)), env_(env) {}
ImageStore::~ImageStore() = default;

Result<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& state_dir, bool create,
                                                     Env* env) {
  std::string root = JoinPath(state_dir, "store");
  std::string format_path = JoinPath(root, "FORMAT");
  if (!env->Exists(format_path)) {
    if (!create) {
      return NotFound("no image store in " + state_dir +
                      " (capture or import an image first, or pass --state DIR)");
    }
    GC_RETURN_IF_ERROR(env->CreateDirs(JoinPath(root, "images")));
    GC_RETURN_IF_ERROR(env->CreateDirs(JoinPath(root, "tmp")));
    for (int i = 0; i < 256; ++i) {
      char prefix[3];
      std::snprintf(prefix, sizeof prefix, "%02x", i);
      GC_RETURN_IF_ERROR(env->CreateDirs(JoinPath(JoinPath(root, "objects"), prefix)));
    }
    // FORMAT last: its presence means the store is complete.
    GC_RETURN_IF_ERROR(env->WriteFileAtomic(format_path, kFormatLine));
  } else {
    GC_ASSIGN_OR_RETURN(std::string format, env->ReadFile(format_path));
    if (format != kFormatLine) {
      return Corrupt(format_path + ": unsupported store format '" +
                     format.substr(0, format.find('\n')) + "' (this goldcast reads '" +
                     std::string(kFormatLine, sizeof kFormatLine - 2) + "')");
    }
  }
  auto store = std::unique_ptr<ImageStore>(new ImageStore(root, env));
  uint64_t removed = 0;
  Status status = RemoveDeadTemps(JoinPath(root, "tmp"), env, &removed);
  if (!status.ok()) GC_LOG(Warning) << "cleaning stale temp files: " << status.message();
  if (removed > 0) GC_LOG(Debug) << "removed " << removed << " temp files of interrupted runs";
  // Under gc's exclusive lock, so no writer dedups against an object being
  // removed; when a writer holds the lock, a later run does it.
  auto lock = FileLock::Acquire(JoinPath(root, "write.lock"), FileLock::Mode::kExclusive,
                                /*wait=*/false, "a writer");
  if (lock.ok()) GC_RETURN_IF_ERROR(RecoverDeadSessions(root, env).status());
  return store;
}

std::string ImageStore::NewTempPath(const std::string& label) const {
  return JoinPath(JoinPath(root_, "tmp"), PidTempName(label));
}

std::string ImageStore::ObjectPath(const std::string& hash) const {
  return root_ + "/objects/" + hash.substr(0, 2) + "/" + hash;
}

bool ImageStore::HasObject(const std::string& hash) {
  if (!write_lock_) return env_->Exists(ObjectPath(hash));
  std::lock_guard<std::mutex> lock(present_mutex_);
  if (!present_) {
    present_.emplace();
    std::string objects = JoinPath(root_, "objects");
    auto prefixes = env_->ListDir(objects);
    for (const auto& prefix : prefixes.ok() ? *prefixes : std::vector<std::string>()) {
      auto names = env_->ListDir(JoinPath(objects, prefix));
      if (!names.ok()) continue;
      for (auto& name : *names) present_->insert(std::move(name));
    }
  }
  // Another writer may have added it since the listing: check the disk then.
  if (present_->count(hash)) return true;
  if (!env_->Exists(ObjectPath(hash))) return false;
  present_->insert(hash);
  return true;
}

void ImageStore::NoteObject(const std::string& hash) {
  std::lock_guard<std::mutex> lock(present_mutex_);
  if (present_) present_->insert(hash);
}

Result<UniqueFd> ImageStore::OpenObject(const std::string& hash) {
  if (!IsValidHashHex(hash)) return InvalidArgument("not an object hash: '" + hash + "'");
  auto fd = env_->OpenForRead(ObjectPath(hash));
  if (!fd.ok() && fd.status().code() == Code::kNotFound) {
    return NotFound("object " + hash + " is not in the store (run goldcast image verify)");
  }
  return fd;
}

Status ImageStore::BeginWrite() {
  if (write_lock_) return Status::Ok();
  GC_ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(JoinPath(root_, "write.lock"),
                                                   FileLock::Mode::kShared, /*wait=*/false,
                                                   "goldcast image gc is running on this store; "
                                                   "run again when it has finished"));
  GC_ASSIGN_OR_RETURN(auto session, WriteSession::Begin(root_, env_));
  write_lock_.emplace(std::move(lock));
  session_.emplace(std::move(session));
  return Status::Ok();
}

Result<std::unique_ptr<ObjectWriter>> ImageStore::NewObject() {
  if (!write_lock_) return Internal("NewObject called without BeginWrite");
  GC_ASSIGN_OR_RETURN(auto file, env_->NewAnonymousFile(JoinPath(root_, "tmp"), 0400));
  return std::unique_ptr<ObjectWriter>(new StoreObjectWriter(this, std::move(file)));
}

std::string ImageStore::ImageDir(const std::string& name) const {
  return root_ + "/images/" + name;
}

std::string ImageStore::VersionDir(const ImageRef& ref) const {
  return VersionDirPath(ImageDir(ref.name), ref.version);
}

Result<std::vector<uint64_t>> ImageStore::Versions(const std::string& name) {
  return ListVersions(env_, ImageDir(name));
}

Result<ImageRef> ImageStore::Publish(const std::string& name, const Manifest& manifest,
                                     const std::string& layout_json, const CaptureRecord& record) {
  GC_RETURN_IF_ERROR(ValidateImageName(name));
  GC_RETURN_IF_ERROR(ValidateManifest(manifest));
  for (const auto& entry : manifest.entries) {
    if (entry.type == EntryType::kFile && !HasObject(entry.hash)) {
      return Internal("cannot publish " + name + ": object " + entry.hash + " of '" + entry.path +
                      "' is not in the store");
    }
  }
  std::string staging = NewTempPath("version");
  auto stage_and_publish = [&]() -> Result<uint64_t> {
    GC_RETURN_IF_ERROR(WriteVersionFiles(env_, staging, manifest, layout_json, record));
    return PublishVersionDir(env_, root_, ImageDir(name), staging);
  };
  Result<uint64_t> version = stage_and_publish();
  if (!version.ok()) {
    (void)env_->RemoveTree(staging);
    return version.status().WithContext("publishing a new version of " + name);
  }
  return ImageRef{name, *version};
}

Result<std::optional<ImageRef>> ImageStore::Latest(const std::string& name) {
  GC_ASSIGN_OR_RETURN(auto versions, Versions(name));
  if (versions.empty()) return std::optional<ImageRef>();
  return std::optional<ImageRef>(ImageRef{name, versions.back()});
}

Result<ImageRef> ImageStore::Resolve(std::string_view spec_text) {
  GC_ASSIGN_OR_RETURN(ImageSpec spec, ParseImageSpec(spec_text));
  return Resolve(spec);
}

Result<ImageRef> ImageStore::Resolve(const ImageSpec& spec) {
  GC_ASSIGN_OR_RETURN(auto versions, Versions(spec.name));
  if (versions.empty()) {
    return NotFound("image '" + spec.name + "' does not exist (goldcast image list shows them)");
  }
  if (spec.version) {
    GC_RETURN_IF_ERROR(CheckVersionExists(spec.name, *spec.version, versions));
    return ImageRef{spec.name, *spec.version};
  }
  if (!spec.tag.empty()) {
    GC_ASSIGN_OR_RETURN(auto tags, LoadTags(spec.name));
    for (const auto& [tag, version] : tags) {
      if (tag == spec.tag) return ImageRef{spec.name, version};
    }
    return NotFound("image '" + spec.name + "' has no tag '" + spec.tag + "'");
  }
  return ImageRef{spec.name, versions.back()};
}

Result<Manifest> ImageStore::LoadManifest(const ImageRef& ref) {
  std::string path = JoinPath(VersionDir(ref), "manifest");
  GC_ASSIGN_OR_RETURN(std::string text, env_->ReadFile(path));
  return ParseManifest(text, path);
}

Result<std::string> ImageStore::LoadLayout(const ImageRef& ref) {
  return env_->ReadFile(JoinPath(VersionDir(ref), "layout.json"));
}

Result<std::vector<std::pair<std::string, uint64_t>>> ImageStore::LoadTags(
    const std::string& name) {
  std::vector<std::pair<std::string, uint64_t>> tags;
  std::string path = JoinPath(ImageDir(name), "tags.json");
  if (!env_->Exists(path)) return tags;
  GC_ASSIGN_OR_RETURN(std::string text, env_->ReadFile(path));
  try {
    auto json = nlohmann::json::parse(text);
    for (const auto& [tag, version] : json.items()) {
      tags.emplace_back(tag, version.get<uint64_t>());
    }
  } catch (const std::exception& e) {
    return Corrupt(path + ": " + e.what());
  }
  return tags;
}

Status ImageStore::SaveTags(const std::string& name,
                            const std::vector<std::pair<std::string, uint64_t>>& tags) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [tag, version] : tags) json[tag] = version;
  return env_->WriteFileAtomic(JoinPath(ImageDir(name), "tags.json"), json.dump(2) + "\n");
}

Result<VersionInfo> ImageStore::Info(const ImageRef& ref) {
  VersionInfo info;
  info.ref = ref;
  std::string path = JoinPath(VersionDir(ref), "capture.json");
  GC_ASSIGN_OR_RETURN(std::string text, env_->ReadFile(path));
  GC_ASSIGN_OR_RETURN(info.record, RecordFromJson(text, path));
  GC_ASSIGN_OR_RETURN(auto tags, LoadTags(ref.name));
  for (const auto& [tag, version] : tags) {
    if (version == ref.version) info.tags.push_back(tag);
  }
  return info;
}

Result<std::vector<VersionInfo>> ImageStore::List(const std::string& name) {
  std::vector<std::string> names;
  if (!name.empty()) {
    names.push_back(name);
  } else {
    GC_ASSIGN_OR_RETURN(names, env_->ListDir(JoinPath(root_, "images")));
  }
  std::vector<VersionInfo> out;
  for (const auto& image : names) {
    GC_ASSIGN_OR_RETURN(auto versions, Versions(image));
    for (uint64_t version : versions) {
      GC_ASSIGN_OR_RETURN(auto info, Info(ImageRef{image, version}));
      out.push_back(std::move(info));
    }
  }
  return out;
}

Status ImageStore::Tag(const ImageRef& ref, const std::string& tag) {
  GC_RETURN_IF_ERROR(ValidateTagName(tag));
  GC_ASSIGN_OR_RETURN(auto meta_lock, LockMetadata(root_));
  GC_RETURN_IF_ERROR(Resolve(ImageSpec{ref.name, ref.version, ""}).status());
  GC_ASSIGN_OR_RETURN(auto tags, LoadTags(ref.name));
  std::erase_if(tags, [&](const auto& item) { return item.first == tag; });
  tags.emplace_back(tag, ref.version);
  std::sort(tags.begin(), tags.end());
  return SaveTags(ref.name, tags);
}

Status ImageStore::Untag(const std::string& name, const std::string& tag) {
  GC_ASSIGN_OR_RETURN(auto meta_lock, LockMetadata(root_));
  GC_ASSIGN_OR_RETURN(auto tags, LoadTags(name));
  size_t removed = std::erase_if(tags, [&](const auto& item) { return item.first == tag; });
  if (removed == 0) return NotFound("image '" + name + "' has no tag '" + tag + "'");
  return SaveTags(name, tags);
}

Status ImageStore::Remove(const ImageRef& ref) {
  GC_ASSIGN_OR_RETURN(auto meta_lock, LockMetadata(root_));
  GC_RETURN_IF_ERROR(Resolve(ImageSpec{ref.name, ref.version, ""}).status());
  GC_ASSIGN_OR_RETURN(auto tags, LoadTags(ref.name));
  if (std::erase_if(tags, [&](const auto& item) { return item.second == ref.version; }) > 0) {
    GC_RETURN_IF_ERROR(SaveTags(ref.name, tags));
  }
  return RemoveVersionDir(env_, ImageDir(ref.name), ref.version, NewTempPath("removed"));
}

Result<ImageStore::GcStats> ImageStore::CollectGarbage() {
  if (write_lock_) return Internal("CollectGarbage inside a write session");
  GC_ASSIGN_OR_RETURN(auto lock,
                      FileLock::Acquire(JoinPath(root_, "write.lock"), FileLock::Mode::kExclusive,
                                        /*wait=*/false,
                                        "a capture or import is writing to this store; run "
                                        "goldcast image gc when it has finished"));
  std::set<std::string> live;
  GC_ASSIGN_OR_RETURN(auto versions, List());
  for (const auto& info : versions) {
    auto manifest = LoadManifest(info.ref);
    if (!manifest.ok()) {
      return manifest.status().WithContext(
          "gc refuses to run because a manifest cannot be read (" + info.ref.ToString() +
          "; check it with goldcast image verify, remove it with goldcast image rm)");
    }
    for (const auto& entry : manifest->entries) {
      if (entry.type == EntryType::kFile) live.insert(entry.hash);
    }
  }
  GcStats stats;
  std::string objects = JoinPath(root_, "objects");
  GC_ASSIGN_OR_RETURN(auto prefixes, env_->ListDir(objects));
  for (const auto& prefix : prefixes) {
    std::string dir = JoinPath(objects, prefix);
    GC_ASSIGN_OR_RETURN(auto hashes, env_->ListDir(dir));
    for (const auto& hash : hashes) {
      if (live.count(hash)) {
        ++stats.objects_kept;
        continue;
      }
      std::string path = JoinPath(dir, hash);
      auto size = env_->FileSize(path);
      GC_RETURN_IF_ERROR(env_->RemoveFile(path));
      ++stats.objects_removed;
      if (size.ok()) stats.bytes_freed += *size;
    }
  }
  GC_RETURN_IF_ERROR(RemoveDeadTemps(JoinPath(root_, "tmp"), env_, &stats.temp_removed));
  return stats;
}

Result<ImageStore::VerifyReport> ImageStore::Verify(const std::optional<ImageRef>& only) {
  VerifyReport report;
  std::vector<VersionInfo> versions;
  if (only) {
    GC_ASSIGN_OR_RETURN(auto info, Info(*only));
    versions.push_back(std::move(info));
  } else {
    GC_ASSIGN_OR_RETURN(versions, List());
  }
  // hash -> (size, a few "image@v:/path" users, for the error message)
  struct Use {
    uint64_t size = 0;
    std::vector<std::string> users;
  };
  std::map<std::string, Use> objects;
  for (const auto& info : versions) {
    ++report.versions;
    auto manifest = LoadManifest(info.ref);
    if (!manifest.ok()) {
      report.problems.push_back(info.ref.ToString() + ": " + manifest.status().message());
      continue;
    }
    for (const auto& entry : manifest->entries) {
      if (entry.type != EntryType::kFile) continue;
      Use& use = objects[entry.hash];
      use.size = entry.size;
      if (use.users.size() < 3) use.users.push_back(info.ref.ToString() + ":/" + entry.path);
    }
  }
  std::vector<std::pair<const std::string*, const Use*>> work;
  for (const auto& [hash, use] : objects) work.emplace_back(&hash, &use);
  std::mutex mutex;
  std::atomic<size_t> next{0};
  auto check = [&] {
    for (size_t i = next++; i < work.size(); i = next++) {
      const std::string& hash = *work[i].first;
      const Use& use = *work[i].second;
      std::string users;
      for (const auto& user : use.users) users += (users.empty() ? "" : ", ") + user;
      std::string problem;
      auto digest = Sha256File(ObjectPath(hash));
      if (!digest.ok()) {
        problem =
            "object " + hash + " is missing or unreadable (" + digest.status().message() + ")";
      } else if (*digest != hash) {
        problem = "object " + hash + " is corrupt: its content hashes to " + *digest + " (file " +
                  ObjectPath(hash) + ")";
      }
      std::lock_guard<std::mutex> guard(mutex);
      ++report.objects_checked;
      if (!problem.empty()) report.problems.push_back(problem + "; used by " + users);
    }
  };
  unsigned threads = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(check);
  for (auto& thread : pool) thread.join();
  std::sort(report.problems.begin(), report.problems.end());
  return report;
}

}  // namespace gc
