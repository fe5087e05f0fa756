#include "common/fs_walk.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/manifest.h"
#include "common/unique_fd.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/xattr_values.h"

namespace gc {
namespace {

using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;

#define ASSERT_SYS(expr) ASSERT_EQ((expr), 0) << #expr << ": " << std::strerror(errno)

constexpr uint64_t kMiB = 1024 * 1024;
constexpr int64_t kSecond = 1'000'000'000;

std::vector<WalkedEntry> Walk(const std::string& root, const WalkOptions& options = {}) {
  std::vector<WalkedEntry> out;
  Status status = WalkTree(root, options, [&out](WalkedEntry&& e) {
    out.push_back(std::move(e));
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.message();
  return out;
}

std::vector<std::string> Paths(const std::vector<WalkedEntry>& entries) {
  std::vector<std::string> paths;
  for (const WalkedEntry& e : entries) paths.push_back(e.entry.path);
  return paths;
}

std::map<std::string, WalkedEntry> ByPath(const std::vector<WalkedEntry>& entries) {
  std::map<std::string, WalkedEntry> out;
  for (const WalkedEntry& e : entries) out.emplace(e.entry.path, e);
  return out;
}

void SetTimes(const std::string& path, int64_t mtime_ns) {
  struct timespec times[2];
  times[0] = {1'000'000, 0};  // atime: irrelevant
  times[1] = {static_cast<time_t>(mtime_ns / kSecond), static_cast<long>(mtime_ns % kSecond)};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0)
      << path << ": " << std::strerror(errno);
}

const std::string kAccessAcl =
    testing::AclXattr({{0x01, 6}, {0x02, 7, 1234}, {0x04, 4}, {0x10, 7}, {0x20, 4}});
const std::string kDefaultAcl =
    testing::AclXattr({{0x01, 7}, {0x02, 5, 1234}, {0x04, 5}, {0x10, 5}, {0x20, 0}});

class FsWalkKindsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.Sub("tree");
    ASSERT_SYS(::mkdir(root_.c_str(), 0755));
    ASSERT_SYS(::chmod(root_.c_str(), 0750));
    WriteTestFile(At("file"), "hello");
    ASSERT_SYS(::lchown(At("file").c_str(), 1234, 5678));
    ASSERT_SYS(::chmod(At("file").c_str(), 0640));
    WriteTestFile(At("empty"), "");
    ASSERT_SYS(::mkdir(At("sticky").c_str(), 0755));
    ASSERT_SYS(::chmod(At("sticky").c_str(), 01777));
    // chown clears setuid/setgid, so the mode is set after it.
    WriteTestFile(At("setuid"), "#!/bin/sh\n");
    ASSERT_SYS(::lchown(At("setuid").c_str(), 0, 5678));
    ASSERT_SYS(::chmod(At("setuid").c_str(), 04755));
    WriteTestFile(At("setgid"), "#!/bin/sh\n");
    ASSERT_SYS(::chmod(At("setgid").c_str(), 02755));
    ASSERT_SYS(::symlink("file", At("link-rel").c_str()));
    ASSERT_SYS(::symlink("/etc/passwd", At("link-abs").c_str()));
    ASSERT_SYS(::symlink("no/such/target", At("dangling").c_str()));
    ASSERT_SYS(::lchown(At("link-rel").c_str(), 1234, 5678));
    // Hardlinks: created as "two" first; "one" still comes first in order.
    WriteTestFile(At("hl/two"), "shared");
    ASSERT_SYS(::link(At("hl/two").c_str(), At("hl/one").c_str()));
    ASSERT_SYS(::link(At("hl/two").c_str(), At("hl/three").c_str()));
    ASSERT_SYS(::mknod(At("chr").c_str(), S_IFCHR | 0620, makedev(1, 3)));
    ASSERT_SYS(::mknod(At("blk").c_str(), S_IFBLK | 0660, makedev(7, 0)));
    // umask applies to mknod: set the wanted modes explicitly.
    ASSERT_SYS(::chmod(At("chr").c_str(), 0620));
    ASSERT_SYS(::chmod(At("blk").c_str(), 0660));
    ASSERT_SYS(::mkfifo(At("fifo").c_str(), 0600));
    {
      UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      ASSERT_TRUE(sock.valid());
      struct sockaddr_un addr {};
      addr.sun_family = AF_UNIX;
      ASSERT_LT(At("sock").size(), sizeof(addr.sun_path));
      std::strcpy(addr.sun_path, At("sock").c_str());
      ASSERT_SYS(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)));
    }
    ASSERT_SYS(::chmod(At("sock").c_str(), 0755));
    WriteTestFile(At("xattr-file"), "x");
    ASSERT_SYS(
        ::lsetxattr(At("xattr-file").c_str(), "user.blob", kBinary.data(), kBinary.size(), 0));
    ASSERT_SYS(::lsetxattr(At("xattr-file").c_str(), "user.a", "1", 1, 0));
    ASSERT_SYS(::lsetxattr(At("xattr-file").c_str(), "trusted.t", "", 0, 0));
    WriteTestFile(At("acl-file"), "acl");
    ASSERT_SYS(::chmod(At("acl-file").c_str(), 0644));
    ASSERT_SYS(::lsetxattr(At("acl-file").c_str(), "system.posix_acl_access", kAccessAcl.data(),
                           kAccessAcl.size(), 0));
    ASSERT_SYS(::mkdir(At("acl-dir").c_str(), 0755));
    ASSERT_SYS(::lsetxattr(At("acl-dir").c_str(), "system.posix_acl_default", kDefaultAcl.data(),
                           kDefaultAcl.size(), 0));
    WriteTestFile(At("cap-file"),
                  "\x7f"
                  "ELF");
    ASSERT_SYS(::chmod(At("cap-file").c_str(), 0755));
    const std::string cap = testing::NetRawCapabilityXattr();
    ASSERT_SYS(
        ::lsetxattr(At("cap-file").c_str(), "security.capability", cap.data(), cap.size(), 0));
    {
      UniqueFd fd(::open(At("sparse").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
      ASSERT_TRUE(fd.valid());
      ASSERT_SYS(::ftruncate(fd.get(), 10 * kMiB));
      std::string block(4096, 'S');
      ASSERT_EQ(::pwrite(fd.get(), block.data(), block.size(), 5 * kMiB), 4096);
    }
    {
      UniqueFd fd(::open(At("all-hole").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
      ASSERT_TRUE(fd.valid());
      ASSERT_SYS(::ftruncate(fd.get(), 1 * kMiB));
    }
    WriteTestFile(At("with space"), "s");
    WriteTestFile(At("new\nline"), "n");
    WriteTestFile(At("\xc3\xbcnicode-\xe2\x82\xac"), "u");  // "ünicode-€"
    // Times last: creating entries changes their directory's mtime.
    SetTimes(At("file"), 1'600'000'000 * kSecond + 123'456'789);
    SetTimes(At("link-rel"), 1'500'000'000 * kSecond + 987'654'321);
    SetTimes(At("sticky"), 1'400'000'000 * kSecond + 1);
    SetTimes(root_, 1'300'000'000 * kSecond + 999'999'999);
  }

  std::string At(const std::string& relative) const { return root_ + "/" + relative; }

  const std::string kBinary = std::string("\0\x01\xff\n=,bin", 9);
  TempDir dir_;
  std::string root_;
};

TEST_F(FsWalkKindsTest, OrderAndPaths) {
  std::vector<WalkedEntry> entries = Walk(root_);
  std::vector<std::string> expected = {".",          "acl-dir",
                                       "acl-file",   "all-hole",
                                       "blk",        "cap-file",
                                       "chr",        "dangling",
                                       "empty",      "fifo",
                                       "file",       "hl",
                                       "hl/one",     "hl/three",
                                       "hl/two",     "link-abs",
                                       "link-rel",   "new\nline",
                                       "setgid",     "setuid",
                                       "sock",       "sparse",
                                       "sticky",     "with space",
                                       "xattr-file", "\xc3\xbcnicode-\xe2\x82\xac"};
  EXPECT_EQ(Paths(entries), expected);
}

TEST_F(FsWalkKindsTest, EveryFieldMatchesTheKernel) {
  std::vector<WalkedEntry> entries = Walk(root_);
  ASSERT_FALSE(entries.empty());
  // Generic: every entry agrees with an independent lstat.
  for (const WalkedEntry& w : entries) {
    SCOPED_TRACE(w.entry.path);
    struct stat st;
    ASSERT_SYS(::lstat(w.entry.path == "." ? root_.c_str() : At(w.entry.path).c_str(), &st));
    EXPECT_EQ(w.entry.mode, st.st_mode & 07777);
    EXPECT_EQ(w.entry.uid, st.st_uid);
    EXPECT_EQ(w.entry.gid, st.st_gid);
    EXPECT_EQ(w.entry.mtime_ns, st.st_mtim.tv_sec * kSecond + st.st_mtim.tv_nsec);
    EXPECT_EQ(w.ctime_ns, st.st_ctim.tv_sec * kSecond + st.st_ctim.tv_nsec);
    EXPECT_EQ(w.dev, st.st_dev);
    EXPECT_EQ(w.ino, st.st_ino);
    EXPECT_TRUE(w.entry.hash.empty());
    if (w.entry.type != EntryType::kFile && w.entry.type != EntryType::kHardlink) {
      EXPECT_EQ(w.entry.size, 0u);
    }
    if (w.entry.type != EntryType::kFile) {
      EXPECT_TRUE(w.entry.data_extents.empty());
    }
  }

  std::map<std::string, WalkedEntry> by_path = ByPath(entries);
  const Entry& root = by_path["."].entry;
  EXPECT_EQ(root.type, EntryType::kDir);
  EXPECT_EQ(root.mode, 0750u);
  EXPECT_EQ(root.mtime_ns, 1'300'000'000 * kSecond + 999'999'999);

  const Entry& file = by_path["file"].entry;
  EXPECT_EQ(file.type, EntryType::kFile);
  EXPECT_EQ(file.mode, 0640u);
  EXPECT_EQ(file.uid, 1234u);
  EXPECT_EQ(file.gid, 5678u);
  EXPECT_EQ(file.mtime_ns, 1'600'000'000 * kSecond + 123'456'789);
  EXPECT_EQ(file.size, 5u);
  EXPECT_TRUE(file.target.empty());
  EXPECT_TRUE(file.xattrs.empty());
  EXPECT_TRUE(file.data_extents.empty());

  EXPECT_EQ(by_path["empty"].entry.type, EntryType::kFile);
  EXPECT_EQ(by_path["empty"].entry.size, 0u);
  EXPECT_EQ(by_path["sticky"].entry.type, EntryType::kDir);
  EXPECT_EQ(by_path["sticky"].entry.mode, 01777u);
  EXPECT_EQ(by_path["sticky"].entry.mtime_ns, 1'400'000'000 * kSecond + 1);
  EXPECT_EQ(by_path["setuid"].entry.mode, 04755u);
  EXPECT_EQ(by_path["setuid"].entry.gid, 5678u);
  EXPECT_EQ(by_path["setgid"].entry.mode, 02755u);

  const Entry& rel = by_path["link-rel"].entry;
  EXPECT_EQ(rel.type, EntryType::kSymlink);
  EXPECT_EQ(rel.target, "file");
  EXPECT_EQ(rel.uid, 1234u);
  EXPECT_EQ(rel.gid, 5678u);
  EXPECT_EQ(rel.mtime_ns, 1'500'000'000 * kSecond + 987'654'321);
  EXPECT_EQ(rel.size, 0u);
  EXPECT_EQ(by_path["link-abs"].entry.target, "/etc/passwd");
  EXPECT_EQ(by_path["dangling"].entry.type, EntryType::kSymlink);
  EXPECT_EQ(by_path["dangling"].entry.target, "no/such/target");

  const WalkedEntry& one = by_path["hl/one"];
  EXPECT_EQ(one.entry.type, EntryType::kFile);
  EXPECT_EQ(one.entry.size, 6u);
  for (const char* other : {"hl/three", "hl/two"}) {
    SCOPED_TRACE(other);
    const WalkedEntry& link = by_path[other];
    EXPECT_EQ(link.entry.type, EntryType::kHardlink);
    EXPECT_EQ(link.entry.target, "hl/one");
    EXPECT_EQ(link.entry.size, 6u);
    EXPECT_EQ(link.entry.mode, one.entry.mode);
    EXPECT_EQ(link.entry.mtime_ns, one.entry.mtime_ns);
    EXPECT_EQ(link.ino, one.ino);
  }

  const Entry& chr = by_path["chr"].entry;
  EXPECT_EQ(chr.type, EntryType::kCharDevice);
  EXPECT_EQ(chr.mode, 0620u);
  EXPECT_EQ(chr.rdev_major, 1u);
  EXPECT_EQ(chr.rdev_minor, 3u);
  const Entry& blk = by_path["blk"].entry;
  EXPECT_EQ(blk.type, EntryType::kBlockDevice);
  EXPECT_EQ(blk.mode, 0660u);
  EXPECT_EQ(blk.rdev_major, 7u);
  EXPECT_EQ(blk.rdev_minor, 0u);
  EXPECT_EQ(by_path["file"].entry.rdev_major, 0u);
  EXPECT_EQ(by_path["fifo"].entry.type, EntryType::kFifo);
  EXPECT_EQ(by_path["fifo"].entry.mode, 0600u);
  EXPECT_EQ(by_path["sock"].entry.type, EntryType::kSocket);
  EXPECT_EQ(by_path["sock"].entry.mode, 0755u);

  std::vector<Xattr> expected_xattrs = {{"trusted.t", ""}, {"user.a", "1"}, {"user.blob", kBinary}};
  EXPECT_EQ(by_path["xattr-file"].entry.xattrs, expected_xattrs);

  const Entry& acl_file = by_path["acl-file"].entry;
  EXPECT_EQ(acl_file.xattrs, (std::vector<Xattr>{{"system.posix_acl_access", kAccessAcl}}));
  EXPECT_EQ(acl_file.mode, 0674u);  // the ACL mask shows as the group bits
  EXPECT_EQ(by_path["acl-dir"].entry.xattrs,
            (std::vector<Xattr>{{"system.posix_acl_default", kDefaultAcl}}));
  EXPECT_EQ(by_path["cap-file"].entry.xattrs,
            (std::vector<Xattr>{{"security.capability", testing::NetRawCapabilityXattr()}}));

  const Entry& sparse = by_path["sparse"].entry;
  EXPECT_EQ(sparse.size, 10 * kMiB);
  EXPECT_EQ(sparse.data_extents, (std::vector<Extent>{{5 * kMiB, 4096}}));
  // A file with no data at all has no extent to list (the manifest forbids
  // zero-length extents), so it reads as dense.
  EXPECT_EQ(by_path["all-hole"].entry.size, 1 * kMiB);
  EXPECT_TRUE(by_path["all-hole"].entry.data_extents.empty());

  EXPECT_EQ(by_path["new\nline"].entry.size, 1u);
  EXPECT_EQ(by_path["with space"].entry.size, 1u);
}

TEST_F(FsWalkKindsTest, OutputIsAValidManifestOnceHashed) {
  Manifest manifest;
  for (WalkedEntry& w : Walk(root_)) manifest.entries.push_back(std::move(w.entry));
  std::map<std::string, std::string> hashes;
  for (Entry& e : manifest.entries) {
    if (e.type == EntryType::kFile) {
      Result<std::string> hash = Sha256File(At(e.path));
      ASSERT_TRUE(hash.ok()) << hash.status().message();
      e.hash = *hash;
      hashes[e.path] = e.hash;
    } else if (e.type == EntryType::kHardlink) {
      e.hash = hashes[e.target];
    }
  }
  Status valid = ValidateManifest(manifest);
  EXPECT_TRUE(valid.ok()) << valid.message();
}

TEST(FsWalkTest, ReadXattrsAndExtentsDirectly) {
  TempDir dir;
  WriteTestFile(dir.Sub("f"), "x");
  ASSERT_SYS(::lsetxattr(dir.Sub("f").c_str(), "user.z", "2", 1, 0));
  ASSERT_SYS(::lsetxattr(dir.Sub("f").c_str(), "user.b", "1", 1, 0));
  Result<std::vector<Xattr>> xattrs = ReadXattrs(dir.Sub("f"));
  ASSERT_TRUE(xattrs.ok()) << xattrs.status().message();
  EXPECT_EQ(*xattrs, (std::vector<Xattr>{{"user.b", "1"}, {"user.z", "2"}}));
  EXPECT_FALSE(ReadXattrs(dir.Sub("missing")).ok());

  UniqueFd fd(::open(dir.Sub("s").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid());
  std::string block(8192, 'd');
  ASSERT_EQ(::pwrite(fd.get(), block.data(), block.size(), 0), 8192);
  ASSERT_EQ(::pwrite(fd.get(), block.data(), block.size(), 1 * kMiB), 8192);
  ASSERT_EQ(::pwrite(fd.get(), block.data(), 100, 3 * kMiB), 100);
  Result<std::vector<Extent>> extents = ReadDataExtents(fd.get(), 3 * kMiB + 100);
  ASSERT_TRUE(extents.ok()) << extents.status().message();
  EXPECT_EQ(*extents, (std::vector<Extent>{{0, 8192}, {1 * kMiB, 8192}, {3 * kMiB, 100}}));

  UniqueFd dense(::open(dir.Sub("f").c_str(), O_RDONLY | O_CLOEXEC));
  Result<std::vector<Extent>> none = ReadDataExtents(dense.get(), 1);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(FsWalkTest, DepthFirstManifestOrder) {
  TempDir dir;
  for (const char* path : {"a/b", "a.c", "a-b", "a0", "a/b0/x", "B", "\x80hi"}) {
    WriteTestFile(dir.Sub(path), "");
  }
  std::vector<WalkedEntry> entries = Walk(dir.path());
  // Not a plain string sort: "a/b" comes before "a-b", "a.c" and "a0".
  std::vector<std::string> expected = {".",      "B",   "a",   "a/b", "a/b0",
                                       "a/b0/x", "a-b", "a.c", "a0",  "\x80hi"};
  EXPECT_EQ(Paths(entries), expected);
  for (size_t i = 1; i < entries.size(); ++i) {
    EXPECT_LT(ComparePaths(entries[i - 1].entry.path, entries[i].entry.path), 0) << i;
  }
}

TEST(FsWalkTest, Excludes) {
  TempDir dir;
  for (const char* path :
       {"proc/1/status", "proc/self", "lost+found/x", "data/lost+found/y", "data/keep",
        "etc/secret.key", "etc/other", "tmp/junk", "tmpfile", "var/tmp"}) {
    WriteTestFile(dir.Sub(path), "");
  }
  WalkOptions options;
  options.excludes = {"/proc/*", "*/lost+found", "/etc/secret.key", "/tmp/", "/var/tmp/"};
  std::vector<std::string> expected = {".",    "data",    "data/keep", "etc",    "etc/other",
                                       "proc", "tmpfile", "var",       "var/tmp"};
  // "/var/tmp/" names a directory; var/tmp is a file here, so it stays.
  EXPECT_EQ(Paths(Walk(dir.path(), options)), expected);
}

TEST(FsWalkTest, ExcludedFirstNameLeavesTheNextOneAFile) {
  TempDir dir;
  WriteTestFile(dir.Sub("a"), "data");
  ASSERT_SYS(::link(dir.Sub("a").c_str(), dir.Sub("b").c_str()));
  ASSERT_SYS(::link(dir.Sub("a").c_str(), dir.Sub("c").c_str()));
  WalkOptions options;
  options.excludes = {"/a"};
  std::vector<WalkedEntry> entries = Walk(dir.path(), options);
  ASSERT_EQ(Paths(entries), (std::vector<std::string>{".", "b", "c"}));
  EXPECT_EQ(entries[1].entry.type, EntryType::kFile);
  EXPECT_EQ(entries[2].entry.type, EntryType::kHardlink);
  EXPECT_EQ(entries[2].entry.target, "b");
}

TEST(FsWalkTest, OneFileSystem) {
  TempDir dir;
  WriteTestFile(dir.Sub("local/file"), "");
  ASSERT_SYS(::mkdir(dir.Sub("mnt").c_str(), 0700));
  if (::mount("goldcast-test", dir.Sub("mnt").c_str(), "tmpfs", 0, "mode=0711") != 0) {
    GTEST_SKIP() << "cannot mount tmpfs: " << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{dir.Sub("mnt")};
  WriteTestFile(dir.Sub("mnt/inside"), "");

  std::vector<std::string> all = {".", "local", "local/file", "mnt", "mnt/inside"};
  EXPECT_EQ(Paths(Walk(dir.path())), all);

  WalkOptions options;
  options.one_file_system = true;
  std::vector<WalkedEntry> entries = Walk(dir.path(), options);
  std::vector<std::string> kept = {".", "local", "local/file", "mnt"};
  ASSERT_EQ(Paths(entries), kept);
  EXPECT_NE(entries[3].dev, entries[0].dev);
  EXPECT_EQ(entries[3].entry.mode, 0711u);  // the mounted root's metadata, like rsync -x
}

TEST(FsWalkTest, MissingRootAndFileRoot) {
  TempDir dir;
  const std::string missing = dir.Sub("nope");
  Status status = WalkTree(missing, {}, [](WalkedEntry&&) { return Status::Ok(); });
  EXPECT_EQ(status.code(), Code::kNotFound);
  EXPECT_EQ(status.message(), "--root DIR: " + missing + ": No such file or directory");

  WriteTestFile(dir.Sub("file"), "");
  Status not_dir = WalkTree(dir.Sub("file"), {}, [](WalkedEntry&&) { return Status::Ok(); });
  EXPECT_EQ(not_dir.code(), Code::kInvalidArgument);
  EXPECT_NE(not_dir.message().find(dir.Sub("file") + ": is not a directory"), std::string::npos)
      << not_dir.message();
}

TEST(FsWalkTest, VisitorErrorStopsTheWalk) {
  TempDir dir;
  WriteTestFile(dir.Sub("a"), "");
  WriteTestFile(dir.Sub("b"), "");
  int calls = 0;
  Status status = WalkTree(dir.path(), {}, [&calls](WalkedEntry&& e) {
    ++calls;
    if (e.entry.path == "a") return Status(Code::kNoSpace, "full");
    return Status::Ok();
  });
  EXPECT_EQ(status.code(), Code::kNoSpace);
  EXPECT_EQ(calls, 2);
}

TEST(FsWalkTest, VanishingAndReplacedEntries) {
  TempDir dir;
  for (const char* path : {"a", "b", "c", "d/inner", "e/inner", "f"})
    WriteTestFile(dir.Sub(path), "");
  std::vector<std::string> seen;
  Status status = WalkTree(dir.path(), {}, [&](WalkedEntry&& e) {
    seen.push_back(e.entry.path);
    std::error_code ec;
    if (e.entry.path == "a") std::filesystem::remove(dir.Sub("b"), ec);
    // Removed after its entry was visited, before it is read.
    if (e.entry.path == "d") std::filesystem::remove_all(dir.Sub("d"), ec);
    // Swapped for a symlink to /etc: the walk must not follow it.
    if (e.entry.path == "e") {
      std::filesystem::rename(dir.Sub("e"), dir.Sub("e-moved"), ec);
      EXPECT_EQ(::symlink("/etc", dir.Sub("e").c_str()), 0);
    }
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(seen, (std::vector<std::string>{".", "a", "c", "d", "e", "f"}));
}

TEST(FsWalkTest, UnreadableDirectoryIsAnErrorNamingIt) {
  TempDir dir;
  ASSERT_SYS(::chmod(dir.path().c_str(), 0755));
  WriteTestFile(dir.Sub("tree/open/f"), "");
  WriteTestFile(dir.Sub("tree/secret/f"), "");
  ASSERT_SYS(::chmod(dir.Sub("tree/secret").c_str(), 0700));
  int pipe_fds[2];
  ASSERT_SYS(::pipe2(pipe_fds, O_CLOEXEC));
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Not root any more (setresuid drops the capabilities): EACCES is real.
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(2);
    }
    Status s = WalkTree(dir.Sub("tree"), {}, [](WalkedEntry&&) { return Status::Ok(); });
    std::string message = s.ok() ? "OK" : s.message();
    ssize_t unused = ::write(write_end.get(), message.data(), message.size());
    (void)unused;
    ::_exit(0);
  }
  write_end.Reset();
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = ::read(read_end.get(), buffer, sizeof(buffer))) > 0;)
    message.append(buffer, n);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
  EXPECT_NE(message.find(dir.Sub("tree/secret")), std::string::npos) << message;
  EXPECT_NE(message.find("Permission denied"), std::string::npos) << message;
}

TEST(FsWalkTest, DeeperThanPathMaxAndTheFdLimitWindow) {
  TempDir dir;
  // 300 levels of 40-byte names: ~12 KB paths, far past PATH_MAX, and deeper
  // than the walker keeps fds open, so parents must be reopened for "z".
  constexpr int kDepth = 300;
  const std::string name(40, 'd');
  UniqueFd fd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  for (int level = 0; level < kDepth; ++level) {
    UniqueFd z(::openat(fd.get(), "z", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(z.valid());
    ASSERT_SYS(::mkdirat(fd.get(), name.c_str(), 0755));
    fd = UniqueFd(::openat(fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
  }
  {
    UniqueFd leaf(::openat(fd.get(), "leaf", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(leaf.valid());
    ASSERT_SYS(::fsetxattr(leaf.get(), "user.deep", "yes", 3, 0));
  }
  fd.Reset();
  std::vector<WalkedEntry> entries;
  size_t max_fds = 0;
  Status status = WalkTree(dir.path(), {}, [&](WalkedEntry&& e) {
    auto fds = std::filesystem::directory_iterator("/proc/self/fd");
    max_fds = std::max<size_t>(max_fds, std::distance(fds, {}));
    entries.push_back(std::move(e));
    return Status::Ok();
  });
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_LT(max_fds, 100u);  // not one per level
  ASSERT_EQ(entries.size(), 1u + 2 * kDepth + 1);
  size_t z_count = 0;
  for (const WalkedEntry& e : entries) {
    std::string_view path = e.entry.path;
    if (path == "z" || path.ends_with("/z")) ++z_count;
  }
  EXPECT_EQ(z_count, static_cast<size_t>(kDepth));
  const Entry& leaf = entries[kDepth + 1].entry;
  EXPECT_TRUE(leaf.path.ends_with("/leaf")) << leaf.path.size();
  EXPECT_GT(leaf.path.size(), 12'000u);
  EXPECT_EQ(leaf.xattrs, (std::vector<Xattr>{{"user.deep", "yes"}}));
  // The deepest "z" comes right after the leaf, the shallowest last.
  EXPECT_EQ(entries.back().entry.path, "z");
}

TEST(FsWalkTest, TwentyThousandFiles) {
  TempDir dir;
  std::vector<std::string> expected = {"."};
  char name[32];
  for (int d = 0; d < 20; ++d) {
    std::snprintf(name, sizeof(name), "d%02d", d);
    const std::string sub = name;
    ASSERT_SYS(::mkdir(dir.Sub(sub).c_str(), 0755));
    expected.push_back(sub);
    for (int f = 0; f < 1000; ++f) {
      std::snprintf(name, sizeof(name), "/f%04d", f);
      const std::string path = sub + name;
      UniqueFd fd(::open(dir.Sub(path).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
      ASSERT_TRUE(fd.valid());
      expected.push_back(path);
    }
  }
  EXPECT_EQ(Paths(Walk(dir.path())), expected);
}

}  // namespace
}  // namespace gc
