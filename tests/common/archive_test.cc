#include "common/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <ostream>

#include "common/subprocess.h"
#include "common/unique_fd.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/xattr_values.h"

namespace gc {

void PrintTo(const Entry& e, std::ostream* os) {
  *os << "{" << e.path << " " << EntryTypeName(e.type) << " mode=" << std::oct << e.mode << std::dec
      << " uid=" << e.uid << " gid=" << e.gid << " mtime=" << e.mtime_ns << " size=" << e.size
      << " target=" << e.target << " rdev=" << e.rdev_major << "," << e.rdev_minor << " xattrs=[";
  for (const Xattr& x : e.xattrs) *os << x.name << "(" << x.value.size() << "B) ";
  *os << "] extents=[";
  for (const Extent& x : e.data_extents) *os << x.offset << "+" << x.length << " ";
  *os << "]}";
}

namespace {

using ::testing::HasSubstr;
using testing::TempDir;

constexpr uint64_t kMiB = 1 << 20;
constexpr int64_t kBaseMtime = 1700000000LL * 1000000000LL + 123456789;

std::string ReadAll(int fd, uint64_t size) {
  std::string out(size, '\0');
  EXPECT_EQ(::pread(fd, out.data(), size, 0), static_cast<ssize_t>(size));
  return out;
}

// A tree described as entries plus, for files, their dense content on disk.
class Tree {
 public:
  explicit Tree(const std::string& dir) : dir_(dir) {}

  Entry& Add(Entry e) {
    entries_.push_back(std::move(e));
    entries_.back().mtime_ns = kBaseMtime + 1000 * static_cast<int64_t>(entries_.size());
    return entries_.back();
  }
  void AddFile(Entry e, const std::string& content) {
    e.type = EntryType::kFile;
    e.size = content.size();
    std::string file = dir_ + "/" + std::to_string(entries_.size());
    testing::WriteTestFile(file, content);
    files_[e.path] = file;
    contents_[e.path] = content;
    Add(std::move(e));
  }
  // A sparse file of `size` bytes with data 'x' in `extents`.
  void AddSparse(Entry e, uint64_t size, std::vector<Extent> extents) {
    std::string file = dir_ + "/" + std::to_string(entries_.size());
    UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
    for (const Extent& x : extents) {
      std::string data(x.length, 'x');
      ASSERT_EQ(::pwrite(fd.get(), data.data(), data.size(), static_cast<off_t>(x.offset)),
                static_cast<ssize_t>(data.size()));
    }
    contents_[e.path] = ReadAll(fd.get(), size);
    files_[e.path] = file;
    e.type = EntryType::kFile;
    e.size = size;
    e.data_extents = std::move(extents);
    Add(std::move(e));
  }

  Status Write(const std::string& tar, Compression compression) const {
    GC_ASSIGN_OR_RETURN(auto writer, TarWriter::Create(tar, compression));
    for (const Entry& e : entries_) {
      UniqueFd fd;
      if (e.type == EntryType::kFile) fd.Reset(::open(files_.at(e.path).c_str(), O_RDONLY));
      GC_RETURN_IF_ERROR(writer->Add(e, fd.get()));
    }
    return writer->Finish();
  }

  const std::vector<Entry>& entries() const { return entries_; }
  const std::string& content(const std::string& path) const { return contents_.at(path); }

