// Reading single files of a stored image version without exporting it:
// the manifest says where a path leads (through the image's own symlinks,
// as /lib -> usr/lib on merged-/usr distributions), the store has the
// content by hash.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/manifest.h"
#include "common/status.h"
#include "imager/store.h"

namespace gc {

class ImageFiles {
 public:
  // `store` must outlive this; `what` ("image debian@3") names it in errors.
  ImageFiles(ImageStore* store, Manifest manifest, std::string what);

  const Manifest& manifest() const { return manifest_; }

  // The path `path` leads to inside the image, every symlink followed as the
  // image's own root would resolve it; kNotFound when it leads nowhere.
  Result<std::string> Resolve(std::string_view path) const;
  // The resolved entry (a hardlink is its file's entry).
  Result<const Entry*> Find(std::string_view path) const;
  // The content of the regular file at `path`.
  Result<std::string> ReadFile(std::string_view path) const;

 private:
  const Entry* Lookup(const std::string& path) const;

  ImageStore* store_;
  Manifest manifest_;
  std::string what_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace gc
