#include "common/list_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

namespace gc {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

}  // namespace

Result<std::vector<std::string>> ListDirFd(int dir_fd, std::string_view shown) {
  // fdopendir takes the fd over; closedir would close the caller's.
  int copy = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return ErrnoError("list directory " + std::string(shown) + ": dup of its fd");
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(copy));
  if (!dir) {
    int err = errno;
    ::close(copy);
    return ErrnoError("list directory " + std::string(shown), err);
  }
  // The copy shares the fd's position, which an earlier listing left at
  // the end.
  ::rewinddir(dir.get());
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* d = ::readdir(dir.get());
    if (d == nullptr) {
      if (errno != 0) return ErrnoError("reading directory " + std::string(shown));
      return names;
    }
    std::string_view name(d->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
}

}  // namespace gc
