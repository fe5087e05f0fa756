#include "common/tree_writer.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/fs_walk.h"
#include "common/hash.h"
#include "common/manifest.h"
#include "common/unique_fd.h"
#include "tests/testing/memory_object_source.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::ReadTestFile;
using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;
using ::testing::HasSubstr;

#define ASSERT_SYS(expr) ASSERT_EQ((expr), 0) << #expr << ": " << std::strerror(errno)

constexpr int64_t kSecond = 1'000'000'000;
constexpr uint64_t kMiB = 1024 * 1024;

// Builds a manifest by hand (sorted at the end) and the objects it needs.
class Builder {
 public:
  Builder() { Add(".", EntryType::kDir, 0755); }

  Entry& Add(const std::string& path, EntryType type, uint32_t mode) {
    Entry& e = entries_.emplace_back();
    e.path = path;
    e.type = type;
    e.mode = mode;
    e.mtime_ns = 1'600'000'000 * kSecond + 42;
    return e;
  }
  Entry& Dir(const std::string& path, uint32_t mode = 0755) {
    return Add(path, EntryType::kDir, mode);
  }
  Entry& File(const std::string& path, const std::string& content, uint32_t mode = 0644) {
    Entry& e = Add(path, EntryType::kFile, mode);
    e.size = content.size();
    e.hash = source.Add(content);
    return e;
  }
  Entry& Symlink(const std::string& path, const std::string& target) {
    Entry& e = Add(path, EntryType::kSymlink, 0777);
    e.target = target;
    return e;
  }
  Entry& Hardlink(const std::string& path, const Entry& file) {
    Entry& e = Add(path, EntryType::kHardlink, file.mode);
    e.target = file.path;
    e.size = file.size;
    e.hash = file.hash;
    return e;
  }
  Entry& root() { return entries_.front(); }

  Manifest Build() const {
    Manifest m;
    m.entries.assign(entries_.begin(), entries_.end());
    std::sort(m.entries.begin(), m.entries.end(),
              [](const Entry& a, const Entry& b) { return ComparePaths(a.path, b.path) < 0; });
    return m;
  }

  testing::MemorySource source;

 private:
  std::deque<Entry> entries_;  // references stay valid
};

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st;
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * kSecond + st.st_mtim.tv_nsec;
}

// Every name under `root` (relative), to check nothing else was left.
std::set<std::string> AllNames(const std::string& root) {
  std::set<std::string> names;
  for (const auto& it : std::filesystem::recursive_directory_iterator(root)) {
    names.insert(std::filesystem::relative(it.path(), root).string());
  }
  return names;
}

Result<TreeWriteStats> Write(const Builder& b, const std::string& root, ObjectSource* source,
                             TreeWriteOptions options = {}) {
  Manifest manifest = b.Build();
  Status valid = ValidateManifest(manifest);
  EXPECT_TRUE(valid.ok()) << "test manifest: " << valid.message();
  return WriteTree(manifest, root, source, options);
}

#define ASSERT_OK(expr)                                            \
  do {                                                             \
    auto gc_result_ = (expr);                                      \
    ASSERT_TRUE(gc_result_.ok()) << gc_result_.status().message(); \
  } while (0)

class TreeWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (ownership, device nodes)";
  }
  std::string At(const std::string& relative) const { return dir_.Sub(relative); }
  TempDir dir_;  // the target root
  Builder b_;
};

