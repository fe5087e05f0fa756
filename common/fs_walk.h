// Walks a real directory tree into manifest entries (without content
// hashes: the caller hashes, with a cache). This is where every kind of file
// metadata is read from the kernel: lstat, xattrs (incl. POSIX ACLs and file
// capabilities), hardlinks, device numbers, sparse extents.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "common/manifest.h"
#include "common/status.h"

namespace gc {

struct WalkOptions {
  // Glob patterns (fnmatch, FNM_PATHNAME off) matched against the path with a
  // leading '/', e.g. "/proc/*", "/var/tmp/*", "*/lost+found". A matching
  // directory is kept when the pattern ends in "/*" (only its contents go);
  // otherwise the path and its whole subtree are left out. A pattern ending
  // in '/' (e.g. "/tmp/") matches directories only, against the path with a
  // trailing '/' added.
  std::vector<std::string> excludes;
  // Stay on the root's file system (like rsync -x): a mount point directory
  // is visited, what is mounted on it is not. Off by default.
  bool one_file_system = false;
};

struct WalkedEntry {
  Entry entry;  // hash empty for kFile
  dev_t dev = 0;
  ino_t ino = 0;
  int64_t ctime_ns = 0;
};

// Visits every entry under `root` in manifest order (ComparePaths), root "."
// first. A hardlinked file's first path (in that order) is a kFile, the
// others kHardlink with target = the first path, size = the file's size and
// hash empty (the caller copies the hash of the target; a kHardlink has no
// data_extents). Files that vanish during the walk are skipped. A missing or
// unreadable root is a clear error; `root` itself may be a symlink to a
// directory, nothing below it is ever followed.
Status WalkTree(const std::string& root, const WalkOptions& options,
                const std::function<Status(WalkedEntry&&)>& visit);

// Reads the xattrs of `path` (not following symlinks), sorted by name.
Result<std::vector<Xattr>> ReadXattrs(const std::string& path);

// Data extents of an open file via SEEK_DATA/SEEK_HOLE; empty when dense.
Result<std::vector<Extent>> ReadDataExtents(int fd, uint64_t size);

}  // namespace gc
