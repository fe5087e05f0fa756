#include "common/beneath.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/list_dir.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::ReadTestFile;
using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// OpenDirBeneath with and without openat2: the walk is what older kernels
// get, and both must refuse the same things.
class OpenDirBeneathTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    root_fd_.Reset(::open(root_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
  }
  Result<UniqueFd> Open(std::string_view relative, bool create = false) {
    BeneathOptions options;
    options.create = create;
    options.use_openat2 = GetParam();
    return OpenDirBeneath(root_fd_.get(), root_.path(), relative, options);
  }
  // The inode of an open fd, to check which directory it is.
  static ino_t InodeOf(int fd) {
    struct stat st;
    EXPECT_EQ(::fstat(fd, &st), 0);
    return st.st_ino;
  }
  static ino_t InodeOf(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_ino;
  }

  TempDir root_, outside_;
  UniqueFd root_fd_;
};

INSTANTIATE_TEST_SUITE_P(Resolve, OpenDirBeneathTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "openat2" : "walk"; });

TEST_P(OpenDirBeneathTest, OpensDirectoriesAndTheRootItself) {
  fs::create_directories(root_.Sub("a/b/c"));
  for (std::string_view path : {"a/b/c", "a//b/./c", "./a/b/c/"}) {
    auto fd = Open(path);
    ASSERT_TRUE(fd.ok()) << path << ": " << fd.status().message();
    EXPECT_EQ(InodeOf(fd->get()), InodeOf(root_.Sub("a/b/c"))) << path;
  }
  for (std::string_view path : {"", "."}) {
    auto fd = Open(path);
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    EXPECT_EQ(InodeOf(fd->get()), InodeOf(root_.path()));
    EXPECT_NE(fd->get(), root_fd_.get());  // a new fd, the caller's stays its own
  }
}

TEST_P(OpenDirBeneathTest, RefusesASymlinkAnywhereOnTheWay) {
  fs::create_directories(outside_.Sub("d/e"));
  fs::create_directories(root_.Sub("a"));
  fs::create_symlink(outside_.path(), root_.Sub("link"));
  fs::create_symlink(outside_.path(), root_.Sub("a/link"));
  fs::create_symlink("..", root_.Sub("a/up"));
  fs::create_symlink("/", root_.Sub("abs"));
  for (std::string_view path : {"link", "link/d", "link/d/e", "a/link/d", "a/up/a", "abs/tmp"}) {
    for (bool create : {false, true}) {
      auto fd = Open(path, create);
      ASSERT_FALSE(fd.ok()) << path;
      EXPECT_EQ(fd.status().code(), Code::kInvalidArgument) << path;
      EXPECT_THAT(fd.status().message(), HasSubstr(" is a symlink")) << path;
    }
  }
  // The refusal names the component that is the symlink.
  EXPECT_THAT(Open("a/link/d/e").status().message(), HasSubstr(root_.Sub("a/link") + " is a"));
  // Nothing was made outside, even with create.
  UniqueFd outside(::open(outside_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  EXPECT_EQ(*ListDirFd(outside.get(), outside_.path()), std::vector<std::string>{"d"});
  EXPECT_TRUE(fs::is_empty(outside_.Sub("d/e")));
}

TEST_P(OpenDirBeneathTest, RefusesDotDotAndAbsolutePaths) {
  fs::create_directories(root_.Sub("a/b"));
  for (const std::string& path :
       std::vector<std::string>{"..", "a/..", "a/../a", "a/b/../../..", "../" + outside_.path()}) {
    auto fd = Open(path, true);
    ASSERT_FALSE(fd.ok()) << path;
    EXPECT_EQ(fd.status().code(), Code::kInvalidArgument) << path;
    EXPECT_THAT(fd.status().message(), HasSubstr("'..'")) << path;
  }
  for (std::string_view path : {"/", "/etc", "/a/b"}) {
    auto fd = Open(path);
    ASSERT_FALSE(fd.ok()) << path;
    EXPECT_EQ(fd.status().code(), Code::kInvalidArgument) << path;
    EXPECT_THAT(fd.status().message(), HasSubstr("absolute")) << path;
  }
}

TEST_P(OpenDirBeneathTest, ANonDirectoryOnTheWayIsRefused) {
  WriteTestFile(root_.Sub("a/file"), "x");
  for (std::string_view path : {"a/file", "a/file/b"}) {
    auto fd = Open(path, true);
    ASSERT_FALSE(fd.ok()) << path;
    EXPECT_EQ(fd.status().code(), Code::kInvalidArgument) << path;
    EXPECT_THAT(fd.status().message(), HasSubstr(root_.Sub("a/file") + " is not a directory"));
  }
}

TEST_P(OpenDirBeneathTest, MissingIsNotFoundUnlessCreated) {
  fs::create_directories(root_.Sub("a"));
  auto missing = Open("a/b/c");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(root_.Sub("a/b")));
  EXPECT_FALSE(fs::exists(root_.Sub("a/b")));

  auto made = Open("a/b/c", true);
  ASSERT_TRUE(made.ok()) << made.status().message();
  EXPECT_TRUE(fs::is_directory(root_.Sub("a/b/c")));
  EXPECT_EQ(InodeOf(made->get()), InodeOf(root_.Sub("a/b/c")));
  struct stat st;
  ASSERT_EQ(::stat(root_.Sub("a/b").c_str(), &st), 0);
  mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0755u & ~mask);
}

