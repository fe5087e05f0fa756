// KernelRecipe: how to build one cluster kernel from vanilla sources (the
// YAML format is documented in docs/kernel-build.md and profiles/kernels/).
// Loading only parses and validates the text: whether the files it names
// exist and match their hashes is checked by kernel-build (CheckRecipeInputs),
// because profiles/ does no I/O beyond reading the recipe itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace gc {

// What a required option must resolve to in the final .config.
enum class RequiredKind {
  kBuiltIn,  // y
  kOff,      // n: "# CONFIG_X is not set" or absent
  kModule,   // m
  kNumber,   // int or hex symbols: 17, 0x10
  kString,   // a quoted YAML scalar: "text"
};

struct RequiredOption {
  std::string name;  // "CONFIG_MOSIX"
  RequiredKind kind = RequiredKind::kBuiltIn;
  std::string value;  // "y", "n", "m", "17", or the string without quotes
  int line = 0;       // 1-based line in the recipe, for messages

  // The line as Kconfig writes it: CONFIG_X=y, CONFIG_X="s", # CONFIG_X is not set.
  std::string ConfigLine() const;
  // What the recipe asks for, for messages: =y, =n, ="s".
  std::string Describe() const;
};

struct RecipePatch {
  std::string file;  // as written in the recipe
  std::string path;  // resolved: absolute, or relative to the recipe's directory
  std::string sha256;
  std::string for_version;  // "6.1.176" (exact) or "6.1" (any 6.1.x)
  int line = 0;
};

struct RecipeSource {
  std::string tarball;    // resolved path; empty when `url` is used
  std::string url;        // fetched into the build cache
  std::string sha256;     // of the tarball as downloaded (compressed)
  std::string signature;  // resolved path of a detached signature, optional
  std::string keyring;    // resolved path of the gpgv keyring (with signature)
  int line = 0;
};

enum class BaseConfigKind { kDefconfig, kTinyconfig, kAllnoconfig, kFile };

struct BaseConfig {
  BaseConfigKind kind = BaseConfigKind::kDefconfig;
  std::string file;              // resolved path when kind == kFile
  std::string ToString() const;  // "tinyconfig", "file:PATH"
};

struct Toolchain {
  std::string cc = "gcc";
  std::string make = "make";
  std::string arch = "x86_64";
};

struct ReproducibleSettings {
  std::string timestamp = "2024-01-01 00:00:00 UTC";  // KBUILD_BUILD_TIMESTAMP
  int64_t source_date_epoch = 1704067200;             // derived from timestamp
  std::string user = "goldcast";                      // KBUILD_BUILD_USER
  std::string host = "goldcast-build";                // KBUILD_BUILD_HOST
  std::string build_version = "1";                    // KBUILD_BUILD_VERSION (#N)
};

struct BuildSettings {
  std::vector<std::string> targets;    // default: the arch's boot image (bzImage on x86)
  std::vector<std::string> pre_steps;  // make targets run first (2.4 trees need "dep")
  Toolchain toolchain;
  ReproducibleSettings reproducible;
};

struct KernelRecipe {
  std::string path;  // the recipe file
  std::string dir;   // its directory: relative paths in the recipe start here
  std::string name;
  std::string version;       // VERSION.PATCHLEVEL.SUBLEVEL of the vanilla tree
  std::string extraversion;  // EXTRAVERSION of the vanilla tree ("" for releases)
  RecipeSource source;
  std::vector<RecipePatch> patches;
  BaseConfig base;
  std::vector<RequiredOption> required;  // in recipe order, names unique
  BuildSettings build;
};

// Parses recipe text. `path` names the file in messages and anchors relative
// paths. Every error is "PATH:LINE:COL: a.b: problem (what is expected)",
// the format of the cluster profile too (profiles/yaml_reader.h).
Result<KernelRecipe> ParseKernelRecipe(std::string_view text, const std::string& path);
Result<KernelRecipe> LoadKernelRecipe(const std::string& path, Env* env = Env::Default());

// A kernel version as three numbers; accepts "6.1.176" and "2.4.26".
struct KernelVersion {
  int major = 0, minor = 0, sub = 0;
  std::string ToString() const;
  bool operator==(const KernelVersion&) const = default;
};
bool ParseKernelVersion(std::string_view text, KernelVersion* out);
// True when a patch declared `for` `pattern` ("6.1.176" exactly, or "6.1"
// for any 6.1.x) fits a tree of version `version`.
bool PatchVersionMatches(std::string_view pattern, const KernelVersion& version);
// Trees before 2.6 have no O= builds, no olddefconfig and need `make dep`.
bool IsLegacyKernel(const KernelVersion& version);

// The all-zero hash recipes ship as a placeholder where the real value can
// only come from the admin's verified copy (see profiles/kernels/README.md).
bool IsPlaceholderHash(std::string_view sha256);

}  // namespace gc
