#include "common/tree_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

#include "common/env.h"
#include "common/hash.h"
#include "common/list_dir.h"
#include "common/object_receiver.h"
#include "common/tree_writer_fs.h"
#include "common/unique_fd.h"

namespace gc {
namespace {

using tree_writer_internal::CopyContent;
using tree_writer_internal::Resolver;
using tree_writer_internal::SetFdMetadata;
using tree_writer_internal::SetNodeMetadata;
using tree_writer_internal::TempFile;
using tree_writer_internal::WriteAt;

// Stream bytes are gathered into writes of this size: an HTTP body arrives
// in chunks of a few KiB.
constexpr size_t kWriteBufferBytes = 1 << 20;
// Received but not yet written: how far the network may run ahead of the
// disk (ObjectReceiver).
constexpr uint64_t kReceiveAheadBytes = 64ull << 20;

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string NameOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool AllZero(std::string_view data) {
  return std::all_of(data.begin(), data.end(), [](char c) { return c == '\0'; });
}

// The object being received and its first file, written as the bytes
// arrive (the receiving thread hashes them).
struct Incoming {
  std::string hash;
  const std::vector<size_t>* users = nullptr;  // entry indices; the first is written
  const Entry* entry = nullptr;
  TempFile file;
  uint64_t offset = 0;  // bytes of the object received
  size_t extent = 0;    // first data extent not yet behind `offset`
  std::string buffer;   // bytes for the file at buffer_offset, not yet written
  uint64_t buffer_offset = 0;
};

class TreeWriter {
 public:
  TreeWriter(const Manifest& manifest, std::string root, ObjectSource* source,
             const TreeWriteOptions& options)
      : manifest_(manifest), root_(std::move(root)), source_(source), options_(options) {}

  Result<TreeWriteStats> Run() {
    GC_RETURN_IF_ERROR(OpenRoot());
    GC_RETURN_IF_ERROR(CreateNodes());
    GC_RETURN_IF_ERROR(WriteFiles());
    GC_RETURN_IF_ERROR(LinkHardlinks());
    GC_RETURN_IF_ERROR(FinishDirs());
    return stats_;
  }

 private:
  std::string Show(const std::string& path) const {
    return path == "." ? root_ : JoinPath(root_, path);
  }
  Status OpenRoot();
  Status CreateNodes();
  Status CreateNode(const Entry& entry, int dir_fd);
  Status CreateEmptyFile(const Entry& entry, int dir_fd);
  Status WriteFiles();
  std::vector<std::vector<std::string>> Batches();
  Status WriteBatch(const std::vector<std::string>& hashes, ObjectReceiver* receiver);
  Status Consume(ObjectEvent event);
  Status Begin(const std::string& hash, uint64_t size);
  Status Data(std::string_view data);
  Status End(const std::string& received);
  Status Put(uint64_t offset, std::string_view data);
  Status Flush();
  Status WriteCopy(int from_fd, const Entry& entry);
  Status FileDone(TempFile* file, const Entry& entry);
  Status LinkHardlinks();
  Status FinishDirs();
  Result<UniqueFd> ParentFd(const std::string& path) {
    GC_ASSIGN_OR_RETURN(int fd, resolver_->Cached(ParentOf(path)));
    UniqueFd own(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!own.valid()) return ErrnoError("dup of the directory fd of " + Show(path));
    return own;
  }

