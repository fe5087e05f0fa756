// The whole pipeline against a tiny kernel-shaped tree, with `make` played
// by FakeKernelRunner (tar, cp and patch are real).
#include "kernel-build/kernel_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "kernel-build/kernel_source.h"
#include "kernel-build/kernel_store.h"
#include "tests/kernel-build/fake_kernel.h"

namespace gc {
namespace {

using ::testing::AllOf;
using testing::FakeKernelRunner;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ReadTestFile;
using testing::TempDir;
using testing::WriteTestFile;

class KernelBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFakeKernelTree(dir_.Sub("src/linux-6.1.176"));
    tarball_sha_ = testing::MakeTarball(dir_.Sub("src/linux-6.1.176"), dir_.Sub("linux.tar.xz"));
    WriteTestFile(dir_.Sub("recipes/patches/0001-goldcast-test.patch"),
                  testing::FakeGoldcastPatch());
    patch_sha_ = *Sha256File(dir_.Sub("recipes/patches/0001-goldcast-test.patch"));
    options_.state_dir = dir_.Sub("state");
    options_.cache_dir = dir_.Sub("cache");
    options_.jobs = 2;
  }

  std::string RecipeText(const std::string& required, const std::string& patch_for = "6.1",
                         const std::string& sha = "") {
    return "name: om-test\nversion: \"6.1.176\"\nsource:\n  tarball: ../linux.tar.xz\n"
           "  sha256: " +
           (sha.empty() ? tarball_sha_ : sha) +
           "\npatches:\n  - file: patches/0001-goldcast-test.patch\n    sha256: " + patch_sha_ +
           "\n    for: \"" + patch_for + "\"\nconfig:\n  base: tinyconfig\n  required:\n" +
           required;
  }

  KernelRecipe Recipe(const std::string& text) {
    auto recipe = ParseKernelRecipe(text, dir_.Sub("recipes/om-test.yaml"));
    EXPECT_TRUE(recipe.ok()) << recipe.status().message();
    return *recipe;
  }

  Result<KernelBuildResult> Build(const KernelRecipe& recipe) {
    return BuildKernel(recipe, options_, Env::Default(), &runner_);
  }

  size_t StoredKernels() {
    auto store = KernelStore::Open(options_.state_dir, false);
    auto list = (*store)->List();
    EXPECT_TRUE(list.ok());
    return list.ok() ? list->size() : 0;
  }

  bool RanTar() {
    return std::any_of(runner_.calls.begin(), runner_.calls.end(),
                       [](const std::string& call) { return call.rfind("tar ", 0) == 0; });
  }

  std::string PristineFingerprint() {
    return *TreeFingerprint(dir_.Sub("cache/sources/" + tarball_sha_ + "/tree"));
  }

  TempDir dir_;
  std::string tarball_sha_, patch_sha_;
  KernelBuildOptions options_;
  FakeKernelRunner runner_;
  const std::string kRequired =
      "    CONFIG_GOLDCAST_TEST: y\n    CONFIG_PCI: y\n"
      "    CONFIG_MODULES: n\n    CONFIG_LOG_BUF_SHIFT: 17\n";
};

