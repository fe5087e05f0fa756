#include "common/env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::ReadTestFile;
using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;

TEST(AnonymousFileTest, GetsItsNameOnlyWhenLinked) {
  TempDir dir;
  auto file = Env::Default()->NewAnonymousFile(dir.path(), 0444);
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_TRUE((*file)->Append("hello ").ok());
  ASSERT_TRUE((*file)->Skip(4096).ok());
  ASSERT_TRUE((*file)->Append("world").ok());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  ASSERT_TRUE((*file)->LinkAs(dir.Sub("named")).ok());
  std::string content = ReadTestFile(dir.Sub("named"));
  EXPECT_EQ(content, "hello " + std::string(4096, '\0') + "world");
  struct stat st;
  ASSERT_EQ(::stat(dir.Sub("named").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
}

TEST(AnonymousFileTest, DroppedFileLeavesNothing) {
  TempDir dir;
  {
    auto file = Env::Default()->NewAnonymousFile(dir.path(), 0444);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append(std::string(100000, 'x')).ok());
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(AnonymousFileTest, LinkingOverAnExistingNameFails) {
  TempDir dir;
  WriteTestFile(dir.Sub("taken"), "first");
  auto file = Env::Default()->NewAnonymousFile(dir.path(), 0444);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append("second").ok());
  Status status = (*file)->LinkAs(dir.Sub("taken"));
  EXPECT_EQ(status.code(), Code::kAlreadyExists);
  EXPECT_EQ(ReadTestFile(dir.Sub("taken")), "first");
}

TEST(AnonymousFileTest, MissingDirectoryIsAnError) {
  auto file = Env::Default()->NewAnonymousFile("/nonexistent/dir", 0444);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("/nonexistent/dir"), std::string::npos);
}

TEST(WriteFileTest, ReplacesContent) {
  TempDir dir;
  ASSERT_TRUE(Env::Default()->WriteFile(dir.Sub("f"), "one").ok());
  ASSERT_TRUE(Env::Default()->WriteFile(dir.Sub("f"), "two").ok());
  EXPECT_EQ(ReadTestFile(dir.Sub("f")), "two");
}

}  // namespace
}  // namespace gc
