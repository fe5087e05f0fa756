// What reading and writing tar archives share: the per-thread UTF-8 locale,
// libarchive's error text, the zero block for holes, and the conversion of
// POSIX ACLs between the kernel's xattr and tar's ACL records. TarWriter is
// in archive_write.cc, TarReader in archive_read.cc.
#include <algorithm>
#include <limits>
#include <utility>

#include "common/archive_internal.h"

namespace gc::archive_internal {

namespace {

constexpr uint32_t kAclVersion = 2;
constexpr uint32_t kAclUndefinedId = 0xffffffff;

struct AclTag {
  uint16_t kernel;
  int libarchive;
  bool has_id;
};
constexpr AclTag kAclTags[] = {
    {0x01, ARCHIVE_ENTRY_ACL_USER_OBJ, false},    {0x02, ARCHIVE_ENTRY_ACL_USER, true},
    {0x04, ARCHIVE_ENTRY_ACL_GROUP_OBJ, false},   {0x08, ARCHIVE_ENTRY_ACL_GROUP, true},
    {kAclMaskTag, ARCHIVE_ENTRY_ACL_MASK, false}, {0x20, ARCHIVE_ENTRY_ACL_OTHER, false},
};
constexpr int kAclPerms =
    ARCHIVE_ENTRY_ACL_READ | ARCHIVE_ENTRY_ACL_WRITE | ARCHIVE_ENTRY_ACL_EXECUTE;

const AclTag* FindKernelTag(uint16_t tag) {
  for (const AclTag& t : kAclTags)
    if (t.kernel == tag) return &t;
  return nullptr;
}
const AclTag* FindArchiveTag(int tag) {
  for (const AclTag& t : kAclTags)
    if (t.libarchive == tag) return &t;
  return nullptr;
}

uint32_t LoadLe(const std::string& s, size_t pos, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  return v;
}
void StoreLe(std::string* s, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string EncodeAclXattr(std::vector<AclEntry> entries) {
  // The kernel wants entries ordered by tag, then id.
  std::sort(entries.begin(), entries.end(), [](const AclEntry& a, const AclEntry& b) {
    return a.tag != b.tag ? a.tag < b.tag : a.id < b.id;
  });
  std::string out;
  StoreLe(&out, kAclVersion, 4);
  for (const AclEntry& e : entries) {
    StoreLe(&out, e.tag, 2);
    StoreLe(&out, e.perm, 2);
    StoreLe(&out, e.id, 4);
  }
  return out;
}

}  // namespace

const char* ZeroBlock() {
  static const std::vector<char> zeros(kBlockSize, 0);
  return zeros.data();
}

std::string ArchiveError(archive* a) {
  const char* text = archive_error_string(a);
  return text != nullptr ? text : "unknown libarchive error";
}

Result<std::vector<AclEntry>> DecodeAclXattr(const std::string& value) {
  if (value.size() < 4 || (value.size() - 4) % 8 != 0 || LoadLe(value, 0, 4) != kAclVersion)
    return Corrupt("not a POSIX ACL in the kernel's format (version 2, 8-byte entries)");
  std::vector<AclEntry> entries;
  for (size_t pos = 4; pos < value.size(); pos += 8) {
    AclEntry e{static_cast<uint16_t>(LoadLe(value, pos, 2)),
               static_cast<uint16_t>(LoadLe(value, pos + 2, 2)), LoadLe(value, pos + 4, 4)};
    if (FindKernelTag(e.tag) == nullptr || (e.perm & ~kAclPerms) != 0)
      return Corrupt("POSIX ACL entry with unknown tag " + std::to_string(e.tag) + " or perm " +
                     std::to_string(e.perm));
    entries.push_back(e);
  }
  return entries;
}

Status AddAclToEntry(const Xattr& xattr, int type, archive_entry* ae) {
  GC_ASSIGN_OR_RETURN(std::vector<AclEntry> entries, DecodeAclXattr(xattr.value));
  for (const AclEntry& e : entries) {
    const AclTag* tag = FindKernelTag(e.tag);
    int id = tag->has_id ? static_cast<int>(e.id) : -1;
    if (tag->has_id && (e.id > static_cast<uint32_t>(std::numeric_limits<int>::max())))
      return InvalidArgument("POSIX ACL id " + std::to_string(e.id) + " does not fit a tar ACL");
    if (archive_entry_acl_add_entry(ae, type, e.perm, tag->libarchive, id, nullptr) != ARCHIVE_OK)
      return InvalidArgument("libarchive refused POSIX ACL entry with tag " +
                             std::to_string(e.tag));
  }
  return Status::Ok();
}

Result<std::optional<std::string>> AclFromEntry(archive_entry* ae, int type) {
  std::vector<AclEntry> entries;
  bool extended = false;
  archive_entry_acl_reset(ae, type);
  int entry_type, permset, tag, id;
  const char* name;
  while (archive_entry_acl_next(ae, type, &entry_type, &permset, &tag, &id, &name) == ARCHIVE_OK) {
    const AclTag* t = FindArchiveTag(tag);
    if (t == nullptr) return InvalidArgument("has an ACL entry that is not POSIX.1e");
    if (t->has_id && id < 0) {
      return InvalidArgument(std::string("ACL entry for ") +
                             (tag == ARCHIVE_ENTRY_ACL_USER ? "user '" : "group '") +
                             (name ? name : "") +
                             "' has no numeric id; goldcast stores numeric ids only (create "
                             "the archive with GNU tar --acls --xattrs, or with bsdtar)");
    }
    if (t->has_id || t->kernel == kAclMaskTag) extended = true;
    entries.push_back({t->kernel, static_cast<uint16_t>(permset & kAclPerms),
                       t->has_id ? static_cast<uint32_t>(id) : kAclUndefinedId});
  }
  if (entries.empty() || (type == ARCHIVE_ENTRY_ACL_TYPE_ACCESS && !extended))
    return std::optional<std::string>();
  return std::optional<std::string>(EncodeAclXattr(std::move(entries)));
}

}  // namespace gc::archive_internal