TEST_F(KernelBuilderTest, BuildsPublishesAndReusesUnchangedInputs) {
  auto result = Build(Recipe(RecipeText(kRequired)));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_FALSE(result->reused);
  EXPECT_EQ(result->ref.ToString(), "om-test@1");
  std::string dir = result->artifact_dir;
  EXPECT_EQ(dir, dir_.Sub("state/kernels/om-test/1"));
  EXPECT_THAT(ReadTestFile(dir + "/vmlinuz"), HasSubstr("goldcast-test: patched kernel booted"));
  EXPECT_THAT(ReadTestFile(dir + "/config"), HasSubstr("CONFIG_GOLDCAST_TEST=y"));
  EXPECT_TRUE(std::filesystem::is_directory(dir + "/modules"));
  EXPECT_THAT(ReadTestFile(dir + "/build.log"),
              AllOf(HasSubstr("KBUILD_BUILD_TIMESTAMP=2024-01-01 00:00:00 UTC"),
                    HasSubstr("  CC      init/main.o")));
  std::string inputs = ReadTestFile(dir + "/inputs.json");
  EXPECT_THAT(inputs,
              AllOf(HasSubstr(tarball_sha_), HasSubstr(patch_sha_), HasSubstr("gcc (Fake) 12.2.0"),
                    HasSubstr("GNU Make 4.3"), HasSubstr("resolved_config_sha256")));
  EXPECT_THAT(ReadTestFile(dir + "/artifact.json"), HasSubstr("\"kernel_release\": \"6.1.176\""));
  // The work tree is gone; the pristine tree stays for the next build.
  EXPECT_THAT(*Env::Default()->ListDir(dir_.Sub("cache/work")), IsEmpty());
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("cache/sources/" + tarball_sha_ + "/COMPLETE")));
  // The pristine tree was never patched.
  EXPECT_THAT(ReadTestFile(dir_.Sub("cache/sources/" + tarball_sha_ + "/tree/init/main.c")),
              ::testing::Not(HasSubstr("goldcast-test")));

  runner_.make_calls.clear();
  runner_.calls.clear();
  auto again = Build(Recipe(RecipeText(kRequired)));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(again->ref.ToString(), "om-test@1");
  EXPECT_THAT(runner_.make_calls, IsEmpty()) << "an unchanged build must not run make";
  EXPECT_FALSE(RanTar());

  // One changed required value is a new version.
  std::string changed = kRequired;
  changed.replace(changed.find("17"), 2, "18");
  auto rebuilt = Build(Recipe(RecipeText(changed)));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().message();
  EXPECT_FALSE(rebuilt->reused);
  EXPECT_EQ(rebuilt->ref.ToString(), "om-test@2");
  EXPECT_FALSE(RanTar()) << "the pristine tree is reused from the cache";
  EXPECT_EQ(StoredKernels(), 2u);
}

TEST_F(KernelBuilderTest, MakeCommandsAreOutOfTreeAndReproducible) {
  runner_.ccache = true;
  auto result = Build(Recipe(RecipeText(kRequired)));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_THAT(runner_.make_calls, ::testing::ElementsAre("tinyconfig", "olddefconfig", "bzImage"));
  EXPECT_TRUE(std::any_of(runner_.calls.begin(), runner_.calls.end(), [](const std::string& call) {
    return call.find(" olddefconfig KCONFIG_WARN_UNKNOWN_SYMBOLS=1") != std::string::npos;
  }));
  std::string compile;
  for (const auto& call : runner_.calls) {
    if (call.find(" bzImage") != std::string::npos) compile = call;
  }
  EXPECT_THAT(
      compile,
      AllOf(HasSubstr("KBUILD_BUILD_USER=goldcast"), HasSubstr("KBUILD_BUILD_HOST=goldcast-build"),
            HasSubstr("KBUILD_BUILD_VERSION=1"), HasSubstr("SOURCE_DATE_EPOCH=1704067200"),
            HasSubstr("CCACHE_DIR=" + dir_.Sub("cache/ccache")), HasSubstr("CC=ccache gcc"),
            HasSubstr(" -j2 "), HasSubstr(" O=" + dir_.Sub("cache/work/")),
            HasSubstr("ARCH=x86_64")));
}

TEST_F(KernelBuilderTest, WrongTarballHashIsRefusedAndStoresNothing) {
  std::string wrong(64, 'a');
  auto result = Build(Recipe(RecipeText(kRequired, "6.1", wrong)));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kCorrupt);
  EXPECT_THAT(result.status().message(), AllOf(HasSubstr("is not the vanilla source you declared"),
                                               HasSubstr(tarball_sha_), HasSubstr(wrong)));
  EXPECT_FALSE(RanTar());
  EXPECT_EQ(StoredKernels(), 0u);
}

TEST_F(KernelBuilderTest, PatchForAnotherVersionIsRefusedBeforeUnpacking) {
  auto result = Build(Recipe(RecipeText(kRequired, "2.4.26")));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr("patches for another kernel version"),
                    HasSubstr("0001-goldcast-test.patch (recipe line 7) is for linux 2.4.26"),
                    HasSubstr("6.1.176")));
  EXPECT_FALSE(RanTar());
  EXPECT_THAT(runner_.make_calls, IsEmpty());
  EXPECT_EQ(StoredKernels(), 0u);
}

