#include "common/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>

extern char** environ;

namespace gc::spawn_internal {
namespace {

// posix_spawn's C objects, destroyed on every return path.
class SpawnSetup {
 public:
  SpawnSetup() {
    actions_ok_ = posix_spawn_file_actions_init(&actions_) == 0;
    attr_ok_ = posix_spawnattr_init(&attr_) == 0;
  }
  ~SpawnSetup() {
    if (actions_ok_) posix_spawn_file_actions_destroy(&actions_);
    if (attr_ok_) posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  bool ok() const { return actions_ok_ && attr_ok_; }
  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
  bool actions_ok_ = false;
  bool attr_ok_ = false;
};

bool AddFileActions(posix_spawn_file_actions_t* actions, const SpawnOptions& options) {
  if (posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0) != 0) return false;
  // dup2 clears O_CLOEXEC on the copy, so the child keeps 1 and 2.
  if (options.stdout_fd >= 0 && posix_spawn_file_actions_adddup2(actions, options.stdout_fd, 1)) {
    return false;
  }
  if (options.stderr_fd >= 0 && posix_spawn_file_actions_adddup2(actions, options.stderr_fd, 2)) {
    return false;
  }
  return !options.close_other_fds || posix_spawn_file_actions_addclosefrom_np(actions, 3) == 0;
}

// A server blocks SIGTERM/SIGINT to handle them in a thread and ignores
// SIGPIPE; both would be inherited across exec (tools like `head` in a
// child's pipeline expect SIGPIPE's default, a daemon must obey SIGTERM).
bool SetAttributes(posix_spawnattr_t* attr, const SpawnOptions& options) {
  sigset_t defaults, none;
  sigemptyset(&none);
  if (options.default_all_signals) {
    sigfillset(&defaults);
  } else {
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
  }
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (options.new_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    if (posix_spawnattr_setpgroup(attr, 0) != 0) return false;
  }
  return posix_spawnattr_setsigdefault(attr, &defaults) == 0 &&
         posix_spawnattr_setsigmask(attr, &none) == 0 && posix_spawnattr_setflags(attr, flags) == 0;
}

}  // namespace

Result<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty() || argv[0].empty()) return InvalidArgument("no program to run (empty argv)");
  const std::string& name = argv[0];
  SpawnSetup setup;
  if (!setup.ok()) return Internal("posix_spawn set-up failed for " + name);
  if (!AddFileActions(setup.actions(), options)) {
    return Internal("posix_spawn file actions failed for " + name);
  }
  if (!SetAttributes(setup.attr(), options)) {
    return Internal("posix_spawn attributes failed for " + name);
  }

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  pid_t pid = -1;
  int err = posix_spawnp(&pid, name.c_str(), setup.actions(), setup.attr(), args.data(), environ);
  if (err == ENOENT) return NotFound("'" + name + "' was not found in PATH");
  if (err == EACCES) return IoError("'" + name + "' is not executable (check its permissions)");
  if (err != 0) return ErrnoError("start " + name, err);
  return pid;
}

int DecodeWaitStatus(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

}  // namespace gc::spawn_internal
