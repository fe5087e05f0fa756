#include "profiles/kernel_recipe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace gc {
namespace {

using ::testing::HasSubstr;

const char kGood[] = R"(name: om-test
version: "6.1.176"
source:
  tarball: src/linux.tar.xz
  sha256: 9aad4025973feea3f0d978e82ab7db97d8d5ce3f59fcc6b1f316153d66e3a504
patches:
  - file: patches/0001.patch
    sha256: 2F73349CFC4630255319C6C8DFC1B46A8996ACE9D14D8E07563B165915918EC2
    for: "6.1"
  - file: /abs/0002.patch
    sha256: 2f73349cfc4630255319c6c8dfc1b46a8996ace9d14d8e07563b165915918ec2
    for: 6.1.176
config:
  base: tinyconfig
  required:
    CONFIG_MOSIX: y
    CONFIG_MOSIX_TOPOLOGY: n
    CONFIG_VIRTIO_NET: m
    CONFIG_LOG_BUF_SHIFT: 17
    CONFIG_PHYSICAL_START: 0x1000000
    CONFIG_LOCALVERSION: "-om \"1\""
    CONFIG_QUOTED_Y: "y"
build:
  targets: [bzImage]
  pre_steps: [dep]
  toolchain: {cc: gcc-12, make: make, arch: x86_64}
  reproducible:
    timestamp: "2024-02-01 12:00:00 UTC"
    user: builder
    host: cluster-build
    build_version: 7
)";

Result<KernelRecipe> Parse(const std::string& text) {
  return ParseKernelRecipe(text, "/etc/goldcast/kernels/om.yaml");
}

TEST(KernelRecipeTest, ParsesEveryField) {
  auto recipe = Parse(kGood);
  ASSERT_TRUE(recipe.ok()) << recipe.status().message();
  EXPECT_EQ(recipe->name, "om-test");
  EXPECT_EQ(recipe->version, "6.1.176");
  EXPECT_EQ(recipe->dir, "/etc/goldcast/kernels");
  EXPECT_EQ(recipe->source.tarball, "/etc/goldcast/kernels/src/linux.tar.xz");
  ASSERT_EQ(recipe->patches.size(), 2u);
  EXPECT_EQ(recipe->patches[0].path, "/etc/goldcast/kernels/patches/0001.patch");
  EXPECT_EQ(recipe->patches[0].sha256,  // upper case is normalised
            "2f73349cfc4630255319c6c8dfc1b46a8996ace9d14d8e07563b165915918ec2");
  EXPECT_EQ(recipe->patches[0].line, 7);
  EXPECT_EQ(recipe->patches[1].path, "/abs/0002.patch");
  EXPECT_EQ(recipe->patches[1].for_version, "6.1.176");
  EXPECT_EQ(recipe->base.kind, BaseConfigKind::kTinyconfig);
  ASSERT_EQ(recipe->required.size(), 7u);
  EXPECT_EQ(recipe->required[0].ConfigLine(), "CONFIG_MOSIX=y");
  EXPECT_EQ(recipe->required[1].ConfigLine(), "# CONFIG_MOSIX_TOPOLOGY is not set");
  EXPECT_EQ(recipe->required[2].kind, RequiredKind::kModule);
  EXPECT_EQ(recipe->required[3].kind, RequiredKind::kNumber);
  EXPECT_EQ(recipe->required[4].ConfigLine(), "CONFIG_PHYSICAL_START=0x1000000");
  EXPECT_EQ(recipe->required[5].kind, RequiredKind::kString);
  EXPECT_EQ(recipe->required[5].ConfigLine(), "CONFIG_LOCALVERSION=\"-om \\\"1\\\"\"");
  // A quoted "y" is a string, not the tristate y.
  EXPECT_EQ(recipe->required[6].kind, RequiredKind::kString);
  EXPECT_EQ(recipe->build.pre_steps, std::vector<std::string>{"dep"});
  EXPECT_EQ(recipe->build.toolchain.cc, "gcc-12");
  EXPECT_EQ(recipe->build.reproducible.source_date_epoch, 1706788800);
  EXPECT_EQ(recipe->build.reproducible.build_version, "7");
}

TEST(KernelRecipeTest, DefaultsForAMinimalRecipe) {
  auto recipe = Parse(R"(name: tiny
version: 2.4.26
source: {tarball: /k.tar.bz2, sha256: 0000000000000000000000000000000000000000000000000000000000000000}
config: {base: {file: om.config}}
)");
  ASSERT_TRUE(recipe.ok()) << recipe.status().message();
  EXPECT_EQ(recipe->build.targets, std::vector<std::string>{"bzImage"});
  EXPECT_EQ(recipe->build.toolchain.arch, "x86_64");
  EXPECT_EQ(recipe->build.reproducible.timestamp, "2024-01-01 00:00:00 UTC");
  EXPECT_EQ(recipe->build.reproducible.source_date_epoch, 1704067200);
  EXPECT_EQ(recipe->base.kind, BaseConfigKind::kFile);
  EXPECT_EQ(recipe->base.file, "/etc/goldcast/kernels/om.config");
  EXPECT_TRUE(recipe->patches.empty());
  EXPECT_TRUE(IsPlaceholderHash(recipe->source.sha256));
}

