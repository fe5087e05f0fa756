// Fuzzes ParseKernelRecipe: arbitrary bytes as a recipe must never crash,
// hang or throw. Invariants: an error message starts with "FILE:LINE:COL: "
// (so the admin sees where), and an accepted recipe is internally consistent
// (names valid, hashes 64 lowercase hex, every .config line well formed).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/hash.h"
#include "profiles/kernel_recipe.h"
#include "tests/fuzz/yaml_error_position.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "kernel_recipe_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void Check(std::string_view input) {
  auto recipe = gc::ParseKernelRecipe(input, "fuzz.yaml");
  if (!recipe.ok()) {
    if (!gc::fuzz::StartsWithPosition(recipe.status().message(), "fuzz.yaml")) {
      Fail("error message does not start with FILE:LINE:COL", recipe.status().message());
    }
    return;
  }
  if (recipe->name.empty() || recipe->name.size() > 64) Fail("bad name accepted", recipe->name);
  gc::KernelVersion version;
  if (!gc::ParseKernelVersion(recipe->version, &version)) {
    Fail("bad version accepted", recipe->version);
  }
  if (!gc::IsValidHashHex(recipe->source.sha256)) Fail("bad sha256", recipe->source.sha256);
  for (const auto& patch : recipe->patches) {
    if (!gc::IsValidHashHex(patch.sha256)) Fail("bad patch sha256", patch.sha256);
  }
  for (const auto& option : recipe->required) {
    std::string line = option.ConfigLine();
    if (line.find('\n') != std::string::npos) Fail("newline in a .config line", line);
    if (option.name.rfind("CONFIG_", 0) != 0) Fail("bad option name", option.name);
  }
  if (recipe->build.targets.empty()) Fail("no targets", recipe->name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
