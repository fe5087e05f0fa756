// Making images from a directory or an archive, writing them out as tar, and
// comparing two versions.
#pragma once

#include <string>
#include <vector>

#include "common/archive.h"
#include "common/status.h"
#include "imager/store.h"

namespace gc {

struct ImportResult {
  ImageRef ref;
  ManifestTotals totals;
  uint64_t objects_added = 0;
};

// Imports a directory tree exactly as it is (nothing excluded).
Result<ImportResult> ImportDirectory(ImageStore* store, const std::string& dir,
                                     const std::string& image, const std::string& message);

// Imports a tar, tar.gz, tar.xz or tar.zst. Members with absolute or ".."
// paths, or paths through a symlink, are refused before anything is published.
Result<ImportResult> ImportTar(ImageStore* store, const std::string& path, const std::string& image,
                               const std::string& message);

struct ExportResult {
  uint64_t entries = 0;
  uint64_t skipped_sockets = 0;
};

// Writes a pax tar that GNU tar (--xattrs --xattrs-include='*' --acls) and
// bsdtar restore with all metadata. Sockets cannot be stored in tar and are
// skipped with a warning.
Result<ExportResult> ExportImage(ImageStore* store, const ImageRef& ref, const std::string& output,
                                 Compression compression);

struct DiffLine {
  char kind;  // '+' added, '-' removed, 'M' content changed, 'm' metadata only
  std::string path;
  std::string detail;  // which fields changed, for 'm' and 'M'
};
std::vector<DiffLine> DiffManifests(const Manifest& a, const Manifest& b);

}  // namespace gc
