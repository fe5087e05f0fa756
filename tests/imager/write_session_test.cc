#include "imager/write_session.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "imager/store.h"
#include "tests/testing/fault_env.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;

// Lets a test say when a file changed, as a power cut long after a write
// would have left it.
class ClockedEnv : public testing::FaultEnv {
 public:
  Result<int64_t> ChangeTimeNanos(const std::string& path) override {
    auto it = changed_.find(std::filesystem::path(path).filename().string());
    if (it != changed_.end()) return it->second;
    return FaultEnv::ChangeTimeNanos(path);
  }
  void SetChanged(const std::string& name, int64_t ns) { changed_[name] = ns; }

 private:
  std::map<std::string, int64_t> changed_;
};

class WriteSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = ImageStore::Open(dir_.path(), /*create=*/true, &env_);
    ASSERT_TRUE(store.ok()) << store.status().message();
  }

  std::string Put(ImageStore* store, const std::string& content) {
    EXPECT_TRUE(store->BeginWrite().ok());
    auto writer = store->NewObject();
    EXPECT_TRUE(writer.ok());
    EXPECT_TRUE((*writer)->Append(content).ok());
    auto hash = (*writer)->Commit("");
    EXPECT_TRUE(hash.ok());
    return hash.ok() ? *hash : "";
  }

  // Writes `contents` as objects in a child process that then dies with
  // SIGKILL, its session unfinished, as a power cut would leave it.
  std::vector<std::string> PutAndDie(const std::vector<std::string>& contents) {
    int pipe_fds[2];
    EXPECT_EQ(::pipe(pipe_fds), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(pipe_fds[0]);
      auto store = ImageStore::Open(dir_.path(), /*create=*/false);
      if (!store.ok()) ::_exit(1);
      for (const auto& content : contents) {
        std::string hash = Put(store->get(), content) + "\n";
        if (::write(pipe_fds[1], hash.data(), hash.size()) < 0) ::_exit(1);
      }
      ::kill(::getpid(), SIGKILL);
    }
    ::close(pipe_fds[1]);
    std::string hashes;
    char buffer[256];
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) hashes.append(buffer, n);
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status));
    std::vector<std::string> out;
    for (size_t start = 0, end; (end = hashes.find('\n', start)) != std::string::npos;
         start = end + 1) {
      out.push_back(hashes.substr(start, end - start));
    }
    EXPECT_EQ(out.size(), contents.size());
    return out;
  }

  // Not through a store: opening one would already recover.
  std::string ObjectPath(const std::string& hash) {
    return dir_.Sub("store/objects/" + hash.substr(0, 2) + "/" + hash);
  }

  std::vector<std::string> Markers() { return env_.ListDir(dir_.Sub("store/sessions")).value(); }

  TempDir dir_;
  ClockedEnv env_;
};

TEST_F(WriteSessionTest, AFinishedSessionLeavesNoMarker) {
  {
    auto store = ImageStore::Open(dir_.path(), /*create=*/false, &env_);
    ASSERT_TRUE(store.ok());
    Put(store->get(), "hello");
    EXPECT_EQ(Markers().size(), 1u);  // durable before the first object
  }
  EXPECT_TRUE(Markers().empty());
}

// The Critical case: after a power cut an object keeps its name but not its
// content. The next open removes it, so nothing dedups against it.
TEST_F(WriteSessionTest, ObjectsOfADeadSessionThatLostContentAreRemoved) {
  std::vector<std::string> hashes = PutAndDie({"kept content", "lost content"});
  ASSERT_EQ(hashes.size(), 2u);
  ASSERT_EQ(Markers().size(), 1u);
  // What the power cut left: the name, no data (truncate keeps the inode).
  std::filesystem::resize_file(ObjectPath(hashes[1]), 0);

  auto recovered = RecoverDeadSessions(dir_.Sub("store"), &env_);
  ASSERT_TRUE(recovered.ok()) << recovered.status().message();
  EXPECT_EQ(recovered->sessions, 1u);
  EXPECT_EQ(recovered->objects_checked, 2u);
  EXPECT_EQ(recovered->objects_removed, 1u);
  EXPECT_TRUE(Markers().empty());

  auto store = ImageStore::Open(dir_.path(), /*create=*/false, &env_);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->HasObject(hashes[0]));
  EXPECT_FALSE((*store)->HasObject(hashes[1]));
  // Written again, it is whole.
  EXPECT_EQ(Put(store->get(), "lost content"), hashes[1]);
  EXPECT_EQ(std::filesystem::file_size((*store)->ObjectPath(hashes[1])), 12u);
}

// Opening the store does it, and only for objects changed since the dead
// session began: a large store is not re-hashed after every crash.
TEST_F(WriteSessionTest, OpenChecksOnlyWhatTheDeadSessionMayHaveWritten) {
  std::string old_hash;
  {
    auto store = ImageStore::Open(dir_.path(), /*create=*/false, &env_);
    ASSERT_TRUE(store.ok());
    old_hash = Put(store->get(), "from an earlier capture");
  }
  std::vector<std::string> hashes = PutAndDie({"new"});
  ASSERT_EQ(Markers().size(), 1u);
  env_.SetChanged(old_hash, 1'000'000'000);  // long before the session began
  std::filesystem::resize_file(ObjectPath(old_hash), 0);
  auto store = ImageStore::Open(dir_.path(), /*create=*/false, &env_);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE(Markers().empty());
  EXPECT_TRUE((*store)->HasObject(hashes[0]));
  // Not the session's: left for `goldcast image verify` to find.
  EXPECT_TRUE((*store)->HasObject(old_hash));
}

TEST_F(WriteSessionTest, ALiveSessionIsLeftAlone) {
  auto writer = ImageStore::Open(dir_.path(), /*create=*/false, &env_);
  ASSERT_TRUE(writer.ok());
  std::string hash = Put(writer->get(), "in progress");
  auto recovered = RecoverDeadSessions(dir_.Sub("store"), &env_);
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(recovered->sessions, 0u);
  EXPECT_EQ(Markers().size(), 1u);
}

// A marker from before the last boot belongs to a process that is gone,
// whatever runs under its pid now (here: this test's own).
TEST_F(WriteSessionTest, AMarkerFromAnotherBootIsDead) {
  std::string marker = dir_.Sub("store/sessions/" + std::to_string(::getppid()) + ".0.1.session");
  WriteTestFile(marker, "00000000-0000-0000-0000-000000000000\n");
  auto recovered = RecoverDeadSessions(dir_.Sub("store"), &env_);
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(recovered->sessions, CurrentBootId().empty() ? 0u : 1u);
}

}  // namespace
}  // namespace gc
