// Reads an initramfs (gzip newc cpio) back through libarchive: what the
// kernel would unpack, for the installer tests. Header-only: only tests that
// link gc_archive include it.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

namespace gc::testing {

struct CpioMember {
  char type = '?';  // 'd', 'f', 'l', 'c'
  unsigned mode = 0;
  std::string data;  // file content or symlink target
  unsigned rdev_major = 0, rdev_minor = 0;
  std::string format;  // libarchive's name of the member's format
};

// Path -> member, in a map; the order the archive holds them in `order`.
inline std::map<std::string, CpioMember> ReadCpio(const std::string& path,
                                                  std::vector<std::string>* order = nullptr) {
  std::map<std::string, CpioMember> members;
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_cpio(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    ADD_FAILURE() << path << ": " << archive_error_string(a.get());
    return members;
  }
  archive_entry* ae = nullptr;
  while (archive_read_next_header(a.get(), &ae) == ARCHIVE_OK) {
    CpioMember m;
    mode_t mode = archive_entry_mode(ae);
    m.mode = mode & 07777;
    m.format = archive_format_name(a.get());
    if (S_ISDIR(mode)) m.type = 'd';
    if (S_ISREG(mode)) m.type = 'f';
    if (S_ISCHR(mode)) m.type = 'c';
    if (S_ISLNK(mode)) {
      m.type = 'l';
      m.data = archive_entry_symlink(ae);
    }
    m.rdev_major = archive_entry_rdevmajor(ae);
    m.rdev_minor = archive_entry_rdevminor(ae);
    char buffer[8192];
    la_ssize_t n;
    while (m.type == 'f' && (n = archive_read_data(a.get(), buffer, sizeof(buffer))) > 0) {
      m.data.append(buffer, static_cast<size_t>(n));
    }
    if (order) order->push_back(archive_entry_pathname(ae));
    members[archive_entry_pathname(ae)] = std::move(m);
  }
  return members;
}

}  // namespace gc::testing
