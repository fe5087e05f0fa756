#include "common/cpio_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/archive_internal.h"

namespace gc {
namespace {

using archive_internal::ArchiveError;

struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchiveEntry = std::unique_ptr<archive_entry, EntryFree>;

class LibarchiveCpioWriter : public CpioWriter {
 public:
  LibarchiveCpioWriter(std::unique_ptr<archive, WriteFree> a, std::string path)
      : archive_(std::move(a)), path_(std::move(path)) {}

  Status AddDirectory(const std::string& path, uint32_t mode) override {
    return Add(path, AE_IFDIR | (mode & 07777), {}, "", 0);
  }
  Status AddFile(const std::string& path, uint32_t mode, std::string_view content) override {
    return Add(path, AE_IFREG | (mode & 07777), content, "", 0);
  }
  Status AddSymlink(const std::string& path, const std::string& target) override {
    return Add(path, AE_IFLNK | 0777, {}, target, 0);
  }
  Status AddCharDevice(const std::string& path, uint32_t mode, uint32_t major,
                       uint32_t minor) override {
    return Add(path, AE_IFCHR | (mode & 07777), {}, "", makedev(major, minor));
  }

  Status Finish() override {
    if (archive_write_close(archive_.get()) != ARCHIVE_OK) {
      return IoError(path_ + ": " + ArchiveError(archive_.get()));
    }
    return Status::Ok();
  }

 private:
  Status Add(const std::string& path, uint32_t mode, std::string_view content,
             const std::string& link, dev_t rdev) {
    ArchiveEntry ae(archive_entry_new());
    if (!ae) return Internal("out of memory");
    archive_entry_copy_pathname(ae.get(), path.c_str());
    archive_entry_set_mode(ae.get(), mode);
    archive_entry_set_uid(ae.get(), 0);
    archive_entry_set_gid(ae.get(), 0);
    archive_entry_set_mtime(ae.get(), 0, 0);
    archive_entry_set_nlink(ae.get(), S_ISDIR(mode) ? 2 : 1);
    archive_entry_set_size(ae.get(), static_cast<la_int64_t>(content.size()));
    if (!link.empty()) archive_entry_copy_symlink(ae.get(), link.c_str());
    if (rdev != 0) archive_entry_set_rdev(ae.get(), rdev);
    if (archive_write_header(archive_.get(), ae.get()) != ARCHIVE_OK) {
      return IoError(path_ + ": " + path + ": " + ArchiveError(archive_.get()));
    }
    if (!content.empty() && archive_write_data(archive_.get(), content.data(), content.size()) !=
                                static_cast<la_ssize_t>(content.size())) {
      return IoError(path_ + ": " + path + ": " + ArchiveError(archive_.get()));
    }
    return Status::Ok();
  }

  std::unique_ptr<archive, WriteFree> archive_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<CpioWriter>> CpioWriter::Create(const std::string& path) {
  std::unique_ptr<archive, WriteFree> a(archive_write_new());
  if (!a) return Internal("out of memory");
  if (archive_write_set_format_cpio_newc(a.get()) != ARCHIVE_OK ||
      archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK ||
      // No timestamp in the gzip header: the same tree, the same bytes.
      archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr) < ARCHIVE_WARN ||
      archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK) {
    return IoError(path + ": " + ArchiveError(a.get()));
  }
  return std::unique_ptr<CpioWriter>(std::make_unique<LibarchiveCpioWriter>(std::move(a), path));
}

Result<std::string> Decompress(std::string_view data, std::string_view what) {
  std::unique_ptr<archive, ReadFree> a(archive_read_new());
  if (!a) return Internal("out of memory");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_raw(a.get());
  archive_entry* ae = nullptr;
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK ||
      archive_read_next_header(a.get(), &ae) != ARCHIVE_OK) {
    return Corrupt(std::string(what) + ": cannot decompress: " + ArchiveError(a.get()));
  }
  std::string out;
  char buffer[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), buffer, sizeof(buffer));
    if (n < 0) return Corrupt(std::string(what) + ": cannot decompress: " + ArchiveError(a.get()));
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace gc