 private:
  std::string dir_;
  std::vector<Entry> entries_;
  std::map<std::string, std::string> files_, contents_;
};

Entry Make(std::string path, EntryType type, uint32_t mode, uint32_t uid = 0, uint32_t gid = 0) {
  Entry e;
  e.path = std::move(path);
  e.type = type;
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  return e;
}

const std::string kAccessAcl =
    testing::AclXattr({{0x01, 7}, {0x02, 5, 4242}, {0x04, 5}, {0x10, 7}, {0x20, 7}});
const std::string kDefaultAcl = testing::AclXattr(
    {{0x01, 7}, {0x02, 7, 4242}, {0x04, 5}, {0x08, 4, 4343}, {0x10, 7}, {0x20, 5}});
const std::string kBinaryValue = std::string("\0\x01\xff\xfe=binary\n", 12);

// Every kind of entry and metadata a captured image can hold.
void BuildFullTree(Tree* t) {
  t->Add(Make(".", EntryType::kDir, 0755));
  Entry dir = Make("dir", EntryType::kDir, 01777, 12, 34);
  dir.xattrs = {{"system.posix_acl_access", kAccessAcl}, {"system.posix_acl_default", kDefaultAcl}};
  t->Add(dir);
  t->AddFile(Make("dir/empty", EntryType::kFile, 0600), "");
  Entry file = Make("dir/file", EntryType::kFile, 0640, 1000, 1001);
  file.xattrs = {{"security.capability", testing::NetRawCapabilityXattr()},
                 {"user.bin", kBinaryValue},
                 {"user.comment", "golden"}};
  t->AddFile(file, std::string("hello\0tar\n", 10));
  t->AddFile(Make("dir/\xc3\xbcnic\xc3\xb6"
                  "de",
                  EntryType::kFile, 0644),
             "utf-8 name");
  Entry fifo = Make("fifo", EntryType::kFifo, 0620, 5, 6);
  t->Add(fifo);
  Entry hard = Make("hard", EntryType::kHardlink, 0640, 1000, 1001);
  hard.target = "dir/file";
  t->Add(hard);
  Entry chr = Make("null", EntryType::kCharDevice, 0666);
  chr.rdev_major = 1;
  chr.rdev_minor = 3;
  t->Add(chr);
  Entry blk = Make("loop0", EntryType::kBlockDevice, 0660, 0, 6);
  blk.rdev_major = 7;
  blk.rdev_minor = 300;
  t->Add(blk);
  t->AddFile(Make("setuid", EntryType::kFile, 04755), "#!/bin/sh\n");
  Entry link = Make("link", EntryType::kSymlink, 0777, 7, 8);
  link.target = "dir/file";
  t->Add(link);
  // Past the 100 bytes of the ustar name fields.
  // Directories are followed by their subtree, as in a manifest: GNU tar sets
  // a directory's times once it has left it.
  t->Add(Make("long", EntryType::kDir, 0755));
  std::string long_name(150, 'n');
  t->AddFile(Make("long/" + long_name, EntryType::kFile, 0644), "long");
  Entry long_link = Make("long/" + long_name + "-link", EntryType::kSymlink, 0777);
  long_link.target = long_name + "/../" + long_name;
  t->Add(long_link);
  t->AddSparse(Make("sparse", EntryType::kFile, 0644), 10 * kMiB, {{5 * kMiB, 4096}});
  t->AddSparse(Make("sparse2", EntryType::kFile, 0644), 3 * kMiB, {{0, 4096}, {2 * kMiB, kMiB}});
}

struct ReadBack {
  std::vector<Entry> entries;
  std::map<std::string, std::string> contents;
};

Result<ReadBack> ReadTar(TarReader* reader) {
  ReadBack out;
  for (;;) {
    Entry e;
    GC_ASSIGN_OR_RETURN(bool more, reader->Next(&e));
    if (!more) return out;
    std::string content;
    GC_RETURN_IF_ERROR(reader->ReadContent([&](std::string_view data) {
      content.append(data);
      return Status::Ok();
    }));
    if (e.type == EntryType::kFile) out.contents[e.path] = content;
    out.entries.push_back(std::move(e));
  }
}

ProcessResult MustRun(const std::vector<std::string>& argv) {
  auto r = ProcessRunner::Default()->Run(argv);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : ProcessResult{};
}

std::string GetXattr(const std::string& path, const std::string& name) {
  char buf[4096];
  ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), buf, sizeof(buf));
  return n < 0 ? "<missing>" : std::string(buf, static_cast<size_t>(n));
}

