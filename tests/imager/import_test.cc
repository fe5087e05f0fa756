#include <gtest/gtest.h>

#include "common/archive.h"
#include "common/hash.h"
#include "imager/import_export.h"
#include "tests/testing/fault_env.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;

// The real Env with a clock stopped at one instant.
class StoppedClockEnv : public ::gc::testing::FaultEnv {
 public:
  int64_t NowNanos() override { return 1'700'000'000'123'456'789; }
};

// Writes a tar whose one file is sparse: `size` bytes with 4 KiB of data.
void WriteSparseTar(const std::string& path, uint64_t size) {
  auto writer = TarWriter::Create(path, Compression::kNone);
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  Entry root;
  root.path = ".";
  root.type = EntryType::kDir;
  root.mode = 0755;
  ASSERT_TRUE((*writer)->Add(root, -1).ok());
  Entry file;
  file.path = "huge";
  file.type = EntryType::kFile;
  file.mode = 0644;
  file.size = size;
  file.data_extents = {{0, 4096}};
  char content[] = "/tmp/goldcast-import-test-XXXXXX";
  int fd = ::mkstemp(content);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 4096), 0);
  ASSERT_TRUE((*writer)->Add(file, fd).ok());
  ::close(fd);
  ::unlink(content);
  ASSERT_TRUE((*writer)->Finish().ok());
}

TEST(ImportTarTest, RefusesAMemberClaimingMoreThanATebibyte) {
  TempDir dir;
  std::string tar = dir.Sub("sparse.tar");
  WriteSparseTar(tar, (uint64_t{1} << 40) + 1);
  auto store = ImageStore::Open(dir.Sub("state"), true);
  ASSERT_TRUE(store.ok());
  auto result = ImportTar(store->get(), tar, "huge", "");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("'huge' claims"), std::string::npos)
      << result.status().message();
  EXPECT_TRUE((*store)->List()->empty());
}

TEST(ImportTarTest, ImportsASparseMemberKeepingItsContent) {
  TempDir dir;
  std::string tar = dir.Sub("sparse.tar");
  WriteSparseTar(tar, 1 << 20);
  auto store = ImageStore::Open(dir.Sub("state"), true);
  ASSERT_TRUE(store.ok());
  auto result = ImportTar(store->get(), tar, "small", "");
  ASSERT_TRUE(result.ok()) << result.status().message();
  auto manifest = (*store)->LoadManifest(result->ref);
  ASSERT_TRUE(manifest.ok());
  ASSERT_EQ(manifest->entries.size(), 2u);
  EXPECT_EQ(manifest->entries[1].hash, Sha256Hex(std::string(1 << 20, '\0')));
}

TEST(ImportDirectoryTest, DatesTheVersionByTheStoresEnvClock) {
  TempDir dir;
  WriteTestFile(dir.Sub("tree/etc/hostname"), "node\n");
  StoppedClockEnv env;
  auto store = ImageStore::Open(dir.Sub("state"), true, &env);
  ASSERT_TRUE(store.ok());
  auto result = ImportDirectory(store->get(), dir.Sub("tree"), "dated", "");
  ASSERT_TRUE(result.ok()) << result.status().message();
  auto info = (*store)->Info(result->ref);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->record.time_ns, env.NowNanos());
}

}  // namespace
}  // namespace gc
