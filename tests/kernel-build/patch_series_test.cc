#include "kernel-build/patch_series.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/hash.h"
#include "tests/kernel-build/fake_kernel.h"

namespace gc {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ReadTestFile;
using ::testing::SizeIs;
using testing::TempDir;
using testing::WriteTestFile;

RecipePatch Patch(const std::string& path, const std::string& for_version, int line) {
  RecipePatch patch;
  patch.path = path;
  patch.file = path.substr(path.find_last_of('/') + 1);
  patch.for_version = for_version;
  patch.line = line;
  auto digest = Sha256File(path);
  if (digest.ok()) patch.sha256 = *digest;
  return patch;
}

class PatchSeriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFakeKernelTree(dir_.Sub("tree"));
    WriteTestFile(dir_.Sub("p/0001.patch"), testing::FakeGoldcastPatch());
    WriteTestFile(dir_.Sub("p/0002.patch"), testing::FakeFollowUpPatch());
  }
  TempDir dir_;
};

TEST_F(PatchSeriesTest, ChecksFilesAndHashes) {
  std::vector<RecipePatch> patches = {Patch(dir_.Sub("p/0001.patch"), "6.1", 7),
                                      Patch(dir_.Sub("p/0002.patch"), "6.1", 10)};
  EXPECT_THAT(CheckPatchFiles(patches), IsEmpty());
  patches[1].sha256 = std::string(64, 'e');
  patches.push_back(Patch(dir_.Sub("p/none.patch"), "6.1", 13));
  patches.back().sha256 = std::string(64, '0');
  patches.push_back(Patch(dir_.Sub("p/gone.patch"), "6.1", 16));
  patches.back().sha256 = std::string(64, 'f');
  auto problems = CheckPatchFiles(patches);
  ASSERT_THAT(problems, SizeIs(4));
  EXPECT_THAT(problems[0], AllOf(HasSubstr("0002.patch (recipe line 10) is not the patch you "
                                           "declared"),
                                 HasSubstr(std::string(64, 'e'))));
  // A placeholder hash and a missing file are both reported.
  EXPECT_THAT(problems[1], HasSubstr("none.patch (recipe line 13): sha256 is the all-zero"));
  EXPECT_THAT(problems[2], HasSubstr("none.patch not found"));
  EXPECT_THAT(problems[3], HasSubstr("gone.patch not found"));
}

TEST_F(PatchSeriesTest, VersionMismatchNamesEveryWrongPatch) {
  std::vector<RecipePatch> patches = {Patch(dir_.Sub("p/0001.patch"), "2.4.26", 7),
                                      Patch(dir_.Sub("p/0002.patch"), "6.1", 10),
                                      Patch(dir_.Sub("p/0002.patch"), "6.1.175", 13)};
  Status status = CheckPatchVersions(patches, KernelVersion{6, 1, 176}, "the source tarball");
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("0001.patch (recipe line 7) is for linux 2.4.26, but the source "
                              "tarball is linux 6.1.176"),
                    HasSubstr("(recipe line 13) is for linux 6.1.175"),
                    ::testing::Not(HasSubstr("line 10"))));
  EXPECT_TRUE(CheckPatchVersions({patches[1]}, KernelVersion{6, 1, 176}, "x").ok());
}

TEST_F(PatchSeriesTest, AppliesADependentSeriesInOrder) {
  Status status = ApplyPatchSeries(
      ProcessRunner::Default(), dir_.Sub("tree"),
      {Patch(dir_.Sub("p/0001.patch"), "6.1", 7), Patch(dir_.Sub("p/0002.patch"), "6.1", 10)},
      dir_.path());
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_THAT(ReadTestFile(dir_.Sub("tree/init/main.c")),
              AllOf(HasSubstr("goldcast-test"), HasSubstr("follow-up")));
  EXPECT_THAT(ReadTestFile(dir_.Sub("tree/init/Kconfig")), HasSubstr("config GOLDCAST_TEST"));
}

TEST_F(PatchSeriesTest, StopsAtTheFirstPatchThatDoesNotApplyWithoutChangingIt) {
  // 0002 needs 0001 first: alone it fails, and the tree stays as it was.
  std::string before = ReadTestFile(dir_.Sub("tree/init/main.c"));
  Status status = ApplyPatchSeries(ProcessRunner::Default(), dir_.Sub("tree"),
                                   {Patch(dir_.Sub("p/0002.patch"), "6.1", 10)}, dir_.path());
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("patch 1 of 1, 0002.patch (recipe line 10) does not apply"),
                    HasSubstr("FAILED")));
  EXPECT_EQ(ReadTestFile(dir_.Sub("tree/init/main.c")), before);
}

TEST_F(PatchSeriesTest, TellsAnAlreadyAppliedPatchApart) {
  auto patch = Patch(dir_.Sub("p/0001.patch"), "6.1", 7);
  ASSERT_TRUE(
      ApplyPatchSeries(ProcessRunner::Default(), dir_.Sub("tree"), {patch}, dir_.path()).ok());
  Status again = ApplyPatchSeries(ProcessRunner::Default(), dir_.Sub("tree"), {patch}, dir_.path());
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.message(), HasSubstr("is already applied to the source"));
}

TEST_F(PatchSeriesTest, DecompressesCompressedPatches) {
  auto gz = ProcessRunner::Default()->Run({"gzip", "-k", dir_.Sub("p/0001.patch")});
  ASSERT_TRUE(gz.ok() && gz->exit_code == 0);
  Status status = ApplyPatchSeries(ProcessRunner::Default(), dir_.Sub("tree"),
                                   {Patch(dir_.Sub("p/0001.patch.gz"), "6.1", 7)}, dir_.path());
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_THAT(ReadTestFile(dir_.Sub("tree/init/main.c")), HasSubstr("goldcast-test"));
}

}  // namespace
}  // namespace gc
