#include "node-agent/capture_service.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "common/beneath.h"
#include "common/delta.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/object_stream.h"

namespace gc {

namespace {

constexpr size_t kMaxObjectsPerRequest = 100000;

HttpResponse Error(int status, const std::string& message) {
  return HttpResponse::Text(status, message + "\n");
}

// Streams the frames of many objects: header, then exactly `size` bytes of
// the file, padded with zeros if it shrank since the walk (the receiver's
// hash check catches the change; the framing stays intact).
class ObjectsProducer {
 public:
  struct Item {
    std::string hash;
    UniqueFd fd;
    uint64_t size;
  };
  explicit ObjectsProducer(std::vector<Item> items) : items_(std::move(items)) {}

  Result<size_t> Produce(char* buffer, size_t max) {
    size_t written = 0;
    while (written < max && index_ < items_.size()) {
      Item& item = items_[index_];
      if (!header_sent_) {
        std::string header = EncodeFrameHeader(item.hash, item.size);
        if (max - written < header.size()) break;
        std::memcpy(buffer + written, header.data(), header.size());
        written += header.size();
        header_sent_ = true;
        offset_ = 0;
        continue;
      }
      uint64_t left = item.size - offset_;
      if (left == 0) {
        item.fd.Reset();
        ++index_;
        header_sent_ = false;
        continue;
      }
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, max - written));
      ssize_t n = ::pread(item.fd.get(), buffer + written, want, static_cast<off_t>(offset_));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("read object " + item.hash);
      }
      if (n == 0) {  // shrank: pad
        std::memset(buffer + written, 0, want);
        n = static_cast<ssize_t>(want);
      }
      written += static_cast<size_t>(n);
      offset_ += static_cast<uint64_t>(n);
    }
    return written;
  }

 private:
  std::vector<Item> items_;
  size_t index_ = 0;
  bool header_sent_ = false;
  uint64_t offset_ = 0;
};

// Opens, to read it, the file the walk found at `path` under `root` (inode
// `dev`:`ino`), without touching its atime where the kernel lets us. The
// tree is live and its users are not all root: one who swaps a directory
// of theirs for a symlink, or a file for another, between the walk and this
// open must not get another file read under their file's name, owner and
// mode. So nothing on the way may be a symlink, and the file must be the
// inode the walk saw; otherwise kNotFound, as for a file that vanished.
Result<UniqueFd> OpenFile(const std::string& root, const std::string& path, uint64_t dev,
                          uint64_t ino) {
  auto fd = OpenFileBeneath(root, path, O_NOATIME);
  if (!fd.ok()) fd = OpenFileBeneath(root, path);  // O_NOATIME: owner or CAP_FOWNER only
  if (!fd.ok()) {
    if (fd.status().code() == Code::kNotFound) return fd;
    return NotFound(JoinPath(root, path) + " changed since the walk (" + fd.status().message() +
                    "); left out, the next capture takes it");
  }
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return ErrnoError("stat " + JoinPath(root, path));
  if (static_cast<uint64_t>(st.st_dev) != dev || static_cast<uint64_t>(st.st_ino) != ino ||
      !S_ISREG(st.st_mode)) {
    return NotFound(JoinPath(root, path) +
                    " is another file than the walk found; left out, the next capture takes it");
  }
  return fd;
}

// What a walk leaves to hash: the files the cache did not know, and the
// hardlinks, which copy their file's hash.
struct PendingHashes {
  struct Miss {
    size_t index;
    FileKey key;
  };
  std::vector<Miss> misses;
  std::vector<std::pair<size_t, size_t>> hardlinks;  // (index, index of its file)
  // Every entry's inode (dev, ino), by index: what OpenFile checks.
  std::vector<std::pair<uint64_t, uint64_t>> inodes;
};

// Walks the tree into `manifest`, with the hashes the cache knows.
Result<PendingHashes> WalkIntoManifest(const CaptureServiceOptions& options, HashCache* cache,
                                       Manifest* manifest) {
  PendingHashes pending;
  std::map<std::pair<uint64_t, uint64_t>, size_t> file_by_inode;  // -> index of the kFile
  Status status = WalkTree(options.root, options.walk, [&](WalkedEntry&& walked) -> Status {
    Entry& entry = walked.entry;
    auto inode =
        std::make_pair(static_cast<uint64_t>(walked.dev), static_cast<uint64_t>(walked.ino));
    size_t index = manifest->entries.size();
    if (entry.type == EntryType::kFile) {
      FileKey key{walked.dev, walked.ino, entry.size, entry.mtime_ns, walked.ctime_ns};
      if (auto hit = cache->Lookup(key)) {
        entry.hash = *hit;
      } else {
        pending.misses.push_back({index, key});
      }
      file_by_inode[inode] = index;
    } else if (entry.type == EntryType::kHardlink) {
      auto it = file_by_inode.find(inode);
      if (it == file_by_inode.end()) return Status::Ok();  // its first name vanished
      pending.hardlinks.emplace_back(index, it->second);
    }
    manifest->entries.push_back(std::move(entry));
    pending.inodes.push_back(inode);
    return Status::Ok();
  });
  GC_RETURN_IF_ERROR(status);
  return pending;
}