// Checks that a tree extracted by a tar tool carries every piece of metadata.
// bsdtar never sets the times of the directory it extracts into, not even
// from its own archives.
void ExpectExtracted(const Tree& tree, const std::string& root, bool root_mtime) {
  for (const Entry& e : tree.entries()) {
    SCOPED_TRACE(e.path);
    std::string p = e.path == "." ? root : root + "/" + e.path;
    struct stat st;
    ASSERT_EQ(::lstat(p.c_str(), &st), 0) << p;
    if (e.type == EntryType::kHardlink) {  // its metadata is the target's
      struct stat target;
      ASSERT_EQ(::lstat((root + "/" + e.target).c_str(), &target), 0);
      EXPECT_EQ(st.st_ino, target.st_ino);
      continue;
    }
    EXPECT_EQ(st.st_mode & 07777, e.mode);
    EXPECT_EQ(st.st_uid, e.uid);
    EXPECT_EQ(st.st_gid, e.gid);
    if (e.path != "." || root_mtime) {
      EXPECT_EQ(st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, e.mtime_ns);
    }
    switch (e.type) {
      case EntryType::kFile:
        EXPECT_TRUE(S_ISREG(st.st_mode));
        EXPECT_EQ(testing::ReadTestFile(p), tree.content(e.path));
        break;
      case EntryType::kDir:
        EXPECT_TRUE(S_ISDIR(st.st_mode));
        break;
      case EntryType::kFifo:
        EXPECT_TRUE(S_ISFIFO(st.st_mode));
        break;
      case EntryType::kSymlink: {
        EXPECT_TRUE(S_ISLNK(st.st_mode));
        EXPECT_EQ(std::filesystem::read_symlink(p).string(), e.target);
        break;
      }
      case EntryType::kHardlink:
      case EntryType::kCharDevice:
      case EntryType::kBlockDevice:
        EXPECT_EQ(e.type == EntryType::kCharDevice, S_ISCHR(st.st_mode));
        EXPECT_EQ(e.type == EntryType::kBlockDevice, S_ISBLK(st.st_mode));
        EXPECT_EQ(major(st.st_rdev), e.rdev_major);
        EXPECT_EQ(minor(st.st_rdev), e.rdev_minor);
        break;
      case EntryType::kSocket:
        break;
    }
    for (const Xattr& x : e.xattrs) EXPECT_EQ(GetXattr(p, x.name), x.value) << x.name;
    if (!e.data_extents.empty() && e.size > 4 * kMiB) {
      EXPECT_LT(st.st_blocks * 512, 256 * 1024) << "sparse file was extracted dense";
    }
  }
  std::string facl = MustRun({"getfacl", "-n", "-p", root + "/dir"}).stdout_text;
  EXPECT_THAT(facl, HasSubstr("\nuser:4242:r-x\n"));
  EXPECT_THAT(facl, HasSubstr("\ngroup::r-x\n"));
  EXPECT_THAT(facl, HasSubstr("\nmask::rwx\n"));
  EXPECT_THAT(facl, HasSubstr("\ndefault:group:4343:r--\n"));
  EXPECT_THAT(MustRun({"getcap", root + "/dir/file"}).stdout_text, HasSubstr("cap_net_raw=ep"));
}

class ArchiveRoundTrip : public ::testing::TestWithParam<Compression> {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(tmp_.Sub("src"));
    BuildFullTree(&tree_);
    tar_ = tmp_.Sub("image.tar");
    ASSERT_TRUE(tree_.Write(tar_, GetParam()).ok());
  }
  TempDir tmp_;
  Tree tree_{tmp_.Sub("src")};
  std::string tar_;
};

TEST_P(ArchiveRoundTrip, TarReaderReturnsEveryFieldAndContent) {
  auto reader = TarReader::Open(tar_);
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  auto back = ReadTar(reader->get());
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->entries.size(), tree_.entries().size());
  for (size_t i = 0; i < back->entries.size(); ++i) {
    EXPECT_EQ(back->entries[i], tree_.entries()[i]);
    const Entry& e = tree_.entries()[i];
    if (e.type == EntryType::kFile) {
      EXPECT_TRUE(back->contents[e.path] == tree_.content(e.path)) << e.path;
    }
  }
}

TEST_P(ArchiveRoundTrip, GnuTarRestoresAllMetadataSilently) {
  std::string out = tmp_.Sub("gnu");
  std::filesystem::create_directories(out);
  ProcessResult r = MustRun({"tar", "--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner",
                             "-xpf", tar_, "-C", out});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stderr_text, "");
  ExpectExtracted(tree_, out, /*root_mtime=*/true);
}

