// TarReader: tar, tar.gz, tar.xz and tar.zst through libarchive into
// manifest entries (names normalised and checked, ACLs as the kernel's
// xattrs, sparse maps as extents) plus content. Shared helpers (locale,
// ACLs) are in archive.cc.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "common/archive.h"
#include "common/archive_internal.h"
#include "common/log.h"
#include "common/unique_fd.h"

namespace gc {
namespace {

using archive_internal::AclEntry;
using archive_internal::AclFromEntry;
using archive_internal::ArchiveError;
using archive_internal::DecodeAclXattr;
using archive_internal::kAclAccessXattr;
using archive_internal::kAclDefaultXattr;
using archive_internal::kAclMaskTag;
using archive_internal::kBlockSize;
using archive_internal::kNanosPerSecond;
using archive_internal::ScopedUtf8Locale;
using archive_internal::ZeroBlock;

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ReadFree>;

// The Read* steps below fill one field group of an entry each; their
// messages say what is wrong and ToEntry adds which member.

Status ReadHardlink(const char* hardlink, Entry* e) {
  auto target = NormalizeRelativePath(hardlink);
  if (!target.ok()) {
    return InvalidArgument("hardlink target '" + std::string(hardlink) +
                           "': " + target.status().message());
  }
  e->type = EntryType::kHardlink;
  e->target = *target;
  return Status::Ok();
}

Status ReadDevice(archive_entry* ae, Entry* e) {
  e->type =
      archive_entry_filetype(ae) == AE_IFCHR ? EntryType::kCharDevice : EntryType::kBlockDevice;
  if (archive_entry_rdevmajor(ae) > std::numeric_limits<uint32_t>::max() ||
      archive_entry_rdevminor(ae) > std::numeric_limits<uint32_t>::max())
    return InvalidArgument("device number out of range");
  e->rdev_major = static_cast<uint32_t>(archive_entry_rdevmajor(ae));
  e->rdev_minor = static_cast<uint32_t>(archive_entry_rdevminor(ae));
  return Status::Ok();
}

Status ReadType(archive_entry* ae, Entry* e) {
  const char* hardlink = archive_entry_hardlink(ae);
  if (hardlink != nullptr) return ReadHardlink(hardlink, e);
  switch (archive_entry_filetype(ae)) {
    case AE_IFREG:
      e->type = EntryType::kFile;
      if (archive_entry_size(ae) < 0) return InvalidArgument("negative size");
      e->size = static_cast<uint64_t>(archive_entry_size(ae));
      return Status::Ok();
    case AE_IFDIR:
      e->type = EntryType::kDir;
      return Status::Ok();
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(ae);
      if (target == nullptr || *target == '\0') return InvalidArgument("symlink without a target");
      e->type = EntryType::kSymlink;
      e->target = target;
      return Status::Ok();
    }
    case AE_IFCHR:
    case AE_IFBLK:
      return ReadDevice(ae, e);
    case AE_IFIFO:
      e->type = EntryType::kFifo;
      return Status::Ok();
    default:
      char type[16];
      std::snprintf(type, sizeof(type), "0%o", static_cast<unsigned>(archive_entry_filetype(ae)));
      return InvalidArgument(std::string("has a file type goldcast cannot store (mode type ") +
                             type + ")");
  }
}

Status ReadOwnerModeTime(archive_entry* ae, Entry* e) {
  e->mode = archive_entry_perm(ae) & 07777;
  int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
  if (uid < 0 || uid > std::numeric_limits<uint32_t>::max() || gid < 0 ||
      gid > std::numeric_limits<uint32_t>::max())
    return InvalidArgument("uid or gid out of range");
  e->uid = static_cast<uint32_t>(uid);
  e->gid = static_cast<uint32_t>(gid);
  int64_t sec = archive_entry_mtime(ae);
  if (sec > std::numeric_limits<int64_t>::max() / kNanosPerSecond - 1 ||
      sec < std::numeric_limits<int64_t>::min() / kNanosPerSecond + 1)
    return InvalidArgument("mtime out of range");
  e->mtime_ns = sec * kNanosPerSecond + archive_entry_mtime_nsec(ae);
  return Status::Ok();
}

// The member's xattrs by name; later duplicates win, as in pax.
Result<std::map<std::string, std::string>> ReadRawXattrs(archive_entry* ae) {
  std::map<std::string, std::string> xattrs;
  archive_entry_xattr_reset(ae);
  const char* xname;
  const void* xvalue;
  size_t xsize;
  while (archive_entry_xattr_next(ae, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
    if (xname == nullptr || *xname == '\0')
      return InvalidArgument("has an xattr with an empty name");
    xattrs[xname] = xsize > 0 ? std::string(static_cast<const char*>(xvalue), xsize) : "";
  }
  return xattrs;
}

// Adds the ACLs the archive records as text, as the kernel's xattrs.
Status AddAclXattrs(archive_entry* ae, std::map<std::string, std::string>* xattrs) {
  for (auto [type, xattr] : {std::pair{ARCHIVE_ENTRY_ACL_TYPE_ACCESS, kAclAccessXattr},
                             std::pair{ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, kAclDefaultXattr}}) {
    auto raw = xattrs->find(xattr);
    if (raw != xattrs->end()) {
      // GNU tar --xattrs stores the kernel's value next to the ACL text; it
      // is exact (numeric ids) where the text may carry only user names.
      if (!DecodeAclXattr(raw->second).ok()) {
        return InvalidArgument(std::string(xattr) + " is malformed");
      }
      continue;
    }
    auto acl = AclFromEntry(ae, type);
    if (!acl.ok()) return InvalidArgument(acl.status().message());
    if (acl->has_value()) (*xattrs)[xattr] = **acl;
  }
  return Status::Ok();
}

Status ReadXattrs(archive_entry* ae, Entry* e) {
  GC_ASSIGN_OR_RETURN(auto xattrs, ReadRawXattrs(ae));
  GC_RETURN_IF_ERROR(AddAclXattrs(ae, &xattrs));
  // libarchive keeps the ACL's owning-group entry in the mode's group bits;
  // with a mask the kernel keeps the mask there, and so does the manifest.
  if (auto access = xattrs.find(kAclAccessXattr); access != xattrs.end()) {
    auto acl = DecodeAclXattr(access->second);
    if (!acl.ok()) return InvalidArgument(std::string(kAclAccessXattr) + " is malformed");
    for (const AclEntry& a : *acl)
      if (a.tag == kAclMaskTag) e->mode = (e->mode & ~070u) | (static_cast<uint32_t>(a.perm) << 3);
  }
  for (auto& [n, v] : xattrs) e->xattrs.push_back({n, std::move(v)});
  return Status::Ok();
}

Status ReadSparseMap(archive_entry* ae, Entry* e) {
  if (e->type != EntryType::kFile || archive_entry_sparse_reset(ae) <= 0) return Status::Ok();
  la_int64_t offset, length;
  while (archive_entry_sparse_next(ae, &offset, &length) == ARCHIVE_OK) {
    if (length == 0) continue;
    if (offset < 0 || length < 0 || static_cast<uint64_t>(offset) > e->size ||
        static_cast<uint64_t>(length) > e->size - static_cast<uint64_t>(offset) ||
        (!e->data_extents.empty() &&
         static_cast<uint64_t>(offset) <
             e->data_extents.back().offset + e->data_extents.back().length))
      return InvalidArgument("sparse map is unsorted or extends past the file size");
    e->data_extents.push_back({static_cast<uint64_t>(offset), static_cast<uint64_t>(length)});
  }
  // One extent covering the whole file is just a dense file.
  if (e->data_extents.size() == 1 && e->data_extents[0] == Extent{0, e->size})
    e->data_extents.clear();
  return Status::Ok();
}

Status ToEntry(archive_entry* ae, Entry* out) {
  const char* name = archive_entry_pathname(ae);
  if (name == nullptr) return InvalidArgument("archive member without a name");
  Entry e;
  auto read = [&]() -> Status {
    GC_ASSIGN_OR_RETURN(e.path, NormalizeRelativePath(name));
    GC_RETURN_IF_ERROR(ReadType(ae, &e));
    GC_RETURN_IF_ERROR(ReadOwnerModeTime(ae, &e));
    GC_RETURN_IF_ERROR(ReadXattrs(ae, &e));
    return ReadSparseMap(ae, &e);
  };
  Status status = read();
  if (!status.ok()) {
    return InvalidArgument(std::string("archive member '") + name + "': " + status.message());
  }
  *out = std::move(e);
  return Status::Ok();
}

class LibarchiveTarReader final : public TarReader {
 public:
  LibarchiveTarReader(std::string source, UniqueFd fd, std::string memory)
      : source_(std::move(source)), fd_(std::move(fd)), memory_(std::move(memory)) {}

  Status Init(int fd) {
    ScopedUtf8Locale utf8;
    archive_.reset(archive_read_new());
    if (!archive_) return Internal("out of memory creating a tar reader");
    archive_read_support_filter_all(archive_.get());
    archive_read_support_format_tar(archive_.get());
    int r = fd >= 0 ? archive_read_open_fd(archive_.get(), fd, 64 * 1024)
                    : archive_read_open_memory(archive_.get(), memory_.data(), memory_.size());
    if (r != ARCHIVE_OK)
      return InvalidArgument(source_ +
                             ": not a readable tar archive: " + ArchiveError(archive_.get()));
    return Status::Ok();
  }

  Result<bool> Next(Entry* entry) override {
    if (error_) return *error_;
    if (at_end_) return false;
    current_is_file_ = content_left_ = false;
    ScopedUtf8Locale utf8;
    archive_entry* ae = nullptr;
    int r = archive_read_next_header(archive_.get(), &ae);
    if (r == ARCHIVE_EOF) {
      at_end_ = true;
      return false;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return Fail(Corrupt(source_ + ": " + ArchiveError(archive_.get())));
    if (r == ARCHIVE_WARN) {
      const char* name = archive_entry_pathname(ae);
      GC_LOG(Warning) << source_ << ": archive member '" << (name ? name : "")
                      << "': " << ArchiveError(archive_.get());
    }
    Status s = ToEntry(ae, entry);
    if (!s.ok()) return Fail(s.WithContext(source_));
    current_ = entry->path;
    size_ = entry->type == EntryType::kFile ? entry->size : 0;
    current_is_file_ = content_left_ = entry->type == EntryType::kFile;
    return true;
  }

  Status ReadContent(const std::function<Status(std::string_view)>& sink) override {
    if (error_) return *error_;
    if (!current_is_file_) return Status::Ok();  // no content: nothing for the sink
    if (!content_left_) return Internal(source_ + ": content of '" + current_ + "' read twice");
    content_left_ = false;
    std::string context = source_ + ": archive member '" + current_ + "'";
    uint64_t pos = 0;
    for (;;) {
      const void* data;
      size_t length;
      la_int64_t offset;
      int r = archive_read_data_block(archive_.get(), &data, &length, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return Fail(Corrupt(context + ": " + ArchiveError(archive_.get())));
      if (offset < 0 || static_cast<uint64_t>(offset) < pos ||
          static_cast<uint64_t>(offset) > size_ || length > size_ - static_cast<uint64_t>(offset))
        return Fail(Corrupt(context + ": data at offset " + std::to_string(offset) +
                            " lies outside the member's " + std::to_string(size_) + " bytes"));
      GC_RETURN_IF_ERROR(Zeros(static_cast<uint64_t>(offset) - pos, sink));
      if (length > 0) GC_RETURN_IF_ERROR(sink({static_cast<const char*>(data), length}));
      pos = static_cast<uint64_t>(offset) + length;
    }
    return Zeros(size_ - pos, sink);
  }

 private:
  Status Fail(Status status) {
    error_ = status;
    return status;
  }

  static Status Zeros(uint64_t length, const std::function<Status(std::string_view)>& sink) {
    while (length > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kBlockSize, length));
      GC_RETURN_IF_ERROR(sink({ZeroBlock(), n}));
      length -= n;
    }
    return Status::Ok();
  }

  std::string source_;
  UniqueFd fd_;         // invalid for stdin and memory
  std::string memory_;  // OpenMemory's data; outlives archive_
  ReadArchive archive_;
  std::optional<Status> error_;
  bool at_end_ = false;
  bool current_is_file_ = false;
  bool content_left_ = false;
  std::string current_;
  uint64_t size_ = 0;
};

}  // namespace

Result<std::unique_ptr<TarReader>> TarReader::Open(const std::string& path) {
  UniqueFd fd;
  int in = STDIN_FILENO;
  if (path != "-") {
    fd.Reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError("opening tar archive " + path);
    in = fd.get();
  }
  auto reader = std::make_unique<LibarchiveTarReader>(path, std::move(fd), std::string());
  GC_RETURN_IF_ERROR(reader->Init(in));
  return std::unique_ptr<TarReader>(std::move(reader));
}

Result<std::unique_ptr<TarReader>> TarReader::OpenMemory(std::string data) {
  auto reader =
      std::make_unique<LibarchiveTarReader>("in-memory archive", UniqueFd(), std::move(data));
  GC_RETURN_IF_ERROR(reader->Init(-1));
  return std::unique_ptr<TarReader>(std::move(reader));
}

}  // namespace gc
