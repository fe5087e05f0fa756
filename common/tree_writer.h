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
// store, or memory in tests.
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
  // Called after each batch: files written so far, of total.
  std::function<void(uint64_t files_done, uint64_t files_total, uint64_t bytes_done)> progress;
};

struct TreeWriteStats {
  uint64_t entries = 0;
  uint64_t files = 0;          // regular files written (hardlinks not counted)
  uint64_t bytes_fetched = 0;  // object bytes received (each distinct object once)
  uint64_t bytes_written = 0;  // bytes written to files (duplicates counted each time)
};

// Writes every entry of `manifest` under `root`, which must be an existing
// directory that holds nothing but, possibly, `lost+found` (a fresh
// mkfs). Entry types: directories, files (sparse ones with holes),
// symlinks, hardlinks, character/block devices, fifos; sockets are skipped
// (a socket is recreated by whoever listens on it). Mode, owner, xattrs and
// mtimes (directories last) are set as recorded. Files are written under a
// temporary name in their directory and renamed once their hash matched, so
// an interrupted write leaves no file with wrong content under its real name.
// Errors name the entry's path.
Result<TreeWriteStats> WriteTree(const Manifest& manifest, const std::string& root,
                                 ObjectSource* source, const TreeWriteOptions& options);

}  // namespace gc
