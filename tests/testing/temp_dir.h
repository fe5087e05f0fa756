// TempDir: a fresh directory under $TMPDIR for one test, removed afterwards.
#pragma once

#include <string>

namespace gc::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& relative) const { return path_ + "/" + relative; }

 private:
  std::string path_;
};

// Writes `data` to `path`, creating parent directories; aborts the test
// binary on failure (test set-up must not fail silently).
void WriteTestFile(const std::string& path, const std::string& data);
std::string ReadTestFile(const std::string& path);

}  // namespace gc::testing
