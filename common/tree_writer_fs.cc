#include "common/tree_writer_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "common/beneath.h"
#include "common/env.h"

namespace gc::tree_writer_internal {
namespace {

constexpr size_t kMaxCachedDirs = 64;
constexpr size_t kCopyBlock = 1 << 16;
constexpr int64_t kNanos = 1'000'000'000;

// `dir` is `path` or one of its ancestors.
bool IsWithin(const std::string& dir, const std::string& path) {
  if (dir == ".") return true;
  return path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

bool AllZero(const char* data, size_t size) {
  return std::all_of(data, data + size, [](char c) { return c == '\0'; });
}

// The atime is left alone (it is not part of the manifest).
void MtimeTimes(int64_t mtime_ns, struct timespec times[2]) {
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  int64_t sec = mtime_ns / kNanos;
  int64_t nsec = mtime_ns % kNanos;
  if (nsec < 0) {  // before 1970
    nsec += kNanos;
    --sec;
  }
  times[1].tv_sec = static_cast<time_t>(sec);
  times[1].tv_nsec = static_cast<long>(nsec);
}

std::string Owner(const Entry& e) { return std::to_string(e.uid) + ":" + std::to_string(e.gid); }

Status XattrError(const std::string& shown, const std::string& name, int err) {
  if (err == ENOTSUP) {
    return Status(Code::kUnsupported,
                  shown + ": cannot set xattr " + name +
                      ": the file system does not support it (make it with xattr support, "
                      "or write the image without xattrs)");
  }
  return ErrnoError("setting xattr " + name + " on " + shown, err);
}

// Reads exactly `size` bytes at `offset`; the source is our own file, so a
// short read means it was changed under us.
Status ReadAt(int fd, char* out, size_t size, uint64_t offset, const std::string& shown) {
  while (size > 0) {
    ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("reading back the content for " + shown);
    if (n == 0) return IoError("reading back the content for " + shown + ": file shrank");
    out += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status CopyRange(int from, int to, uint64_t offset, uint64_t length, const std::string& shown) {
  loff_t in = static_cast<loff_t>(offset);
  loff_t out = static_cast<loff_t>(offset);
  while (length > 0) {
    // The kernel copies (or reflinks) without a round trip through us.
    ssize_t n = ::copy_file_range(from, &in, to, &out,
                                  static_cast<size_t>(std::min<uint64_t>(length, 1u << 30)), 0);
    if (n > 0) {
      length -= static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return IoError("copying content into " + shown + ": the source file shrank");
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
      return ErrnoError("copying content into " + shown);
    }
    break;  // not supported here: copied by hand below
  }
  std::string buffer(static_cast<size_t>(std::min<uint64_t>(length, kCopyBlock)), '\0');
  while (length > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(length, buffer.size()));
    GC_RETURN_IF_ERROR(ReadAt(from, buffer.data(), n, static_cast<uint64_t>(in), shown));
    GC_RETURN_IF_ERROR(
        WriteAt(to, std::string_view(buffer.data(), n), static_cast<uint64_t>(out), shown));
    in += static_cast<loff_t>(n);
    out += static_cast<loff_t>(n);
    length -= n;
  }
  return Status::Ok();
}

// [begin, end) is a hole in the target's map: the source's data there is
// written only where it is not zero (normally it is all zero).
Status CopyNonZero(int from, int to, uint64_t begin, uint64_t end, const std::string& shown) {
  std::string buffer;
  uint64_t pos = begin;
  while (pos < end) {
    off_t data = ::lseek(from, static_cast<off_t>(pos), SEEK_DATA);
    off_t hole = static_cast<off_t>(end);
    if (data < 0) {
      if (errno == ENXIO) return Status::Ok();  // only holes up to the end
      if (errno != EINVAL) return ErrnoError("lseek(SEEK_DATA) in the content for " + shown);
      data = static_cast<off_t>(pos);  // no SEEK_DATA here: read it all
    } else {
      hole = ::lseek(from, data, SEEK_HOLE);
      if (hole < 0) hole = static_cast<off_t>(end);
    }
    const uint64_t start = static_cast<uint64_t>(data);
    const uint64_t stop = std::min<uint64_t>(static_cast<uint64_t>(hole), end);
    if (start >= end) return Status::Ok();
    buffer.resize(kCopyBlock);
    for (uint64_t off = start; off < stop;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(stop - off, kCopyBlock));
      GC_RETURN_IF_ERROR(ReadAt(from, buffer.data(), n, off, shown));
      if (!AllZero(buffer.data(), n)) {
        GC_RETURN_IF_ERROR(WriteAt(to, std::string_view(buffer.data(), n), off, shown));
      }
      off += n;
    }
    pos = std::max(stop, pos + 1);
  }
  return Status::Ok();
}

}  // namespace

Result<UniqueFd> Resolver::Open(const std::string& path) const {
  BeneathOptions options;
  options.use_openat2 = openat2_;
  auto fd = OpenDirBeneath(root_fd_, root_, path, options);
  if (fd.status().code() == Code::kInvalidArgument) {
    return InvalidArgument(fd.status().message() + "; refusing to write through it: the manifest " +
                           "and the tree under " + root_ + " disagree");
  }
  return fd;
}

Result<int> Resolver::Cached(const std::string& path) {
  while (!stack_.empty() && !IsWithin(stack_.back().first, path)) stack_.pop_back();
  if (!stack_.empty() && stack_.back().first == path) return stack_.back().second.get();
  GC_ASSIGN_OR_RETURN(UniqueFd fd, Open(path));
  if (stack_.size() < kMaxCachedDirs) {
    stack_.emplace_back(path, std::move(fd));
    return stack_.back().second.get();
  }
  beyond_stack_ = std::move(fd);
  return beyond_stack_.get();
}

Status TempFile::Create(UniqueFd dir, const std::string& shown_dir, uint64_t* counter) {
  Discard();
  dir_ = std::move(dir);
  const std::string prefix = ".gc-tmp-" + std::to_string(::getpid()) + "-";
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::string name = prefix + std::to_string((*counter)++);
    int fd = ::openat(dir_.get(), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0600);
    if (fd >= 0) {
      fd_.Reset(fd);
      name_ = std::move(name);
      return Status::Ok();
    }
    if (errno != EEXIST) return ErrnoError("creating a temporary file in " + shown_dir);
  }
  return Status(Code::kAlreadyExists, shown_dir + ": no free temporary file name " + prefix + "*");
}

Status TempFile::Commit(const std::string& name, const std::string& shown) {
  if (::renameat2(dir_.get(), name_.c_str(), dir_.get(), name.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    // A file system without RENAME_NOREPLACE: the root started empty and
    // names are unique, so nothing gets replaced anyway.
    if (err == EINVAL) {
      err = ::renameat(dir_.get(), name_.c_str(), dir_.get(), name.c_str()) == 0 ? 0 : errno;
    }
    if (err != 0) return ErrnoError("renaming the temporary file " + name_ + " to " + shown, err);
  }
  name_.clear();
  return Status::Ok();
}

void TempFile::Discard() {
  if (!name_.empty()) ::unlinkat(dir_.get(), name_.c_str(), 0);
  name_.clear();
}

// Order: chown clears setuid/setgid and file capabilities, so it comes
// first; xattrs before chmod, which the owner of a read-only file needs to
// set user.* ones (an access ACL and the mode agree, they were read
// together); the mtime last, after every change.
Status SetFdMetadata(int fd, const Entry& e, const TreeWriteOptions& options,
                     const std::string& shown) {
  if (options.preserve_ownership && ::fchown(fd, e.uid, e.gid) != 0) {
    return ErrnoError("chown " + shown + " to " + Owner(e));
  }
  if (options.set_xattrs) {
    for (const Xattr& x : e.xattrs) {
      if (::fsetxattr(fd, x.name.c_str(), x.value.data(), x.value.size(), 0) != 0) {
        return XattrError(shown, x.name, errno);
      }
    }
  }
  if (::fchmod(fd, e.mode & 07777) != 0) return ErrnoError("chmod " + shown);
  struct timespec times[2];
  MtimeTimes(e.mtime_ns, times);
  if (::futimens(fd, times) != 0) return ErrnoError("setting the mtime of " + shown);
  return Status::Ok();
}

Status SetNodeMetadata(int dir_fd, const std::string& name, const Entry& e,
                       const TreeWriteOptions& options, const std::string& shown) {
  if (options.preserve_ownership &&
      ::fchownat(dir_fd, name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoError("chown " + shown + " to " + Owner(e));
  }
  // A symlink has no mode, and its xattrs are not set: Linux allows only
  // trusted.* and security.* ones on symlinks, in practice LSM labels that
  // the installed system's policy sets itself.
  if (e.type != EntryType::kSymlink) {
    if (options.set_xattrs && !e.xattrs.empty()) {
      // Through the directory's fd, so no path is resolved again; the l*
      // call acts on the node itself.
      const std::string path = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
      for (const Xattr& x : e.xattrs) {
        if (::lsetxattr(path.c_str(), x.name.c_str(), x.value.data(), x.value.size(), 0) != 0) {
          if (errno == ENOENT) {
            return NotFound("setting xattr " + x.name + " on " + shown + ": " + path +
                            " does not exist (is /proc mounted?)");
          }
          return XattrError(shown, x.name, errno);
        }
      }
    }
    // fchmodat follows a symlink, but the node was made by mknodat a moment
    // ago in a directory nobody else may write to yet (mode 0700).
    if (::fchmodat(dir_fd, name.c_str(), e.mode & 07777, 0) != 0) {
      return ErrnoError("chmod " + shown);
    }
  }
  struct timespec times[2];
  MtimeTimes(e.mtime_ns, times);
  if (::utimensat(dir_fd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoError("setting the mtime of " + shown);
  }
  return Status::Ok();
}

Status WriteAt(int fd, std::string_view data, uint64_t offset, const std::string& shown) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("writing " + shown);
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status CopyContent(int from_fd, int to_fd, uint64_t size, const std::vector<Extent>& extents,
                   const std::string& shown) {
  if (extents.empty()) return CopyRange(from_fd, to_fd, 0, size, shown);
  uint64_t pos = 0;
  for (const Extent& x : extents) {
    const uint64_t begin = std::min(x.offset, size);
    const uint64_t end = std::min(x.offset + x.length, size);
    if (begin > pos) GC_RETURN_IF_ERROR(CopyNonZero(from_fd, to_fd, pos, begin, shown));
    if (end > begin) GC_RETURN_IF_ERROR(CopyRange(from_fd, to_fd, begin, end - begin, shown));
    pos = std::max(pos, end);
  }
  return CopyNonZero(from_fd, to_fd, pos, size, shown);
}

}  // namespace gc::tree_writer_internal