  const Manifest& manifest_;
  const std::string root_;
  ObjectSource* source_;
  const TreeWriteOptions& options_;
  TreeWriteStats stats_;
  UniqueFd root_fd_;
  std::optional<Resolver> resolver_;
  // Content hash -> the kFile entries (indices, manifest order) that hold it.
  // Keys view the manifest's strings: a manifest can have millions of entries.
  std::unordered_map<std::string_view, std::vector<size_t>> users_;
  std::vector<std::string_view> hashes_;  // distinct non-empty objects, in order of first use
  std::unordered_map<std::string_view, bool> batch_;  // requested -> received
  std::optional<Incoming> incoming_;
  uint64_t files_total_ = 0;
  uint64_t temp_counter_ = 0;
};

Status TreeWriter::OpenRoot() {
  const std::vector<Entry>& entries = manifest_.entries;
  if (entries.empty() || entries[0].path != "." || entries[0].type != EntryType::kDir) {
    return InvalidArgument("manifest: the first entry must be the root directory '.'");
  }
  if (root_.empty()) return InvalidArgument("the target root directory path is empty");
  root_fd_.Reset(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd_.valid()) {
    return ErrnoError("target root " + root_ + " (it must be an existing, empty directory)");
  }
  GC_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirFd(root_fd_.get(), root_));
  for (const std::string& name : names) {
    if (name == "lost+found") continue;
    return Status(Code::kAlreadyExists,
                  root_ + ": is not empty (it holds '" + name +
                      "'); an image is written only onto a fresh file system or an empty "
                      "directory: empty it or make the file system again");
  }
  resolver_.emplace(root_fd_.get(), root_, options_.use_openat2);
  stats_.entries = 1;  // the root; its metadata is set last (FinishDirs)
  return Status::Ok();
}

// Makes every entry but regular files with content and hardlinks, and
// checks on the way that each parent is a real directory beneath the root,
// before any content is fetched.
Status TreeWriter::CreateNodes() {
  const std::vector<Entry>& entries = manifest_.entries;
  std::unordered_map<std::string_view, EntryType> types;  // for hardlink targets
  for (size_t i = 1; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    Status valid = ValidateRelativePath(e.path);
    if (!valid.ok() || e.path == ".") {
      return InvalidArgument(
          "manifest entry " + std::to_string(i) + ": path " +
          (valid.ok() ? std::string("'.' is not the first entry") : valid.message()));
    }
    if (!types.emplace(e.path, e.type).second) {
      return InvalidArgument("manifest: " + e.path + " is listed twice");
    }
    GC_ASSIGN_OR_RETURN(int dir_fd, resolver_->Cached(ParentOf(e.path)));
    if (e.type == EntryType::kHardlink) {
      auto target = types.find(e.target);
      if (target == types.end() || target->second != EntryType::kFile) {
        return InvalidArgument("manifest: hardlink " + e.path + ": its target '" + e.target +
                               "' is not an earlier regular file");
      }
      continue;  // linked once the files exist (LinkHardlinks)
    }
    if (e.type == EntryType::kFile) {
      ++files_total_;
      if (e.size == 0) {
        GC_RETURN_IF_ERROR(CreateEmptyFile(e, dir_fd));
        continue;
      }
      if (!IsValidHashHex(e.hash)) {
        return InvalidArgument("manifest: " + e.path + ": '" + e.hash + "' is not a SHA-256");
      }
      std::vector<size_t>& users = users_[e.hash];
      if (users.empty()) hashes_.push_back(e.hash);
      if (!users.empty() && entries[users.front()].size != e.size) {
        return InvalidArgument("manifest: " + e.path + " and " + entries[users.front()].path +
                               " have the same hash but different sizes");
      }
      users.push_back(i);
      continue;
    }
    GC_RETURN_IF_ERROR(CreateNode(e, dir_fd));
  }
  return Status::Ok();
}

Status TreeWriter::CreateNode(const Entry& e, int dir_fd) {
  const std::string name = NameOf(e.path);
  const std::string shown = Show(e.path);
  switch (e.type) {
    case EntryType::kDir:
      // 0700 until FinishDirs: nothing half-written is visible to others.
      if (::mkdirat(dir_fd, name.c_str(), 0700) != 0) {
        int err = errno;
        struct stat st;
        // Only lost+found can be there already (OpenRoot); reuse it.
        if (err != EEXIST || ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode)) {
          return ErrnoError("mkdir " + shown, err);
        }
      }
      ++stats_.entries;
      return Status::Ok();
    case EntryType::kSymlink:
      if (::symlinkat(e.target.c_str(), dir_fd, name.c_str()) != 0) {
        return ErrnoError("symlink " + shown + " -> " + e.target);
      }
      break;
    case EntryType::kCharDevice:
    case EntryType::kBlockDevice:
    case EntryType::kFifo: {
      mode_t type = e.type == EntryType::kFifo         ? S_IFIFO
                    : e.type == EntryType::kCharDevice ? S_IFCHR
                                                       : S_IFBLK;
      dev_t dev = e.type == EntryType::kFifo ? 0 : makedev(e.rdev_major, e.rdev_minor);
      if (::mknodat(dir_fd, name.c_str(), type | 0600, dev) != 0) {
        return ErrnoError("mknod " + shown);
      }
      break;
    }
    case EntryType::kSocket:
      return Status::Ok();  // recreated by whoever listens on it
    case EntryType::kFile:
    case EntryType::kHardlink:
      return Internal("CreateNode called for " + shown);
  }
  ++stats_.entries;
  return SetNodeMetadata(dir_fd, name, e, options_, shown);
}

