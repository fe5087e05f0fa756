#include "kernel-build/kernel_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

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

TEST(KernelSourceTest, ReadsTheVersionFromTheTopMakefile) {
  TempDir dir;
  testing::WriteFakeKernelTree(dir.path(), "176", "-rc3");
  auto version = ReadTreeVersion(dir.path());
  ASSERT_TRUE(version.ok()) << version.status().message();
  EXPECT_EQ(version->version.ToString(), "6.1.176");
  EXPECT_EQ(version->extraversion, "-rc3");
  EXPECT_EQ(version->ToString(), "6.1.176-rc3");

  WriteTestFile(dir.Sub("Makefile"), "all:\n\techo not a kernel\n");
  EXPECT_THAT(ReadTreeVersion(dir.path()).status().message(),
              HasSubstr("cannot read VERSION, PATCHLEVEL and SUBLEVEL"));
  EXPECT_EQ(ReadTreeVersion(dir.Sub("nothing")).status().code(), Code::kNotFound);
}

TEST(KernelSourceTest, AVanillaTreeShowsNoSigns) {
  TempDir dir;
  testing::WriteFakeKernelTree(dir.path());
  auto version = ReadTreeVersion(dir.path());
  EXPECT_THAT(FindNonVanillaSigns(dir.path(), *version, ""), IsEmpty());
}

TEST(KernelSourceTest, DetectsDistroAndQuiltTrees) {
  TempDir dir;
  testing::WriteFakeKernelTree(dir.path(), "192", "-custom");
  WriteTestFile(dir.Sub("debian/changelog"), "linux (6.1.192-2)\n");
  WriteTestFile(dir.Sub(".pc/applied-patches"), "x.patch\n");
  WriteTestFile(dir.Sub("localversion-rt"), "-rt5\n");
  // The marks Debian's own patches leave in linux-source-6.1.
  WriteTestFile(dir.Sub("Makefile"), ReadTestFile(dir.Sub("Makefile")) +
                                         "\techo \\#define LINUX_PACKAGE_ID \\\" $(DISTRIBUTOR)\n");
  WriteTestFile(dir.Sub("include/linux/perf_event.h"),
                "static inline bool perf_paranoid_any(void)\n");
  auto version = ReadTreeVersion(dir.path());
  auto signs = FindNonVanillaSigns(dir.path(), *version, "");
  ASSERT_THAT(signs, SizeIs(6));
  std::string all;
  for (const auto& sign : signs) all += sign + "\n";
  EXPECT_THAT(all, AllOf(HasSubstr("/debian/ exists (Debian packaging"),
                         HasSubstr("/.pc/ exists (quilt state"), HasSubstr("localversion-rt"),
                         HasSubstr("EXTRAVERSION = -custom but the recipe declares none"),
                         HasSubstr("LINUX_PACKAGE_ID"), HasSubstr("perf_paranoid_any")));
  // A declared EXTRAVERSION is not a sign.
  EXPECT_THAT(FindNonVanillaSigns(dir.path(), *version, "-custom"), SizeIs(5));
}

TEST(KernelSourceTest, TarballHashMismatchNamesBothHashes) {
  TempDir dir;
  WriteTestFile(dir.Sub("linux.tar.xz"), "not really a tarball");
  std::string real = *Sha256File(dir.Sub("linux.tar.xz"));
  EXPECT_TRUE(VerifyTarballHash(dir.Sub("linux.tar.xz"), real).ok());
  std::string declared(64, 'b');
  Status status = VerifyTarballHash(dir.Sub("linux.tar.xz"), declared);
  EXPECT_EQ(status.code(), Code::kCorrupt);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("not the vanilla source you declared"),
                                      HasSubstr(real), HasSubstr(declared)));
  EXPECT_EQ(VerifyTarballHash(dir.Sub("missing.tar.xz"), declared).code(), Code::kNotFound);
  EXPECT_THAT(VerifyTarballHash(dir.Sub("linux.tar.xz"), std::string(64, '0')).message(),
              HasSubstr("all-zero placeholder"));
}

