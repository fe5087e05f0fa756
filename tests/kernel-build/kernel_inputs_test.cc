#include "kernel-build/kernel_inputs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

namespace gc {
namespace {

using ::testing::HasSubstr;

KernelRecipe Recipe() {
  auto recipe = ParseKernelRecipe(R"(name: om
version: "6.1.176"
source: {tarball: l.tar.xz, sha256: 9aad4025973feea3f0d978e82ab7db97d8d5ce3f59fcc6b1f316153d66e3a504}
patches:
  - {file: a.patch, sha256: 1111111111111111111111111111111111111111111111111111111111111111, for: "6.1"}
config:
  base: tinyconfig
  required: {CONFIG_PCI: y, CONFIG_E1000: y, CONFIG_LOG_BUF_SHIFT: 17}
)",
                                  "/r/om.yaml");
  EXPECT_TRUE(recipe.ok()) << recipe.status().message();
  return *recipe;
}

KernelInputs Inputs(const KernelRecipe& recipe) {
  KernelInputs inputs = InputsFromRecipe(recipe);
  inputs.cc_version = "gcc (Debian 12.2.0-14) 12.2.0";
  inputs.make_version = "GNU Make 4.3";
  return inputs;
}

TEST(KernelInputsTest, KeyIsStableAndIgnoresTheResolvedConfig) {
  KernelInputs a = Inputs(Recipe());
  KernelInputs b = Inputs(Recipe());
  EXPECT_EQ(a.Key(), b.Key());
  EXPECT_EQ(a.Key().size(), 64u);
  b.resolved_config_sha256 = "abc";
  EXPECT_EQ(a.Key(), b.Key());
  EXPECT_THAT(a.Canonical(), HasSubstr("required CONFIG_E1000=y\nrequired CONFIG_LOG_BUF_SHIFT=17\n"
                                       "required CONFIG_PCI=y\n"));
  // The order of required options in the recipe does not matter.
  KernelRecipe reordered = Recipe();
  std::swap(reordered.required[0], reordered.required[2]);
  EXPECT_EQ(Inputs(reordered).Key(), a.Key());
  EXPECT_EQ(a.ToJson()["inputs_key"], a.Key());
}

TEST(KernelInputsTest, EveryInputChangesTheKey) {
  const std::string base = Inputs(Recipe()).Key();
  std::vector<std::pair<const char*, std::function<void(KernelInputs*)>>> changes = {
      {"source", [](KernelInputs* i) { i->source_sha256[0] = 'f'; }},
      {"source kind", [](KernelInputs* i) { i->source_kind = "tree"; }},
      {"patch", [](KernelInputs* i) { i->patch_sha256[0][0] = '2'; }},
      {"patch added", [](KernelInputs* i) { i->patch_sha256.push_back(std::string(64, '3')); }},
      {"base", [](KernelInputs* i) { i->base_config = "defconfig"; }},
      {"required value", [](KernelInputs* i) { i->required[1] = "CONFIG_LOG_BUF_SHIFT=18"; }},
      {"compiler", [](KernelInputs* i) { i->cc_version = "gcc 13"; }},
      {"make", [](KernelInputs* i) { i->make_version = "GNU Make 4.4"; }},
      {"arch", [](KernelInputs* i) { i->arch = "i386"; }},
      {"target", [](KernelInputs* i) { i->targets.push_back("vmlinux"); }},
      {"pre step", [](KernelInputs* i) { i->pre_steps.push_back("dep"); }},
      {"timestamp", [](KernelInputs* i) { i->reproducible.timestamp = "2025-01-01 00:00:00 UTC"; }},
      {"user", [](KernelInputs* i) { i->reproducible.user = "root"; }},
      {"host", [](KernelInputs* i) { i->reproducible.host = "vm"; }},
      {"build version", [](KernelInputs* i) { i->reproducible.build_version = "2"; }},
  };
  for (const auto& [what, change] : changes) {
    KernelInputs inputs = Inputs(Recipe());
    change(&inputs);
    EXPECT_NE(inputs.Key(), base) << what;
  }
}

}  // namespace
}  // namespace gc
