// Tar archives through libarchive: writing an image as a pax tar that GNU tar
// and bsdtar restore with all metadata (xattrs, POSIX ACLs, capabilities,
// hardlinks, devices, sparse files), and reading tar/tar.gz/tar.xz/tar.zst
// into manifest entries plus content.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/manifest.h"
#include "common/status.h"

namespace gc {

enum class Compression { kNone, kGzip, kXz, kZstd };

class TarWriter {
 public:
  // Writes to `path` ("-" = stdout).
  static Result<std::unique_ptr<TarWriter>> Create(const std::string& path,
                                                   Compression compression);
  virtual ~TarWriter() = default;
  // Adds one entry. For kFile, `content_fd` is open on the content (entry.size
  // bytes; read with pread). Sockets cannot be stored in tar: Add returns
  // kUnsupported for them and the caller warns.
  virtual Status Add(const Entry& entry, int content_fd) = 0;
  virtual Status Finish() = 0;
};

class TarReader {
 public:
  // Opens `path` ("-" = stdin); the compression is detected from the content.
  static Result<std::unique_ptr<TarReader>> Open(const std::string& path);
  // Reads an archive held in memory (used by the fuzzer).
  static Result<std::unique_ptr<TarReader>> OpenMemory(std::string data);
  virtual ~TarReader() = default;
  // Reads the next header into `entry` (path normalised and validated; `..`
  // or absolute names are an error naming the member). Returns false at the
  // end. For kFile the content must be consumed with ReadContent before the
  // next call; entry.hash is left empty.
  virtual Result<bool> Next(Entry* entry) = 0;
  // Hands the content to `sink`: exactly entry.size bytes, holes of sparse
  // members as zeros. A no-op for entries other than kFile.
  virtual Status ReadContent(const std::function<Status(std::string_view)>& sink) = 0;
};

}  // namespace gc
