#include "common/env.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>

#include "common/list_dir.h"
#include "common/unique_fd.h"

namespace gc {

namespace {

std::string TempSuffix() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rng() % 1000000000);
}

class RealWritableFile : public WritableFile {
 public:
  // `path` names the file; for an O_TMPFILE file it is the directory and
  // `anonymous` is set; `temp_path` is set for the named-temp fallback.
  RealWritableFile(UniqueFd fd, std::string path, bool anonymous = false,
                   std::string temp_path = "")
      : fd_(std::move(fd)),
        path_(std::move(path)),
        anonymous_(anonymous),
        temp_path_(std::move(temp_path)) {}

  ~RealWritableFile() override {
    if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  }

  Status LinkAs(const std::string& path) override {
    if (!anonymous_ && temp_path_.empty()) {
      return Internal("LinkAs on a named file " + path_);
    }
    GC_RETURN_IF_ERROR(SetSize());
    Status status;
    if (anonymous_) {
      // linkat through /proc/self/fd needs no privilege; AT_EMPTY_PATH needs
      // CAP_DAC_READ_SEARCH. Try both.
      std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
      if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) != 0 &&
          ::linkat(fd_.get(), "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH) != 0) {
        status = ErrnoError("link " + path);
      }
    } else if (::link(temp_path_.c_str(), path.c_str()) != 0) {
      status = ErrnoError("link " + path);
    }
    fd_.Reset();
    return status;
  }

  Status Append(std::string_view data) override {
    GC_RETURN_IF_ERROR(WriteAllFd(fd_.get(), data, path_));
    size_ += data.size();
    return Status::Ok();
  }

  Status Skip(uint64_t length) override {
    size_ += length;
    has_hole_ = true;
    if (::lseek(fd_.get(), static_cast<off_t>(size_), SEEK_SET) < 0) {
      return ErrnoError("seek " + path_);
    }
    return Status::Ok();
  }

  Status Sync() override {
    GC_RETURN_IF_ERROR(SetSize());
    if (::fsync(fd_.get()) != 0) return ErrnoError("fsync " + path_);
    return Status::Ok();
  }

  Status Close() override {
    GC_RETURN_IF_ERROR(SetSize());
    int fd = fd_.Release();
    if (::close(fd) != 0) return ErrnoError("close " + path_);
    return Status::Ok();
  }

 private:
  // A trailing hole needs the size set explicitly.
  Status SetSize() {
    if (!has_hole_) return Status::Ok();
    if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) {
      return ErrnoError("truncate " + path_);
    }
    return Status::Ok();
  }

 public:
 private:
  UniqueFd fd_;
  std::string path_;
  uint64_t size_ = 0;
  bool has_hole_ = false;
  bool anonymous_ = false;
  std::string temp_path_;
};

class RealEnv : public Env {
 public:
  Result<std::string> ReadFile(const std::string& path) override {
    GC_ASSIGN_OR_RETURN(UniqueFd fd, OpenForRead(path));
    std::string data;
    char buffer[65536];
    for (;;) {
      ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("read " + path);
      }
      if (n == 0) break;
      data.append(buffer, static_cast<size_t>(n));
    }
    return data;
  }

  Status WriteFileAtomic(const std::string& path, std::string_view data) override {
    std::string temp = path + TempSuffix();
    {
      GC_ASSIGN_OR_RETURN(auto file, NewWritableFile(temp, 0644));
      Status status = file->Append(data);
      if (status.ok()) status = file->Sync();
      if (status.ok()) status = file->Close();
      if (!status.ok()) {
        ::unlink(temp.c_str());
        return status;
      }
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      Status status = ErrnoError("rename " + temp + " to " + path);
      ::unlink(temp.c_str());
      return status;
    }
    return SyncDir(std::filesystem::path(path).parent_path().string());
  }

  Status WriteFile(const std::string& path, std::string_view data) override {
    GC_ASSIGN_OR_RETURN(auto file, NewWritableFile(path, 0644));
    GC_RETURN_IF_ERROR(file->Append(data));
    return file->Close();
  }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        mode_t mode) override {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd.valid()) return ErrnoError("create " + path);
    return std::unique_ptr<WritableFile>(new RealWritableFile(std::move(fd), path));
  }

  Result<std::unique_ptr<WritableFile>> NewAnonymousFile(const std::string& dir,
                                                         mode_t mode) override {
    UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode));
    if (fd.valid()) {
      return std::unique_ptr<WritableFile>(new RealWritableFile(std::move(fd), dir, true));
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      return ErrnoError("create a file in " + dir);
    }
    // Named "<pid>.<n>.anon" so a store can tell a dead writer's leftovers.
    static std::atomic<uint64_t> counter{0};
    std::string temp =
        JoinPath(dir, std::to_string(::getpid()) + "." + std::to_string(counter++) + ".anon");
    fd.Reset(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd.valid()) return ErrnoError("create " + temp);
    return std::unique_ptr<WritableFile>(new RealWritableFile(std::move(fd), temp, false, temp));
  }

  Result<UniqueFd> OpenForRead(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError("open " + path);
    return fd;
  }

  Status CreateDirs(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return ErrnoError("create directory " + path, ec.value());
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoError("rename " + from + " to " + to);
    }
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("remove " + path);
    return Status::Ok();
  }

  Status RemoveTree(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return ErrnoError("remove " + path, ec.value());
    return Status::Ok();
  }

  Status SyncDir(const std::string& path) override {
    UniqueFd fd(::open(path.empty() ? "." : path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError("open directory " + path);
    if (::fsync(fd.get()) != 0) return ErrnoError("fsync directory " + path);
    return Status::Ok();
  }

  Status SyncFileSystem(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError("open " + path);
    if (::syncfs(fd.get()) != 0) return ErrnoError("syncfs " + path);
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) {
      if (errno == ENOENT) return std::vector<std::string>();
      return ErrnoError("list " + path);
    }
    GC_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirFd(dir.get(), path));
    std::sort(names.begin(), names.end());
    return names;
  }

  bool Exists(const std::string& path) override {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
  }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat " + path);
    return static_cast<uint64_t>(st.st_size);
  }

  Result<int64_t> ChangeTimeNanos(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoError("stat " + path);
    return int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  }

  int64_t NowNanos() override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

Env* Env::Default() {
  static RealEnv env;
  return &env;
}

Result<FileLock> FileLock::Acquire(const std::string& path, Mode mode, bool wait,
                                   std::string_view what_holds) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("open lock " + path);
  int op = (mode == Mode::kShared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
  while (::flock(fd.get(), op) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return Status(Code::kBusy, std::string(what_holds) + " (lock " + path + ")");
    }
    return ErrnoError("lock " + path);
  }
  return FileLock(std::move(fd));
}

Status WriteAllFd(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("write " + std::string(what));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string out(a);
  if (out.back() != '/') out.push_back('/');
  out.append(b);
  return out;
}

}  // namespace gc