TEST_F(TreeWriterTest, WritesEveryEntryType) {
  b_.root().mode = 0750;
  b_.Dir("etc");
  b_.Dir("etc/deep", 0700);
  Entry& file = b_.File("etc/hosts", "127.0.0.1 localhost\n", 0640);
  file.uid = 1234;
  file.gid = 5678;
  b_.File("etc/empty", "", 0600);
  b_.Symlink("etc/link", "hosts").uid = 99;
  b_.Dir("var");
  b_.Hardlink("var/hosts-again", file);
  Entry& chr = b_.Add("null", EntryType::kCharDevice, 0666);
  chr.rdev_major = 1;
  chr.rdev_minor = 3;
  Entry& blk = b_.Add("loop0", EntryType::kBlockDevice, 0660);
  blk.rdev_major = 7;
  blk.gid = 6;
  b_.Add("fifo", EntryType::kFifo, 0620);
  b_.Add("sock", EntryType::kSocket, 0755);

  auto stats = Write(b_, dir_.path(), &b_.source);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->files, 2u);
  EXPECT_EQ(stats->entries, 11u);  // all but the socket
  EXPECT_EQ(stats->bytes_fetched, file.size);
  EXPECT_EQ(stats->bytes_written, file.size);

  EXPECT_EQ(Lstat(dir_.path()).st_mode, S_IFDIR | 0750);
  EXPECT_EQ(Lstat(At("etc/deep")).st_mode, S_IFDIR | 0700);
  struct stat st = Lstat(At("etc/hosts"));
  EXPECT_EQ(st.st_mode, S_IFREG | 0640);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(ReadTestFile(At("etc/hosts")), "127.0.0.1 localhost\n");
  EXPECT_EQ(Lstat(At("var/hosts-again")).st_ino, st.st_ino);
  EXPECT_EQ(Lstat(At("etc/empty")).st_size, 0);
  EXPECT_EQ(Lstat(At("etc/empty")).st_mode, S_IFREG | 0600);
  EXPECT_TRUE(S_ISLNK(Lstat(At("etc/link")).st_mode));
  EXPECT_EQ(Lstat(At("etc/link")).st_uid, 99u);
  EXPECT_EQ(std::filesystem::read_symlink(At("etc/link")).string(), "hosts");
  st = Lstat(At("null"));
  EXPECT_EQ(st.st_mode, S_IFCHR | 0666);
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  st = Lstat(At("loop0"));
  EXPECT_EQ(st.st_mode, S_IFBLK | 0660);
  EXPECT_EQ(st.st_rdev, makedev(7, 0));
  EXPECT_EQ(st.st_gid, 6u);
  EXPECT_EQ(Lstat(At("fifo")).st_mode, S_IFIFO | 0620);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(At("sock"))));
  for (const std::string& name : AllNames(dir_.path())) {
    EXPECT_EQ(name.find(".gc-tmp-"), std::string::npos) << name;
  }
}

