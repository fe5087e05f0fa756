#include "common/beneath.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <vector>

#include "common/env.h"
#include "common/list_dir.h"
#include "common/random.h"
#include "common/text.h"

#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif

namespace gc {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// Set once openat2 answered ENOSYS (a kernel before 5.6) or EPERM (a
// seccomp filter that does not know the call): a property of the process.
std::atomic<bool> openat2_unavailable{false};

std::string Shown(const std::string& root, std::string_view relative) {
  return relative.empty() ? root : JoinPath(root, relative);
}

// The components of `relative`, refusing what could leave the root by name.
Result<std::vector<std::string>> BeneathParts(const std::string& root, std::string_view relative) {
  if (!relative.empty() && relative[0] == '/') {
    return InvalidArgument("path '" + std::string(relative) + "' is absolute; paths beneath " +
                           root + " are relative to it");
  }
  std::vector<std::string> parts = SplitPath(relative);
  for (const std::string& part : parts) {
    if (part == "..") return InvalidArgument("path " + Shown(root, relative) + " contains '..'");
  }
  return parts;
}

// Why `part` in `dir_fd` could not be opened as a directory.
Status Refused(int dir_fd, const std::string& part, const std::string& shown,
               const std::string& root, int err) {
  struct stat st;
  if (err == ELOOP ||
      (err == ENOTDIR && ::fstatat(dir_fd, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
       S_ISLNK(st.st_mode))) {
    return InvalidArgument(shown + " is a symlink; goldcast never opens a path beneath " + root +
                           " through one (it could lead outside): make it a real directory");
  }
  if (err == ENOTDIR) return InvalidArgument(shown + " is not a directory");
  return ErrnoError("open directory " + shown, err);
}

// One openat(O_NOFOLLOW) per component, each from the fd of the one before:
// no symlink is ever followed, and the refusal names the component at fault.
Result<UniqueFd> WalkBeneath(int root_fd, const std::string& root,
                             const std::vector<std::string>& parts, bool create) {
  UniqueFd current(::openat(root_fd, ".", kDirFlags));
  if (!current.valid()) return ErrnoError("open directory " + root);
  std::string relative;
  for (const std::string& part : parts) {
    relative = relative.empty() ? part : relative + "/" + part;
    int fd = ::openat(current.get(), part.c_str(), kDirFlags);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(current.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoError("create directory " + Shown(root, relative));
      }
      fd = ::openat(current.get(), part.c_str(), kDirFlags);
    }
    if (fd < 0) {
      int err = errno;
      return Refused(current.get(), part, Shown(root, relative), root, err);
    }
    current.Reset(fd);
  }
  return current;
}

// The fd of `path` beneath `root_fd` by openat2, or -1 (errno set).
int OpenAt2(int root_fd, const std::string& path) {
#if defined(SYS_openat2) && defined(RESOLVE_BENEATH)
  struct open_how how {};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0;; ++attempt) {
    long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof(how));
    if (fd >= 0) return static_cast<int>(fd);
    // EAGAIN: a rename raced with the lookup and the kernel asks to retry.
    if ((errno == EAGAIN || errno == EINTR) && attempt < 16) continue;
    return -1;
  }
#else
  (void)root_fd;
  (void)path;
  errno = ENOSYS;
  return -1;
#endif
}

// Splits "a/b/c" into "a/b" and "c"; the name must be a real component.
Status SplitParent(const std::string& root, std::string_view relative, std::string* parent,
                   std::string* name) {
  GC_ASSIGN_OR_RETURN(std::vector<std::string> parts, BeneathParts(root, relative));
  if (parts.empty()) return InvalidArgument("empty path to write beneath the root");
  *name = parts.back();
  parts.pop_back();
  *parent = JoinStrings(parts, "/");
  return Status::Ok();
}

std::string TempName(const std::string& name) { return "." + name + ".gc-" + RandomHex(6); }

// Removes `name` in `dir_fd` and, for a directory, everything below it,
// never following a symlink.
Status RemoveAt(int dir_fd, const std::string& name, const std::string& shown) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? Status::Ok() : ErrnoError("stat " + shown);
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd sub(::openat(dir_fd, name.c_str(), kDirFlags));
    if (!sub.valid()) return ErrnoError("open " + shown);
    GC_ASSIGN_OR_RETURN(auto names, ListDirFd(sub.get(), shown));
    for (const auto& child : names) {
      GC_RETURN_IF_ERROR(RemoveAt(sub.get(), child, shown + "/" + child));
    }
    if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0) return ErrnoError("remove " + shown);
    return Status::Ok();
  }
  if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoError("remove " + shown);
  }
  return Status::Ok();
}

}  // namespace

