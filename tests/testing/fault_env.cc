#include "tests/testing/fault_env.h"

namespace gc::testing {

namespace {

class FaultWritableFile : public WritableFile {
 public:
  FaultWritableFile(FaultEnv* env, std::unique_ptr<WritableFile> base, std::string path)
      : env_(env), base_(std::move(base)), path_(std::move(path)) {}
  Status Append(std::string_view data) override {
    if (!env_->Spend(data.size())) return ErrnoError("write " + path_, ENOSPC);
    return base_->Append(data);
  }
  Status Skip(uint64_t length) override { return base_->Skip(length); }
  Status Sync() override { return base_->Sync(); }
  Status Close() override { return base_->Close(); }
  Status LinkAs(const std::string& path) override { return base_->LinkAs(path); }

 private:
  FaultEnv* env_;
  std::unique_ptr<WritableFile> base_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<WritableFile>> FaultEnv::NewAnonymousFile(const std::string& dir,
                                                                 mode_t mode) {
  GC_ASSIGN_OR_RETURN(auto file, base_->NewAnonymousFile(dir, mode));
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, std::move(file), dir));
}

Result<std::unique_ptr<WritableFile>> FaultEnv::NewWritableFile(const std::string& path,
                                                                mode_t mode) {
  GC_ASSIGN_OR_RETURN(auto file, base_->NewWritableFile(path, mode));
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, std::move(file), path));
}

}  // namespace gc::testing
