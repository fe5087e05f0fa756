// Opening, reading and writing paths beneath a root directory without ever
// following a symlink. The tree under the root came from an image or the
// network, so a symlink planted in it (etc -> /somewhere) must never
// redirect a write, or a read, outside the root. Every such open in
// goldcast goes through OpenDirBeneath.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/unique_fd.h"

namespace gc {

struct BeneathOptions {
  bool create = false;  // make missing directories (mode 0755)
  // openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the kernel has it:
  // one call, and a rename racing the lookup cannot lead it out. False (or
  // a kernel before 5.6) walks the path a component at a time with
  // O_NOFOLLOW.
  bool use_openat2 = true;
};

// A new fd of the directory `relative` beneath the directory open on
// `root_fd` ("" or "." is the root itself; empty and "." components are
// skipped); `root` names it in errors. Refused with kInvalidArgument,
// naming the path: an absolute path, a ".." component, and a symlink or a
// non-directory anywhere on the way. A missing directory is kNotFound.
Result<UniqueFd> OpenDirBeneath(int root_fd, const std::string& root, std::string_view relative,
                                const BeneathOptions& options = {});
// The same with the root given by its path (the root itself is trusted: it
// may be reached through a symlink).
Result<UniqueFd> OpenDirBeneath(const std::string& root, std::string_view relative, bool create);

// Creates or replaces ROOT/relative (parents made as needed): `fill` writes
// the content into a temp file in the same directory, which then gets
// `mode` and is renamed over the final name (an existing symlink there is
// replaced, never followed).
Status WriteFileBeneath(const std::string& root, std::string_view relative, mode_t mode,
                        const std::function<Status(int fd)>& fill);
Status WriteFileBeneath(const std::string& root, std::string_view relative, mode_t mode,
                        std::string_view data);
// Creates or replaces ROOT/relative as a symlink to `target`.
Status SymlinkBeneath(const std::string& root, std::string_view relative,
                      const std::string& target);
// Reads ROOT/relative, refusing symlinks on the way and at the end.
Result<std::string> ReadFileBeneath(const std::string& root, std::string_view relative);
// Opens ROOT/relative read-only with `extra_flags` (e.g. O_NOATIME),
// refusing symlinks on the way (kInvalidArgument) and at the end (ELOOP).
Result<UniqueFd> OpenFileBeneath(const std::string& root, std::string_view relative,
                                 int extra_flags = 0);
// Removes ROOT/relative (a file, symlink or whole directory tree); missing
// is fine.
Status RemoveBeneath(const std::string& root, std::string_view relative);

// Resolves symlinks of `relative` as if ROOT were "/" (an absolute link
// target starts again at ROOT, ".." stops at ROOT), so a merged-/usr
// image's lib -> usr/lib is followed but nothing leads outside. Returns
// the symlink-free relative path; components that do not exist are kept
// as written.
Result<std::string> ResolveInRoot(const std::string& root, std::string_view relative);

}  // namespace gc
