#include "common/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "common/log.h"
#include "common/spawn.h"
#include "common/unique_fd.h"

namespace gc {

using spawn_internal::DecodeWaitStatus;

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

  spawn_internal::SpawnOptions options;
  options.stdout_fd = log_fd.get();  // -1 (inherited) without a log
  options.stderr_fd = log_fd.get();
  // Obeys Stop() whatever the server blocks or ignores; the supervisor, not
  // a terminal's Ctrl-C, decides when it stops.
  options.close_other_fds = true;
  options.default_all_signals = true;
  options.new_process_group = true;
  GC_ASSIGN_OR_RETURN(pid_t pid, spawn_internal::Spawn(argv, options));
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
