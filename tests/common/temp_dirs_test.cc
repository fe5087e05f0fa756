#include "common/temp_dirs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::EndsWith;
using ::testing::StartsWith;
using testing::TempDir;
using testing::WriteTestFile;

// A pid that ran and is gone: a child that exited and was reaped.
pid_t DeadPid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(PidTempNameTest, StartsWithThePidEndsWithTheLabelAndIsUnique) {
  std::string a = PidTempName("version");
  EXPECT_THAT(a, StartsWith(std::to_string(::getpid()) + "."));
  EXPECT_THAT(a, EndsWith(".version"));
  EXPECT_NE(a, PidTempName("version"));
}

TEST(TempOwnerIsDeadTest, TellsDeadOwnersFromLiveOnes) {
  EXPECT_FALSE(TempOwnerIsDead(PidTempName("mine")));
  EXPECT_FALSE(TempOwnerIsDead(std::to_string(::getppid()) + ".0.1.object"));
  EXPECT_TRUE(TempOwnerIsDead(std::to_string(DeadPid()) + ".0.1.object"));
  EXPECT_TRUE(TempOwnerIsDead("no-pid-here"));
  EXPECT_TRUE(TempOwnerIsDead("0.1.2.object"));
}

TEST(RemoveDeadTempsTest, RemovesOnlyWhatDeadOwnersLeft) {
  TempDir dir;
  std::string dead = dir.Sub(std::to_string(DeadPid()) + ".0.1.artifact");
  std::string live = dir.Sub(PidTempName("artifact"));
  WriteTestFile(dead + "/vmlinuz", "half");
  WriteTestFile(live + "/vmlinuz", "in progress");
  uint64_t removed = 0;
  ASSERT_TRUE(RemoveDeadTemps(dir.path(), Env::Default(), &removed).ok());
  EXPECT_EQ(removed, 1u);
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(live));
}

}  // namespace
}  // namespace gc
