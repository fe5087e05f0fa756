// TarWriter: an image as a pax tar through libarchive, with xattrs, POSIX
// ACLs, hardlinks, devices and sparse files as GNU tar and bsdtar restore
// them. Shared helpers (locale, ACLs) are in archive.cc.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "common/archive.h"
#include "common/archive_internal.h"
#include "common/log.h"
#include "common/unique_fd.h"

namespace gc {
namespace {

using archive_internal::AddAclToEntry;
using archive_internal::ArchiveError;
using archive_internal::kAclAccessXattr;
using archive_internal::kAclDefaultXattr;
using archive_internal::kBlockSize;
using archive_internal::kNanosPerSecond;
using archive_internal::ScopedUtf8Locale;
using archive_internal::ZeroBlock;

struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using WriteArchive = std::unique_ptr<archive, WriteFree>;
using ArchiveEntry = std::unique_ptr<archive_entry, EntryFree>;

// A libarchive failure while writing: a full disk keeps its own code so the
// caller can tell the admin to free space.
Status WriteError(archive* a, std::string_view context) {
  int err = archive_errno(a);
  if (err == ENOSPC || err == EDQUOT) return ErrnoError(context, err);
  return IoError(std::string(context) + ": " + ArchiveError(a));
}

Status CheckExtents(const Entry& entry) {
  uint64_t end = 0;
  for (const Extent& e : entry.data_extents) {
    if (e.offset < end || e.length > entry.size || e.offset > entry.size - e.length)
      return InvalidArgument("data extents of " + entry.path +
                             " are unsorted, overlap or extend past its size " +
                             std::to_string(entry.size));
    end = e.offset + e.length;
  }
  return Status::Ok();
}

// The extents handed to libarchive: non-empty ones, plus a zero-length one at
// the end of a file that ends in a hole, which is how GNU tar records the size.
std::vector<Extent> TarExtents(const Entry& entry) {
  std::vector<Extent> out;
  for (const Extent& e : entry.data_extents)
    if (e.length > 0) out.push_back(e);
  if (out.empty() || out.back().offset + out.back().length < entry.size)
    out.push_back({entry.size, 0});
  return out;
}

Result<ArchiveEntry> ToArchiveEntry(const Entry& entry) {
  if (entry.path != ".") GC_RETURN_IF_ERROR(ValidateRelativePath(entry.path));
  if (entry.mode > 07777) return InvalidArgument("mode has bits beyond 07777");
  ArchiveEntry ae(archive_entry_new());
  if (!ae) return Internal("out of memory");
  std::string name = entry.path == "." ? "./" : "./" + entry.path;
  archive_entry_copy_pathname(ae.get(), name.c_str());
  archive_entry_set_uid(ae.get(), entry.uid);
  archive_entry_set_gid(ae.get(), entry.gid);
  int64_t sec = entry.mtime_ns / kNanosPerSecond;
  int64_t nsec = entry.mtime_ns % kNanosPerSecond;
  if (nsec < 0) {
    nsec += kNanosPerSecond;
    --sec;
  }
  archive_entry_set_mtime(ae.get(), sec, nsec);
  archive_entry_set_size(ae.get(), 0);
  switch (entry.type) {
    case EntryType::kFile:
      if (entry.size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return InvalidArgument("size " + std::to_string(entry.size) + " is too large");
      archive_entry_set_filetype(ae.get(), AE_IFREG);
      archive_entry_set_size(ae.get(), static_cast<int64_t>(entry.size));
      break;
    case EntryType::kDir:
      archive_entry_set_filetype(ae.get(), AE_IFDIR);
      break;
    case EntryType::kSymlink:
      archive_entry_set_filetype(ae.get(), AE_IFLNK);
      archive_entry_copy_symlink(ae.get(), entry.target.c_str());
      break;
    case EntryType::kHardlink: {
      GC_RETURN_IF_ERROR(ValidateRelativePath(entry.target).WithContext("hardlink target"));
      archive_entry_set_filetype(ae.get(), AE_IFREG);
      archive_entry_copy_hardlink(ae.get(), ("./" + entry.target).c_str());
      break;
    }
    case EntryType::kCharDevice:
    case EntryType::kBlockDevice:
      archive_entry_set_filetype(ae.get(),
                                 entry.type == EntryType::kCharDevice ? AE_IFCHR : AE_IFBLK);
      archive_entry_set_rdevmajor(ae.get(), entry.rdev_major);
      archive_entry_set_rdevminor(ae.get(), entry.rdev_minor);
      break;
    case EntryType::kFifo:
      archive_entry_set_filetype(ae.get(), AE_IFIFO);
      break;
    case EntryType::kSocket:
      return Status(Code::kUnsupported, "sockets cannot be stored in a tar archive");
  }
  // After the file type and before the ACLs: libarchive derives the ACL's
  // owner/group/other entries from the mode.
  archive_entry_set_perm(ae.get(), entry.mode);
  for (const Xattr& x : entry.xattrs) {
    if (x.name.empty() || x.name.find('\0') != std::string::npos)
      return InvalidArgument("xattr name is empty or contains NUL");
    Status s;
    if (x.name == kAclAccessXattr) {
      s = AddAclToEntry(x, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, ae.get());
    } else if (x.name == kAclDefaultXattr) {
      s = AddAclToEntry(x, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, ae.get());
    } else {
      archive_entry_xattr_add_entry(ae.get(), x.name.c_str(), x.value.data(), x.value.size());
    }
    GC_RETURN_IF_ERROR(s.WithContext("xattr " + x.name));
  }
  if (entry.type == EntryType::kFile && !entry.data_extents.empty() && entry.size > 0) {
    GC_RETURN_IF_ERROR(CheckExtents(entry));
    // Must follow set_size: libarchive drops extents past the size.
    for (const Extent& e : TarExtents(entry))
      archive_entry_sparse_add_entry(ae.get(), static_cast<int64_t>(e.offset),
                                     static_cast<int64_t>(e.length));
  }
  return ae;
}

class LibarchiveTarWriter final : public TarWriter {
 public:
  LibarchiveTarWriter(std::string path, UniqueFd fd, WriteArchive archive)
      : path_(std::move(path)), fd_(std::move(fd)), archive_(std::move(archive)) {}

  Status Add(const Entry& entry, int content_fd) override {
    if (error_) return *error_;
    if (finished_) return Internal("TarWriter::Add after Finish for " + path_);
    if (entry.type == EntryType::kSocket)
      return Status(Code::kUnsupported, "sockets cannot be stored in a tar archive: " + entry.path);
    ScopedUtf8Locale utf8;
    auto ae = ToArchiveEntry(entry);
    if (!ae.ok()) return ae.status().WithContext("cannot add " + entry.path + " to " + path_);
    int r = archive_write_header(archive_.get(), ae->get());
    if (r == ARCHIVE_WARN) {
      GC_LOG(Warning) << path_ << ": " << entry.path << ": " << ArchiveError(archive_.get());
    } else if (r != ARCHIVE_OK) {
      return Fail(WriteError(archive_.get(), path_ + ": writing the header of " + entry.path));
    }
    if (entry.type == EntryType::kFile && entry.size > 0) {
      Status s = entry.data_extents.empty() ? CopyRange(entry, content_fd, 0, entry.size)
                                            : WriteSparse(entry, content_fd);
      // The header promised entry.size bytes: the archive is now unusable.
      if (!s.ok()) return Fail(s);
    }
    if (archive_write_finish_entry(archive_.get()) < ARCHIVE_WARN)
      return Fail(WriteError(archive_.get(), path_ + ": finishing " + entry.path));
    return Status::Ok();
  }

  Status Finish() override {
    if (error_) return *error_;
    if (finished_) return Status::Ok();
    finished_ = true;
    if (archive_write_close(archive_.get()) != ARCHIVE_OK)
      return Fail(WriteError(archive_.get(), path_ + ": finishing the archive"));
    if (fd_.valid()) {
      if (::fsync(fd_.get()) != 0) return Fail(ErrnoError("fsync " + path_));
      if (::close(fd_.Release()) != 0) return Fail(ErrnoError("closing " + path_));
    }
    return Status::Ok();
  }

 private:
  Status Fail(Status status) {
    error_ = status;
    return status;
  }

  Status WriteData(const Entry& entry, const char* data, size_t length) {
    la_ssize_t n = archive_write_data(archive_.get(), data, length);
    if (n < 0 || static_cast<size_t>(n) != length)
      return WriteError(archive_.get(), path_ + ": writing the content of " + entry.path);
    return Status::Ok();
  }

  Status CopyRange(const Entry& entry, int content_fd, uint64_t offset, uint64_t length) {
    buffer_.resize(kBlockSize);
    uint64_t end = offset + length;
    while (offset < end) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(kBlockSize, end - offset));
      ssize_t n = ::pread(content_fd, buffer_.data(), want, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError("reading the content of " + entry.path);
      if (n == 0) {
        return Corrupt("content of " + entry.path + " ends at byte " + std::to_string(offset) +
                       " but the manifest records " + std::to_string(entry.size) +
                       " bytes; check the image store (goldcast fsck)");
      }
      GC_RETURN_IF_ERROR(WriteData(entry, buffer_.data(), static_cast<size_t>(n)));
      offset += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  // libarchive wants the dense stream and drops the holes itself. Each call
  // stays within one hole or one data range: its pax writer is only exact at
  // those boundaries.
  Status WriteSparse(const Entry& entry, int content_fd) {
    uint64_t pos = 0;
    for (const Extent& e : TarExtents(entry)) {
      while (pos < e.offset) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(kBlockSize, e.offset - pos));
        GC_RETURN_IF_ERROR(WriteData(entry, ZeroBlock(), n));
        pos += n;
      }
      GC_RETURN_IF_ERROR(CopyRange(entry, content_fd, e.offset, e.length));
      pos = e.offset + e.length;
    }
    return Status::Ok();
  }

  std::string path_;
  UniqueFd fd_;  // invalid when writing to stdout
  WriteArchive archive_;
  std::vector<char> buffer_;
  std::optional<Status> error_;
  bool finished_ = false;
};

}  // namespace

Result<std::unique_ptr<TarWriter>> TarWriter::Create(const std::string& path,
                                                     Compression compression) {
  ScopedUtf8Locale utf8;
  WriteArchive a(archive_write_new());
  if (!a) return Internal("out of memory creating a tar writer");
  std::string context = "creating tar archive " + path;
  // Full pax (not restricted) so every mtime keeps its nanoseconds; SCHILY
  // xattr records because GNU tar warns about LIBARCHIVE.xattr ones.
  if (archive_write_set_format_pax(a.get()) != ARCHIVE_OK ||
      archive_write_set_format_option(a.get(), "pax", "xattrheader", "SCHILY") != ARCHIVE_OK)
    return Internal(context + ": " + ArchiveError(a.get()));
  int r = ARCHIVE_OK;
  switch (compression) {
    case Compression::kNone:
      r = archive_write_add_filter_none(a.get());
      break;
    case Compression::kGzip:
      r = archive_write_add_filter_gzip(a.get());
      break;
    case Compression::kXz:
      r = archive_write_add_filter_xz(a.get());
      break;
    case Compression::kZstd:
      r = archive_write_add_filter_zstd(a.get());
      break;
  }
  if (r != ARCHIVE_OK) return Status(Code::kUnsupported, context + ": " + ArchiveError(a.get()));
  // Block padding after a compressed stream makes gzip/xz warn about
  // trailing garbage.
  if (compression != Compression::kNone) archive_write_set_bytes_in_last_block(a.get(), 1);
  UniqueFd fd;
  int out = STDOUT_FILENO;
  if (path != "-") {
    // An archive of an image holds its /etc/shadow and ssh host keys: its
    // owner's alone, also when it replaces an older, readable file.
    fd.Reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid() || ::fchmod(fd.get(), 0600) != 0) return ErrnoError(context);
    out = fd.get();
  }
  if (archive_write_open_fd(a.get(), out) != ARCHIVE_OK) return WriteError(a.get(), context);
  return std::unique_ptr<TarWriter>(
      std::make_unique<LibarchiveTarWriter>(path, std::move(fd), std::move(a)));
}

}  // namespace gc
