#include "common/fs_walk.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <utility>

#include "common/env.h"
#include "common/list_dir.h"
#include "common/log.h"
#include "common/unique_fd.h"

namespace gc {
namespace {

// Directory fds are kept open for the top levels and for the deepest levels
// below the current one; the ones in between are closed and reopened (and
// checked by dev/ino) when needed. This bounds the fds a walk holds, so trees
// deeper than the fd limit still work.
constexpr size_t kShallowLevels = 32;
constexpr size_t kDeepWindow = 32;

int64_t ToNanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Names in the directory open on `fd`, sorted bytewise (std::string
// compares as unsigned char), which with a depth-first walk is manifest
// order.
Result<std::vector<std::string>> ReadSortedNames(int fd, const std::string& shown_path) {
  auto names = ListDirFd(fd, shown_path);
  if (!names.ok()) return names.status().WithContext("walk");
  std::sort(names->begin(), names->end());
  return names;
}

bool Vanished(int err) { return err == ENOENT || err == ENOTDIR; }

// Reads the xattrs of `path` (never following a final symlink). A file
// system without xattr support has none.
Result<std::vector<Xattr>> ReadXattrsAt(const std::string& path, bool* vanished) {
  std::vector<Xattr> out;
  std::string list;
  for (;;) {
    ssize_t size = ::llistxattr(path.c_str(), nullptr, 0);
    if (size < 0) {
      if (errno == ENOTSUP) return out;
      if (vanished != nullptr && Vanished(errno)) {
        *vanished = true;
        return out;
      }
      return ErrnoError("listing xattrs of " + path);
    }
    if (size == 0) return out;
    list.resize(static_cast<size_t>(size));
    size = ::llistxattr(path.c_str(), list.data(), list.size());
    if (size < 0 && errno == ERANGE) continue;  // grew in between
    if (size < 0) return ErrnoError("listing xattrs of " + path);
    list.resize(static_cast<size_t>(size));
    break;
  }
  for (size_t start = 0; start < list.size();) {
    size_t end = list.find('\0', start);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(start, end - start);
    start = end + 1;
    if (name.empty()) continue;
    std::string value;
    for (;;) {
      ssize_t size = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
      if (size >= 0) {
        value.resize(static_cast<size_t>(size));
        if (size > 0) size = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
      }
      if (size < 0 && errno == ERANGE) continue;
      if (size < 0 && errno == ENODATA) break;  // removed since the list was read
      if (size < 0) return ErrnoError("reading xattr " + name + " of " + path);
      value.resize(static_cast<size_t>(size));
      out.push_back(Xattr{std::move(name), std::move(value)});
      break;
    }
  }
  std::sort(out.begin(), out.end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
  return out;
}

// The metadata every entry takes straight from lstat.
void FillStatFields(const struct stat& st, WalkedEntry* walked) {
  walked->dev = st.st_dev;
  walked->ino = st.st_ino;
  walked->ctime_ns = ToNanos(st.st_ctim);
  walked->entry.mode = st.st_mode & 07777;
  walked->entry.uid = st.st_uid;
  walked->entry.gid = st.st_gid;
  walked->entry.mtime_ns = ToNanos(st.st_mtim);
}

// The target of the symlink `name` in `parent_fd` (`full` names it in
// errors). Sets *vanished when it is gone or no longer a symlink.
Result<std::string> ReadLinkTarget(int parent_fd, const std::string& name, const struct stat& st,
                                   const std::string& full, bool* vanished) {
  std::string target(std::max<size_t>(static_cast<size_t>(st.st_size), 64) + 1, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(parent_fd, name.c_str(), target.data(), target.size());
    if (n < 0) {
      if (Vanished(errno) || errno == EINVAL) {  // EINVAL: no longer a symlink
        *vanished = true;
        return std::string();
      }
      return ErrnoError("walk: readlink " + full);
    }
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

// Sets the entry's type from lstat, with what that type carries (a file's
// size, a symlink's target, a device's numbers).
Status FillType(int parent_fd, const std::string& name, const struct stat& st,
                const std::string& full, Entry* e, bool* vanished) {
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      e->type = EntryType::kFile;
      e->size = static_cast<uint64_t>(st.st_size);
      break;
    case S_IFDIR:
      e->type = EntryType::kDir;
      break;
    case S_IFLNK: {
      e->type = EntryType::kSymlink;
      GC_ASSIGN_OR_RETURN(e->target, ReadLinkTarget(parent_fd, name, st, full, vanished));
      break;
    }
    case S_IFCHR:
    case S_IFBLK:
      e->type = S_ISCHR(st.st_mode) ? EntryType::kCharDevice : EntryType::kBlockDevice;
      e->rdev_major = major(st.st_rdev);
      e->rdev_minor = minor(st.st_rdev);
      break;
    case S_IFIFO:
      e->type = EntryType::kFifo;
      break;
    case S_IFSOCK:
      e->type = EntryType::kSocket;
      break;
    default:
      return Status(Code::kUnsupported,
                    "walk: " + full + ": unknown file type " + std::to_string(st.st_mode & S_IFMT));
  }
  return Status::Ok();
}

// Paths longer than PATH_MAX are reached through the parent's fd instead
// (needs /proc, which every system deep enough to need it has).
std::string XattrPath(const std::string& full, int parent_fd, const std::string& name) {
  if (full.size() < PATH_MAX) return full;
  return "/proc/self/fd/" + std::to_string(parent_fd) + "/" + name;
}

// Reads the data extents of the sparse file `name` in `parent_fd` into
// e->data_extents; one replaced since its lstat is taken as dense. Sets
// *vanished when it is gone.
Status ReadSparseMap(int parent_fd, const std::string& name, const struct stat& st,
                     const std::string& full, Entry* e, bool* vanished) {
  constexpr int kFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  UniqueFd fd(::openat(parent_fd, name.c_str(), kFlags | O_NOATIME));
  if (!fd.valid() && errno == EPERM) fd.Reset(::openat(parent_fd, name.c_str(), kFlags));
  if (!fd.valid()) {
    if (Vanished(errno) || errno == ELOOP) {  // ELOOP: replaced by a symlink
      *vanished = true;
      return Status::Ok();
    }
    return ErrnoError("walk: opening " + full + " to read its sparse map");
  }
  struct stat now;
  if (::fstat(fd.get(), &now) != 0) return ErrnoError("walk: fstat " + full);
  if (now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
    GC_LOG(Debug) << "walk: " << full << " was replaced during the walk; taken as dense";
  } else {
    GC_ASSIGN_OR_RETURN(e->data_extents, ReadDataExtents(fd.get(), e->size));
  }
  return Status::Ok();
}

struct Frame {
  std::string path;  // relative to the root; "." for the root
  std::string name;  // in the parent directory
  dev_t dev = 0;
  ino_t ino = 0;
  UniqueFd fd;  // may be closed (see kShallowLevels)
  std::vector<std::string> children;
  size_t next = 0;
};

class Walker {
 public:
  Walker(std::string root, const WalkOptions& options,
         const std::function<Status(WalkedEntry&&)>& visit)
      : root_(std::move(root)), options_(options), visit_(visit) {}

  Status Run();

 private:
  std::string FullPath(const std::string& relative) const {
    return relative == "." ? root_ : JoinPath(root_, relative);
  }
  bool Excluded(const std::string& relative, bool is_dir) const;
  Result<int> FrameFd(size_t index);
  Status VisitChild(size_t parent_index, const std::string& name);
  Status FillEntry(int parent_fd, const std::string& name, const struct stat& st,
                   WalkedEntry* walked, bool* vanished);
  Status Descend(int parent_fd, const std::string& name, const std::string& path,
                 const struct stat& st);

  std::string root_;
  const WalkOptions& options_;
  const std::function<Status(WalkedEntry&&)>& visit_;
  dev_t root_dev_ = 0;
  std::vector<Frame> stack_;
  std::map<std::pair<dev_t, ino_t>, std::string> first_link_;
};

bool Walker::Excluded(const std::string& relative, bool is_dir) const {
  const std::string slashed = "/" + relative;
  for (const std::string& pattern : options_.excludes) {
    if (::fnmatch(pattern.c_str(), slashed.c_str(), 0) == 0) return true;
    // "/tmp/" names the directory only: it is matched with a trailing '/'.
    // Only such patterns get this form, else "/proc/*" would match "/proc/"
    // and drop the directory it means to keep.
    if (is_dir && !pattern.empty() && pattern.back() == '/' &&
        ::fnmatch(pattern.c_str(), (slashed + "/").c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

// The fd of stack_[index], reopening it from the nearest open ancestor if it
// was closed. kNotFound when the directory was moved or removed meanwhile.
Result<int> Walker::FrameFd(size_t index) {
  if (stack_[index].fd.valid()) return stack_[index].fd.get();
  size_t open = index;
  while (!stack_[open].fd.valid()) --open;  // stack_[0] always stays open
  for (size_t j = open + 1; j <= index; ++j) {
    Frame& frame = stack_[j];
    UniqueFd fd(::openat(stack_[j - 1].fd.get(), frame.name.c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || st.st_dev != frame.dev ||
        st.st_ino != frame.ino) {
      return NotFound("walk: " + FullPath(frame.path) + " was moved or removed during the walk");
    }
    frame.fd = std::move(fd);
  }
  // Keep only the deep window open (plus the shallow levels).
  for (size_t j = std::max(open + 1, kShallowLevels); j + kDeepWindow <= index; ++j) {
    stack_[j].fd.Reset();
  }
  return stack_[index].fd.get();
}

Status Walker::FillEntry(int parent_fd, const std::string& name, const struct stat& st,
                         WalkedEntry* walked, bool* vanished) {
  Entry& e = walked->entry;
  FillStatFields(st, walked);
  const std::string full = FullPath(e.path);
  GC_RETURN_IF_ERROR(FillType(parent_fd, name, st, full, &e, vanished));
  if (*vanished) return Status::Ok();
  GC_ASSIGN_OR_RETURN(e.xattrs, ReadXattrsAt(XattrPath(full, parent_fd, name), vanished));
  if (*vanished) return Status::Ok();

  const std::pair<dev_t, ino_t> inode{st.st_dev, st.st_ino};
  const bool linked_file = e.type == EntryType::kFile && st.st_nlink > 1;
  if (linked_file) {
    auto it = first_link_.find(inode);
    if (it != first_link_.end()) {
      // Same inode as an earlier file: the caller copies its hash.
      e.type = EntryType::kHardlink;
      e.target = it->second;
      return Status::Ok();
    }
  }
  if (e.type == EntryType::kFile &&
      static_cast<uint64_t>(st.st_blocks) * 512 < static_cast<uint64_t>(st.st_size)) {
    GC_RETURN_IF_ERROR(ReadSparseMap(parent_fd, name, st, full, &e, vanished));
    if (*vanished) return Status::Ok();
  }
  // Only now that the entry is sure to be visited may later names point to it.
  if (linked_file) first_link_.emplace(inode, e.path);
  return Status::Ok();
}

Status Walker::Descend(int parent_fd, const std::string& name, const std::string& path,
                       const struct stat& st) {
  const std::string full = FullPath(path);
  UniqueFd fd(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (Vanished(errno) || errno == ELOOP) {
      GC_LOG(Debug) << "walk: " << full << " vanished before it was read; skipped";
      return Status::Ok();
    }
    return ErrnoError("walk: cannot open directory " + full);
  }
  struct stat now;
  if (::fstat(fd.get(), &now) != 0) return ErrnoError("walk: fstat " + full);
  if (now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
    GC_LOG(Debug) << "walk: " << full << " was replaced during the walk; skipped";
    return Status::Ok();
  }
  GC_ASSIGN_OR_RETURN(std::vector<std::string> children, ReadSortedNames(fd.get(), full));
  Frame& frame = stack_.emplace_back();
  frame.path = path;
  frame.name = name;
  frame.dev = st.st_dev;
  frame.ino = st.st_ino;
  frame.fd = std::move(fd);
  frame.children = std::move(children);
  const size_t top = stack_.size() - 1;
  if (top >= kShallowLevels + kDeepWindow) stack_[top - kDeepWindow].fd.Reset();
  return Status::Ok();
}

Status Walker::VisitChild(size_t parent_index, const std::string& name) {
  Result<int> parent_fd = FrameFd(parent_index);
  if (!parent_fd.ok()) {
    GC_LOG(Debug) << parent_fd.status().message() << "; its remaining entries are skipped";
    stack_[parent_index].next = stack_[parent_index].children.size();
    return Status::Ok();
  }
  const std::string& parent_path = stack_[parent_index].path;
  WalkedEntry walked;
  walked.entry.path = parent_path == "." ? name : parent_path + "/" + name;
  const std::string& path = walked.entry.path;
  struct stat st;
  if (::fstatat(*parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (Vanished(errno)) {
      GC_LOG(Debug) << "walk: " << FullPath(path) << " vanished; skipped";
      return Status::Ok();
    }
    return ErrnoError("walk: lstat " + FullPath(path));
  }
  const bool is_dir = S_ISDIR(st.st_mode);
  if (Excluded(path, is_dir)) return Status::Ok();
  bool vanished = false;
  GC_RETURN_IF_ERROR(FillEntry(*parent_fd, name, st, &walked, &vanished));
  if (vanished) {
    GC_LOG(Debug) << "walk: " << FullPath(path) << " vanished; skipped";
    return Status::Ok();
  }
  const std::string saved_path = is_dir ? path : std::string();
  GC_RETURN_IF_ERROR(visit_(std::move(walked)));
  if (!is_dir) return Status::Ok();
  if (options_.one_file_system && st.st_dev != root_dev_) return Status::Ok();
  return Descend(*parent_fd, name, saved_path, st);
}

Status Walker::Run() {
  const std::string shown = "--root DIR: " + root_;
  struct stat st;
  if (::stat(root_.c_str(), &st) != 0) return ErrnoError(shown);
  if (!S_ISDIR(st.st_mode)) {
    return InvalidArgument(shown + ": is not a directory (give the directory to walk)");
  }
  UniqueFd fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(shown);
  if (::fstat(fd.get(), &st) != 0) return ErrnoError(shown);
  root_dev_ = st.st_dev;

  WalkedEntry walked;
  walked.entry.path = ".";
  walked.entry.type = EntryType::kDir;
  FillStatFields(st, &walked);
  GC_ASSIGN_OR_RETURN(walked.entry.xattrs, ReadXattrsAt(root_, nullptr));
  GC_ASSIGN_OR_RETURN(std::vector<std::string> children, ReadSortedNames(fd.get(), root_));
  GC_RETURN_IF_ERROR(visit_(std::move(walked)));

  Frame& frame = stack_.emplace_back();
  frame.path = ".";
  frame.dev = st.st_dev;
  frame.ino = st.st_ino;
  frame.fd = std::move(fd);
  frame.children = std::move(children);
  while (!stack_.empty()) {
    const size_t top = stack_.size() - 1;
    Frame& current = stack_[top];
    if (current.next == current.children.size()) {
      stack_.pop_back();
      continue;
    }
    // Copied: VisitChild may grow stack_ and move the frame.
    const std::string name = current.children[current.next++];
    GC_RETURN_IF_ERROR(VisitChild(top, name));
  }
  return Status::Ok();
}

}  // namespace

Status WalkTree(const std::string& root, const WalkOptions& options,
                const std::function<Status(WalkedEntry&&)>& visit) {
  if (root.empty()) return InvalidArgument("--root DIR: the root path is empty");
  Walker walker(root, options, visit);
  return walker.Run();
}

Result<std::vector<Xattr>> ReadXattrs(const std::string& path) {
  return ReadXattrsAt(path, nullptr);
}

Result<std::vector<Extent>> ReadDataExtents(int fd, uint64_t size) {
  std::vector<Extent> extents;
  uint64_t offset = 0;
  while (offset < size) {
    off_t data = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;                          // only a hole up to the end
      if (errno == EINVAL) return std::vector<Extent>();  // no SEEK_DATA: take as dense
      return ErrnoError("lseek(SEEK_DATA) at offset " + std::to_string(offset));
    }
    if (static_cast<uint64_t>(data) >= size) break;
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return ErrnoError("lseek(SEEK_HOLE) at offset " + std::to_string(data));
    uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    if (end <= static_cast<uint64_t>(data)) break;  // shrank meanwhile
    extents.push_back(Extent{static_cast<uint64_t>(data), end - static_cast<uint64_t>(data)});
    offset = end;
  }
  if (extents.size() == 1 && extents[0].offset == 0 && extents[0].length == size) {
    extents.clear();
  }
  return extents;
}

}  // namespace gc
