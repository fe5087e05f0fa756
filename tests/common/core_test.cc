// Tests for the project's base: status.h, hash.h, env.h (incl. FileLock and
// WriteFileAtomic).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/env.h"
#include "common/hash.h"
#include "common/status.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ReadTestFile;
using ::testing::StartsWith;
using testing::TempDir;
using testing::WriteTestFile;

TEST(StatusTest, OkAndContext) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), Code::kOk);
  EXPECT_TRUE(ok.WithContext("ignored").ok());
  EXPECT_EQ(ok.WithContext("ignored").message(), "");

  Status bad = Corrupt("object abc does not match its hash");
  Status wrapped = bad.WithContext("image web@3");
  EXPECT_EQ(wrapped.code(), Code::kCorrupt);
  EXPECT_EQ(wrapped.message(), "image web@3: object abc does not match its hash");
  EXPECT_STREQ(CodeName(Code::kNoSpace), "no space left");
  EXPECT_STREQ(CodeName(Code::kBusy), "busy");
}

TEST(StatusTest, ErrnoErrorMapsCodes) {
  Status full = ErrnoError("write /srv/store/x", ENOSPC);
  EXPECT_EQ(full.code(), Code::kNoSpace);
  EXPECT_THAT(full.message(), StartsWith("write /srv/store/x: No space left on device"));
  EXPECT_THAT(full.message(), HasSubstr("free some space"));
  EXPECT_EQ(ErrnoError("write", EDQUOT).code(), Code::kNoSpace);
  EXPECT_EQ(ErrnoError("open", ENOENT).code(), Code::kNotFound);
  EXPECT_EQ(ErrnoError("mkdir", EEXIST).code(), Code::kAlreadyExists);
  Status denied = ErrnoError("open /dev/sda", EACCES);
  EXPECT_EQ(denied.code(), Code::kIoError);
  EXPECT_THAT(denied.message(), HasSubstr("root"));
  EXPECT_EQ(ErrnoError("read", EIO).code(), Code::kIoError);
  errno = ENOSPC;
  EXPECT_EQ(ErrnoError("implicit errno").code(), Code::kNoSpace);
}

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  GC_ASSIGN_OR_RETURN(int half, Half(x));
  GC_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int x) {
  GC_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusTest, ResultAndMacros) {
  Result<int> q = Quarter(12);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, 3);
  Result<int> odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(odd.status().message(), "3 is odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).message(), "5 is odd");
}