// Hashes what the cache did not know on every core: a first capture is
// bound by SHA-256 otherwise. A file gone since the walk is marked vanished.
Status HashMisses(const std::string& root, const std::vector<PendingHashes::Miss>& misses,
                  HashCache* cache, Manifest* manifest, std::vector<bool>* vanished) {
  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  Status first_error;
  auto worker = [&] {
    for (size_t i = next++; i < misses.size(); i = next++) {
      Entry& entry = manifest->entries[misses[i].index];
      auto fd = OpenFile(root, entry.path, misses[i].key.dev, misses[i].key.ino);
      Result<std::string> hash = fd.ok() ? Sha256Fd(fd->get()) : Result<std::string>(fd.status());
      if (hash.ok()) {
        entry.hash = *hash;
        cache->Insert(misses[i].key, entry.hash);
      } else if (hash.status().code() == Code::kNotFound) {
        (*vanished)[misses[i].index] = true;
      } else {
        std::lock_guard<std::mutex> guard(error_mutex);
        if (first_error.ok()) first_error = hash.status();
      }
    }
  };
  unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < misses.size(); ++t) pool.emplace_back(worker);
  worker();
  for (auto& thread : pool) thread.join();
  return first_error;
}

// A hardlink takes its file's hash and size, and vanishes with it.
void CopyHardlinkHashes(const std::vector<std::pair<size_t, size_t>>& hardlinks, Manifest* manifest,
                        std::vector<bool>* vanished) {
  for (auto [index, file] : hardlinks) {
    if ((*vanished)[file]) {
      (*vanished)[index] = true;
      continue;
    }
    manifest->entries[index].hash = manifest->entries[file].hash;
    manifest->entries[index].size = manifest->entries[file].size;
  }
}

void DropVanished(const std::vector<bool>& vanished, Manifest* manifest) {
  if (std::find(vanished.begin(), vanished.end(), true) == vanished.end()) return;
  size_t out = 0;
  for (size_t i = 0; i < manifest->entries.size(); ++i) {
    if (!vanished[i]) manifest->entries[out++] = std::move(manifest->entries[i]);
  }
  manifest->entries.resize(out);
}

}  // namespace

CaptureService::CaptureService(CaptureServiceOptions options, HashCache* cache)
    : options_(std::move(options)), cache_(cache) {}

bool CaptureService::Authorized(const HttpRequest& request) const {
  auto it = request.headers.find("authorization");
  if (it == request.headers.end()) return false;
  std::string expected = "Bearer " + options_.token;
  return it->second.size() == expected.size() &&
         CRYPTO_memcmp(it->second.data(), expected.data(), expected.size()) == 0;
}

HttpResponse CaptureService::Unauthorized(const HttpRequest& request) {
  GC_LOG(Warning) << "refused " << request.method << " " << request.path.substr(0, 128) << " from "
                  << request.remote_address << ": wrong or missing token";
  return Error(401, "wrong or missing token: use the --token printed by prepareclient");
}

HttpAdmission CaptureService::Admit(const HttpRequest& head) const {
  HttpAdmission admission;
  if (!Authorized(head)) {
    admission.refusal = Unauthorized(head);
    return admission;
  }
  std::string_view path = head.path;
  if (head.method == "POST" && path.starts_with(kCaptureApiPrefix)) {
    path.remove_prefix(std::strlen(kCaptureApiPrefix));
    if (path == "objects") admission.max_body_bytes = kMaxObjectsBody;
    if (path.starts_with("delta/")) admission.max_body_bytes = kMaxDeltaBody;
  }
  return admission;
}

HttpResponse CaptureService::Handle(const HttpRequest& request) {
  if (!Authorized(request)) return Unauthorized(request);
  std::string_view path = request.path;
  if (path.rfind(kCaptureApiPrefix, 0) != 0) return Error(404, "no such endpoint");
  path.remove_prefix(std::strlen(kCaptureApiPrefix));
  if (request.method == "GET" && path == "manifest") return ServeManifest();
  if (request.method == "GET" && path == "layout") {
    return HttpResponse::Json(200, options_.layout_json);
  }
  if (request.method == "POST" && path == "objects") return ServeObjects(request.body);
  if (request.method == "GET" && path.rfind("object/", 0) == 0) {
    return ServeObject(std::string(path.substr(7)));
  }
  if (request.method == "POST" && path.rfind("delta/", 0) == 0) {
    return ServeDelta(std::string(path.substr(6)), request.body);
  }
  if (request.method == "POST" && path == "done") {
    done_.store(true);
    return HttpResponse::Text(200, "bye\n");
  }
  return Error(404, "no such endpoint");
}