TEST_F(KernelBuilderTest, PatchThatDoesNotApplyLeavesThePristineTreeUntouched) {
  ASSERT_TRUE(Build(Recipe(RecipeText(kRequired))).ok());  // fills the source cache
  std::string marker = ReadTestFile(dir_.Sub("cache/sources/" + tarball_sha_ + "/COMPLETE"));
  std::string before = PristineFingerprint();
  // A second patch whose context is not in the tree.
  WriteTestFile(dir_.Sub("recipes/patches/0002-bad.patch"),
                "--- a/init/main.c\n+++ b/init/main.c\n@@ -1,3 +1,4 @@\n no such line\n"
                " nor this one\n+added\n nor that\n");
  std::string bad_sha = *Sha256File(dir_.Sub("recipes/patches/0002-bad.patch"));
  std::string text = RecipeText(kRequired);
  text.insert(text.find("config:"), "  - file: patches/0002-bad.patch\n    sha256: " + bad_sha +
                                        "\n    for: \"6.1.176\"\n");
  runner_.make_calls.clear();
  auto result = Build(Recipe(text));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr("patch 2 of 2, patches/0002-bad.patch (recipe line 10) does not "
                              "apply"),
                    HasSubstr("Hunk #1 FAILED")));
  EXPECT_THAT(runner_.make_calls, IsEmpty());
  EXPECT_EQ(PristineFingerprint(), before);
  EXPECT_EQ(ReadTestFile(dir_.Sub("cache/sources/" + tarball_sha_ + "/COMPLETE")), marker);
  EXPECT_EQ(StoredKernels(), 1u);
  EXPECT_THAT(*Env::Default()->ListDir(dir_.Sub("cache/work")), IsEmpty());
}

TEST_F(KernelBuilderTest, DependentPatchesApplyInOrder) {
  WriteTestFile(dir_.Sub("recipes/patches/0002-follow-up.patch"), testing::FakeFollowUpPatch());
  std::string sha = *Sha256File(dir_.Sub("recipes/patches/0002-follow-up.patch"));
  std::string text = RecipeText(kRequired);
  text.insert(text.find("config:"), "  - file: patches/0002-follow-up.patch\n    sha256: " + sha +
                                        "\n    for: \"6.1.176\"\n");
  auto result = Build(Recipe(text));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_THAT(ReadTestFile(result->artifact_dir + "/vmlinuz"), HasSubstr("follow-up"));
}

TEST_F(KernelBuilderTest, UnmetDependencyFailsBeforeCompiling) {
  auto result = Build(Recipe(RecipeText(kRequired + "    CONFIG_E1000: y\n    CONFIG_NET: n\n")));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr("required options did not resolve"),
                    HasSubstr("CONFIG_E1000 (required =y) is absent from the resolved .config"),
                    HasSubstr("unmet: 'depends on PCI && NET' (Kconfig:12)"), HasSubstr("NET=n")));
  EXPECT_THAT(runner_.make_calls, ::testing::ElementsAre("tinyconfig", "olddefconfig"));
  EXPECT_EQ(StoredKernels(), 0u);
}

TEST_F(KernelBuilderTest, ModuleWhereBuiltInIsRequiredFails) {
  auto result = Build(Recipe(RecipeText(kRequired + "    CONFIG_NET: y\n    CONFIG_VIRTIO: m\n"
                                                    "    CONFIG_VIRTIO_NET: y\n")));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr("CONFIG_VIRTIO_NET resolved to m (module); it must be built in"),
                    HasSubstr("limited to m by 'depends on VIRTIO && NET'")));
  EXPECT_EQ(StoredKernels(), 0u);
}

TEST_F(KernelBuilderTest, UnknownOptionFailsBeforeAnyMake) {
  auto result = Build(Recipe(RecipeText(kRequired + "    CONFIG_MOSIX: y\n")));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(),
              HasSubstr("CONFIG_MOSIX (recipe line 17) does not exist in this tree (is the patch "
                        "that adds it in the series?)"));
  EXPECT_THAT(runner_.make_calls, IsEmpty());
}

TEST_F(KernelBuilderTest, NonVanillaTreeIsRefusedUnlessAllowed) {
  std::string tree = dir_.Sub("debian-tree");
  testing::WriteFakeKernelTree(tree);
  WriteTestFile(tree + "/debian/changelog", "linux (6.1.176-1) unstable; urgency=medium\n");
  options_.source_tree = tree;
  auto result = Build(Recipe(RecipeText(kRequired)));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr("is not a vanilla kernel tree"), HasSubstr("/debian/ exists"),
                    HasSubstr("--allow-non-vanilla")));
  EXPECT_THAT(runner_.make_calls, IsEmpty());
  EXPECT_EQ(StoredKernels(), 0u);

  options_.allow_non_vanilla = true;
  auto allowed = Build(Recipe(RecipeText(kRequired)));
  ASSERT_TRUE(allowed.ok()) << allowed.status().message();
  EXPECT_THAT(ReadTestFile(allowed->artifact_dir + "/inputs.json"), HasSubstr("\"tree\""));
  EXPECT_FALSE(std::filesystem::exists(tree + "/init/main.c.orig"));
  EXPECT_THAT(ReadTestFile(tree + "/init/main.c"), ::testing::Not(HasSubstr("goldcast-test")))
      << "a --source-tree is copied, never patched in place";
}