TEST_P(ArchiveRoundTrip, BsdtarRestoresAllMetadata) {
  std::string out = tmp_.Sub("bsd");
  std::filesystem::create_directories(out);
  ProcessResult r =
      MustRun({"bsdtar", "-xpf", tar_, "--acls", "--xattrs", "--numeric-owner", "-C", out});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  ExpectExtracted(tree_, out, /*root_mtime=*/false);
}

INSTANTIATE_TEST_SUITE_P(Compressions, ArchiveRoundTrip,
                         ::testing::Values(Compression::kNone, Compression::kGzip, Compression::kXz,
                                           Compression::kZstd));

TEST(TarWriter, RefusesSockets) {
  TempDir tmp;
  auto writer = TarWriter::Create(tmp.Sub("a.tar"), Compression::kNone);
  ASSERT_TRUE(writer.ok());
  Status s = (*writer)->Add(Make("run/sock", EntryType::kSocket, 0755), -1);
  EXPECT_EQ(s.code(), Code::kUnsupported);
  EXPECT_EQ(s.message(), "sockets cannot be stored in a tar archive: run/sock");
  // The archive stays usable.
  EXPECT_TRUE((*writer)->Add(Make(".", EntryType::kDir, 0755), -1).ok());
  EXPECT_TRUE((*writer)->Finish().ok());
}

TEST(TarWriter, ShortContentIsCorruptAndStopsTheWriter) {
  TempDir tmp;
  testing::WriteTestFile(tmp.Sub("short"), "abc");
  UniqueFd fd(::open(tmp.Sub("short").c_str(), O_RDONLY));
  auto writer = TarWriter::Create(tmp.Sub("a.tar"), Compression::kGzip);
  ASSERT_TRUE(writer.ok());
  Entry e = Make("etc/motd", EntryType::kFile, 0644);
  e.size = 10;
  Status s = (*writer)->Add(e, fd.get());
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("etc/motd"));
  EXPECT_FALSE((*writer)->Add(Make(".", EntryType::kDir, 0755), -1).ok());
  EXPECT_FALSE((*writer)->Finish().ok());
}

TEST(TarWriter, RejectsBadSparseMapAndUnwritablePath) {
  TempDir tmp;
  auto writer = TarWriter::Create(tmp.Sub("a.tar"), Compression::kNone);
  ASSERT_TRUE(writer.ok());
  Entry e = Make("f", EntryType::kFile, 0644);
  e.size = 100;
  e.data_extents = {{50, 10}, {40, 5}};
  EXPECT_EQ((*writer)->Add(e, -1).code(), Code::kInvalidArgument);
  EXPECT_EQ(TarWriter::Create(tmp.Sub("missing/a.tar"), Compression::kNone).status().code(),
            Code::kNotFound);
}

TEST(TarWriter, NegativeMtimeWithNanosecondsRoundTrips) {
  TempDir tmp;
  Tree tree(tmp.path());
  tree.Add(Make(".", EntryType::kDir, 0755)).mtime_ns = 0;
  Entry old = Make("old", EntryType::kDir, 0700);
  tree.Add(old).mtime_ns = -1'500'000'000;  // 1969-12-31T23:59:58.5
  ASSERT_TRUE(tree.Write(tmp.Sub("a.tar"), Compression::kNone).ok());
  auto reader = TarReader::Open(tmp.Sub("a.tar"));
  ASSERT_TRUE(reader.ok());
  auto back = ReadTar(reader->get());
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->entries.size(), 2u);
  EXPECT_EQ(back->entries[1].mtime_ns, -1'500'000'000);
}

TEST(TarWriter, NonUtf8NamesKeepTheirBytes) {
  TempDir tmp;
  Tree tree(tmp.path());
  tree.Add(Make(".", EntryType::kDir, 0755));
  Entry link = Make("caf\xe9", EntryType::kSymlink, 0777);
  link.target = "na\xefve";
  tree.Add(link);
  ASSERT_TRUE(tree.Write(tmp.Sub("a.tar"), Compression::kNone).ok());
  auto reader = TarReader::Open(tmp.Sub("a.tar"));
  ASSERT_TRUE(reader.ok());
  auto back = ReadTar(reader->get());
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->entries.size(), 2u);
  EXPECT_EQ(back->entries[1], tree.entries()[1]);
}

