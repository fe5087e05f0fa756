// The make command lines of a kernel build and how they run: composed from
// the recipe (out-of-tree O= build, pinned KBUILD_BUILD_* and
// SOURCE_DATE_EPOCH for byte-identical output, ccache when present), run
// through ProcessRunner with the whole output appended to one build log, and
// progress (phase, compile count) on a terminal.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/stopwatch.h"
#include "common/subprocess.h"
#include "profiles/kernel_recipe.h"

namespace gc {

struct BuildEnvironment {
  std::string src;      // the (patched) kernel tree: make -C SRC
  std::string out;      // O= directory; the tree itself for legacy (2.4) trees
  bool legacy = false;  // no O=, `oldconfig` instead of `olddefconfig`
  int jobs = 1;
  std::string ccache_dir;      // non-empty: compile through ccache with this cache
  std::string ccache_basedir;  // paths below it are hashed relative (hits across dirs)
};

// env VAR=... make -C SRC [O=OUT] ARCH=.. CC=.. [-jN] TARGETS... [extra]
std::vector<std::string> MakeCommand(const KernelRecipe& recipe, const BuildEnvironment& env,
                                     const std::vector<std::string>& targets, bool parallel,
                                     const std::vector<std::string>& extra = {});

// The arch/ directory of the tree for the toolchain arch (x86_64 -> x86).
std::string SourceArch(const std::string& tree, const std::string& arch);

// Where a make target leaves the kernel image under `out`, or "" if the
// target does not make one (e.g. modules).
std::string KernelImagePath(const std::string& out, const std::string& srcarch,
                            const std::string& target);

// Runs long commands with stdout and stderr appended to `log_path` (each
// preceded by a "$ command" line); `on_line` sees every new log line while
// the command runs.
class LoggedRunner {
 public:
  LoggedRunner(ProcessRunner* runner, std::string log_path);
  Result<int> Run(const std::vector<std::string>& argv,
                  const std::function<void(std::string_view line)>& on_line = nullptr);
  // The last `lines` lines of the log, for error messages.
  std::string Tail(size_t lines) const;
  const std::string& log_path() const { return log_path_; }

 private:
  ProcessRunner* runner_;
  std::string log_path_;
};

// "kernel NAME: PHASE ..." on a terminal (one redrawn line, with the count of
// compiled files during compile); on a pipe, one log line per phase.
class PhaseProgress {
 public:
  explicit PhaseProgress(std::string label);
  ~PhaseProgress();
  void Start(const std::string& phase);
  void CountLine(std::string_view line);  // counts "  CC " lines
  void Finish();
  // Clears the line without recording or logging the current phase (a build
  // that turned out to be unnecessary).
  void Discard();
  // Seconds spent per finished phase, in order.
  const std::vector<std::pair<std::string, double>>& timings() const { return timings_; }

 private:
  void Draw(bool force);
  void EndPhase();
  std::string label_;
  std::string phase_;
  bool tty_;
  uint64_t compiled_ = 0;
  Stopwatch phase_time_;
  std::chrono::steady_clock::time_point last_draw_;
  std::vector<std::pair<std::string, double>> timings_;
};

}  // namespace gc
