// The one posix_spawn set-up behind ProcessRunner (subprocess.h) and
// ChildProcess (child_process.h). Internal to common/: everything else
// starts processes through those two.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace gc::spawn_internal {

struct SpawnOptions {
  int stdout_fd = -1;  // dup2'd onto 1; -1 keeps ours
  int stderr_fd = -1;  // dup2'd onto 2; -1 keeps ours
  // Only 0, 1 and 2 reach the child, even fds some library opened without
  // O_CLOEXEC (a daemon must not hold our sockets or databases open).
  bool close_other_fds = false;
  // Every signal back to its default; otherwise only SIGPIPE is.
  bool default_all_signals = false;
  // In its own process group, so a terminal's Ctrl-C does not reach it.
  bool new_process_group = false;
};

// Starts argv[0] (searched in PATH) with stdin from /dev/null and no
// blocked signals. Not installed is kNotFound naming the program, not
// executable kIoError; an empty argv is kInvalidArgument.
Result<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& options);

// A waitpid status as the shell reports it: the exit code, or 128 + the
// signal that killed the process.
int DecodeWaitStatus(int wstatus);

}  // namespace gc::spawn_internal