TEST_F(KernelBuilderTest, SourceTreeOfAnotherVersionIsRefused) {
  std::string tree = dir_.Sub("other-tree");
  testing::WriteFakeKernelTree(tree, "192");
  options_.source_tree = tree;
  auto result = Build(Recipe(RecipeText(kRequired)));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(),
              HasSubstr("is linux 6.1.192 but " + dir_.Sub("recipes/om-test.yaml") +
                        " declares version 6.1.176"));
}

TEST_F(KernelBuilderTest, FailedCompileStoresNothingAndKeepsTheLog) {
  runner_.fail_target = "bzImage";
  auto result = Build(Recipe(RecipeText(kRequired)));
  ASSERT_FALSE(result.ok());
  std::string saved = dir_.Sub("cache/logs/om-test.failed.log");
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr("make bzImage failed (make exit 2)"), HasSubstr("Error 2"),
                    HasSubstr("build log kept in " + saved)));
  EXPECT_THAT(ReadTestFile(saved), HasSubstr("Error 2"));
  EXPECT_EQ(StoredKernels(), 0u);
  EXPECT_THAT(*Env::Default()->ListDir(dir_.Sub("state/kernels/tmp")), IsEmpty());
  EXPECT_THAT(*Env::Default()->ListDir(dir_.Sub("cache/work")), IsEmpty());
}

TEST_F(KernelBuilderTest, LeftoversOfAKilledBuildAreRemoved) {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // now a pid that no longer runs
  std::string dead = std::to_string(child) + ".0.1.om-test";
  WriteTestFile(dir_.Sub("state/kernels/tmp/" + dead + "/vmlinuz"), "x");
  WriteTestFile(dir_.Sub("cache/sources/tmp/" + dead + "/x/file"), "x");
  // A killed build leaves its overlay mounted (when it could mount one).
  WriteTestFile(dir_.Sub("lower/Makefile"), "pristine\n");
  auto kind = MakeWorkTree(dir_.Sub("lower"), dir_.Sub("cache/work/" + dead), WorkTreeMode::kAuto,
                           ProcessRunner::Default());
  ASSERT_TRUE(kind.ok()) << kind.status().message();
  WriteTestFile(dir_.Sub("cache/work/" + dead + "/src/Makefile"), "edited in the work tree\n");
  ASSERT_TRUE(Build(Recipe(RecipeText(kRequired))).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("cache/work/" + dead)));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("state/kernels/tmp/" + dead)));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("cache/sources/tmp/" + dead)));
  EXPECT_EQ(ReadTestFile(dir_.Sub("lower/Makefile")), "pristine\n");
}

TEST_F(KernelBuilderTest, OverlayAndCopiedWorkTreesGiveTheSameKernel) {
  auto overlay = Build(Recipe(RecipeText(kRequired)));
  ASSERT_TRUE(overlay.ok()) << overlay.status().message();
  std::string before = PristineFingerprint();
  options_.work_tree = WorkTreeMode::kCopy;
  options_.state_dir = dir_.Sub("state-copy");
  auto copy = Build(Recipe(RecipeText(kRequired)));
  ASSERT_TRUE(copy.ok()) << copy.status().message();
  EXPECT_THAT(ReadTestFile(copy->artifact_dir + "/artifact.json"),
              HasSubstr("\"work_tree\": \"copy\""));
  EXPECT_EQ(ReadTestFile(copy->artifact_dir + "/vmlinuz"),
            ReadTestFile(overlay->artifact_dir + "/vmlinuz"));
  EXPECT_EQ(PristineFingerprint(), before);
  if (::geteuid() == 0) {
    EXPECT_THAT(ReadTestFile(overlay->artifact_dir + "/artifact.json"),
                HasSubstr("\"work_tree\": \"overlay\""));
  }
}