TEST(TarReader, ReadContentIsForFilesOnce) {
  TempDir tmp;
  Tree tree(tmp.path());
  tree.Add(Make(".", EntryType::kDir, 0755));
  tree.AddFile(Make("f", EntryType::kFile, 0644), "abc");
  ASSERT_TRUE(tree.Write(tmp.Sub("a.tar"), Compression::kNone).ok());
  auto reader = TarReader::Open(tmp.Sub("a.tar"));
  ASSERT_TRUE(reader.ok());
  int calls = 0;
  auto count = [&](std::string_view) {
    ++calls;
    return Status::Ok();
  };
  Entry e;
  ASSERT_TRUE(*(*reader)->Next(&e));
  EXPECT_TRUE((*reader)->ReadContent(count).ok());  // a directory: nothing to read
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(*(*reader)->Next(&e));
  EXPECT_TRUE((*reader)->ReadContent(count).ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ((*reader)->ReadContent(count).code(), Code::kInternal);
  // A sink's error comes back unchanged.
  reader = TarReader::Open(tmp.Sub("a.tar"));
  ASSERT_TRUE(*(*reader)->Next(&e) && *(*reader)->Next(&e));
  Status s = (*reader)->ReadContent([](std::string_view) { return IoError("disk gone"); });
  EXPECT_EQ(s.message(), "disk gone");
  EXPECT_FALSE(*(*reader)->Next(&e));
}

// Runs `body` with `fd` as the process's descriptor `target` (0 or 1).
void WithFdAs(int fd, int target, const std::function<void()>& body) {
  std::fflush(stdout);
  UniqueFd saved(::dup(target));
  ASSERT_EQ(::dup2(fd, target), target);
  body();
  std::fflush(stdout);
  ::dup2(saved.get(), target);
}

TEST(TarWriter, DashMeansStdoutAndStdin) {
  TempDir tmp;
  Tree tree(tmp.path());
  tree.Add(Make(".", EntryType::kDir, 0755));
  tree.AddFile(Make("f", EntryType::kFile, 0644), "piped");
  UniqueFd out(::open(tmp.Sub("out.tar.gz").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
  Status written;
  WithFdAs(out.get(), STDOUT_FILENO, [&] { written = tree.Write("-", Compression::kGzip); });
  ASSERT_TRUE(written.ok()) << written.message();
  ProcessResult list = MustRun({"tar", "-tzf", tmp.Sub("out.tar.gz")});
  EXPECT_EQ(list.stdout_text, "./\n./f\n");
  EXPECT_EQ(list.stderr_text, "");  // no "trailing garbage" from block padding

  UniqueFd in(::open(tmp.Sub("out.tar.gz").c_str(), O_RDONLY));
  Result<ReadBack> back = Internal("stdin was not read");
  WithFdAs(in.get(), STDIN_FILENO, [&] {
    auto reader = TarReader::Open("-");
    back = reader.ok() ? ReadTar(reader->get()) : Result<ReadBack>(reader.status());
  });
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->contents["f"], "piped");
}

// One member written with libarchive directly, as an attacker would.
std::string TarWithMember(const std::string& name, const char* hardlink = nullptr) {
  std::vector<char> buf(64 * 1024);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  archive_entry* e = archive_entry_new();
  archive_entry_copy_pathname(e, name.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, hardlink ? 0 : 4);
  if (hardlink) archive_entry_copy_hardlink(e, hardlink);
  archive_write_header(a, e);
  if (!hardlink) archive_write_data(a, "evil", 4);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

TEST(TarReader, RefusesNamesThatLeaveTheRoot) {
  for (const char* name : {"../evil", "/etc/passwd", "a/../../b", "./x/../../y"}) {
    SCOPED_TRACE(name);
    auto reader = TarReader::OpenMemory(TarWithMember(name));
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    Entry e;
    auto r = (*reader)->Next(&e);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(std::string("archive member '") + name + "'"));
    EXPECT_FALSE((*reader)->Next(&e).ok()) << "errors must stick";
  }
  auto reader = TarReader::OpenMemory(TarWithMember("ok", "../../etc/shadow"));
  ASSERT_TRUE(reader.ok());
  Entry e;
  auto r = (*reader)->Next(&e);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("hardlink target '../../etc/shadow'"));
}

TEST(TarReader, TruncatedArchivesAreErrorsNotCrashes) {
  TempDir tmp;
  Tree tree(tmp.Sub("src"));
  std::filesystem::create_directories(tmp.Sub("src"));
  BuildFullTree(&tree);
  for (Compression c : {Compression::kNone, Compression::kGzip}) {
    ASSERT_TRUE(tree.Write(tmp.Sub("a.tar"), c).ok());
    std::string full = testing::ReadTestFile(tmp.Sub("a.tar"));
    for (size_t cut : {size_t{100}, size_t{700}, full.size() / 3, full.size() / 2}) {
      SCOPED_TRACE(std::to_string(static_cast<int>(c)) + " cut at " + std::to_string(cut));
      auto reader = TarReader::OpenMemory(full.substr(0, cut));
      if (!reader.ok()) continue;  // too short to even detect: also an error
      auto back = ReadTar(reader->get());
      EXPECT_FALSE(back.ok());
    }
  }
  EXPECT_FALSE(TarReader::OpenMemory("not a tar archive at all").ok());
  EXPECT_EQ(TarReader::Open(tmp.Sub("missing.tar")).status().code(), Code::kNotFound);
}

// Archives made by GNU tar from a real tree: sparse files and ACLs, where GNU
// tar writes user names into the ACL text and the numeric form only with
// --xattrs.
TEST(TarReader, ReadsGnuTarArchives) {
  TempDir tmp;
  std::string src = tmp.Sub("src");
  std::filesystem::create_directories(src + "/d");
  {
    UniqueFd fd(::open((src + "/d/sparse").c_str(), O_RDWR | O_CREAT, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::ftruncate(fd.get(), 8 * kMiB), 0);
    ASSERT_EQ(::pwrite(fd.get(), "data", 4, 4 * kMiB), 4);
  }
  ASSERT_EQ(MustRun({"setfacl", "-m", "u:daemon:rwx,u:4242:r", src + "/d"}).exit_code, 0);
  std::string xattr_tar = tmp.Sub("x.tar"), plain_tar = tmp.Sub("p.tar");
  ASSERT_EQ(MustRun({"tar", "--xattrs", "--acls", "--sparse", "--format=posix", "-cf", xattr_tar,
                     "-C", src, "."})
                .exit_code,
            0);
  ASSERT_EQ(MustRun({"tar", "--acls", "-cf", plain_tar, "-C", src, "."}).exit_code, 0);

  auto reader = TarReader::Open(xattr_tar);
  ASSERT_TRUE(reader.ok());
  auto back = ReadTar(reader->get());
  ASSERT_TRUE(back.ok()) << back.status().message();
  std::map<std::string, Entry> by_path;
  for (const Entry& e : back->entries) by_path[e.path] = e;
  ASSERT_TRUE(by_path.count("d/sparse"));
  EXPECT_EQ(by_path["d/sparse"].size, 8 * kMiB);
  ASSERT_EQ(by_path["d/sparse"].data_extents.size(), 1u);
  EXPECT_LE(by_path["d/sparse"].data_extents[0].offset, 4 * kMiB);
  std::string expected(8 * kMiB, '\0');
  expected.replace(4 * kMiB, 4, "data");
  EXPECT_TRUE(back->contents["d/sparse"] == expected);
  ASSERT_EQ(by_path["d"].xattrs.size(), 1u);
  EXPECT_EQ(by_path["d"].xattrs[0].value, GetXattr(src + "/d", "system.posix_acl_access"));

  reader = TarReader::Open(plain_tar);
  ASSERT_TRUE(reader.ok());
  back = ReadTar(reader->get());
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(back.status().message(), HasSubstr("user 'daemon' has no numeric id"));
}

}  // namespace
}  // namespace gc
