// The vanilla source: verifying a tarball against the recipe's SHA-256 (and
// optionally a detached signature), fetching it from a URL, unpacking it once
// into a cache of PRISTINE trees keyed by that hash, and judging an unpacked
// tree given with --source-tree (distro-patched trees are refused).
#pragma once

#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "profiles/kernel_recipe.h"

namespace gc {

struct TreeVersion {
  KernelVersion version;
  std::string extraversion;  // "" for releases, "-rc3", "-om1"
  std::string ToString() const { return version.ToString() + extraversion; }
};

// Reads VERSION, PATCHLEVEL, SUBLEVEL and EXTRAVERSION from the top Makefile.
Result<TreeVersion> ReadTreeVersion(const std::string& tree, Env* env = Env::Default());

// Signs that a tree is not the vanilla release the recipe declares: distro
// packaging (debian/, redhat/...), quilt state (.pc/, series), localversion
// files, an EXTRAVERSION the recipe did not declare, and the marks of
// Debian's own patches. Each entry says what was found and where.
std::vector<std::string> FindNonVanillaSigns(const std::string& tree, const TreeVersion& version,
                                             const std::string& declared_extraversion,
                                             Env* env = Env::Default());

// NotFound naming the file when missing; Corrupt "not the vanilla source you
// declared" naming both hashes when it differs.
Status VerifyTarballHash(const std::string& path, const std::string& expected_sha256);

// `gpgv --keyring KEYRING SIGNATURE TARBALL`. kernel.org signs the
// uncompressed .tar, so a `.tar.sign` over a .tar.xz/.gz/.bz2 is checked
// against the decompressed stream.
Status VerifySignature(ProcessRunner* runner, const std::string& tarball,
                       const std::string& signature, const std::string& keyring);

// Downloads `url` (HttpClient) into CACHE/downloads/<sha256>/<name> unless a
// verified copy is there; the file must match `sha256` before it is kept.
Result<std::string> FetchTarball(const std::string& url, const std::string& sha256,
                                 const std::string& cache_dir, Env* env = Env::Default());

// A fingerprint of a tree's metadata (paths, types, modes, sizes, mtimes,
// link targets): cheap enough to check on every use, and it changes when
// anything edits, adds or removes a file.
Result<std::string> TreeFingerprint(const std::string& tree);

// SHA-256 over every path, mode, link target and file content of a tree:
// the identity of a --source-tree in the inputs key.
Result<std::string> TreeContentHash(const std::string& tree);

// CACHE/sources/<sha256>/{tree/,COMPLETE}: one unpacked vanilla tree per
// tarball hash, written once (temp dir + rename) and never modified; builds
// copy it. COMPLETE holds the tree's fingerprint: an entry without it
// (interrupted) or whose tree no longer matches it (modified) is unpacked
// again.
class SourceCache {
 public:
  SourceCache(std::string cache_dir, Env* env, ProcessRunner* runner);

  // The pristine tree for a tarball already verified to hash to `sha256`.
  Result<std::string> Pristine(const std::string& tarball, const std::string& sha256);

  std::string EntryDir(const std::string& sha256) const;
  std::string MarkerPath(const std::string& sha256) const { return EntryDir(sha256) + "/COMPLETE"; }

 private:
  Result<std::string> Unpack(const std::string& tarball, const std::string& sha256);

  std::string root_;  // CACHE/sources
  Env* env_;
  ProcessRunner* runner_;
};

}  // namespace gc