Result<Manifest> CaptureService::BuildManifest() {
  std::lock_guard<std::mutex> lock(mutex_);
  Manifest manifest;
  GC_ASSIGN_OR_RETURN(PendingHashes pending, WalkIntoManifest(options_, cache_, &manifest));
  std::vector<bool> vanished(manifest.entries.size(), false);
  GC_RETURN_IF_ERROR(HashMisses(options_.root, pending.misses, cache_, &manifest, &vanished));
  CopyHardlinkHashes(pending.hardlinks, &manifest, &vanished);
  std::unordered_map<std::string, ObjectSource> sources;
  for (size_t i = 0; i < manifest.entries.size(); ++i) {
    const Entry& entry = manifest.entries[i];
    if (entry.type != EntryType::kFile || vanished[i]) continue;
    auto [dev, ino] = pending.inodes[i];
    sources.emplace(entry.hash, ObjectSource{entry.path, entry.size, dev, ino});
  }
  DropVanished(vanished, &manifest);
  GC_RETURN_IF_ERROR(ValidateManifest(manifest));
  sources_ = std::move(sources);
  Status saved = cache_->Save();
  if (!saved.ok()) GC_LOG(Warning) << "hash cache not saved: " << saved.message();
  return manifest;
}

Result<ManifestTotals> CaptureService::WalkAtStart() {
  GC_ASSIGN_OR_RETURN(Manifest manifest, BuildManifest());
  std::string text = SerializeManifest(manifest);
  std::lock_guard<std::mutex> lock(mutex_);
  startup_manifest_ = std::move(text);
  return ComputeTotals(manifest);
}

HttpResponse CaptureService::ServeManifest() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (startup_manifest_) {
      std::string text = std::move(*startup_manifest_);
      startup_manifest_.reset();
      GC_LOG(Info) << "serving the manifest of the walk at start";
      return HttpResponse::Text(200, std::move(text), "text/plain; charset=utf-8");
    }
  }
  auto manifest = BuildManifest();
  if (!manifest.ok()) {
    GC_LOG(Error) << "walking " << options_.root << ": " << manifest.status().message();
    return Error(500, "golden client could not walk its tree: " + manifest.status().message());
  }
  auto totals = ComputeTotals(*manifest);
  GC_LOG(Info) << "serving manifest: " << totals.entries << " entries, " << totals.files
               << " files";
  return HttpResponse::Text(200, SerializeManifest(*manifest), "text/plain; charset=utf-8");
}

Result<CaptureService::ObjectSource> CaptureService::Find(const std::string& hash) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = sources_.find(hash);
  if (it == sources_.end()) {
    return NotFound("object " + hash +
                    " is not in the current manifest (fetch the manifest first)");
  }
  return it->second;
}

Result<UniqueFd> CaptureService::OpenSource(const ObjectSource& source) const {
  return OpenFile(options_.root, source.path, source.dev, source.ino);
}

HttpResponse CaptureService::ServeObject(const std::string& hash) {
  auto source = Find(hash);
  if (!source.ok()) return Error(404, source.status().message());
  auto fd = OpenSource(*source);
  if (!fd.ok()) return Error(410, fd.status().message());
  return HttpResponse::File(std::move(fd).value(), source->size);
}

HttpResponse CaptureService::ServeObjects(const std::string& body) {
  std::vector<ObjectsProducer::Item> items;
  std::istringstream lines(body);
  std::string hash;
  while (std::getline(lines, hash)) {
    if (hash.empty()) continue;
    if (!IsValidHashHex(hash))
      return Error(400, "not an object hash: '" + hash.substr(0, 80) + "'");
    if (items.size() >= kMaxObjectsPerRequest) return Error(413, "too many objects in one request");
    auto source = Find(hash);
    if (!source.ok()) return Error(404, source.status().message());
    auto fd = OpenSource(*source);
    if (!fd.ok()) return Error(410, fd.status().message());
    items.push_back({hash, std::move(fd).value(), source->size});
  }
  auto producer = std::make_shared<ObjectsProducer>(std::move(items));
  return HttpResponse::Stream(
      [producer](char* buffer, size_t max) { return producer->Produce(buffer, max); });
}

HttpResponse CaptureService::ServeDelta(const std::string& hash, const std::string& signature) {
  auto source = Find(hash);
  if (!source.ok()) return Error(404, source.status().message());
  auto fd = OpenSource(*source);
  if (!fd.ok()) return Error(410, fd.status().message());
  std::string delta;
  Status status = ComputeDelta(signature, fd->get(), [&](std::string_view chunk) {
    delta.append(chunk);
    return Status::Ok();
  });
  if (!status.ok()) return Error(400, "cannot compute delta: " + status.message());
  return HttpResponse::Text(200, std::move(delta), "application/octet-stream");
}

}  // namespace gc
