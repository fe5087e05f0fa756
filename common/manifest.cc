// The manifest's rules: path order (ComparePaths), path checks, and the
// checks of each entry that ParseManifest and ValidateManifest share. The
// text format (SerializeManifest, ParseManifest) is in manifest_text.cc.
#include "common/manifest.h"

#include <algorithm>
#include <utility>

#include "common/hash.h"
#include "common/manifest_internal.h"

namespace gc {

namespace manifest_internal {

Status Where::Error(std::string_view field, std::string_view problem, Code code) const {
  std::string message;
  if (path != nullptr) {
    message = "entry " + std::to_string(index) + " " + Quote(*path);
  } else {
    message = std::string(source) + ":" + std::to_string(line);
  }
  message.append(": ").append(field).append(": ").append(problem);
  return Status(code, std::move(message));
}

std::string Article(EntryType type) { return std::string("a ") + EntryTypeName(type); }

}  // namespace manifest_internal

using manifest_internal::Article;
using manifest_internal::Quote;
using manifest_internal::Where;

namespace {

std::string_view ParentOf(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view(".") : path.substr(0, slash);
}

// Index of `path` among the sorted entries[0, end), or `end` if absent.
size_t FindBefore(const std::vector<Entry>& entries, size_t end, std::string_view path) {
  auto last = entries.begin() + static_cast<std::ptrdiff_t>(end);
  auto it = std::lower_bound(entries.begin(), last, path, [](const Entry& e, std::string_view p) {
    return ComparePaths(e.path, p) < 0;
  });
  if (it != last && it->path == path) return static_cast<size_t>(it - entries.begin());
  return end;
}

// `parent_hint` is the index of the previous entry's parent: siblings come
// in runs, so this spares most lookups.
Status CheckPathAndOrder(const std::vector<Entry>& entries, size_t i, const Where& where,
                         size_t* parent_hint) {
  const Entry& e = entries[i];
  if (i == 0) {
    if (e.path != ".") {
      return where.Error("path", "the first entry must be the root '.', not " + Quote(e.path));
    }
    if (e.type != EntryType::kDir) {
      return where.Error("type", "the root '.' must be a directory, not " + Article(e.type));
    }
    return Status::Ok();
  }
  if (e.path == ".") return where.Error("path", "the root '.' may only be the first entry");
  Status valid = ValidateRelativePath(e.path);
  if (!valid.ok()) return where.Error("path", valid.message());
  const std::string& previous = entries[i - 1].path;
  int order = ComparePaths(previous, e.path);
  if (order == 0) return where.Error("path", "duplicate path " + Quote(e.path));
  if (order > 0) {
    return where.Error("path", Quote(e.path) + " comes after " + Quote(previous) +
                                   "; entries must be sorted by path, each directory "
                                   "directly followed by its subtree");
  }
  std::string_view parent = ParentOf(e.path);
  size_t p = *parent_hint;
  if (p >= i || entries[p].path != parent) {
    p = entries[i - 1].path == parent ? i - 1 : FindBefore(entries, i, parent);
  }
  *parent_hint = p;
  if (p == i) {
    return where.Error("path", Quote(e.path) + ": parent " + Quote(parent) +
                                   " is not listed before it (every directory needs its own "
                                   "entry)");
  }
  if (entries[p].type != EntryType::kDir) {
    return where.Error("path", Quote(e.path) + ": parent " + Quote(parent) + " is " +
                                   Article(entries[p].type) +
                                   ", not a directory (no path may go through it)");
  }
  return Status::Ok();
}

Status CheckTarget(const std::vector<Entry>& entries, size_t i, const Where& where) {
  const Entry& e = entries[i];
  switch (e.type) {
    case EntryType::kSymlink:
      if (e.target.empty()) return where.Error("target", "a symlink needs a non-empty target");
      if (e.target.find('\0') != std::string::npos) {
        return where.Error("target", "symlink target contains a NUL byte");
      }
      return Status::Ok();
    case EntryType::kHardlink: {
      Status valid = ValidateRelativePath(e.target);
      if (!valid.ok()) return where.Error("target", "hardlink target " + valid.message());
      size_t t = FindBefore(entries, i, e.target);
      if (t == i) {
        return where.Error("target", "hardlink target " + Quote(e.target) +
                                         " is not an earlier entry (a hardlink must come "
                                         "after the file it names)");
      }
      const Entry& file = entries[t];
      if (file.type != EntryType::kFile) {
        return where.Error("target", "hardlink target " + Quote(e.target) + " is " +
                                         Article(file.type) + ", not a regular file");
      }
      if (file.hash != e.hash) {
        return where.Error("hash", "differs from the hash of its hardlink target " +
                                       Quote(e.target) + " (both names share one content)");
      }
      if (file.size != e.size) {
        return where.Error("size", std::to_string(e.size) + " differs from the size " +
                                       std::to_string(file.size) + " of its hardlink target " +
                                       Quote(e.target));
      }
      return Status::Ok();
    }
    default:
      if (!e.target.empty()) {
        return where.Error("target",
                           "only symlinks and hardlinks have a target, this is " + Article(e.type));
      }
      return Status::Ok();
  }
}

Status CheckXattrsAndExtents(const Entry& e, const Where& where) {
  for (size_t k = 0; k < e.xattrs.size(); ++k) {
    const std::string& name = e.xattrs[k].name;
    if (name.empty()) return where.Error("xattrs", "attribute name is empty");
    if (name.find('\0') != std::string::npos) {
      return where.Error("xattrs", "attribute name " + Quote(name) + " contains a NUL byte");
    }
    if (k > 0) {
      const std::string& previous = e.xattrs[k - 1].name;
      if (previous == name) return where.Error("xattrs", "duplicate attribute " + Quote(name));
      if (previous > name) {
        return where.Error("xattrs", "attribute " + Quote(name) + " comes after " +
                                         Quote(previous) + "; attributes must be sorted by name");
      }
    }
  }
  if (!e.data_extents.empty() && e.type != EntryType::kFile) {
    return where.Error("extents", "only regular files have extents, this is " + Article(e.type));
  }
  uint64_t previous_end = 0;
  for (size_t k = 0; k < e.data_extents.size(); ++k) {
    const Extent& x = e.data_extents[k];
    std::string shown = "'" + std::to_string(x.offset) + ":" + std::to_string(x.length) + "'";
    if (x.length == 0) return where.Error("extents", "extent " + shown + " has length 0");
    if (x.offset > e.size || x.length > e.size - x.offset) {
      return where.Error("extents",
                         "extent " + shown + " ends after the file size " + std::to_string(e.size));
    }
    if (k > 0 && x.offset < previous_end) {
      return where.Error("extents", "extent " + shown +
                                        " overlaps or precedes the one before it (extents must "
                                        "be sorted and must not overlap)");
    }
    previous_end = x.offset + x.length;
  }
  return Status::Ok();
}

}  // namespace

namespace manifest_internal {

// The rules ParseManifest and ValidateManifest share. Looks only at
// entries[0, i], which are already checked, so it runs while parsing.
Status CheckEntry(const std::vector<Entry>& entries, size_t i, const Where& where,
                  size_t* parent_hint) {
  GC_RETURN_IF_ERROR(CheckPathAndOrder(entries, i, where, parent_hint));
  const Entry& e = entries[i];
  if (e.mode > 07777) {
    std::string octal = "0";
    AppendNumber(&octal, e.mode, 8);
    return where.Error("mode", octal +
                                   " is above 07777 (only permission, setuid, setgid and "
                                   "sticky bits belong here)");
  }
  if (e.type == EntryType::kFile || e.type == EntryType::kHardlink) {
    if (!IsValidHashHex(e.hash)) {
      return where.Error("hash", Article(e.type) + " needs a SHA-256 of 64 lowercase hex " +
                                     "digits, found " + Quote(e.hash));
    }
  } else {
    if (!e.hash.empty()) {
      return where.Error("hash", "only regular files have a hash, this is " + Article(e.type));
    }
    if (e.size != 0) {
      return where.Error("size",
                         "must be 0 for " + Article(e.type) + ", found " + std::to_string(e.size));
    }
  }
  GC_RETURN_IF_ERROR(CheckTarget(entries, i, where));
  bool device = e.type == EntryType::kCharDevice || e.type == EntryType::kBlockDevice;
  if (!device && (e.rdev_major != 0 || e.rdev_minor != 0)) {
    return where.Error("rdev",
                       "only character and block devices have rdev, this is " + Article(e.type));
  }
  return CheckXattrsAndExtents(e, where);
}

}  // namespace manifest_internal

using manifest_internal::CheckEntry;

const char* EntryTypeName(EntryType type) {
  static constexpr std::pair<EntryType, const char*> kNames[] = {
      {EntryType::kFile, "regular file"},
      {EntryType::kDir, "directory"},
      {EntryType::kSymlink, "symlink"},
      {EntryType::kHardlink, "hardlink"},
      {EntryType::kCharDevice, "character device"},
      {EntryType::kBlockDevice, "block device"},
      {EntryType::kFifo, "fifo"},
      {EntryType::kSocket, "socket"}};
  for (const auto& [value, name] : kNames) {
    if (value == type) return name;
  }
  return "unknown entry type";
}

int ComparePaths(std::string_view a, std::string_view b) {
  bool a_root = a == ".";
  bool b_root = b == ".";
  if (a_root || b_root) return a_root == b_root ? 0 : (a_root ? -1 : 1);
  const auto* x = reinterpret_cast<const unsigned char*>(a.data());
  const auto* y = reinterpret_cast<const unsigned char*>(b.data());
  size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && x[i] == y[i]) ++i;
  if (i == n) return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
  // A component ends at '/', so '/' sorts before every byte: "a/b" < "a.c".
  if (x[i] == '/') return -1;
  if (y[i] == '/') return 1;
  return x[i] < y[i] ? -1 : 1;
}

