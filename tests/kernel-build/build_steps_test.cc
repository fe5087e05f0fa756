#include "kernel-build/build_steps.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

KernelRecipe Recipe() {
  auto recipe = ParseKernelRecipe(R"(name: om
version: "6.1.176"
source: {tarball: l.tar.xz, sha256: 9aad4025973feea3f0d978e82ab7db97d8d5ce3f59fcc6b1f316153d66e3a504}
config: {base: tinyconfig}
build:
  toolchain: {cc: gcc-12, make: gmake, arch: x86_64}
  reproducible: {timestamp: "2024-03-04 05:06:07 UTC", user: u, host: h, build_version: 3}
)",
                                  "/r/om.yaml");
  EXPECT_TRUE(recipe.ok()) << recipe.status().message();
  return *recipe;
}

TEST(BuildStepsTest, ComposesAReproducibleOutOfTreeMake) {
  BuildEnvironment env;
  env.src = "/c/work/b/src";
  env.out = "/c/work/b/out";
  env.jobs = 4;
  EXPECT_THAT(MakeCommand(Recipe(), env, {"bzImage"}, true),
              ElementsAre("env", "LC_ALL=C", "KBUILD_BUILD_TIMESTAMP=2024-03-04 05:06:07 UTC",
                          "KBUILD_BUILD_USER=u", "KBUILD_BUILD_HOST=h", "KBUILD_BUILD_VERSION=3",
                          "SOURCE_DATE_EPOCH=1709528767", "gmake", "-C", "/c/work/b/src",
                          "O=/c/work/b/out", "ARCH=x86_64", "CC=gcc-12", "-j4", "bzImage"));
  env.ccache_dir = "/c/ccache";
  env.ccache_basedir = "/c/work/b";
  auto argv =
      MakeCommand(Recipe(), env, {"olddefconfig"}, false, {"KCONFIG_WARN_UNKNOWN_SYMBOLS=1"});
  std::string joined;
  for (const auto& arg : argv) joined += arg + "|";
  EXPECT_THAT(joined, HasSubstr("|CCACHE_DIR=/c/ccache|CCACHE_BASEDIR=/c/work/b|gmake|"));
  EXPECT_THAT(joined, HasSubstr("|CC=ccache gcc-12|olddefconfig|KCONFIG_WARN_UNKNOWN_SYMBOLS=1|"));
  EXPECT_THAT(joined, ::testing::Not(HasSubstr("-j")));
}

TEST(BuildStepsTest, LegacyTreesBuildInTree) {
  BuildEnvironment env;
  env.src = env.out = "/c/work/b/src";
  env.legacy = true;
  env.jobs = 2;
  auto argv = MakeCommand(Recipe(), env, {"dep"}, false);
  for (const auto& arg : argv) EXPECT_EQ(arg.rfind("O=", 0), std::string::npos) << arg;
  EXPECT_EQ(argv.back(), "dep");
}

TEST(BuildStepsTest, KnowsWhereImagesLand) {
  EXPECT_EQ(KernelImagePath("/o", "x86", "bzImage"), "/o/arch/x86/boot/bzImage");
  EXPECT_EQ(KernelImagePath("/o", "i386", "bzImage"), "/o/arch/i386/boot/bzImage");
  EXPECT_EQ(KernelImagePath("/o", "arm64", "Image"), "/o/arch/arm64/boot/Image");
  EXPECT_EQ(KernelImagePath("/o", "x86", "vmlinux"), "/o/vmlinux");
  EXPECT_EQ(KernelImagePath("/o", "x86", "modules"), "");
  TempDir dir;
  std::filesystem::create_directories(dir.Sub("modern/arch/x86"));
  std::filesystem::create_directories(dir.Sub("old/arch/i386"));
  EXPECT_EQ(SourceArch(dir.Sub("modern"), "x86_64"), "x86");
  EXPECT_EQ(SourceArch(dir.Sub("old"), "i386"), "i386");
}

TEST(BuildStepsTest, LoggedRunnerAppendsOutputAndStreamsLines) {
  TempDir dir;
  LoggedRunner runner(ProcessRunner::Default(), dir.Sub("build.log"));
  std::vector<std::string> seen;
  auto code = runner.Run({"sh", "-c", "echo '  CC      init/main.o'; echo oops >&2; exit 3"},
                         [&](std::string_view line) { seen.emplace_back(line); });
  ASSERT_TRUE(code.ok()) << code.status().message();
  EXPECT_EQ(*code, 3);
  EXPECT_THAT(seen, ElementsAre("  CC      init/main.o", "oops"));
  auto again = runner.Run({"echo", "second"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  std::string log = testing::ReadTestFile(dir.Sub("build.log"));
  EXPECT_THAT(log, HasSubstr("$ sh -c echo '  CC      init/main.o'; echo oops >&2; exit 3\n"
                             "  CC      init/main.o\noops\n$ echo second\nsecond\n"));
  EXPECT_EQ(runner.Tail(2), "$ echo second\nsecond");
  auto missing = runner.Run({"/nonexistent/make"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, 127);
}

TEST(BuildStepsTest, PhaseProgressRecordsTimings) {
  PhaseProgress progress("kernel om");
  progress.Start("verify");
  progress.Start("compile");
  progress.CountLine("  CC      init/main.o");
  progress.Finish();
  ASSERT_EQ(progress.timings().size(), 2u);
  EXPECT_EQ(progress.timings()[0].first, "verify");
  EXPECT_EQ(progress.timings()[1].first, "compile");
}

}  // namespace
}  // namespace gc