Result<UniqueFd> OpenDirBeneath(int root_fd, const std::string& root, std::string_view relative,
                                const BeneathOptions& options) {
  GC_ASSIGN_OR_RETURN(std::vector<std::string> parts, BeneathParts(root, relative));
  if (!parts.empty() && options.use_openat2 && !openat2_unavailable.load()) {
    int fd = OpenAt2(root_fd, JoinStrings(parts, "/"));
    if (fd >= 0) return UniqueFd(fd);
    if (errno == ENOSYS || errno == EPERM) openat2_unavailable = true;
    // Any other failure (a symlink, a missing directory to create, ...):
    // the walk, which follows no symlink either, makes what is missing or
    // names the component at fault.
  }
  return WalkBeneath(root_fd, root, parts, options.create);
}

Result<UniqueFd> OpenDirBeneath(const std::string& root, std::string_view relative, bool create) {
  UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoError("open target root " + root);
  BeneathOptions options;
  options.create = create;
  return OpenDirBeneath(dir.get(), root, relative, options);
}

Status WriteFileBeneath(const std::string& root, std::string_view relative, mode_t mode,
                        const std::function<Status(int fd)>& fill) {
  std::string parent, name;
  GC_RETURN_IF_ERROR(SplitParent(root, relative, &parent, &name));
  GC_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirBeneath(root, parent, true));
  std::string shown = Shown(root, relative);
  std::string temp = TempName(name);
  UniqueFd file(::openat(dir.get(), temp.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!file.valid()) return ErrnoError("create " + shown);
  Status status = fill(file.get());
  if (status.ok() && ::fchmod(file.get(), mode) != 0) status = ErrnoError("chmod " + shown);
  if (status.ok() && ::renameat(dir.get(), temp.c_str(), dir.get(), name.c_str()) != 0) {
    status = ErrnoError("rename into place " + shown);
  }
  if (!status.ok()) ::unlinkat(dir.get(), temp.c_str(), 0);
  return status;
}

Status WriteFileBeneath(const std::string& root, std::string_view relative, mode_t mode,
                        std::string_view data) {
  std::string shown = Shown(root, relative);
  return WriteFileBeneath(root, relative, mode,
                          [&](int fd) { return WriteAllFd(fd, data, shown); });
}

Status SymlinkBeneath(const std::string& root, std::string_view relative,
                      const std::string& target) {
  std::string parent, name;
  GC_RETURN_IF_ERROR(SplitParent(root, relative, &parent, &name));
  GC_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirBeneath(root, parent, true));
  std::string temp = TempName(name);
  std::string shown = Shown(root, relative);
  if (::symlinkat(target.c_str(), dir.get(), temp.c_str()) != 0) {
    return ErrnoError("create symlink " + shown);
  }
  if (::renameat(dir.get(), temp.c_str(), dir.get(), name.c_str()) != 0) {
    Status status = ErrnoError("rename into place " + shown);
    ::unlinkat(dir.get(), temp.c_str(), 0);
    return status;
  }
  return Status::Ok();
}

Result<UniqueFd> OpenFileBeneath(const std::string& root, std::string_view relative,
                                 int extra_flags) {
  std::string parent, name;
  GC_RETURN_IF_ERROR(SplitParent(root, relative, &parent, &name));
  GC_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirBeneath(root, parent, false));
  UniqueFd file(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | extra_flags));
  if (!file.valid()) return ErrnoError("open " + Shown(root, relative));
  return file;
}

Result<std::string> ReadFileBeneath(const std::string& root, std::string_view relative) {
  GC_ASSIGN_OR_RETURN(UniqueFd file, OpenFileBeneath(root, relative));
  std::string shown = Shown(root, relative);
  std::string data;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read " + shown);
    if (n == 0) return data;
    data.append(buffer, static_cast<size_t>(n));
  }
}

Status RemoveBeneath(const std::string& root, std::string_view relative) {
  std::string parent, name;
  GC_RETURN_IF_ERROR(SplitParent(root, relative, &parent, &name));
  auto dir = OpenDirBeneath(root, parent, false);
  if (!dir.ok()) return dir.status().code() == Code::kNotFound ? Status::Ok() : dir.status();
  return RemoveAt(dir->get(), name, Shown(root, relative));
}

Result<std::string> ResolveInRoot(const std::string& root, std::string_view relative) {
  std::vector<std::string> done;
  std::deque<std::string> todo;
  for (auto& part : SplitPath(relative)) todo.push_back(part);
  int links = 0;
  while (!todo.empty()) {
    std::string part = todo.front();
    todo.pop_front();
    if (part == "..") {
      if (!done.empty()) done.pop_back();  // ".." at the root stays at the root
      continue;
    }
    done.push_back(part);
    std::string candidate = Shown(root, JoinStrings(done, "/"));
    struct stat st;
    if (::lstat(candidate.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;
    if (++links > 40) return InvalidArgument("too many symlinks resolving " + candidate);
    char target[4096];
    ssize_t n = ::readlink(candidate.c_str(), target, sizeof target - 1);
    if (n < 0) return ErrnoError("readlink " + candidate);
    std::string_view link(target, static_cast<size_t>(n));
    done.pop_back();
    if (!link.empty() && link[0] == '/') done.clear();
    auto parts = SplitPath(link);
    todo.insert(todo.begin(), parts.begin(), parts.end());
  }
  return JoinStrings(done, "/");
}

}  // namespace gc
