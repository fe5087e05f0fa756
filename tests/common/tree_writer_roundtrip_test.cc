// WriteTree against the walker: a real tree walked into a manifest (as a
// capture makes it), written elsewhere from an ObjectSource that reads the
// original files, and walked again gives the same manifest.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/fs_walk.h"
#include "common/hash.h"
#include "common/manifest.h"
#include "common/tree_writer.h"
#include "common/unique_fd.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/xattr_values.h"

namespace gc {
namespace {

using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;

#define ASSERT_SYS(expr) ASSERT_EQ((expr), 0) << #expr << ": " << std::strerror(errno)

constexpr int64_t kSecond = 1'000'000'000;
constexpr uint64_t kMiB = 1024 * 1024;

// Objects are the files of a tree, found by hash and streamed from disk in
// blocks, the way the capture service serves them.
class DirSource : public ObjectSource {
 public:
  explicit DirSource(std::string root) : root_(std::move(root)) {}

  Status Fetch(const std::vector<std::string>& hashes,
               const ObjectStreamDecoder::Callbacks& callbacks) override {
    for (const std::string& hash : hashes) {
      auto it = paths.find(hash);
      if (it == paths.end()) return NotFound("object " + hash);
      const std::string path = root_ + "/" + it->second;
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      struct stat st;
      if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return ErrnoError(path);
      GC_RETURN_IF_ERROR(callbacks.begin(hash, static_cast<uint64_t>(st.st_size)));
      std::string block(65536, '\0');
      for (;;) {
        ssize_t n = ::read(fd.get(), block.data(), block.size());
        if (n < 0) return ErrnoError(path);
        if (n == 0) break;
        GC_RETURN_IF_ERROR(callbacks.data(std::string_view(block.data(), static_cast<size_t>(n))));
      }
      GC_RETURN_IF_ERROR(callbacks.end());
      ++fetched;
    }
    return Status::Ok();
  }

  std::map<std::string, std::string> paths;  // hash -> path in the tree
  size_t fetched = 0;

