#include "common/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "common/log.h"
#include "common/unique_fd.h"

extern char** environ;

namespace gc {

namespace {

// posix_spawn's C objects, destroyed on every return path.
class SpawnAttributes {
 public:
  SpawnAttributes() {
    actions_ok_ = posix_spawn_file_actions_init(&actions_) == 0;
    attr_ok_ = posix_spawnattr_init(&attr_) == 0;
  }
  ~SpawnAttributes() {
    if (actions_ok_) posix_spawn_file_actions_destroy(&actions_);
    if (attr_ok_) posix_spawnattr_destroy(&attr_);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;

  bool ok() const { return actions_ok_ && attr_ok_; }
  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
  bool actions_ok_ = false;
  bool attr_ok_ = false;
};

int DecodeWaitStatus(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv,
                                                          const std::string& log_path) {
  if (argv.empty() || argv[0].empty()) return InvalidArgument("no program to start (empty argv)");
  const std::string& name = argv[0];

  // Opened here rather than as a spawn file action so that a bad log path is
  // reported with its errno instead of as a failed spawn.
  UniqueFd log_fd;
  if (!log_path.empty()) {
    log_fd.Reset(::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!log_fd.valid()) return ErrnoError("open log file " + log_path + " for " + name);
  }

  SpawnAttributes spawn;
  if (!spawn.ok()) return Internal("posix_spawn set-up failed for " + name);
  posix_spawn_file_actions_t* actions = spawn.actions();
  bool actions_ok = posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0) == 0;
  if (log_fd.valid()) {
    // dup2 clears O_CLOEXEC on the copies, so the child keeps 1 and 2.
    actions_ok = actions_ok && posix_spawn_file_actions_adddup2(actions, log_fd.get(), 1) == 0 &&
                 posix_spawn_file_actions_adddup2(actions, log_fd.get(), 2) == 0;
  }
  // A daemon must not keep a listening socket or a database of ours open
  // just because some library forgot O_CLOEXEC.
  actions_ok = actions_ok && posix_spawn_file_actions_addclosefrom_np(actions, 3) == 0;
  if (!actions_ok) return Internal("posix_spawn file actions failed for " + name);

  // The server blocks SIGTERM/SIGINT to handle them in a thread and ignores
  // SIGPIPE; both would be inherited across exec and make the child deaf to
  // Stop(). Its own process group keeps a terminal's Ctrl-C from reaching it
  // directly: the supervisor decides when it stops.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_t* attr = spawn.attr();
  if (posix_spawnattr_setsigdefault(attr, &all) != 0 ||
      posix_spawnattr_setsigmask(attr, &none) != 0 || posix_spawnattr_setpgroup(attr, 0) != 0 ||
      posix_spawnattr_setflags(
          attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP) != 0) {
    return Internal("posix_spawn attributes failed for " + name);
  }

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  pid_t pid = -1;
  int err = posix_spawnp(&pid, name.c_str(), actions, attr, args.data(), environ);
  if (err == ENOENT) return NotFound("'" + name + "' was not found in PATH");
  if (err == EACCES) return IoError("'" + name + "' is not executable (check its permissions)");
  if (err != 0) return ErrnoError("start " + name, err);
  GC_LOG(Debug) << "started " << name << " as pid " << pid;
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid));
}

ChildProcess::~ChildProcess() {
  if (!exit_status_) Stop();
}

Status ChildProcess::Signal(int signal) {
  // Once reaped, the pid may belong to someone else: never signal it then.
  if (exit_status_ || Poll()) {
    return Status(Code::kNotFound, "process " + std::to_string(pid_) + " has already exited");
  }
  if (::kill(pid_, signal) != 0) return ErrnoError("signal process " + std::to_string(pid_));
  return Status::Ok();
}

std::optional<int> ChildProcess::Poll() {
  if (exit_status_) return exit_status_;
  int wstatus = 0;
  pid_t done;
  do {
    done = ::waitpid(pid_, &wstatus, WNOHANG);
  } while (done < 0 && errno == EINTR);
  if (done == 0) return std::nullopt;
  if (done < 0) {
    // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN, a stray
    // waitpid(-1)); it is gone, with an unknown status.
    exit_status_ = -1;
  } else {
    exit_status_ = DecodeWaitStatus(wstatus);
  }
  return exit_status_;
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  // Polling with a growing pause: no SIGCHLD handler or pidfd needed, and a
  // dnsmasq stop is never latency-critical to the millisecond.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  while (true) {
    if (std::optional<int> status = Poll()) return status;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

int ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (std::optional<int> status = Poll()) return *status;
  ::kill(pid_, SIGTERM);
  if (std::optional<int> status = Wait(grace)) return *status;
  GC_LOG(Warning) << "process " << pid_ << " ignored SIGTERM for " << grace.count()
                  << " ms; killing it";
  ::kill(pid_, SIGKILL);
  int wstatus = 0;
  pid_t done;
  do {
    done = ::waitpid(pid_, &wstatus, 0);
  } while (done < 0 && errno == EINTR);
  exit_status_ = done == pid_ ? DecodeWaitStatus(wstatus) : -1;
  return *exit_status_;
}

}  // namespace gc