Status ValidateRelativePath(std::string_view path) {
  if (path == ".") return Status::Ok();
  if (path.empty()) return InvalidArgument("path is empty (the root is written '.')");
  if (path.front() == '/') return InvalidArgument(Quote(path) + " is absolute");
  if (path.find('\0') != std::string_view::npos) {
    return InvalidArgument(Quote(path) + " contains a NUL byte");
  }
  if (path.back() == '/') return InvalidArgument(Quote(path) + " ends with '/'");
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    std::string_view part = path.substr(start, slash - start);
    if (part.empty()) return InvalidArgument(Quote(path) + " contains an empty component");
    if (part == ".") return InvalidArgument(Quote(path) + " contains a '.' component");
    if (part == "..") return InvalidArgument(Quote(path) + " contains a '..' component");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::Ok();
}

Result<std::string> NormalizeRelativePath(std::string_view path) {
  if (!path.empty() && path.front() == '/') {
    return InvalidArgument("path " + Quote(path) + " is absolute; give it relative to the root");
  }
  if (path.find('\0') != std::string_view::npos) {
    return InvalidArgument("path " + Quote(path) + " contains a NUL byte");
  }
  std::string out;
  out.reserve(path.size());
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = std::min(path.find('/', start), path.size());
    std::string_view part = path.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return InvalidArgument("path " + Quote(path) +
                             " contains a '..' component, which could leave the root");
    }
    if (!out.empty()) out.push_back('/');
    out.append(part);
  }
  if (out.empty()) out = ".";
  return out;
}

Status ValidateManifest(const Manifest& manifest) {
  if (manifest.entries.empty()) {
    return InvalidArgument("manifest has no entries; the first must be the root '.'");
  }
  Where where;
  size_t parent_hint = 0;
  for (size_t i = 0; i < manifest.entries.size(); ++i) {
    where.index = i;
    where.path = &manifest.entries[i].path;
    GC_RETURN_IF_ERROR(CheckEntry(manifest.entries, i, where, &parent_hint));
  }
  return Status::Ok();
}

ManifestTotals ComputeTotals(const Manifest& manifest) {
  ManifestTotals totals;
  totals.entries = manifest.entries.size();
  for (const Entry& e : manifest.entries) {
    if (e.type != EntryType::kFile) continue;
    ++totals.files;
    totals.file_bytes += e.size;
  }
  return totals;
}

}  // namespace gc
