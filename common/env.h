// Env: the file system and clock as the store and the catalog logic see them.
// RealEnv talks to the kernel; tests wrap it (FaultEnv in tests/) to inject a
// full disk or a crash at a chosen write, as LevelDB's Env allows.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace gc {

// A file being written. A WritableFile destroyed without Close() leaves a
// temp file that its owner cleans up.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Leaves a hole of `length` bytes (sparse files).
  virtual Status Skip(uint64_t length) = 0;
  // fsync. Objects skip it: the store makes them durable with one
  // SyncFileSystem before a version is published, which is far cheaper.
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // For files from Env::NewAnonymousFile: closes the file and gives it the
  // name `path`. Fails with kAlreadyExists (and discards the file) if
  // `path` exists.
  virtual Status LinkAs(const std::string& path) = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide real environment.
  static Env* Default();

  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Writes via a temp file in the same directory, fsync, rename, fsync dir:
  // readers see the old or the new content, never a mix.
  virtual Status WriteFileAtomic(const std::string& path, std::string_view data) = 0;
  // Creates or replaces `path` without fsync: for files in a private
  // directory that a later SyncFileSystem makes durable as a batch.
  virtual Status WriteFile(const std::string& path, std::string_view data) = 0;
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                mode_t mode = 0644) = 0;
  // A file in `dir` without a name until LinkAs (O_TMPFILE): whatever
  // happens before that, kill -9 or power loss, nothing is left behind.
  // Falls back to a named temp file on file systems without O_TMPFILE.
  virtual Result<std::unique_ptr<WritableFile>> NewAnonymousFile(const std::string& dir,
                                                                 mode_t mode) = 0;
  virtual Result<UniqueFd> OpenForRead(const std::string& path) = 0;

  virtual Status CreateDirs(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RemoveTree(const std::string& path) = 0;
  virtual Status SyncDir(const std::string& path) = 0;
  // syncfs(2) of the file system holding `path`.
  virtual Status SyncFileSystem(const std::string& path) = 0;
  // Names in a directory, sorted, without "." and "..". A missing directory
  // is an empty list.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // When `path` (not followed if a symlink) last changed, data or inode
  // (st_ctime): unlike the mtime, nothing but the kernel sets it.
  virtual Result<int64_t> ChangeTimeNanos(const std::string& path) = 0;

  virtual int64_t NowNanos() = 0;
};

// An exclusive or shared flock(2) on a file, released on destruction (and by
// the kernel when the process dies, so a kill -9 never leaves a stale lock).
class FileLock {
 public:
  enum class Mode { kShared, kExclusive };
  // Fails with kBusy and `what_holds` in the message if `wait` is false and
  // another process holds it.
  static Result<FileLock> Acquire(const std::string& path, Mode mode, bool wait,
                                  std::string_view what_holds);
  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

std::string JoinPath(std::string_view a, std::string_view b);

// Writes all of `data` to `fd` (retrying short writes), naming `what` on
// error.
Status WriteAllFd(int fd, std::string_view data, std::string_view what);

}  // namespace gc
