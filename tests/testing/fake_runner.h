// FakeRunner: a ProcessRunner that runs nothing. It records every argv and
// answers each with `exit_code` (and `stderr_text`), so a test checks the
// commands the agent would run without a disk or the programs. Header-only.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "common/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace gc::testing {

class FakeRunner : public ProcessRunner {
 public:
  using Argv = std::vector<std::string>;

  // The agent's one shell call is sfdisk's: `sh -c 'exec sfdisk … "$1" <
  // "$2"' sh DISK SCRIPT`. For it the fake keeps the script it was given
  // and makes the partition nodes (`make_nodes`) the kernel would.
  Result<ProcessResult> Run(const Argv& argv) override {
    calls.push_back(argv);
    if (argv[0] == "sh" && argv.size() == 6) {
      script = ReadTestFile(argv[5]);
      for (const auto& node : make_nodes) WriteTestFile(node, "");
    }
    return ProcessResult{exit_code, "", stderr_text};
  }

  // The program of each call, in order.
  std::vector<std::string> Programs() const {
    std::vector<std::string> names;
    for (const auto& call : calls) names.push_back(call[0]);
    return names;
  }

  std::vector<Argv> calls;
  int exit_code = 0;
  std::string stderr_text;
  std::string script;                   // the last sfdisk script
  std::vector<std::string> make_nodes;  // device nodes the sfdisk call creates
};

}  // namespace gc::testing
