#include "common/cpio_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::HasSubstr;

// `data` compressed with libarchive's `filter` (a kernel module as Debian
// or Fedora ship it).
std::string Compress(const std::string& data, int (*filter)(archive*)) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_raw(a.get());
  filter(a.get());
  std::string out(1 << 16, '\0');
  size_t used = 0;
  EXPECT_EQ(archive_write_open_memory(a.get(), out.data(), out.size(), &used), ARCHIVE_OK);
  archive_entry* ae = archive_entry_new();
  archive_entry_set_filetype(ae, AE_IFREG);
  EXPECT_EQ(archive_write_header(a.get(), ae), ARCHIVE_OK);
  archive_entry_free(ae);
  archive_write_data(a.get(), data.data(), data.size());
  archive_write_close(a.get());
  out.resize(used);
  return out;
}

TEST(DecompressTest, UndoesXzZstdAndGzipAndPassesPlainDataThrough) {
  const std::string module =
      "\x7f"
      "ELF module bytes " +
      std::string(1000, 'x');
  for (auto filter : {archive_write_add_filter_xz, archive_write_add_filter_zstd,
                      archive_write_add_filter_gzip}) {
    std::string packed = Compress(module, filter);
    ASSERT_NE(packed, module);
    auto plain = Decompress(packed, "virtio_net.ko.xz");
    ASSERT_TRUE(plain.ok()) << plain.status().message();
    EXPECT_EQ(*plain, module);
  }
  EXPECT_EQ(Decompress(module, "plain.ko").value(), module);
}

TEST(DecompressTest, TruncatedDataIsCorruptNamingIt) {
  std::string packed = Compress(std::string(100000, 'y') + "tail", archive_write_add_filter_xz);
  auto broken = Decompress(packed.substr(0, packed.size() / 2), "ext4.ko.xz");
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.status().message(), HasSubstr("ext4.ko.xz: cannot decompress"));
}

TEST(CpioWriterTest, AnUnwritablePathIsAnError) {
  auto writer = CpioWriter::Create("/nonexistent-dir/initrd.img");
  EXPECT_FALSE(writer.ok());
}

}  // namespace
}  // namespace gc