 private:
  std::string root_;
};

// Walks `root` into a manifest with hashes (a hardlink takes its target's);
// registers the files with `source` if given.
Manifest Walk(const std::string& root, DirSource* source) {
  Manifest m;
  std::map<std::string, std::string> hashes;
  Status walked = WalkTree(root, {}, [&](WalkedEntry&& w) {
    Entry& e = w.entry;
    if (e.type == EntryType::kFile) {
      Result<std::string> hash = Sha256File(root + "/" + e.path);
      if (!hash.ok()) return hash.status();
      e.hash = *hash;
      if (source != nullptr && e.size > 0) source->paths.emplace(e.hash, e.path);
      hashes[e.path] = e.hash;
    } else if (e.type == EntryType::kHardlink) {
      e.hash = hashes[e.target];
    }
    m.entries.push_back(std::move(e));
    return Status::Ok();
  });
  EXPECT_TRUE(walked.ok()) << walked.message();
  return m;
}

// A real tree walked into a manifest, written elsewhere and walked again
// gives the same manifest.
TEST(TreeWriterRoundTripTest, WalkWriteWalkGivesTheSameManifest) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (ownership, device nodes)";
  TempDir src_dir;
  const std::string src = src_dir.Sub("tree");
  auto at = [&src](const std::string& p) { return src + "/" + p; };
  ASSERT_SYS(::mkdir(src.c_str(), 0755));
  for (const auto& [path, mode] : std::vector<std::pair<std::string, mode_t>>{
           {"etc", 0755}, {"bin", 0755}, {"tmp", 01777}, {"private", 0700}, {"private/ro", 0555}}) {
    ASSERT_SYS(::mkdir(at(path).c_str(), 0700));
    ASSERT_SYS(::chmod(at(path).c_str(), mode));
  }
  for (const auto& [path, content, mode] :
       std::vector<std::tuple<std::string, std::string, mode_t>>{
           {"etc/passwd", "root:x:0:0\n", 0644},
           {"etc/copy", "root:x:0:0\n", 0600},  // same content
           {"etc/empty", "", 0644},
           {"etc/acl", "acl", 0640},
           {"bin/su", "#!/bin/sh\nexit 0\n", 04755},
           {"bin/ping", "ELF", 0755},
           {"private/f", "private", 0400}}) {
    WriteTestFile(at(path), content);
    ASSERT_SYS(::chmod(at(path).c_str(), mode));
  }
  ASSERT_SYS(::lchown(at("etc/copy").c_str(), 12, 34));
  const std::string cap = testing::NetRawCapabilityXattr();
  ASSERT_SYS(::lsetxattr(at("bin/ping").c_str(), "security.capability", cap.data(), cap.size(), 0));
  ASSERT_SYS(::link(at("bin/su").c_str(), at("bin/su2").c_str()));
  ASSERT_SYS(::symlink("../etc/passwd", at("bin/pw").c_str()));
  ASSERT_SYS(::lchown(at("bin/pw").c_str(), 5, 6));
  ASSERT_SYS(::symlink("/nowhere", at("dangling").c_str()));
  ASSERT_SYS(::lsetxattr(at("tmp").c_str(), "user.note", "t", 1, 0));
  const std::string acl =
      testing::AclXattr({{0x01, 6}, {0x02, 7, 1234}, {0x04, 4}, {0x10, 5}, {0x20, 0}});
  ASSERT_SYS(
      ::lsetxattr(at("etc/acl").c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0));
  ASSERT_SYS(::lsetxattr(at("tmp").c_str(), "system.posix_acl_default", acl.data(), acl.size(), 0));
  ASSERT_SYS(::lsetxattr(at("private/f").c_str(), "user.a", "1", 1, 0));
  ASSERT_SYS(::mknod(at("null").c_str(), S_IFCHR | 0666, makedev(1, 3)));
  ASSERT_SYS(::chmod(at("null").c_str(), 0666));
  ASSERT_SYS(::mknod(at("sda").c_str(), S_IFBLK | 0660, makedev(8, 0)));
  ASSERT_SYS(::mkfifo(at("fifo").c_str(), 0644));
  ASSERT_SYS(::chmod(at("fifo").c_str(), 0644));
  {
    UniqueFd fd(::open(at("sparse").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_SYS(::ftruncate(fd.get(), 8 * kMiB));
    std::string block(4096, 'S');
    ASSERT_EQ(::pwrite(fd.get(), block.data(), block.size(), 3 * kMiB), 4096);
  }
  {
    UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(at("sock").size(), sizeof(addr.sun_path));
    std::strcpy(addr.sun_path, at("sock").c_str());
    ASSERT_SYS(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)));
  }
  // Times last, directories after their contents.
  int64_t t = 1'500'000'000 * kSecond;
  for (const char* p : {"etc/passwd", "etc/acl", "etc/copy", "etc/empty", "bin/su", "bin/ping",
                        "bin/pw", "dangling", "private/f", "null", "sda", "fifo", "sparse",
                        "private/ro", "private", "tmp", "bin", "etc", ""}) {
    t += 777'777'777;
    struct timespec times[2] = {{0, UTIME_OMIT}, {t / kSecond, t % kSecond}};
    ASSERT_SYS(::utimensat(AT_FDCWD, at(p).c_str(), times, AT_SYMLINK_NOFOLLOW));
  }

  // Manifest and objects the way a capture makes them.
  DirSource source(src);
  Manifest original = Walk(src, &source);
  ASSERT_TRUE(ValidateManifest(original).ok()) << ValidateManifest(original).message();
  // The walk saw what this test is about.
  std::map<std::string, Entry> by_path;
  for (const Entry& e : original.entries) by_path[e.path] = e;
  EXPECT_FALSE(by_path["sparse"].data_extents.empty());
  EXPECT_EQ(by_path["bin/su2"].type, EntryType::kHardlink);
  EXPECT_EQ(by_path["sock"].type, EntryType::kSocket);
  EXPECT_EQ(by_path["etc/acl"].xattrs.size(), 1u);
  EXPECT_EQ(by_path["tmp"].xattrs.size(), 2u);
  EXPECT_EQ(by_path["bin/ping"].xattrs.size(), 1u);

  for (bool openat2 : {true, false}) {
    TempDir target;
    TreeWriteOptions options;
    options.use_openat2 = openat2;
    auto stats = WriteTree(original, target.path(), &source, options);
    ASSERT_TRUE(stats.ok()) << stats.status().message();
    EXPECT_EQ(source.fetched, source.paths.size() * (openat2 ? 1 : 2)) << "each object once";
    Manifest copy = Walk(target.path(), nullptr);
    Manifest expected = original;
    std::erase_if(expected.entries, [](const Entry& e) { return e.type == EntryType::kSocket; });
    ASSERT_EQ(copy.entries.size(), expected.entries.size());
    for (size_t i = 0; i < copy.entries.size(); ++i) {
      EXPECT_EQ(copy.entries[i], expected.entries[i]) << expected.entries[i].path;
    }
    EXPECT_EQ(stats->entries, expected.entries.size());
  }
}

}  // namespace
}  // namespace gc
