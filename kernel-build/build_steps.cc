#include "kernel-build/build_steps.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "common/progress.h"
#include "common/unique_fd.h"

namespace gc {

std::vector<std::string> MakeCommand(const KernelRecipe& recipe, const BuildEnvironment& env,
                                     const std::vector<std::string>& targets, bool parallel,
                                     const std::vector<std::string>& extra) {
  const ReproducibleSettings& r = recipe.build.reproducible;
  const Toolchain& tool = recipe.build.toolchain;
  // The banner and every timestamp come from the recipe, never from the
  // clock, user or host of this build: that is what makes two builds of the
  // same inputs byte-identical.
  std::vector<std::string> argv = {"env",
                                   "LC_ALL=C",
                                   "KBUILD_BUILD_TIMESTAMP=" + r.timestamp,
                                   "KBUILD_BUILD_USER=" + r.user,
                                   "KBUILD_BUILD_HOST=" + r.host,
                                   "KBUILD_BUILD_VERSION=" + r.build_version,
                                   "SOURCE_DATE_EPOCH=" + std::to_string(r.source_date_epoch)};
  if (!env.ccache_dir.empty()) {
    argv.push_back("CCACHE_DIR=" + env.ccache_dir);
    argv.push_back("CCACHE_BASEDIR=" + env.ccache_basedir);
  }
  argv.push_back(tool.make);
  argv.push_back("-C");
  argv.push_back(env.src);
  if (!env.legacy) argv.push_back("O=" + env.out);
  argv.push_back("ARCH=" + tool.arch);
  argv.push_back("CC=" + (env.ccache_dir.empty() ? tool.cc : "ccache " + tool.cc));
  if (parallel && env.jobs > 1) argv.push_back("-j" + std::to_string(env.jobs));
  argv.insert(argv.end(), targets.begin(), targets.end());
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::string SourceArch(const std::string& tree, const std::string& arch) {
  if ((arch == "x86_64" || arch == "i386") && std::filesystem::is_directory(tree + "/arch/x86")) {
    return "x86";
  }
  if (arch == "x86_64" && !std::filesystem::is_directory(tree + "/arch/x86_64")) return "x86";
  return arch;
}

std::string KernelImagePath(const std::string& out, const std::string& srcarch,
                            const std::string& target) {
  if (target == "vmlinux") return out + "/vmlinux";
  if (target == "bzImage" || target == "zImage" || target == "Image" || target == "Image.gz" ||
      target == "uImage") {
    return out + "/arch/" + srcarch + "/boot/" + target;
  }
  return "";
}

LoggedRunner::LoggedRunner(ProcessRunner* runner, std::string log_path)
    : runner_(runner), log_path_(std::move(log_path)) {}

Result<int> LoggedRunner::Run(const std::vector<std::string>& argv,
                              const std::function<void(std::string_view)>& on_line) {
  {
    std::ofstream log(log_path_, std::ios::app);
    log << "$";
    for (const auto& arg : argv) log << ' ' << arg;
    log << '\n';
    if (!log) return IoError("cannot write the build log " + log_path_);
  }
  // Follow the log from where this command's output will start. The offset
  // is taken before the command runs so its first lines are not missed.
  std::error_code size_error;
  auto start = std::filesystem::file_size(log_path_, size_error);
  off_t offset = size_error ? 0 : static_cast<off_t>(start);
  std::atomic<bool> done{false};
  std::thread follower;
  if (on_line) {
    follower = std::thread([&] {
      UniqueFd fd(::open(log_path_.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) return;
      ::lseek(fd.get(), offset, SEEK_SET);
      std::string partial;
      char buffer[65536];
      for (bool last = false; !last;) {
        last = done.load();
        ssize_t n;
        while ((n = ::read(fd.get(), buffer, sizeof buffer)) > 0) {
          partial.append(buffer, static_cast<size_t>(n));
          size_t start = 0;
          for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
            on_line(std::string_view(partial).substr(start, nl - start));
          }
          partial.erase(0, start);
        }
        if (!last) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
  }
  // The shell only redirects: the paths and arguments travel as positional
  // parameters, never through its parser.
  std::vector<std::string> wrapped = {"sh", "-c", "exec \"$@\" >>\"$0\" 2>&1", log_path_};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  auto result = runner_->Run(wrapped);
  done = true;
  if (follower.joinable()) follower.join();
  if (!result.ok()) return result.status();
  return result->exit_code;
}

std::string LoggedRunner::Tail(size_t lines) const {
  std::ifstream in(log_path_, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff start = size > 65536 ? size - 65536 : 0;
  in.seekg(start);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  size_t pos = text.size();
  for (size_t seen = 0; pos > 0; --pos) {
    if (text[pos - 1] == '\n' && ++seen == lines) break;
  }
  return text.substr(pos);
}

PhaseProgress::PhaseProgress(std::string label)
    : label_(std::move(label)), tty_(::isatty(STDERR_FILENO) == 1) {}

PhaseProgress::~PhaseProgress() { Finish(); }

void PhaseProgress::EndPhase() {
  if (phase_.empty()) return;
  double seconds = phase_time_.Seconds();
  timings_.emplace_back(phase_, seconds);
  if (!tty_) {
    GC_LOG(Info) << label_ << ": " << phase_ << " done in " << FormatSeconds(seconds)
                 << (compiled_ ? " (" + std::to_string(compiled_) + " files compiled)" : "");
  }
  phase_.clear();
}

void PhaseProgress::Start(const std::string& phase) {
  EndPhase();
  phase_ = phase;
  compiled_ = 0;
  phase_time_.Restart();
  Draw(true);
}

void PhaseProgress::CountLine(std::string_view line) {
  if (line.rfind("  CC ", 0) == 0 || line.rfind("  CC\t", 0) == 0) {
    ++compiled_;
    Draw(false);
  }
}

void PhaseProgress::Draw(bool force) {
  if (!tty_ || phase_.empty()) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(250)) return;
  last_draw_ = now;
  double seconds = phase_time_.Seconds();
  std::string count = compiled_ ? ", " + std::to_string(compiled_) + " files compiled" : "";
  std::fprintf(stderr, "\r\033[K%s: %s%s, %s", label_.c_str(), phase_.c_str(), count.c_str(),
               FormatSeconds(seconds).c_str());
  std::fflush(stderr);
}

void PhaseProgress::Discard() {
  phase_.clear();
  Finish();
}

void PhaseProgress::Finish() {
  EndPhase();
  if (tty_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

}  // namespace gc
