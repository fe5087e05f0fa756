// A gzip-compressed newc cpio, the format the kernel unpacks as an
// initramfs, written through libarchive. Every entry is owned by root and
// dated 0, so the same content makes the same archive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gc {

class CpioWriter {
 public:
  // Creates (or replaces) `path`.
  static Result<std::unique_ptr<CpioWriter>> Create(const std::string& path);
  virtual ~CpioWriter() = default;

  // `path` is relative ("bin/busybox"); the kernel creates no parent
  // directories, so add each directory before what it holds.
  virtual Status AddDirectory(const std::string& path, uint32_t mode) = 0;
  virtual Status AddFile(const std::string& path, uint32_t mode, std::string_view content) = 0;
  virtual Status AddSymlink(const std::string& path, const std::string& target) = 0;
  virtual Status AddCharDevice(const std::string& path, uint32_t mode, uint32_t major,
                               uint32_t minor) = 0;
  // Writes the trailer and closes the file.
  virtual Status Finish() = 0;
};

// The content of `data` with any compression libarchive knows (gzip, xz,
// zstd, ...) undone; uncompressed data comes back as it is. `what` names
// the data in errors. Kernel modules are shipped as .ko.xz or .ko.zst.
Result<std::string> Decompress(std::string_view data, std::string_view what);

}  // namespace gc
