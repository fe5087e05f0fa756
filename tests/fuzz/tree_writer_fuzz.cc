// Fuzzes WriteTree (common/tree_writer.h) with a hostile manifest: the
// installer and updateclient write what the server's manifest says onto a
// node's file system, so no manifest may make them touch anything outside
// the root: not through "..", absolute paths, a symlink it made itself
// ("lib -> /", then "lib/x"), a hardlink to a file outside, or a directory
// swapped for a link. The input is a manifest (the text format of
// common/manifest.h) without its trailer line, which the fuzzer adds (a
// mutation would otherwise almost never get past its checksum); the
// objects it may name are those of kObjects, as in the seeds in
// tests/fuzz/corpus/tree_writer_fuzz/. Each input is written
// into an empty root beside a directory "outside" holding a sentinel file.
// Never crash or throw; invariants, whether WriteTree succeeds or fails:
// - the root's parent holds exactly the root and "outside", and "outside"
//   exactly its sentinel, unchanged;
// - an error is a Status naming the entry's path, never an exception.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/hash.h"
#include "common/manifest.h"
#include "common/tree_writer.h"
#include "tests/testing/memory_object_source.h"

namespace {

namespace fs = std::filesystem;

constexpr const char* kObjects[] = {"", "abc", "golden\n", "#!/bin/sh\necho hello\n"};

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "tree_writer_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::string Listing(const fs::path& dir) {
  std::string out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    out += entry.path().filename().string() + "\n";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (text.empty() || text.back() != '\n') text += '\n';
  size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  text += "end " + std::to_string(lines - 1) + " " + gc::Sha256Hex(text) + "\n";
  gc::Result<gc::Manifest> manifest = gc::ParseManifest(text, "fuzz");
  if (!manifest.ok()) return 0;
  // Removed at exit, so no replay or fuzz run leaves it behind.
  struct TempBase {
    fs::path path;
    TempBase() {
      char dir[] = "/tmp/tree_writer_fuzz.XXXXXX";
      if (::mkdtemp(dir) == nullptr) Fail("mkdtemp", "");
      path = dir;
      fs::create_directory(path / "outside");
      if (!gc::Env::Default()->WriteFile((path / "outside/sentinel").string(), "keep").ok()) {
        Fail("sentinel", "");
      }
    }
    ~TempBase() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const TempBase temp;
  const fs::path& base = temp.path;
  static gc::testing::MemorySource source = [] {
    gc::testing::MemorySource s;
    for (const char* object : kObjects) s.Add(object);
    return s;
  }();
  source.calls.clear();
  fs::path root = base / "root";
  std::error_code ec;
  fs::remove_all(root, ec);
  fs::create_directory(root);
  gc::TreeWriteOptions options;
  options.preserve_ownership = false;
  options.set_xattrs = false;
  gc::Result<gc::TreeWriteStats> written =
      gc::WriteTree(*manifest, root.string(), &source, options);
  (void)written;
  std::string parent = Listing(base);
  if (parent != "outside\nroot\n" && parent != "root\noutside\n")
    Fail("something left the root", parent);
  if (Listing(base / "outside") != "sentinel\n") Fail("outside changed", Listing(base / "outside"));
  auto sentinel = gc::Env::Default()->ReadFile((base / "outside/sentinel").string());
  if (!sentinel.ok() || *sentinel != "keep") Fail("the sentinel changed", "");
  // Directories may have been left 0700 or read-only; make them removable.
  for (auto it = fs::recursive_directory_iterator(
           root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
  }
  fs::remove_all(root, ec);
  return 0;
}
