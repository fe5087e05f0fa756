#include "common/list_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "common/unique_fd.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

UniqueFd OpenDir(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

TEST(ListDirTest, NamesWithoutDotAndDotDot) {
  testing::TempDir dir;
  testing::WriteTestFile(dir.Sub("a"), "");
  testing::WriteTestFile(dir.Sub("sub/b"), "");
  std::filesystem::create_symlink("/nowhere", dir.Sub(".hidden-link"));
  UniqueFd fd = OpenDir(dir.path());
  ASSERT_TRUE(fd.valid());
  auto names = ListDirFd(fd.get(), dir.path());
  ASSERT_TRUE(names.ok()) << names.status().message();
  EXPECT_THAT(*names, UnorderedElementsAre("a", "sub", ".hidden-link"));
}

TEST(ListDirTest, EmptyDirectoryHasNoNames) {
  testing::TempDir dir;
  UniqueFd fd = OpenDir(dir.path());
  auto names = ListDirFd(fd.get(), dir.path());
  ASSERT_TRUE(names.ok()) << names.status().message();
  EXPECT_TRUE(names->empty());
}

// The listing reads from a duplicate that shares the fd's position: a
// second listing of the same fd must still see every name, and the fd must
// stay open for the caller.
TEST(ListDirTest, SameFdListsAgainAndStaysOpen) {
  testing::TempDir dir;
  for (int i = 0; i < 50; ++i) testing::WriteTestFile(dir.Sub("f" + std::to_string(i)), "");
  UniqueFd fd = OpenDir(dir.path());
  auto first = ListDirFd(fd.get(), dir.path());
  auto second = ListDirFd(fd.get(), dir.path());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->size(), 50u);
  std::sort(first->begin(), first->end());
  std::sort(second->begin(), second->end());
  EXPECT_EQ(*first, *second);
  EXPECT_GE(::fcntl(fd.get(), F_GETFD), 0);
}

TEST(ListDirTest, NotADirectoryNamesIt) {
  testing::TempDir dir;
  testing::WriteTestFile(dir.Sub("file"), "x");
  UniqueFd fd(::open(dir.Sub("file").c_str(), O_RDONLY | O_CLOEXEC));
  auto names = ListDirFd(fd.get(), dir.Sub("file"));
  ASSERT_FALSE(names.ok());
  EXPECT_THAT(names.status().message(), HasSubstr(dir.Sub("file")));
  EXPECT_FALSE(ListDirFd(-1, "nothing").ok());
}

}  // namespace
}  // namespace gc