Status TreeWriter::CreateEmptyFile(const Entry& e, int dir_fd) {
  static const std::string kEmptyHash = Sha256Hex("");
  if (e.hash != kEmptyHash) {
    return Corrupt(Show(e.path) + ": the manifest gives size 0 but sha256 " + e.hash +
                   " (that of no bytes is " + kEmptyHash + "); the manifest is damaged");
  }
  UniqueFd own(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!own.valid()) return ErrnoError("dup of the directory fd of " + Show(e.path));
  TempFile file;
  GC_RETURN_IF_ERROR(file.Create(std::move(own), Show(ParentOf(e.path)), &temp_counter_));
  return FileDone(&file, e);
}

// Metadata, then the real name: the file never shows under it with the
// temporary owner or mode.
Status TreeWriter::FileDone(TempFile* file, const Entry& e) {
  const std::string shown = Show(e.path);
  if (::ftruncate(file->fd(), static_cast<off_t>(e.size)) != 0) {
    return ErrnoError("setting the size of " + shown);
  }
  GC_RETURN_IF_ERROR(SetFdMetadata(file->fd(), e, options_, shown));
  GC_RETURN_IF_ERROR(file->Commit(NameOf(e.path), shown));
  ++stats_.entries;
  ++stats_.files;
  stats_.bytes_written += e.size;
  return Status::Ok();
}

// The objects are received on a thread of their own (ObjectReceiver) while
// this one writes them: receiving and writing overlap. A failure on either
// side stops both: the receiver is cancelled and joined on every return.
Status TreeWriter::WriteFiles() {
  std::vector<std::vector<std::string>> batches = Batches();
  if (batches.empty()) return Status::Ok();
  std::vector<std::vector<std::string>> requests = batches;
  ObjectReceiver receiver(source_, std::move(requests), kReceiveAheadBytes);
  for (const std::vector<std::string>& batch : batches) {
    GC_RETURN_IF_ERROR(WriteBatch(batch, &receiver));
  }
  return Status::Ok();
}

// The distinct objects, in batches of at most batch_objects and about
// batch_bytes; an object larger than the budget goes in a batch of its own.
std::vector<std::vector<std::string>> TreeWriter::Batches() {
  const size_t max_objects = std::max<size_t>(1, options_.batch_objects);
  const uint64_t max_bytes = options_.batch_bytes;
  std::vector<std::vector<std::string>> batches;
  uint64_t batch_bytes = 0;
  for (std::string_view hash : hashes_) {
    const uint64_t size = manifest_.entries[users_[hash].front()].size;
    if (batches.empty() ||
        (!batches.back().empty() && (batches.back().size() >= max_objects ||
                                     batch_bytes >= max_bytes || size > max_bytes - batch_bytes))) {
      batches.emplace_back();
      batch_bytes = 0;
    }
    batches.back().emplace_back(hash);
    batch_bytes += size;
  }
  return batches;
}

