// Running child processes behind an interface, so logic that shells out
// (sfdisk, lsblk, dnsmasq --test, make) gets unit tests with a fake.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace gc {

struct ProcessResult {
  // As the shell reports it: the exit code, or 128 + the signal that killed
  // it (as ChildProcess does).
  int exit_code = -1;
  std::string stdout_text;
  std::string stderr_text;
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  static ProcessRunner* Default();
  // Runs argv[0] (searched in PATH) to completion. Failing to start it
  // (not installed) is kNotFound naming the program; a non-zero exit is
  // *not* an error here.
  virtual Result<ProcessResult> Run(const std::vector<std::string>& argv) = 0;
};

// Runs argv through `runner` and turns a non-zero exit into an IoError
// "ARGV exited N: <its stderr, or stdout when stderr is empty>".
Status RunChecked(ProcessRunner* runner, const std::vector<std::string>& argv);

}  // namespace gc
