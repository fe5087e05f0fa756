// The file system side of WriteTree (tree_writer.h): opening directories
// beneath the root without following symlinks, temporary files renamed into
// place, metadata in the order that keeps it, and local copies. Internal to
// tree_writer.cc; split out to keep each file readable.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/manifest.h"
#include "common/status.h"
#include "common/tree_writer.h"
#include "common/unique_fd.h"

namespace gc::tree_writer_internal {

// Opens directories beneath the root without following any symlink
// (OpenDirBeneath), so a symlink in the tree (written from the manifest, or
// planted on a running system) cannot redirect a write outside it. Every open starts at the root
// fd rather than at a cached ancestor, which might have been moved out of
// the root meanwhile.
class Resolver {
 public:
  Resolver(int root_fd, std::string root, bool use_openat2)
      : root_fd_(root_fd), root_(std::move(root)), openat2_(use_openat2) {}

  // A new fd of the directory `path` (relative, "." for the root), opened by
  // OpenDirBeneath (common/beneath.h). A symlink or non-directory on the way
  // is kInvalidArgument.
  Result<UniqueFd> Open(const std::string& path) const;
  // The same, kept open while the next calls name it or a directory below it
  // (manifest order visits a directory's entries in runs). The fd is valid
  // until the next call.
  Result<int> Cached(const std::string& path);

 private:
  int root_fd_;
  std::string root_;
  const bool openat2_;
  // Each directory is below the one before it; bounded so deep trees do not
  // exhaust the fd limit.
  std::vector<std::pair<std::string, UniqueFd>> stack_;
  UniqueFd beyond_stack_;
};

// A file written under a temporary name (".gc-tmp-<pid>-<n>") in its
// directory, renamed to its real name by Commit and removed if dropped
// before, so a failure never leaves partial content under a real name.
class TempFile {
 public:
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { Discard(); }

  // `counter` makes names unique within the run; a name taken (by an entry
  // of the image) is skipped.
  Status Create(UniqueFd dir, const std::string& shown_dir, uint64_t* counter);
  // Renames to `name` in the same directory; refuses to replace an entry.
  // The fd stays open (copies read from it).
  Status Commit(const std::string& name, const std::string& shown);
  void Discard();
  int fd() const { return fd_.get(); }

 private:
  UniqueFd dir_;
  UniqueFd fd_;
  std::string name_;  // empty once renamed or removed
};

// Owner, xattrs, mode and mtime of an open file or directory.
Status SetFdMetadata(int fd, const Entry& entry, const TreeWriteOptions& options,
                     const std::string& shown);
// The same for a symlink, device or fifo, by name in its directory (a device
// must not be opened, a symlink cannot be).
Status SetNodeMetadata(int dir_fd, const std::string& name, const Entry& entry,
                       const TreeWriteOptions& options, const std::string& shown);

// pwrite of all of `data` at `offset`.
Status WriteAt(int fd, std::string_view data, uint64_t offset, const std::string& shown);

// Copies `size` bytes of content from `from_fd` to the empty file `to_fd`.
// With `extents` (a sparse file) only those ranges are written, plus any
// non-zero bytes of the source outside them, so holes stay holes.
Status CopyContent(int from_fd, int to_fd, uint64_t size, const std::vector<Extent>& extents,
                   const std::string& shown);

}  // namespace gc::tree_writer_internal