Status TreeWriter::WriteBatch(const std::vector<std::string>& hashes, ObjectReceiver* receiver) {
  batch_.clear();
  for (std::string_view hash : hashes) batch_.emplace(hash, false);
  Status fetched = Internal("the object receiver stopped before the end of a batch");
  while (std::optional<ObjectEvent> event = receiver->Next()) {
    if (event->kind == ObjectEvent::Kind::kBatchDone) {
      fetched = std::move(event->status);
      break;
    }
    Status consumed = Consume(std::move(*event));
    if (!consumed.ok()) {
      incoming_.reset();  // removes its temporary file
      return consumed;
    }
  }
  if (incoming_) {
    const std::string hash = incoming_->hash;
    const std::string path = incoming_->entry->path;
    incoming_.reset();  // removes its temporary file
    if (fetched.ok()) {
      return Corrupt("object " + hash + " (content of " + Show(path) +
                     "): the source stopped in the middle of it");
    }
  }
  if (!fetched.ok()) return fetched.WithContext("fetching file contents for " + root_);
  for (std::string_view hash : hashes) {
    if (batch_[hash]) continue;
    return NotFound("object " + std::string(hash) + " (content of " +
                    Show(manifest_.entries[users_[hash].front()].path) +
                    ") was not delivered by the source; run goldcast image verify on the "
                    "server)");
  }
  if (options_.progress) options_.progress(stats_.files, files_total_, stats_.bytes_written);
  return Status::Ok();
}

Status TreeWriter::Consume(ObjectEvent event) {
  switch (event.kind) {
    case ObjectEvent::Kind::kBegin:
      return Begin(event.hash, event.size);
    case ObjectEvent::Kind::kData:
      return Data(event.data);
    case ObjectEvent::Kind::kEnd:
      return End(event.hash);
    case ObjectEvent::Kind::kBatchDone:
      break;
  }
  return Internal("object stream: unexpected event");
}

Status TreeWriter::Begin(const std::string& hash, uint64_t size) {
  if (incoming_) {
    return Corrupt("object stream: object " + hash + " began before " + incoming_->hash + " ended");
  }
  auto requested = batch_.find(hash);
  if (requested == batch_.end()) {
    return Corrupt("the source sent object " + hash + ", which was not asked for");
  }
  if (requested->second) return Corrupt("the source sent object " + hash + " twice");
  requested->second = true;
  const std::vector<size_t>& users = users_.at(hash);
  const Entry& e = manifest_.entries[users.front()];
  if (size != e.size) {
    return Corrupt(Show(e.path) + ": the source announced " + std::to_string(size) +
                   " bytes for object " + hash + ", the manifest says " + std::to_string(e.size));
  }
  GC_ASSIGN_OR_RETURN(UniqueFd dir, ParentFd(e.path));
  incoming_.emplace();
  incoming_->hash = hash;
  incoming_->users = &users;
  incoming_->entry = &e;
  Status created = incoming_->file.Create(std::move(dir), Show(ParentOf(e.path)), &temp_counter_);
  if (!created.ok()) incoming_.reset();
  return created;
}

// Holes of a sparse file are skipped, so they stay holes. Bytes the map
// calls a hole but that are not zero (the file changed while it was
// captured) are written all the same: the content is what the hash says.
Status TreeWriter::Data(std::string_view data) {
  if (!incoming_) return Corrupt("object stream: data outside an object");
  Incoming& in = *incoming_;
  const Entry& e = *in.entry;
  if (data.size() > e.size - in.offset) {
    return Corrupt(Show(e.path) + ": the source sent more than the " + std::to_string(e.size) +
                   " bytes of object " + in.hash);
  }
  stats_.bytes_fetched += data.size();
  const std::vector<Extent>& extents = e.data_extents;
  uint64_t pos = in.offset;
  in.offset += data.size();
  if (extents.empty()) return Put(pos, data);
  while (!data.empty()) {
    while (in.extent < extents.size() &&
           extents[in.extent].offset + extents[in.extent].length <= pos) {
      ++in.extent;
    }
    const bool in_data = in.extent < extents.size() && extents[in.extent].offset <= pos;
    const uint64_t until = in.extent == extents.size() ? e.size
                           : in_data ? extents[in.extent].offset + extents[in.extent].length
                                     : extents[in.extent].offset;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(data.size(), until - pos));
    std::string_view part = data.substr(0, take);
    if (in_data || !AllZero(part)) GC_RETURN_IF_ERROR(Put(pos, part));
    pos += take;
    data.remove_prefix(take);
  }
  return Status::Ok();
}

