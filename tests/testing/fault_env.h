// FaultEnv: the real Env, except that writes fail with ENOSPC once a byte
// budget is spent, as a full disk would make them fail, and that the clock
// can be stopped at a chosen time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/env.h"

namespace gc::testing {

class FaultEnv : public Env {
 public:
  explicit FaultEnv(Env* base = Env::Default()) : base_(base) {}

  // After `bytes` more bytes are written, every write fails with ENOSPC.
  void FailWritesAfter(uint64_t bytes) { budget_ = static_cast<int64_t>(bytes); }
  void StopFailing() { budget_ = INT64_MAX; }
  bool Spend(uint64_t bytes) { return (budget_ -= static_cast<int64_t>(bytes)) >= 0; }
  // NowNanos returns `now_ns` from now on (0: the real clock again).
  void SetNowNanos(int64_t now_ns) { now_ns_ = now_ns; }

  Result<std::string> ReadFile(const std::string& path) override { return base_->ReadFile(path); }
  Status WriteFileAtomic(const std::string& path, std::string_view data) override {
    if (!Spend(data.size())) return ErrnoError("write " + path, ENOSPC);
    return base_->WriteFileAtomic(path, data);
  }
  Status WriteFile(const std::string& path, std::string_view data) override {
    if (!Spend(data.size())) return ErrnoError("write " + path, ENOSPC);
    return base_->WriteFile(path, data);
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        mode_t mode) override;
  Result<std::unique_ptr<WritableFile>> NewAnonymousFile(const std::string& dir,
                                                         mode_t mode) override;
  Result<UniqueFd> OpenForRead(const std::string& path) override {
    return base_->OpenForRead(path);
  }
  Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  Status Rename(const std::string& from, const std::string& to) override {
    return base_->Rename(from, to);
  }
  Status RemoveFile(const std::string& path) override { return base_->RemoveFile(path); }
  Status RemoveTree(const std::string& path) override { return base_->RemoveTree(path); }
  Status SyncDir(const std::string& path) override { return base_->SyncDir(path); }
  Status SyncFileSystem(const std::string& path) override { return base_->SyncFileSystem(path); }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return base_->ListDir(path);
  }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Result<int64_t> ChangeTimeNanos(const std::string& path) override {
    return base_->ChangeTimeNanos(path);
  }
  int64_t NowNanos() override {
    int64_t now = now_ns_;
    return now != 0 ? now : base_->NowNanos();
  }

 private:
  Env* base_;
  std::atomic<int64_t> budget_{INT64_MAX};
  std::atomic<int64_t> now_ns_{0};
};

}  // namespace gc::testing
