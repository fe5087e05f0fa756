#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/unique_fd.h"

extern char** environ;

namespace gc {

namespace {

// posix_spawn's C objects, destroyed on every return path.
class SpawnSetup {
 public:
  SpawnSetup() {
    ok_ = posix_spawn_file_actions_init(&actions_) == 0;
    attr_ok_ = posix_spawnattr_init(&attr_) == 0;
  }
  ~SpawnSetup() {
    if (ok_) posix_spawn_file_actions_destroy(&actions_);
    if (attr_ok_) posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  bool ok() const { return ok_ && attr_ok_; }
  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
  bool ok_ = false;
  bool attr_ok_ = false;
};

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

    SpawnSetup setup;
    if (!setup.ok()) return Internal("posix_spawn set-up failed for " + name);
    posix_spawn_file_actions_t* actions = setup.actions();
    // dup2 clears O_CLOEXEC on the copy, so the child keeps exactly 0, 1, 2.
    if (posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_adddup2(actions, out_write.get(), 1) != 0 ||
        posix_spawn_file_actions_adddup2(actions, err_write.get(), 2) != 0) {
      return Internal("posix_spawn file actions failed for " + name);
    }
    // A server ignores SIGPIPE; tools like `head` in a child's pipeline
    // expect the default, and blocked signals would be inherited too.
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(setup.attr(), &defaults);
    posix_spawnattr_setsigmask(setup.attr(), &empty);
    posix_spawnattr_setflags(setup.attr(), POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);

    pid_t pid = -1;
    int err = posix_spawnp(&pid, name.c_str(), actions, setup.attr(), args.data(), environ);
    if (err == ENOENT) return NotFound("'" + name + "' was not found in PATH");
    if (err == EACCES) return IoError("'" + name + "' is not executable (check its permissions)");
    if (err != 0) return ErrnoError("start " + name, err);
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
    result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    return result;
  }
};

}  // namespace

ProcessRunner* ProcessRunner::Default() {
  static PosixProcessRunner runner;
  return &runner;
}

}  // namespace gc
