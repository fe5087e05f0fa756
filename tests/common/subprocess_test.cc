#include "common/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::HasSubstr;

Result<ProcessResult> Sh(const std::string& script) {
  return ProcessRunner::Default()->Run({"sh", "-c", script});
}

TEST(SubprocessTest, CapturesStdoutStderrAndExitCode) {
  auto echo = ProcessRunner::Default()->Run({"echo", "hello", "two words"});
  ASSERT_TRUE(echo.ok()) << echo.status().message();
  EXPECT_EQ(echo->exit_code, 0);
  EXPECT_EQ(echo->stdout_text, "hello two words\n");
  EXPECT_EQ(echo->stderr_text, "");

  auto mixed = Sh("echo out; echo err >&2; exit 3");
  ASSERT_TRUE(mixed.ok()) << mixed.status().message();
  EXPECT_EQ(mixed->exit_code, 3);  // a non-zero exit is a result, not an error
  EXPECT_EQ(mixed->stdout_text, "out\n");
  EXPECT_EQ(mixed->stderr_text, "err\n");
}

// A child that fills the stderr pipe before writing stdout (and the other way
// round) deadlocks a runner that reads one pipe to EOF first.
TEST(SubprocessTest, LargeOutputOnBothStreamsDoesNotDeadlock) {
  auto result =
      Sh("head -c 300000 /dev/zero | tr '\\0' e >&2; head -c 500000 /dev/zero | tr '\\0' o;"
         "head -c 200000 /dev/zero | tr '\\0' E >&2");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->stdout_text, std::string(500000, 'o'));
  EXPECT_EQ(result->stderr_text, std::string(300000, 'e') + std::string(200000, 'E'));
}

TEST(SubprocessTest, StdinIsDevNull) {
  auto result = ProcessRunner::Default()->Run({"cat"});  // would hang on a terminal or pipe
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->stdout_text, "");
  auto link = Sh("readlink /proc/self/fd/0");
  EXPECT_EQ(link->stdout_text, "/dev/null\n");
}

TEST(SubprocessTest, ChildGetsNoFdsOfTheRunner) {
  // What the child may hold: 0, 1, 2, whatever this process holds without
  // FD_CLOEXEC (inherited from whoever started the test), and the one fd
  // `ls` opens to read the directory. The runner's pipe ends are O_CLOEXEC.
  std::set<std::string> allowed = {"0", "1", "2"};
  for (const auto& item : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::string name = item.path().filename();
    int flags = ::fcntl(std::stoi(name), F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC)) allowed.insert(name);
  }
  auto result = ProcessRunner::Default()->Run({"ls", "/proc/self/fd"});
  ASSERT_TRUE(result.ok()) << result.status().message();
  std::istringstream lines(result->stdout_text);
  std::string fd;
  std::vector<std::string> extra;
  while (std::getline(lines, fd)) {
    if (!allowed.count(fd)) extra.push_back(fd);
  }
  EXPECT_LE(extra.size(), 1u) << result->stdout_text;
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  auto result = ProcessRunner::Default()->Run({"goldcast-no-such-tool", "--version"});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kNotFound);
  EXPECT_EQ(result.status().message(), "'goldcast-no-such-tool' was not found in PATH");
  EXPECT_EQ(ProcessRunner::Default()->Run({}).status().code(), Code::kInvalidArgument);
}

TEST(SubprocessTest, NonExecutableFileIsRefused) {
  testing::TempDir dir;
  testing::WriteTestFile(dir.Sub("script"), "#!/bin/sh\necho hi\n");
  ASSERT_EQ(::chmod(dir.Sub("script").c_str(), 0644), 0);
  auto result = ProcessRunner::Default()->Run({dir.Sub("script")});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr(dir.Sub("script")));
  EXPECT_THAT(result.status().message(), HasSubstr("not executable"));
  ASSERT_EQ(::chmod(dir.Sub("script").c_str(), 0755), 0);
  auto ran = ProcessRunner::Default()->Run({dir.Sub("script")});
  ASSERT_TRUE(ran.ok()) << ran.status().message();
  EXPECT_EQ(ran->stdout_text, "hi\n");
}

TEST(SubprocessTest, KilledBySignalIs128PlusSignal) {
  auto result = Sh("echo before; kill -9 $$; echo after");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->exit_code, 128 + SIGKILL);  // the shell's convention, as ChildProcess
  EXPECT_EQ(result->stdout_text, "before\n");
}

TEST(SubprocessTest, ChildGetsDefaultSigpipeEvenIfWeIgnoreIt) {
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &old), 0);
  auto result = Sh("grep SigIgn /proc/self/status");
  ::sigaction(SIGPIPE, &old, nullptr);
  ASSERT_TRUE(result.ok()) << result.status().message();
  // "SigIgn:\t<hex mask>"; SIGPIPE (13) is bit 12.
  std::string mask = result->stdout_text.substr(result->stdout_text.find('\t') + 1);
  EXPECT_EQ(std::strtoull(mask.c_str(), nullptr, 16) & (1ull << (SIGPIPE - 1)), 0u) << mask;
}

}  // namespace
}  // namespace gc
