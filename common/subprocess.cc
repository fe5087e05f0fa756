#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/spawn.h"
#include "common/text.h"
#include "common/unique_fd.h"

namespace gc {

namespace {

Status MakePipe(UniqueFd* read_end, UniqueFd* write_end) {
  int fds[2];
  // O_CLOEXEC: no other child spawned meanwhile by another thread may
  // inherit our pipe ends (it would keep them open and hang our reads).
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("create pipe");
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  return Status::Ok();
}

// Reads both pipes until both reach EOF. Polling both keeps a child that
// fills one pipe while we block on the other from deadlocking.
Status DrainPipes(UniqueFd out, UniqueFd err, ProcessResult* result, const std::string& name) {
  UniqueFd* fds[2] = {&out, &err};
  std::string* sinks[2] = {&result->stdout_text, &result->stderr_text};
  char buffer[65536];
  while (out.valid() || err.valid()) {
    pollfd polls[2];
    for (int k = 0; k < 2; ++k) {
      polls[k].fd = fds[k]->get();  // a negative fd is ignored by poll
      polls[k].events = POLLIN;
      polls[k].revents = 0;
    }
    if (::poll(polls, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("poll output of " + name);
    }
    for (int k = 0; k < 2; ++k) {
      if (polls[k].revents == 0) continue;
      ssize_t n = ::read(fds[k]->get(), buffer, sizeof buffer);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return ErrnoError("read output of " + name);
      }
      if (n == 0) {
        fds[k]->Reset();
      } else {
        sinks[k]->append(buffer, static_cast<size_t>(n));
      }
    }
  }
  return Status::Ok();
}

class PosixProcessRunner : public ProcessRunner {
 public:
  Result<ProcessResult> Run(const std::vector<std::string>& argv) override {
    if (argv.empty() || argv[0].empty()) return InvalidArgument("no program to run (empty argv)");
    const std::string& name = argv[0];
    UniqueFd out_read, out_write, err_read, err_write;
    GC_RETURN_IF_ERROR(MakePipe(&out_read, &out_write));
    GC_RETURN_IF_ERROR(MakePipe(&err_read, &err_write));

    spawn_internal::SpawnOptions options;
    options.stdout_fd = out_write.get();
    options.stderr_fd = err_write.get();
    GC_ASSIGN_OR_RETURN(pid_t pid, spawn_internal::Spawn(argv, options));
    // Our copies of the write ends must go, or the reads never see EOF.
    out_write.Reset();
    err_write.Reset();

    ProcessResult result;
    Status drained = DrainPipes(std::move(out_read), std::move(err_read), &result, name);
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("wait for " + name);
    }
    GC_RETURN_IF_ERROR(drained);
    result.exit_code = spawn_internal::DecodeWaitStatus(wstatus);
    return result;
  }
};

}  // namespace

ProcessRunner* ProcessRunner::Default() {
  static PosixProcessRunner runner;
  return &runner;
}

Status RunChecked(ProcessRunner* runner, const std::vector<std::string>& argv) {
  GC_ASSIGN_OR_RETURN(auto result, runner->Run(argv));
  if (result.exit_code != 0) {
    return IoError(JoinStrings(argv, " ") + " exited " + std::to_string(result.exit_code) + ": " +
                   Trim(result.stderr_text.empty() ? result.stdout_text : result.stderr_text));
  }
  return Status::Ok();
}

}  // namespace gc