TEST_F(TreeWriterTest, SparseFileKeepsItsHoles) {
  std::string content(10 * kMiB, '\0');
  std::fill_n(content.begin() + 5 * kMiB, 8192, 'S');
  std::fill_n(content.begin() + 9 * kMiB, 4096, 'T');
  Entry& sparse = b_.File("sparse", content);
  sparse.data_extents = {{5 * kMiB, 8192}, {9 * kMiB, 4096}};  // trailing hole
  // Same content, dense: copied from the sparse one, every byte written.
  b_.File("dense", content);
  b_.source.chunk = 1000;  // chunks straddle every extent boundary

  auto stats = Write(b_, dir_.path(), &b_.source);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->bytes_fetched, content.size());  // one object for both
  EXPECT_EQ(ReadTestFile(At("sparse")), content);
  EXPECT_EQ(ReadTestFile(At("dense")), content);
  struct stat st = Lstat(At("sparse"));
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 10 * kMiB);
  EXPECT_LE(st.st_blocks * 512, 64 * 1024) << "holes were written";
  UniqueFd fd(::open(At("sparse").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(::lseek(fd.get(), 0, SEEK_DATA), static_cast<off_t>(5 * kMiB));
  EXPECT_GE(Lstat(At("dense")).st_blocks * 512, static_cast<blkcnt_t>(10 * kMiB));
}

TEST_F(TreeWriterTest, SparseCopiesAndDataInHolesStayExact) {
  std::string content(3 * kMiB, '\0');
  std::fill_n(content.begin(), 4096, 'A');
  content[2 * kMiB + 7] = 'x';  // the map below calls this a hole: captured mid-change
  Entry& first = b_.File("a", content);
  first.data_extents = {{0, 4096}};
  Entry& copy = b_.File("b", content, 0600);
  copy.data_extents = {{0, 4096}};
  b_.source.chunk = 777;

  ASSERT_OK(Write(b_, dir_.path(), &b_.source));
  EXPECT_EQ(ReadTestFile(At("a")), content);
  EXPECT_EQ(ReadTestFile(At("b")), content);
  EXPECT_EQ(Lstat(At("b")).st_mode, S_IFREG | 0600);
  EXPECT_LE(Lstat(At("b")).st_blocks * 512, 64 * 1024);
}

TEST_F(TreeWriterTest, SameContentIsFetchedOnceAndWrittenToEveryPath) {
  b_.Dir("x");
  b_.File("x/one", "shared content", 0644);
  b_.File("x/two", "shared content", 0755).uid = 7;
  b_.File("y", "shared content", 0600).mtime_ns = 5 * kSecond;

  auto stats = Write(b_, dir_.path(), &b_.source);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  ASSERT_EQ(b_.source.calls.size(), 1u);
  EXPECT_EQ(b_.source.calls[0].size(), 1u);
  EXPECT_EQ(stats->files, 3u);
  EXPECT_EQ(stats->bytes_fetched, 14u);
  EXPECT_EQ(stats->bytes_written, 3 * 14u);
  for (const char* path : {"x/one", "x/two", "y"}) {
    EXPECT_EQ(ReadTestFile(At(path)), "shared content") << path;
    EXPECT_EQ(Lstat(At(path)).st_nlink, 1u) << path;  // copies, not links
  }
  EXPECT_EQ(Lstat(At("x/two")).st_mode, S_IFREG | 0755);
  EXPECT_EQ(Lstat(At("x/two")).st_uid, 7u);
  EXPECT_EQ(MtimeNs(Lstat(At("y"))), 5 * kSecond);
}

TEST_F(TreeWriterTest, SetuidSurvivesTheOwnerChange) {
  Entry& su = b_.File("su", "#!/bin/sh\n", 04755);
  su.uid = 1000;
  su.gid = 1000;
  Entry& sg = b_.File("sg", "#!/bin/sh\n", 02755);
  sg.gid = 50;
  ASSERT_OK(Write(b_, dir_.path(), &b_.source));
  struct stat st = Lstat(At("su"));
  EXPECT_EQ(st.st_mode, S_IFREG | 04755);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(Lstat(At("sg")).st_mode, S_IFREG | 02755);
  EXPECT_EQ(Lstat(At("sg")).st_gid, 50u);
}

TEST_F(TreeWriterTest, XattrsOnFilesAndDirectories) {
  const std::string binary("\0\x01\xff", 3);
  b_.File("f", "data", 0444).xattrs = {{"user.x", binary}};  // read-only: set before chmod
  b_.Dir("d", 0555).xattrs = {{"user.y", "dir"}};
  b_.root().xattrs = {{"user.root", "r"}};
  ASSERT_OK(Write(b_, dir_.path(), &b_.source));
  auto file = ReadXattrs(At("f"));
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(*file, (std::vector<Xattr>{{"user.x", binary}}));
  auto dir = ReadXattrs(At("d"));
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(*dir, (std::vector<Xattr>{{"user.y", "dir"}}));
  auto root = ReadXattrs(dir_.path());
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(*root, (std::vector<Xattr>{{"user.root", "r"}}));

  TempDir other;
  TreeWriteOptions no_xattrs;
  no_xattrs.set_xattrs = false;
  ASSERT_OK(Write(b_, other.path(), &b_.source, no_xattrs));
  auto none = ReadXattrs(other.Sub("f"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(TreeWriterTest, MtimesOfDirectoriesSurviveWritingTheirContents) {
  b_.root().mtime_ns = 1'000'000'000 * kSecond + 1;
  b_.Dir("a").mtime_ns = 1'100'000'000 * kSecond + 2;
  b_.Dir("a/b").mtime_ns = 1'200'000'000 * kSecond + 3;
  Entry& f = b_.File("a/b/f", "f");
  f.mtime_ns = 1'300'000'000 * kSecond + 4;
  b_.Symlink("a/l", "b").mtime_ns = 1'400'000'000 * kSecond + 5;
  b_.File("a/g", "g").mtime_ns = -3 * kSecond + 6;  // before 1970
  b_.Hardlink("a/z", f);                            // linked last, into "a"
  b_.Add("a/b/p", EntryType::kFifo, 0600).mtime_ns = 7;
  ASSERT_OK(Write(b_, dir_.path(), &b_.source));
  EXPECT_EQ(MtimeNs(Lstat(dir_.path())), 1'000'000'000 * kSecond + 1);
  EXPECT_EQ(MtimeNs(Lstat(At("a"))), 1'100'000'000 * kSecond + 2);
  EXPECT_EQ(MtimeNs(Lstat(At("a/b"))), 1'200'000'000 * kSecond + 3);
  EXPECT_EQ(MtimeNs(Lstat(At("a/b/f"))), 1'300'000'000 * kSecond + 4);
  EXPECT_EQ(MtimeNs(Lstat(At("a/l"))), 1'400'000'000 * kSecond + 5);
  EXPECT_EQ(MtimeNs(Lstat(At("a/g"))), -3 * kSecond + 6);
  EXPECT_EQ(MtimeNs(Lstat(At("a/b/p"))), 7);
}

TEST_F(TreeWriterTest, RootMustBeEmptyButLostAndFound) {
  b_.File("f", "x");
  WriteTestFile(At("stale"), "old");
  auto stats = Write(b_, dir_.path(), &b_.source);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Code::kAlreadyExists);
  EXPECT_THAT(stats.status().message(), HasSubstr(dir_.path()));
  EXPECT_THAT(stats.status().message(), HasSubstr("stale"));
  EXPECT_TRUE(b_.source.calls.empty());

  TempDir fresh;
  ASSERT_SYS(::mkdir(fresh.Sub("lost+found").c_str(), 0700));
  b_.Dir("lost+found", 0700);  // as a capture of a fresh file system lists it
  ASSERT_OK(Write(b_, fresh.path(), &b_.source));
  EXPECT_EQ(ReadTestFile(fresh.Sub("f")), "x");

  auto missing = Write(b_, dir_.Sub("no-such-dir"), &b_.source);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
}

TEST_F(TreeWriterTest, CorruptObjectLeavesNothingUnderTheFinalName) {
  b_.Dir("d");
  const Entry& e = b_.File("d/f", "the real content");
  b_.source.corrupt.insert(e.hash);
  auto stats = Write(b_, dir_.path(), &b_.source);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Code::kCorrupt);
  EXPECT_THAT(stats.status().message(), HasSubstr(At("d/f")));
  EXPECT_THAT(stats.status().message(), HasSubstr(e.hash));
  std::string received = "the real content";
  received[received.size() / 2] ^= 1;
  EXPECT_THAT(stats.status().message(), HasSubstr(Sha256Hex(received)));
  EXPECT_EQ(AllNames(dir_.path()), (std::set<std::string>{"d"}));
}

TEST_F(TreeWriterTest, WrongSizeIsCorrupt) {
  const Entry& e = b_.File("f", "twelve bytes");
  b_.source.replace[e.hash] = "longer than twelve bytes";
  auto stats = Write(b_, dir_.path(), &b_.source);
  EXPECT_EQ(stats.status().code(), Code::kCorrupt);
  EXPECT_THAT(stats.status().message(), HasSubstr("24 bytes"));
  EXPECT_TRUE(AllNames(dir_.path()).empty());
}

TEST_F(TreeWriterTest, MissingObjectNamesHashAndPath) {
  b_.File("a", "present");
  const Entry& e = b_.File("b", "absent");
  b_.source.omit.insert(e.hash);
  auto stats = Write(b_, dir_.path(), &b_.source);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Code::kNotFound);
  EXPECT_THAT(stats.status().message(), HasSubstr(e.hash));
  EXPECT_THAT(stats.status().message(), HasSubstr(At("b")));
}

TEST_F(TreeWriterTest, UnrequestedOrDuplicateObjectsAreCorrupt) {
  const Entry& e = b_.File("a", "asked for");
  b_.source.unrequested.push_back("never asked for");
  auto stats = Write(b_, dir_.path(), &b_.source);
  EXPECT_EQ(stats.status().code(), Code::kCorrupt);
  EXPECT_THAT(stats.status().message(), HasSubstr(Sha256Hex("never asked for")));

  TempDir other;
  b_.source.unrequested.clear();
  b_.source.resend.insert(e.hash);
  stats = Write(b_, other.path(), &b_.source);
  EXPECT_EQ(stats.status().code(), Code::kCorrupt);
  EXPECT_THAT(stats.status().message(), HasSubstr("twice"));
}

TEST_F(TreeWriterTest, SourceErrorMidObjectRemovesTheTempFile) {
  b_.File("big", std::string(100000, 'b'));
  b_.source.cut_at = 50000;
  auto stats = Write(b_, dir_.path(), &b_.source);
  EXPECT_EQ(stats.status().code(), Code::kNetwork);
  EXPECT_THAT(stats.status().message(), HasSubstr("connection reset"));
  EXPECT_TRUE(AllNames(dir_.path()).empty());
}

// Objects are received on another thread: the network failing in the
// middle of a batch stops the writer with the network's error, the next
// batch is never asked for, and no temporary file stays behind.
TEST_F(TreeWriterTest, NetworkFailingMidStreamStopsCleanly) {
  for (int i = 0; i < 20; ++i) b_.File("f" + std::to_string(i), std::string(30000, 'a' + i));
  b_.source.cut_at = 45000;  // in the middle of the second object of each call
  TreeWriteOptions options;
  options.batch_objects = 2;
  auto stats = Write(b_, dir_.path(), &b_.source, options);
  EXPECT_EQ(stats.status().code(), Code::kNetwork);
  EXPECT_THAT(stats.status().message(), HasSubstr("connection reset"));
  EXPECT_EQ(b_.source.calls.size(), 1u);  // nothing fetched after the failure
  for (const std::string& name : AllNames(dir_.path())) {
    EXPECT_EQ(name.find(".gc-tmp-"), std::string::npos) << name;
  }
}

// The disk fills while the receiver is far ahead (many MiB queued): the
// writer's error comes back and the receiving thread is stopped, not left
// waiting for room in the queue. A file size limit stands in for the full
// disk (writes beyond it fail with EFBIG).
TEST_F(TreeWriterTest, DiskFullWhileReceivingStopsCleanly) {
  for (int i = 0; i < 40; ++i) b_.File("f" + std::to_string(i), std::string(3 * kMiB, 'a' + i));
  struct rlimit old_limit;
  ASSERT_SYS(::getrlimit(RLIMIT_FSIZE, &old_limit));
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 2 * kMiB;
  ASSERT_SYS(::setrlimit(RLIMIT_FSIZE, &limit));
  auto stats = Write(b_, dir_.path(), &b_.source);
  ASSERT_SYS(::setrlimit(RLIMIT_FSIZE, &old_limit));
  std::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(stats.ok());
  EXPECT_THAT(stats.status().message(), HasSubstr(At("f0")));
  EXPECT_THAT(stats.status().message(), HasSubstr("too large"));
  for (const std::string& name : AllNames(dir_.path())) {
    EXPECT_EQ(name.find(".gc-tmp-"), std::string::npos) << name;
  }
}

TEST_F(TreeWriterTest, EmptyFileWithAWrongHashIsCorrupt) {
  Entry& e = b_.File("e", "");
  e.hash = Sha256Hex("not empty");
  auto stats = Write(b_, dir_.path(), &b_.source);
  EXPECT_EQ(stats.status().code(), Code::kCorrupt);
  EXPECT_THAT(stats.status().message(), HasSubstr(At("e")));
}

// The manifest is validated before it gets here; a hand-made one that is
// not must still not write outside the root, with either way of resolving.
TEST_F(TreeWriterTest, NeverWritesThroughASymlink) {
  for (bool openat2 : {true, false}) {
    SCOPED_TRACE(openat2 ? "openat2" : "openat walk");
    TempDir root, outside;
    Builder b;
    b.Symlink("a", outside.path());
    b.File("a/x", "escaped");
    b.Symlink("b", "..");
    b.Dir("b/d");
    TreeWriteOptions options;
    options.use_openat2 = openat2;
    Manifest manifest = b.Build();
    ASSERT_FALSE(ValidateManifest(manifest).ok());
    auto stats = WriteTree(manifest, root.path(), &b.source, options);
    ASSERT_FALSE(stats.ok());
    EXPECT_EQ(stats.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(stats.status().message(), HasSubstr(root.Sub("a")));
    EXPECT_TRUE(AllNames(outside.path()).empty());
    EXPECT_TRUE(b.source.calls.empty());

    // Through ".." (as an unvalidated path) in a hardlink target.
    Builder up;
    up.File("f", "f");
    up.Add("h", EntryType::kHardlink, 0644).target = "../etc/passwd";
    TempDir root2;
    stats = WriteTree(up.Build(), root2.path(), &up.source, options);
    EXPECT_EQ(stats.status().code(), Code::kInvalidArgument);
  }
}

// Deeper than the resolver keeps directories open, and back up again.
TEST_F(TreeWriterTest, DeepTree) {
  std::string path;
  for (int depth = 0; depth < 100; ++depth) {
    path += (depth == 0 ? "" : "/") + std::string("d");
    b_.Dir(path, 0750);
    b_.File(path + "/f", "level " + std::to_string(depth));
  }
  b_.File("z", "top");
  for (bool openat2 : {true, false}) {
    TempDir root;
    TreeWriteOptions options;
    options.use_openat2 = openat2;
    ASSERT_OK(Write(b_, root.path(), &b_.source, options));
    EXPECT_EQ(ReadTestFile(root.Sub(path + "/f")), "level 99");
    EXPECT_EQ(ReadTestFile(root.Sub("d/d/f")), "level 1");
    EXPECT_EQ(Lstat(root.Sub(path)).st_mode, S_IFDIR | 0750);
    EXPECT_EQ(ReadTestFile(root.Sub("z")), "top");
  }
}

TEST_F(TreeWriterTest, FetchesInBatches) {
  for (int i = 0; i < 5; ++i) b_.File("f" + std::to_string(i), std::string(10, 'a' + i));
  TreeWriteOptions options;
  options.batch_objects = 2;
  std::vector<uint64_t> progress;
  options.progress = [&progress](uint64_t done, uint64_t total, uint64_t bytes) {
    EXPECT_EQ(total, 5u);
    EXPECT_EQ(bytes, done * 10);
    progress.push_back(done);
  };
  ASSERT_OK(Write(b_, dir_.path(), &b_.source, options));
  ASSERT_EQ(b_.source.calls.size(), 3u);
  EXPECT_EQ(b_.source.calls[0].size(), 2u);
  EXPECT_EQ(b_.source.calls[1].size(), 2u);
  EXPECT_EQ(b_.source.calls[2].size(), 1u);
  EXPECT_EQ(progress, (std::vector<uint64_t>{2, 4, 5}));

  // Byte budget: 25 bytes take two 10-byte objects; a 100-byte one goes alone.
  Builder b;
  for (int i = 0; i < 3; ++i) b.File("s" + std::to_string(i), std::string(10, 'a' + i));
  b.File("t-big", std::string(100, 'z'));
  b.File("u", std::string(10, 'u'));
  options = {};
  options.batch_bytes = 25;
  TempDir other;
  ASSERT_OK(Write(b, other.path(), &b.source, options));
  std::vector<size_t> sizes;
  for (const auto& call : b.source.calls) sizes.push_back(call.size());
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 1, 1, 1}));
  EXPECT_EQ(b.source.calls[2], std::vector<std::string>{Sha256Hex(std::string(100, 'z'))});
}

}  // namespace
}  // namespace gc