TEST_F(KernelBuilderTest, LegacyTreesBuildInPlaceWithDepAndOldconfig) {
  testing::WriteFakeLegacyTree(dir_.Sub("old/linux-2.4.26"));
  std::string sha =
      testing::MakeTarball(dir_.Sub("old/linux-2.4.26"), dir_.Sub("linux-2.4.26.tar.xz"));
  auto recipe = ParseKernelRecipe(
      "name: om\nversion: \"2.4.26\"\nsource: {tarball: ../linux-2.4.26.tar.xz, sha256: " + sha +
          "}\nconfig:\n  base: defconfig\n  required: {CONFIG_MOSIX: y, CONFIG_MOSIX_DISCLOSURE: "
          "1}\n"
          "build:\n  pre_steps: [dep]\n  toolchain: {cc: gcc, arch: i386}\n",
      dir_.Sub("recipes/om.yaml"));
  ASSERT_TRUE(recipe.ok()) << recipe.status().message();
  auto result = Build(*recipe);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_THAT(runner_.make_calls,
              ::testing::ElementsAre("oldconfig", "dep", "bzImage modules", "modules_install"));
  for (const auto& call : runner_.calls) {
    EXPECT_EQ(call.find(" O="), std::string::npos) << "2.4 builds in the tree: " << call;
  }
  EXPECT_THAT(ReadTestFile(result->artifact_dir + "/config"),
              AllOf(HasSubstr("CONFIG_MOSIX=y"), HasSubstr("CONFIG_MOSIX_DISCLOSURE=1"),
                    HasSubstr("CONFIG_MODULES=y")));
  EXPECT_TRUE(
      std::filesystem::exists(result->artifact_dir + "/modules/lib/modules/2.4.26/modules.dep"));
  EXPECT_THAT(ReadTestFile(result->artifact_dir + "/artifact.json"),
              HasSubstr("\"kernel_release\": \"2.4.26\""));

  // A missing openMosix option is explained from Config.in.
  auto missing = ParseKernelRecipe(
      "name: om\nversion: \"2.4.26\"\nsource: {tarball: ../linux-2.4.26.tar.xz, sha256: " + sha +
          "}\nconfig:\n  base: defconfig\n  required: {CONFIG_MOSIX_DFSA: y}\n"
          "build: {toolchain: {arch: i386}}\n",
      dir_.Sub("recipes/om.yaml"));
  auto refused = Build(*missing);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("CONFIG_MOSIX_DFSA (recipe line 6) does not "
                                                    "exist in this tree"));
}

TEST_F(KernelBuilderTest, ModulesWithoutDepmodFailAndStoreNothing) {
  testing::WriteFakeLegacyTree(dir_.Sub("old/linux-2.4.26"));
  std::string sha =
      testing::MakeTarball(dir_.Sub("old/linux-2.4.26"), dir_.Sub("linux-2.4.26.tar.xz"));
  auto recipe = ParseKernelRecipe(
      "name: om\nversion: \"2.4.26\"\nsource: {tarball: ../linux-2.4.26.tar.xz, sha256: " + sha +
          "}\nconfig:\n  base: defconfig\n  required: {CONFIG_MOSIX: y}\n"
          "build:\n  pre_steps: [dep]\n  toolchain: {cc: gcc, arch: i386}\n",
      dir_.Sub("recipes/om.yaml"));
  ASSERT_TRUE(recipe.ok()) << recipe.status().message();
  runner_.depmod = false;
  auto result = Build(*recipe);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr("modules.dep"), HasSubstr("install the kmod package")));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("state/kernels/om")));
}

TEST_F(KernelBuilderTest, CheckReportsEveryProblemWithoutBuilding) {
  KernelRecipe recipe = Recipe(RecipeText(kRequired, "2.4.26", std::string(64, '0')));
  recipe.patches.push_back(recipe.patches[0]);
  recipe.patches[1].path = dir_.Sub("recipes/patches/missing.patch");
  recipe.patches[1].file = "patches/missing.patch";
  auto problems = CheckRecipeInputs(recipe, &runner_);
  std::string all;
  for (const auto& problem : problems) all += problem + "\n";
  EXPECT_THAT(all, AllOf(HasSubstr("source.sha256 is the all-zero placeholder"),
                         HasSubstr("missing.patch not found"), HasSubstr("is for linux 2.4.26")));
  EXPECT_FALSE(RanTar());
  EXPECT_THAT(CheckRecipeInputs(Recipe(RecipeText(kRequired)), &runner_), IsEmpty());
}

}  // namespace
}  // namespace gc
