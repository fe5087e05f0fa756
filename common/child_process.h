// ChildProcess: a long-running child (dnsmasq) owned by RAII: started with
// posix_spawn, signalled and reaped by pid, killed if still running when the
// owner goes away. Only processes goldcast started are ever signalled.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace gc {

class ChildProcess {
 public:
  // Starts argv[0] (searched in PATH) with stdout and stderr appended to
  // `log_path` (or inherited if empty), stdin from /dev/null.
  static Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                     const std::string& log_path);
  ~ChildProcess();  // SIGTERM, wait up to 2 s, then SIGKILL

  pid_t pid() const { return pid_; }
  Status Signal(int signal);
  // The exit status if it has exited (reaps it), nullopt if still running.
  // Killed by a signal: 128 + signal (as ProcessResult::exit_code).
  std::optional<int> Poll();
  // Waits up to `timeout` for it to exit; nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `grace`; returns the exit status.
  int Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  std::optional<int> exit_status_;
};

}  // namespace gc
