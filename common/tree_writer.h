// WriteTree: materialises a manifest under a root directory, the inverse of
// a capture. The installer writes an image onto a node's freshly made file
// system with it (and updateclient will, onto a running one). The manifest
// comes from the network, so nothing it says may reach outside the root:
// every path is resolved beneath the root's directory fd without following
// symlinks, and every object's SHA-256 is checked before its file gets its
// final name.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/manifest.h"
#include "common/object_stream.h"
#include "common/status.h"

namespace gc {

// Where file contents come from: the server (POST /v1/node/objects), a
// store, or memory in tests. WriteTree calls Fetch on a thread of its own
// (common/object_receiver.h), one call at a time, while the caller's thread
// writes and runs the progress callback: whatever the two share must be
// thread-safe (HttpClient is).
class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // Delivers every object of `hashes` (distinct, in any order the source
  // likes) through `callbacks`: begin(hash, size), data..., end. An object
  // the source cannot deliver is an error naming its hash.
  virtual Status Fetch(const std::vector<std::string>& hashes,
                       const ObjectStreamDecoder::Callbacks& callbacks) = 0;
};

struct TreeWriteOptions {
  // chown entries to the manifest's uid/gid (needs root); off in unprivileged tests.
  bool preserve_ownership = true;
  // Set xattrs (incl. ACLs, file capabilities); a file system without xattr
  // support is an error unless this is off.
  bool set_xattrs = true;
  // Objects per ObjectSource::Fetch call, and its byte budget.
  size_t batch_objects = 4000;
  uint64_t batch_bytes = 32ull << 20;
  // Called on the caller's thread after each batch: regular files written so far, of the
  // manifest's total, and their apparent bytes (TreeWriteStats::files and
  // bytes_written; compare with ComputeTotals).
  std::function<void(uint64_t files_done, uint64_t files_total, uint64_t bytes_done)> progress;
  // Directories are opened with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS);
  // kernels older than 5.6 get a component-by-component O_NOFOLLOW walk.
  // Tests turn this off to exercise that walk.
  bool use_openat2 = true;
};

struct TreeWriteStats {
  uint64_t entries = 0;        // entries made, the root included, sockets not
  uint64_t files = 0;          // regular files written (hardlinks not counted)
  uint64_t bytes_fetched = 0;  // object bytes received (each distinct object once)
  uint64_t bytes_written = 0;  // apparent sizes of the files written (duplicates each time)
};

// Writes every entry of `manifest` under `root`, which must be an existing
// directory that holds nothing but, possibly, `lost+found` (a fresh
// mkfs). Entry types: directories, files (sparse ones with holes),
// symlinks, hardlinks, character/block devices, fifos; sockets are skipped
// (a socket is recreated by whoever listens on it). Mode, owner, xattrs and
// mtimes (directories last) are set as recorded. Files are written under a
// temporary name in their directory and renamed once their hash matched, so
// an interrupted write leaves no file with wrong content under its real name.
// Receiving runs ahead of writing by at most 64 MiB.
// Directories stay mode 0700 until every entry is written. Errors name the
// entry's path; a root that is not empty is kAlreadyExists, content that
// does not match its hash or size kCorrupt, an object the source did not
// deliver kNotFound, a path through a symlink kInvalidArgument. After an
// error the tree is partly written: the caller wipes it (mkfs) and retries.
// Only empty files are not fetched (their hash must be that of no bytes).
Result<TreeWriteStats> WriteTree(const Manifest& manifest, const std::string& root,
                                 ObjectSource* source, const TreeWriteOptions& options);

}  // namespace gc
