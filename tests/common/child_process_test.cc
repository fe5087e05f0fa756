#include "common/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::unique_ptr<ChildProcess> MustStart(const std::vector<std::string>& argv,
                                        const std::string& log = "") {
  auto child = ChildProcess::Start(argv, log);
  EXPECT_TRUE(child.ok()) << child.status().message();
  return child.ok() ? std::move(child).value() : nullptr;
}

bool ProcessExists(pid_t pid) { return ::kill(pid, 0) == 0; }

TEST(ChildProcessTest, ReportsExitCodes) {
  auto zero = MustStart({"/bin/sh", "-c", "exit 0"});
  auto seven = MustStart({"sh", "-c", "exit 7"});  // found through PATH
  ASSERT_TRUE(zero && seven);
  EXPECT_EQ(zero->Wait(5s), 0);
  EXPECT_EQ(seven->Wait(5s), 7);
  // Reaped once; later calls give the same answer.
  EXPECT_EQ(seven->Poll(), 7);
  EXPECT_EQ(seven->Stop(), 7);
}

TEST(ChildProcessTest, PollIsNulloptWhileRunning) {
  auto child = MustStart({"/bin/sleep", "100"});
  ASSERT_TRUE(child);
  EXPECT_GT(child->pid(), 0);
  EXPECT_EQ(child->Poll(), std::nullopt);
  EXPECT_EQ(child->Wait(50ms), std::nullopt);
  EXPECT_TRUE(ProcessExists(child->pid()));
  EXPECT_EQ(child->Stop(), 128 + SIGTERM);
  EXPECT_EQ(child->Poll(), 128 + SIGTERM);
}

TEST(ChildProcessTest, SignalStatusIs128PlusSignal) {
  auto child = MustStart({"/bin/sleep", "100"});
  ASSERT_TRUE(child);
  ASSERT_TRUE(child->Signal(SIGUSR1).ok());
  EXPECT_EQ(child->Wait(5s), 128 + SIGUSR1);
  // A reaped child is never signalled again (its pid may be reused).
  Status again = child->Signal(SIGTERM);
  EXPECT_FALSE(again.ok());
  EXPECT_THAT(again.message(), HasSubstr("already exited"));
}

TEST(ChildProcessTest, AppendsStdoutAndStderrToTheLog) {
  testing::TempDir dir;
  std::string log = dir.Sub("child.log");
  testing::WriteTestFile(log, "earlier line\n");
  auto child =
      MustStart({"sh", "-c", "echo to-stdout; echo to-stderr >&2; read x; echo read=$?"}, log);
  ASSERT_TRUE(child);
  EXPECT_EQ(child->Wait(5s), 0);
  // stdin is /dev/null: `read` sees EOF at once and fails.
  EXPECT_EQ(testing::ReadTestFile(log), "earlier line\nto-stdout\nto-stderr\nread=1\n");
  struct stat st;
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(ChildProcessTest, BadLogPathNamesIt) {
  testing::TempDir dir;
  auto child = ChildProcess::Start({"true"}, dir.Sub("missing-dir/child.log"));
  ASSERT_FALSE(child.ok());
  EXPECT_THAT(child.status().message(), HasSubstr("missing-dir/child.log"));
}

TEST(ChildProcessTest, NotInstalledIsNotFound) {
  auto child = ChildProcess::Start({"goldcast-no-such-program-xyz", "--flag"}, "");
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), Code::kNotFound);
  EXPECT_THAT(child.status().message(), HasSubstr("goldcast-no-such-program-xyz"));
  EXPECT_EQ(ChildProcess::Start({}, "").status().code(), Code::kInvalidArgument);
}

TEST(ChildProcessTest, StopEscalatesToSigkillWhenTermIsIgnored) {
  testing::TempDir dir;
  std::string log = dir.Sub("trap.log");
  // `exec sleep` would restore SIGTERM's default; a child sleep of the shell
  // keeps the shell (the process we signal) alive and deaf to SIGTERM.
  auto child = MustStart({"sh", "-c", "trap '' TERM; echo armed; while :; do sleep 1; done"}, log);
  ASSERT_TRUE(child);
  for (int i = 0; i < 500 && testing::ReadTestFile(log).find("armed") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_THAT(testing::ReadTestFile(log), HasSubstr("armed"));
  auto start = std::chrono::steady_clock::now();
  int status = child->Stop(300ms);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status, 128 + SIGKILL);
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
}

TEST(ChildProcessTest, ChildDoesNotInheritBlockedOrIgnoredSignals) {
  // Block SIGTERM in this thread and ignore SIGHUP process-wide, as a server
  // with a signal-handling thread does; the child must still die of both.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  struct sigaction ignore = {}, old_hup = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGHUP, &ignore, &old_hup), 0);

  auto term = MustStart({"/bin/sleep", "100"});
  auto hup = MustStart({"/bin/sleep", "100"});

  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  ASSERT_TRUE(term && hup);
  ASSERT_TRUE(hup->Signal(SIGHUP).ok());
  EXPECT_EQ(hup->Wait(5s), 128 + SIGHUP);
  // Stop with a long grace: SIGTERM alone must end it.
  EXPECT_EQ(term->Stop(10s), 128 + SIGTERM);
}

TEST(ChildProcessTest, ChildGetsOnlyStandardFds) {
  testing::TempDir dir;
  std::string log = dir.Sub("fds.log");
  // An fd without O_CLOEXEC in the parent: the child must not get it.
  int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  auto child = MustStart({"sh", "-c", "ls /proc/$$/fd"}, log);
  ::close(leaky);
  ASSERT_TRUE(child);
  ASSERT_EQ(child->Wait(5s), 0);
  std::istringstream lines(testing::ReadTestFile(log));
  std::vector<std::string> fds;
  for (std::string line; std::getline(lines, line);) fds.push_back(line);
  // The shell's own 0, 1, 2; `ls` lists the shell's fds, not its own.
  EXPECT_EQ(fds, (std::vector<std::string>{"0", "1", "2"}));
}

TEST(ChildProcessTest, RunsInItsOwnProcessGroup) {
  auto child = MustStart({"/bin/sleep", "100"});
  ASSERT_TRUE(child);
  EXPECT_EQ(::getpgid(child->pid()), child->pid());
  EXPECT_NE(::getpgid(child->pid()), ::getpgrp());
}

TEST(ChildProcessTest, DestructorStopsARunningChild) {
  pid_t pid;
  {
    auto child = MustStart({"/bin/sleep", "100"});
    ASSERT_TRUE(child);
    pid = child->pid();
    EXPECT_TRUE(ProcessExists(pid));
  }
  // Reaped by the destructor, so not even a zombie is left.
  EXPECT_FALSE(ProcessExists(pid));
}

}  // namespace
}  // namespace gc