Status TreeWriter::Put(uint64_t offset, std::string_view data) {
  Incoming& in = *incoming_;
  if (!in.buffer.empty() && in.buffer_offset + in.buffer.size() != offset) {
    GC_RETURN_IF_ERROR(Flush());
  }
  if (in.buffer.empty()) in.buffer_offset = offset;
  in.buffer.append(data);
  return in.buffer.size() >= kWriteBufferBytes ? Flush() : Status::Ok();
}

Status TreeWriter::Flush() {
  Incoming& in = *incoming_;
  Status written = WriteAt(in.file.fd(), in.buffer, in.buffer_offset, Show(in.entry->path));
  in.buffer.clear();
  return written;
}

// `received`: the SHA-256 of the object's bytes as they arrived.
Status TreeWriter::End(const std::string& received) {
  if (!incoming_) return Corrupt("object stream: an object ended that did not begin");
  Incoming& in = *incoming_;
  const Entry& e = *in.entry;
  if (in.offset != e.size) {
    return Corrupt(Show(e.path) + ": object " + in.hash + " ended after " +
                   std::to_string(in.offset) + " of its " + std::to_string(e.size) + " bytes");
  }
  GC_RETURN_IF_ERROR(Flush());
  if (received != in.hash) {
    return Corrupt(Show(e.path) + ": content does not match the manifest: expected sha256 " +
                   in.hash + ", received " + received +
                   " (the image store or the transfer is damaged; nothing was written under "
                   "this name)");
  }
  GC_RETURN_IF_ERROR(FileDone(&in.file, e));
  // Same content elsewhere: copied from this file, not fetched again.
  for (size_t k = 1; k < in.users->size(); ++k) {
    GC_RETURN_IF_ERROR(WriteCopy(in.file.fd(), manifest_.entries[(*in.users)[k]]));
  }
  incoming_.reset();
  return Status::Ok();
}

Status TreeWriter::WriteCopy(int from_fd, const Entry& e) {
  GC_ASSIGN_OR_RETURN(UniqueFd dir, ParentFd(e.path));
  TempFile file;
  GC_RETURN_IF_ERROR(file.Create(std::move(dir), Show(ParentOf(e.path)), &temp_counter_));
  GC_RETURN_IF_ERROR(CopyContent(from_fd, file.fd(), e.size, e.data_extents, Show(e.path)));
  return FileDone(&file, e);
}

Status TreeWriter::LinkHardlinks() {
  for (const Entry& e : manifest_.entries) {
    if (e.type != EntryType::kHardlink) continue;
    GC_ASSIGN_OR_RETURN(UniqueFd target_dir, resolver_->Open(ParentOf(e.target)));
    GC_ASSIGN_OR_RETURN(int dir_fd, resolver_->Cached(ParentOf(e.path)));
    // No AT_SYMLINK_FOLLOW: the target's last component is never followed.
    if (::linkat(target_dir.get(), NameOf(e.target).c_str(), dir_fd, NameOf(e.path).c_str(), 0) !=
        0) {
      return ErrnoError("hardlink " + Show(e.path) + " -> " + Show(e.target));
    }
    ++stats_.entries;
  }
  return Status::Ok();
}

// Deepest first (reverse manifest order, which puts a subtree before its
// directory): a directory's mtime is set after the last change inside it,
// and a directory turns read-only only once nothing below needs writing.
Status TreeWriter::FinishDirs() {
  const std::vector<Entry>& entries = manifest_.entries;
  for (size_t i = entries.size(); i-- > 0;) {
    const Entry& e = entries[i];
    if (e.type != EntryType::kDir) continue;
    GC_ASSIGN_OR_RETURN(UniqueFd fd, resolver_->Open(e.path));
    GC_RETURN_IF_ERROR(SetFdMetadata(fd.get(), e, options_, Show(e.path)));
  }
  return Status::Ok();
}

}  // namespace

Result<TreeWriteStats> WriteTree(const Manifest& manifest, const std::string& root,
                                 ObjectSource* source, const TreeWriteOptions& options) {
  if (source == nullptr) return Internal("WriteTree: no object source");
  TreeWriter writer(manifest, root, source, options);
  return writer.Run();
}

}  // namespace gc
