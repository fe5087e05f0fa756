// Raw values of the xattrs the kernel gives meaning to, built byte by byte
// so tests can set them with lsetxattr or put them in a manifest without
// libacl or libcap. Header-only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gc::testing {

// One entry of a POSIX ACL: tag (ACL_USER_OBJ 0x01, ACL_USER 0x02,
// ACL_GROUP_OBJ 0x04, ACL_GROUP 0x08, ACL_MASK 0x10, ACL_OTHER 0x20),
// permission bits (rwx = 7) and, for ACL_USER/ACL_GROUP, the uid/gid.
struct AclItem {
  static constexpr uint32_t kNoId = 0xffffffff;
  uint16_t tag;
  uint16_t perm;
  uint32_t id = kNoId;
};

// system.posix_acl_access/_default in the kernel's format: version 2, then
// each (tag, perm, id) little-endian; `items` must be in the kernel's order
// (by tag, then id), or the kernel refuses it.
inline std::string AclXattr(const std::vector<AclItem>& items) {
  std::string out;
  auto put = [&out](uint32_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  };
  put(2, 4);
  for (const AclItem& item : items) {
    put(item.tag, 2);
    put(item.perm, 2);
    put(item.id, 4);
  }
  return out;
}

// security.capability: vfs_cap_data revision 2, effective, with CAP_NET_RAW
// (13) permitted, as `setcap cap_net_raw+ep` writes it for ping.
inline std::string NetRawCapabilityXattr() {
  std::string cap(20, '\0');
  cap[0] = 0x01;  // VFS_CAP_FLAGS_EFFECTIVE
  cap[3] = 0x02;  // VFS_CAP_REVISION_2, in the top byte of magic_etc
  cap[5] = 0x20;  // permitted[0], bit 13
  return cap;
}

}  // namespace gc::testing
