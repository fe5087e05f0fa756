// Internals shared by the tar code's three source files: archive.cc (what
// reading and writing share: the UTF-8 locale, libarchive's error text, and
// POSIX ACLs between the kernel's xattr and tar's ACL records),
// archive_write.cc (TarWriter) and archive_read.cc (TarReader). Not part of
// the API: nothing outside common/archive*.cc includes it.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/manifest.h"
#include "common/status.h"

namespace gc::archive_internal {

inline constexpr size_t kBlockSize = 1 << 20;
inline constexpr int64_t kNanosPerSecond = 1'000'000'000;

// Holes are handed to libarchive (which skips them) and to sinks (which get
// dense content) from this block of kBlockSize zeros, so no hole is ever
// allocated.
const char* ZeroBlock();

// Names in goldcast are bytes and, in practice, UTF-8. libarchive converts
// header strings from the locale's charset, so under the C locale every
// non-ASCII name would be stored as "hdrcharset=BINARY", which GNU tar warns
// about. Running libarchive calls under C.UTF-8 (per thread) stores UTF-8
// names as they are.
class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale() {
    static const locale_t utf8 = ::newlocale(LC_ALL_MASK, "C.UTF-8", locale_t{});
    if (utf8 != locale_t{}) previous_ = ::uselocale(utf8);
  }
  ~ScopedUtf8Locale() {
    if (previous_ != locale_t{}) ::uselocale(previous_);
  }
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;

 private:
  locale_t previous_{};
};

// libarchive's message for the last failure on `a`, never empty.
std::string ArchiveError(archive* a);

// --- POSIX ACLs --------------------------------------------------------------
// The kernel's system.posix_acl_access/default value: a little-endian u32
// version (2), then {u16 tag, u16 perm, u32 id} per entry. Tar stores ACLs as
// text (SCHILY.acl.*), which is what GNU tar --acls and bsdtar restore.

inline constexpr char kAclAccessXattr[] = "system.posix_acl_access";
inline constexpr char kAclDefaultXattr[] = "system.posix_acl_default";
inline constexpr uint16_t kAclMaskTag = 0x10;

struct AclEntry {
  uint16_t tag;
  uint16_t perm;
  uint32_t id;
};

// Checks and splits a kernel ACL xattr value; kCorrupt if malformed.
Result<std::vector<AclEntry>> DecodeAclXattr(const std::string& value);

// Adds the ACL in `xattr` (kernel format) to `ae` as tar ACL entries of
// `type` (ARCHIVE_ENTRY_ACL_TYPE_ACCESS or _DEFAULT).
Status AddAclToEntry(const Xattr& xattr, int type, archive_entry* ae);

// The kernel xattr for the ACL of `type` the archive records, or nothing when
// the access ACL is just the mode bits (the kernel stores no xattr then).
Result<std::optional<std::string>> AclFromEntry(archive_entry* ae, int type);

}  // namespace gc::archive_internal