// Each error names file:line:column and the field, and says what is expected.
struct ErrorCase {
  const char* what;
  std::string from, to;  // replace in kGood
  const char* location;  // "FILE:LINE:COL: FIELD: "
  const char* expected;
};

class KernelRecipeErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(KernelRecipeErrorTest, NamesPositionFieldAndExpectation) {
  const ErrorCase& c = GetParam();
  std::string text = kGood;
  size_t pos = text.find(c.from);
  ASSERT_NE(pos, std::string::npos) << c.from;
  text.replace(pos, c.from.size(), c.to);
  auto recipe = Parse(text);
  ASSERT_FALSE(recipe.ok()) << c.what;
  EXPECT_EQ(recipe.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(recipe.status().message(), HasSubstr(c.location)) << c.what;
  EXPECT_THAT(recipe.status().message(), HasSubstr(c.expected)) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, KernelRecipeErrorTest,
    ::testing::Values(
        ErrorCase{"unknown top key", "name: om-test", "name: om-test\nflavour: x",
                  "om.yaml:2:1: flavour: ", "unknown key (allowed: name, version,"},
        ErrorCase{"unknown nested key", "  pre_steps: [dep]", "  pre_step: [dep]",
                  "om.yaml:25:3: build.pre_step: ", "unknown key (allowed: targets, pre_steps"},
        ErrorCase{"wrong type: a patch is a scalar", "  - file: patches/0001.patch",
                  "  - just-a-string\n  - file: patches/0001.patch", "om.yaml:7:5: patches[0]: ",
                  "expected a map (with keys file, sha256, for), got a single value"},
        ErrorCase{"wrong type: base is a list", "base: tinyconfig", "base: [tinyconfig]",
                  "om.yaml:14:9: config.base: ",
                  "expected defconfig, tinyconfig, allnoconfig or {file: PATH}, got a list"},
        ErrorCase{"wrong type: targets scalar", "targets: [bzImage]", "targets: bzImage",
                  "om.yaml:24:12: build.targets: ",
                  "expected a list of make targets, got a single value"},
        // A missing key points at its section's own key, as in the cluster profile.
        ErrorCase{"missing sha256",
                  "  sha256: 9aad4025973feea3f0d978e82ab7db97d8d5ce3f59fcc6b1f316153d66e3a504\n",
                  "", "om.yaml:3:1: source.sha256: ", "missing (required: the SHA-256"},
        ErrorCase{"missing top field", "name: om-test\n", "", "om.yaml:1:1: name: ", "missing"},
        ErrorCase{"missing for", "    for: \"6.1\"\n", "",
                  "om.yaml:7:5: patches[0].for: ", "the kernel version the patch is for"},
        ErrorCase{"bad sha256 format",
                  "9aad4025973feea3f0d978e82ab7db97d8d5ce3f59fcc6b1f316153d66e3a504", "9aad40",
                  "om.yaml:5:11: source.sha256: ", "64 hex digits"},
        ErrorCase{"bad sha256 chars",
                  "2f73349cfc4630255319c6c8dfc1b46a8996ace9d14d8e07563b165915918ec2",
                  "zz73349cfc4630255319c6c8dfc1b46a8996ace9d14d8e07563b165915918ec2",
                  "om.yaml:11:13: patches[1].sha256: ", "64 hex digits"},
        ErrorCase{"bad version", "version: \"6.1.176\"", "version: \"6.1\"",
                  "om.yaml:2:10: version: ", "VERSION.PATCHLEVEL.SUBLEVEL"},
        ErrorCase{"bad for", "for: 6.1.176", "for: six",
                  "om.yaml:12:10: patches[1].for: ", "\"2.4.26\""},
        ErrorCase{"bad base", "base: tinyconfig", "base: smallconfig",
                  "om.yaml:14:9: config.base: ", "defconfig, tinyconfig, allnoconfig"},
        ErrorCase{"yes instead of y", "CONFIG_MOSIX: y", "CONFIG_MOSIX: yes",
                  "om.yaml:16:19: config.required.CONFIG_MOSIX: ", "(write y)"},
        ErrorCase{"missing value", "CONFIG_MOSIX: y",
                  "CONFIG_MOSIX:", "om.yaml:16:5: config.required.CONFIG_MOSIX: ", "missing value"},
        ErrorCase{"bad option name", "CONFIG_MOSIX: y", "MOSIX: y",
                  "om.yaml:16:5: config.required.MOSIX: ", "CONFIG_ then capitals"},
        ErrorCase{"duplicate option", "CONFIG_MOSIX_TOPOLOGY: n", "CONFIG_MOSIX: n",
                  "om.yaml:17:5: config.required.CONFIG_MOSIX: ",
                  "duplicate key (first at line 16; keep one)"},
        ErrorCase{"tarball and url", "  tarball: src/linux.tar.xz",
                  "  tarball: src/linux.tar.xz\n  url: https://x/y.tar.xz",
                  "om.yaml:4:3: source: ", "exactly one of 'tarball'"},
        ErrorCase{"signature without keyring", "  tarball: src/linux.tar.xz",
                  "  tarball: src/linux.tar.xz\n  signature: l.sign",
                  "om.yaml:4:3: source: ", "'signature' and 'keyring' go together"},
        ErrorCase{"bad timestamp", "2024-02-01 12:00:00 UTC", "yesterday",
                  "om.yaml:28:16: build.reproducible.timestamp: ", "YYYY-MM-DD HH:MM:SS UTC"},
        ErrorCase{"target with a flag", "targets: [bzImage]", "targets: [-j99]",
                  "om.yaml:24:13: build.targets[0]: ", "no spaces"},
        ErrorCase{"cc with spaces", "cc: gcc-12", "cc: \"gcc; rm\"",
                  "om.yaml:26:19: build.toolchain.cc: ", "a compiler command"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) {
      std::string name;
      for (char c : std::string(info.param.what)) name += std::isalnum(c) ? c : '_';
      return name;
    });

TEST(KernelRecipeTest, InvalidYamlNamesThePosition) {
  auto recipe = Parse("name: [unclosed\nversion: 1\n");
  ASSERT_FALSE(recipe.ok());
  EXPECT_THAT(recipe.status().message(), HasSubstr("om.yaml:"));
  EXPECT_THAT(recipe.status().message(), HasSubstr("not valid YAML"));
}

TEST(KernelRecipeTest, EmptyAndNonMappingDocuments) {
  EXPECT_THAT(Parse("").status().message(),
              HasSubstr("om.yaml:1:1: the file is empty (expected a kernel recipe"));
  EXPECT_THAT(Parse("- a\n- b\n").status().message(),
              HasSubstr("om.yaml:1:1: expected a map (with keys name, version, extraversion, "
                        "source, patches, config, build), got a list"));
}

TEST(KernelRecipeTest, LoadNamesAMissingFile) {
  auto recipe = LoadKernelRecipe("/nonexistent/recipe.yaml");
  ASSERT_FALSE(recipe.ok());
  EXPECT_THAT(recipe.status().message(), HasSubstr("/nonexistent/recipe.yaml"));
}

TEST(KernelVersionTest, ParsingAndPatchMatching) {
  KernelVersion v;
  ASSERT_TRUE(ParseKernelVersion("6.1.176", &v));
  EXPECT_EQ(v.ToString(), "6.1.176");
  EXPECT_FALSE(ParseKernelVersion("6.1", &v));
  EXPECT_FALSE(ParseKernelVersion("6.1.176.1", &v));
  EXPECT_FALSE(ParseKernelVersion("6.x.1", &v));
  EXPECT_FALSE(ParseKernelVersion("", &v));
  ASSERT_TRUE(ParseKernelVersion("6.1.176", &v));
  EXPECT_TRUE(PatchVersionMatches("6.1.176", v));
  EXPECT_TRUE(PatchVersionMatches("6.1", v));
  EXPECT_FALSE(PatchVersionMatches("6.1.175", v));
  EXPECT_FALSE(PatchVersionMatches("2.4.26", v));
  EXPECT_FALSE(PatchVersionMatches("6.10", v));
  EXPECT_TRUE(IsLegacyKernel(KernelVersion{2, 4, 26}));
  EXPECT_FALSE(IsLegacyKernel(KernelVersion{2, 6, 0}));
  EXPECT_FALSE(IsLegacyKernel(v));
}

// The shipped recipes must at least parse (their inputs are checked by
// `goldcast kernel check`, which needs the downloaded files).
TEST(KernelRecipeTest, ShippedRecipesParse) {
  std::string dir = std::string(GC_SOURCE_DIR) + "/profiles/kernels";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    auto recipe = LoadKernelRecipe(entry.path().string());
    EXPECT_TRUE(recipe.ok()) << recipe.status().message();
    ++count;
  }
  EXPECT_GE(count, 2);
}

}  // namespace
}  // namespace gc
