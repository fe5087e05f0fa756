// The manifest: one per image version, listing every path of the tree with
// all of its metadata and, for regular files, the SHA-256 of the content.
// It is the unit of capture, storage, export and update. The text format is
// documented in docs/store-format.md; ParseManifest is an attack surface (it
// reads what the network sends) and refuses anything that could make a later
// apply write outside its root.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gc {

enum class EntryType : char {
  kFile = 'f',
  kDir = 'd',
  kSymlink = 'l',
  kHardlink = 'h',  // another name of an earlier kFile entry (target = its path)
  kCharDevice = 'c',
  kBlockDevice = 'b',
  kFifo = 'p',
  kSocket = 's',
};

const char* EntryTypeName(EntryType type);

struct Xattr {
  std::string name;   // e.g. "user.comment", "security.capability", "system.posix_acl_access"
  std::string value;  // raw bytes, as getxattr returns them
  bool operator==(const Xattr&) const = default;
};

// A range of a sparse file that holds data; everything else is a hole.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const Extent&) const = default;
};

struct Entry {
  // Relative to the tree's root, components separated by '/', no "." or ".."
  // components, no leading or trailing '/'. The root itself is ".".
  std::string path;
  EntryType type = EntryType::kFile;
  uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (<= 07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_ns = 0;     // nanoseconds since the epoch
  uint64_t size = 0;        // kFile: apparent size in bytes; 0 otherwise
  std::string hash;         // kFile: SHA-256 hex of the content; empty otherwise
  std::string target;       // kSymlink: link text; kHardlink: path of the kFile entry
  uint32_t rdev_major = 0;  // kCharDevice / kBlockDevice
  uint32_t rdev_minor = 0;
  std::vector<Xattr> xattrs;         // sorted by name, names unique
  std::vector<Extent> data_extents;  // kFile: empty = dense; else the data ranges, sorted

  bool operator==(const Entry&) const = default;
};

struct Manifest {
  // Sorted by ComparePaths, unique; entries[0] is the root ".".
  std::vector<Entry> entries;
};

// Manifest order: component by component, bytewise within a component, so a
// directory is directly followed by its subtree ("a", "a/b", "a.c").
int ComparePaths(std::string_view a, std::string_view b);

// Checks that `path` is a normalised relative path (see Entry::path). On
// failure returns why, e.g. "contains '..'", "is absolute".
Status ValidateRelativePath(std::string_view path);

// Normalises a path as archives and users write it: strips leading "./" and
// trailing '/', collapses "//" and "/./". Refuses absolute paths and "..".
Result<std::string> NormalizeRelativePath(std::string_view path);

// Serialises; the manifest must be valid (as ParseManifest would accept).
std::string SerializeManifest(const Manifest& manifest);

// Parses and validates: format header and trailer (count and checksum), field
// syntax, path rules, order, parents exist and are directories (so no path
// goes through a symlink), hardlink targets are earlier files. Errors read
// "<source_name>:<line>: <field>: <problem>".
Result<Manifest> ParseManifest(std::string_view text, std::string_view source_name);

// Checks a manifest built in memory (capture, import) by the same rules.
Status ValidateManifest(const Manifest& manifest);

struct ManifestTotals {
  uint64_t entries = 0;
  uint64_t files = 0;       // kFile entries
  uint64_t file_bytes = 0;  // sum of kFile sizes
};
ManifestTotals ComputeTotals(const Manifest& manifest);

}  // namespace gc
