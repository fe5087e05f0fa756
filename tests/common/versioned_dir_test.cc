#include "common/versioned_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/fault_env.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::ElementsAre;
using testing::FaultEnv;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ReadTestFile;
using testing::TempDir;
using testing::WriteTestFile;

class VersionedDirTest : public ::testing::Test {
 protected:
  std::string Dir() const { return temp_.Sub("images/compute"); }

  // A filled staging directory, as a store prepares one.
  std::string Stage(const std::string& content) {
    std::string staging = temp_.Sub("tmp/staging." + std::to_string(staged_++));
    WriteTestFile(staging + "/manifest", content);
    return staging;
  }

  Result<uint64_t> PublishNew(const std::string& content, Env* env = Env::Default()) {
    return PublishVersionDir(env, temp_.path(), Dir(), Stage(content));
  }

  TempDir temp_;
  int staged_ = 0;
};

TEST_F(VersionedDirTest, ListsOnlyNumberedEntriesInOrder) {
  EXPECT_THAT(*ListVersions(Env::Default(), Dir()), IsEmpty());
  for (const char* name : {"10", "2", "last", "tags.json", "1"}) {
    WriteTestFile(Dir() + "/" + name, "");
  }
  EXPECT_THAT(*ListVersions(Env::Default(), Dir()), ElementsAre(1, 2, 10));
}

TEST_F(VersionedDirTest, PublishMovesTheStagingInAsTheNextVersion) {
  std::string staging = Stage("first");
  auto v1 = PublishVersionDir(Env::Default(), temp_.path(), Dir(), staging);
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  EXPECT_EQ(*v1, 1u);
  EXPECT_FALSE(std::filesystem::exists(staging));
  EXPECT_EQ(ReadTestFile(VersionDirPath(Dir(), 1) + "/manifest"), "first");
  EXPECT_EQ(*PublishNew("second"), 2u);
  EXPECT_EQ(ReadTestFile(Dir() + "/last"), "2\n");
  EXPECT_THAT(*ListVersions(Env::Default(), Dir()), ElementsAre(1, 2));
  EXPECT_TRUE(std::filesystem::exists(temp_.Sub("meta.lock")));
}

TEST_F(VersionedDirTest, ARemovedNumberIsNeverHandedOutAgain) {
  ASSERT_TRUE(PublishNew("1").ok());
  ASSERT_TRUE(PublishNew("2").ok());
  std::string doomed = temp_.Sub("tmp/doomed");
  ASSERT_TRUE(RemoveVersionDir(Env::Default(), Dir(), 2, doomed).ok());
  EXPECT_FALSE(std::filesystem::exists(VersionDirPath(Dir(), 2)));
  EXPECT_FALSE(std::filesystem::exists(doomed));
  EXPECT_EQ(*PublishNew("3"), 3u);
}

TEST_F(VersionedDirTest, LastAheadOfTheVersionsWinsAndGarbageInItIsIgnored) {
  WriteTestFile(Dir() + "/last", "7\n");
  EXPECT_EQ(*PublishNew("a"), 8u);
  WriteTestFile(Dir() + "/last", "not a number");
  EXPECT_EQ(*PublishNew("b"), 9u);
}

TEST_F(VersionedDirTest, AFailedPublishShowsNoVersionAndLeavesTheStaging) {
  FaultEnv env;
  env.FailWritesAfter(0);
  std::string staging = Stage("x");
  auto version = PublishVersionDir(&env, temp_.path(), Dir(), staging);
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.status().code(), Code::kNoSpace);
  EXPECT_THAT(*ListVersions(Env::Default(), Dir()), IsEmpty());
  EXPECT_TRUE(std::filesystem::exists(staging + "/manifest"));
  env.StopFailing();
  EXPECT_EQ(*PublishVersionDir(&env, temp_.path(), Dir(), staging), 1u);
}

TEST(CheckVersionExistsTest, NamesTheVersionsThatExist) {
  EXPECT_TRUE(CheckVersionExists("compute", 2, {1, 2, 4}).ok());
  Status missing = CheckVersionExists("compute", 3, {1, 2, 4});
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_EQ(missing.message(), "compute@3 does not exist; its versions are 1, 2, 4");
}

}  // namespace
}  // namespace gc