TEST(HashTest, KnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 hasher;  // a million 'a', fed in uneven pieces
  std::string chunk(999, 'a');
  for (int i = 0; i < 1001; ++i) hasher.Update(chunk);
  hasher.Update(std::string(1000000 - 999 * 1001, 'a'));
  EXPECT_EQ(hasher.FinishHex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(HashTest, FilesAndFds) {
  TempDir dir;
  std::string content(3 << 20, 'x');
  content += "tail";
  WriteTestFile(dir.Sub("f"), content);
  auto hash = Sha256File(dir.Sub("f"));
  ASSERT_TRUE(hash.ok()) << hash.status().message();
  EXPECT_EQ(*hash, Sha256Hex(content));
  UniqueFd fd(::open(dir.Sub("f").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(*Sha256Fd(fd.get()), *hash);

  auto missing = Sha256File(dir.Sub("missing"));
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(dir.Sub("missing")));
  // A symlink is never followed: the store hashes what it captured.
  ASSERT_EQ(::symlink(dir.Sub("f").c_str(), dir.Sub("link").c_str()), 0);
  EXPECT_FALSE(Sha256File(dir.Sub("link")).ok());
}

TEST(HashTest, HexHelpers) {
  EXPECT_TRUE(IsValidHashHex(Sha256Hex("abc")));
  EXPECT_FALSE(IsValidHashHex(std::string(63, 'a')));
  EXPECT_FALSE(IsValidHashHex(std::string(65, 'a')));
  EXPECT_FALSE(IsValidHashHex(std::string(64, 'A')));
  EXPECT_FALSE(IsValidHashHex(std::string(63, 'a') + "g"));

  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string hex = HexEncode(all);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  EXPECT_EQ(hex.substr(hex.size() - 4), "feff");
  std::string back;
  ASSERT_TRUE(HexDecode(hex, &back));
  EXPECT_EQ(back, all);
  ASSERT_TRUE(HexDecode("ABcd", &back));
  EXPECT_EQ(back, "\xab\xcd");
  EXPECT_TRUE(HexDecode("", &back));
  EXPECT_EQ(back, "");
  EXPECT_FALSE(HexDecode("abc", &back));  // odd length
  EXPECT_FALSE(HexDecode("zz", &back));
  EXPECT_FALSE(HexDecode("0g", &back));
  EXPECT_FALSE(HexDecode(" 0", &back));
}

TEST(EnvTest, WriteFileAtomicCreatesAndReplaces) {
  TempDir dir;
  Env* env = Env::Default();
  std::string path = dir.Sub("catalog.json");
  ASSERT_TRUE(env->WriteFileAtomic(path, "first").ok());
  EXPECT_EQ(*env->ReadFile(path), "first");
  ASSERT_TRUE(env->WriteFileAtomic(path, std::string(100000, 'n')).ok());
  EXPECT_EQ(*env->ReadFile(path), std::string(100000, 'n'));
  ASSERT_TRUE(env->WriteFileAtomic(path, "").ok());
  EXPECT_EQ(*env->ReadFile(path), "");
  // No temp file is left beside it.
  EXPECT_THAT(*env->ListDir(dir.path()), ElementsAre("catalog.json"));

  Status missing_dir = env->WriteFileAtomic(dir.Sub("no/such/dir/x"), "data");
  EXPECT_EQ(missing_dir.code(), Code::kNotFound);
  EXPECT_THAT(missing_dir.message(), HasSubstr(dir.Sub("no/such/dir/x")));
  EXPECT_THAT(*env->ListDir(dir.path()), ElementsAre("catalog.json"));
}

TEST(EnvTest, FilesAndDirectories) {
  TempDir dir;
  Env* env = Env::Default();
  EXPECT_EQ(env->ReadFile(dir.Sub("none")).status().code(), Code::kNotFound);
  ASSERT_TRUE(env->CreateDirs(dir.Sub("a/b/c")).ok());
  ASSERT_TRUE(env->CreateDirs(dir.Sub("a/b/c")).ok());  // already there is fine
  WriteTestFile(dir.Sub("a/z"), "1");
  WriteTestFile(dir.Sub("a/m"), "22");
  EXPECT_THAT(*env->ListDir(dir.Sub("a")), ElementsAre("b", "m", "z"));
  EXPECT_TRUE(env->ListDir(dir.Sub("none"))->empty());
  EXPECT_TRUE(env->Exists(dir.Sub("a/m")));
  EXPECT_EQ(*env->FileSize(dir.Sub("a/m")), 2u);
  EXPECT_EQ(env->FileSize(dir.Sub("none")).status().code(), Code::kNotFound);
  ASSERT_TRUE(env->Rename(dir.Sub("a/m"), dir.Sub("a/n")).ok());
  EXPECT_FALSE(env->Exists(dir.Sub("a/m")));
  EXPECT_EQ(ReadTestFile(dir.Sub("a/n")), "22");
  EXPECT_EQ(env->Rename(dir.Sub("a/m"), dir.Sub("a/o")).code(), Code::kNotFound);
  ASSERT_TRUE(env->RemoveFile(dir.Sub("a/n")).ok());
  EXPECT_TRUE(env->RemoveFile(dir.Sub("a/n")).ok());  // already gone is fine
  ASSERT_TRUE(env->RemoveTree(dir.Sub("a")).ok());
  EXPECT_FALSE(env->Exists(dir.Sub("a")));
  EXPECT_TRUE(env->SyncDir(dir.path()).ok());
  EXPECT_TRUE(env->SyncFileSystem(dir.path()).ok());
  EXPECT_GT(env->NowNanos(), int64_t{1600000000} * 1000000000);
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
}

TEST(EnvTest, WritableFileWithTrailingHole) {
  TempDir dir;
  Env* env = Env::Default();
  auto file = env->NewWritableFile(dir.Sub("sparse"), 0600);
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_TRUE((*file)->Append("head").ok());
  ASSERT_TRUE((*file)->Skip(1 << 20).ok());
  ASSERT_TRUE((*file)->Append("mid").ok());
  ASSERT_TRUE((*file)->Skip(4096).ok());  // the size must include a trailing hole
  ASSERT_TRUE((*file)->Close().ok());
  std::string data = ReadTestFile(dir.Sub("sparse"));
  ASSERT_EQ(data.size(), 4u + (1 << 20) + 3u + 4096u);
  EXPECT_EQ(data.substr(0, 4), "head");
  EXPECT_EQ(data.substr(4 + (1 << 20), 3), "mid");
  EXPECT_EQ(data.substr(4, 1 << 20), std::string(1 << 20, '\0'));
  struct stat st;
  ASSERT_EQ(::stat(dir.Sub("sparse").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(FileLockTest, ExclusiveConflictsInOneProcess) {
  TempDir dir;
  std::string path = dir.Sub("store.lock");
  using Mode = FileLock::Mode;
  {
    auto first = FileLock::Acquire(path, Mode::kExclusive, false, "a capture is running");
    ASSERT_TRUE(first.ok()) << first.status().message();
    // flock locks belong to the open file description, so a second Acquire
    // in the same process conflicts like another process would.
    auto second = FileLock::Acquire(path, Mode::kExclusive, false, "a capture is running");
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), Code::kBusy);
    EXPECT_THAT(second.status().message(), HasSubstr("a capture is running"));
    EXPECT_THAT(second.status().message(), HasSubstr(path));
    EXPECT_EQ(FileLock::Acquire(path, Mode::kShared, false, "x").status().code(), Code::kBusy);
  }
  // Released on destruction.
  EXPECT_TRUE(FileLock::Acquire(path, Mode::kExclusive, false, "x").ok());
}

TEST(FileLockTest, SharedLocksCoexistButExcludeWriters) {
  TempDir dir;
  std::string path = dir.Sub("store.lock");
  using Mode = FileLock::Mode;
  auto reader1 = FileLock::Acquire(path, Mode::kShared, false, "r");
  auto reader2 = FileLock::Acquire(path, Mode::kShared, false, "r");
  ASSERT_TRUE(reader1.ok());
  ASSERT_TRUE(reader2.ok());
  auto writer = FileLock::Acquire(path, Mode::kExclusive, false, "readers are active");
  EXPECT_EQ(writer.status().code(), Code::kBusy);
  FileLock moved = std::move(*reader1);  // moving keeps the lock
  EXPECT_EQ(FileLock::Acquire(path, Mode::kExclusive, false, "r").status().code(), Code::kBusy);
  EXPECT_EQ(FileLock::Acquire(dir.Sub("no/dir/lock"), Mode::kShared, false, "r").status().code(),
            Code::kNotFound);
}

// Another process holds the lock; when it dies (kill -9) the kernel frees it
// and a waiting Acquire goes through.
TEST(FileLockTest, OtherProcessAndReleaseOnDeath) {
  TempDir dir;
  std::string path = dir.Sub("serve.lock");
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = FileLock::Acquire(path, FileLock::Mode::kExclusive, false, "child");
    char byte = lock.ok() ? 'y' : 'n';
    if (::write(ready[1], &byte, 1) != 1) _exit(1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(byte, 'y');
  auto busy = FileLock::Acquire(path, FileLock::Mode::kShared, false, "another serve runs");
  EXPECT_EQ(busy.status().code(), Code::kBusy);
  EXPECT_THAT(busy.status().message(), HasSubstr("another serve runs"));
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  auto after = FileLock::Acquire(path, FileLock::Mode::kExclusive, true, "x");
  EXPECT_TRUE(after.ok()) << after.status().message();
}

}  // namespace
}  // namespace gc