TEST(KernelSourceTest, FingerprintSeesEditsButContentHashIgnoresMtimes) {
  TempDir dir;
  testing::WriteFakeKernelTree(dir.Sub("t"));
  std::string print = *TreeFingerprint(dir.Sub("t"));
  std::string content = *TreeContentHash(dir.Sub("t"));
  EXPECT_EQ(*TreeFingerprint(dir.Sub("t")), print);
  WriteTestFile(dir.Sub("t/init/main.c"), ReadTestFile(dir.Sub("t/init/main.c")));  // same bytes
  EXPECT_EQ(*TreeContentHash(dir.Sub("t")), content);
  WriteTestFile(dir.Sub("t/init/main.c"), "changed\n");
  EXPECT_NE(*TreeFingerprint(dir.Sub("t")), print);
  EXPECT_NE(*TreeContentHash(dir.Sub("t")), content);
}

TEST(SourceCacheTest, UnpacksOnceAndRepairsDamage) {
  TempDir dir;
  testing::WriteFakeKernelTree(dir.Sub("src/linux-6.1.176"));
  std::string sha = testing::MakeTarball(dir.Sub("src/linux-6.1.176"), dir.Sub("l.tar.xz"));
  SourceCache cache(dir.Sub("cache"), Env::Default(), ProcessRunner::Default());
  auto tree = cache.Pristine(dir.Sub("l.tar.xz"), sha);
  ASSERT_TRUE(tree.ok()) << tree.status().message();
  EXPECT_EQ(*tree, dir.Sub("cache/sources/" + sha + "/tree"));
  EXPECT_TRUE(std::filesystem::exists(*tree + "/init/main.c")) << "the top directory is stripped";
  std::string marker = ReadTestFile(cache.MarkerPath(sha));
  EXPECT_EQ(marker, "fingerprint " + *TreeFingerprint(*tree) + "\n");

  // Second use: no unpack (a missing tarball proves it is not read).
  std::filesystem::rename(dir.Sub("l.tar.xz"), dir.Sub("moved.tar.xz"));
  ASSERT_TRUE(cache.Pristine(dir.Sub("l.tar.xz"), sha).ok());

  // A modified pristine tree is unpacked again.
  std::filesystem::rename(dir.Sub("moved.tar.xz"), dir.Sub("l.tar.xz"));
  WriteTestFile(*tree + "/init/main.c", "edited in place\n");
  ASSERT_TRUE(cache.Pristine(dir.Sub("l.tar.xz"), sha).ok());
  EXPECT_THAT(ReadTestFile(*tree + "/init/main.c"), HasSubstr("start_kernel"));

  // An entry without its marker (an interrupted unpack) too.
  std::filesystem::remove(cache.MarkerPath(sha));
  ASSERT_TRUE(cache.Pristine(dir.Sub("l.tar.xz"), sha).ok());
  EXPECT_EQ(ReadTestFile(cache.MarkerPath(sha)), marker);
  EXPECT_THAT(*Env::Default()->ListDir(dir.Sub("cache/sources/tmp")), IsEmpty());
}

TEST(SourceCacheTest, ABrokenTarballLeavesNoEntry) {
  TempDir dir;
  WriteTestFile(dir.Sub("bad.tar.xz"), "garbage");
  SourceCache cache(dir.Sub("cache"), Env::Default(), ProcessRunner::Default());
  auto tree = cache.Pristine(dir.Sub("bad.tar.xz"), std::string(64, 'c'));
  ASSERT_FALSE(tree.ok());
  EXPECT_THAT(tree.status().message(), HasSubstr("tar could not unpack"));
  EXPECT_FALSE(std::filesystem::exists(cache.EntryDir(std::string(64, 'c'))));
  EXPECT_THAT(*Env::Default()->ListDir(dir.Sub("cache/sources/tmp")), IsEmpty());
}

}  // namespace
}  // namespace gc