TEST(BeneathTest, OpenDirBeneathByPath) {
  TempDir root, outside;
  fs::create_symlink(outside.path(), root.Sub("etc"));
  auto refused = OpenDirBeneath(root.path(), "etc/ssh", true);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr(root.Sub("etc") + " is a symlink"));
  EXPECT_TRUE(fs::is_empty(outside.path()));
  EXPECT_TRUE(OpenDirBeneath(root.path(), "usr/lib", true).ok());
  EXPECT_TRUE(fs::is_directory(root.Sub("usr/lib")));
  EXPECT_EQ(OpenDirBeneath(root.Sub("missing"), "", false).status().code(), Code::kNotFound);
}

TEST(BeneathTest, WritesAndReadsFilesWithTheirMode) {
  TempDir root;
  ASSERT_TRUE(WriteFileBeneath(root.path(), "etc/goldcast/node.json", 0600, "{}\n").ok());
  EXPECT_EQ(ReadTestFile(root.Sub("etc/goldcast/node.json")), "{}\n");
  struct stat st;
  ASSERT_EQ(::lstat(root.Sub("etc/goldcast/node.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  auto read = ReadFileBeneath(root.path(), "etc/goldcast/node.json");
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(*read, "{}\n");
  EXPECT_FALSE(WriteFileBeneath(root.path(), "", 0644, "x").ok());
  EXPECT_FALSE(WriteFileBeneath(root.path(), "etc/../../escape", 0644, "x").ok());
  EXPECT_FALSE(WriteFileBeneath(root.path(), "/etc/passwd", 0644, "x").ok());
  EXPECT_FALSE(ReadFileBeneath(root.path(), "/etc/goldcast/node.json").ok());
  EXPECT_FALSE(RemoveBeneath(root.path(), "/etc").ok());
  EXPECT_TRUE(fs::exists(root.Sub("etc/goldcast/node.json")));
}

TEST(BeneathTest, AFailedFillLeavesNothingBehind) {
  TempDir root;
  WriteTestFile(root.Sub("etc/hosts"), "old\n");
  Status failed = WriteFileBeneath(root.path(), "etc/hosts", 0644,
                                   [](int) { return IoError("download failed"); });
  EXPECT_THAT(failed.message(), HasSubstr("download failed"));
  EXPECT_EQ(ReadTestFile(root.Sub("etc/hosts")), "old\n");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(root.Sub("etc"))) {
    names.push_back(entry.path().filename());
  }
  EXPECT_EQ(names, std::vector<std::string>{"hosts"});
}

TEST(BeneathTest, ReadFileBeneathRefusesASymlinkAtTheEnd) {
  TempDir root, outside;
  WriteTestFile(outside.Sub("secret"), "s");
  WriteTestFile(root.Sub("etc/.keep"), "");
  fs::create_symlink(outside.Sub("secret"), root.Sub("etc/fstab"));
  EXPECT_FALSE(ReadFileBeneath(root.path(), "etc/fstab").ok());
  fs::create_symlink(outside.path(), root.Sub("through"));
  EXPECT_FALSE(ReadFileBeneath(root.path(), "through/secret").ok());
}

TEST(BeneathTest, SymlinkBeneathReplacesWhatIsThere) {
  TempDir root;
  WriteTestFile(root.Sub("var/lib/dbus/machine-id"), "old");
  ASSERT_TRUE(SymlinkBeneath(root.path(), "var/lib/dbus/machine-id", "/etc/machine-id").ok());
  EXPECT_EQ(fs::read_symlink(root.Sub("var/lib/dbus/machine-id")), "/etc/machine-id");
}

TEST(BeneathTest, ReplacesASymlinkAtTheFileNameInsteadOfFollowingIt) {
  TempDir root, outside;
  WriteTestFile(outside.Sub("victim"), "untouched");
  WriteTestFile(root.Sub("etc/.keep"), "");
  fs::create_symlink(outside.Sub("victim"), root.Sub("etc/hostname"));
  ASSERT_TRUE(WriteFileBeneath(root.path(), "etc/hostname", 0644, "mosix3\n").ok());
  EXPECT_EQ(ReadTestFile(outside.Sub("victim")), "untouched");
  EXPECT_FALSE(fs::is_symlink(root.Sub("etc/hostname")));
  EXPECT_EQ(ReadTestFile(root.Sub("etc/hostname")), "mosix3\n");
}

TEST(BeneathTest, ResolveInRootFollowsLinksOnlyWithinTheRoot) {
  TempDir root;
  fs::create_directories(root.Sub("usr/lib/modules"));
  fs::create_symlink("usr/lib", root.Sub("lib"));
  fs::create_symlink("/usr/lib", root.Sub("abs"));
  fs::create_symlink("../../../../../etc", root.Sub("up"));
  EXPECT_EQ(*ResolveInRoot(root.path(), "lib/modules"), "usr/lib/modules");
  EXPECT_EQ(*ResolveInRoot(root.path(), "abs/modules/6.1"), "usr/lib/modules/6.1");
  EXPECT_EQ(*ResolveInRoot(root.path(), "up/passwd"), "etc/passwd");
  fs::create_symlink("loop", root.Sub("loop"));
  EXPECT_FALSE(ResolveInRoot(root.path(), "loop/x").ok());
}

TEST(BeneathTest, RemoveBeneathRemovesTreesButNotWhatSymlinksPointTo) {
  TempDir root, outside;
  WriteTestFile(outside.Sub("keep"), "x");
  WriteTestFile(root.Sub("a/b/c"), "x");
  fs::create_symlink(outside.path(), root.Sub("a/link"));
  ASSERT_TRUE(RemoveBeneath(root.path(), "a").ok());
  EXPECT_FALSE(fs::exists(root.Sub("a")));
  EXPECT_TRUE(fs::exists(outside.Sub("keep")));
  EXPECT_TRUE(RemoveBeneath(root.path(), "missing/x").ok());
}

}  // namespace
}  // namespace gc
