// The goldcast command line: each command group registers its subcommands
// on the CLI11 app and runs through a shared context (state dir, output mode).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "imager/store.h"

namespace gc {

struct CliContext {
  std::string state_dir = "/var/lib/goldcast";
  // The command to run once parsing is done (set by the parsed subcommand).
  std::function<Status()> run;

  // Opens the store; `create` for commands that write.
  Result<std::unique_ptr<ImageStore>> OpenStore(bool create) const {
    return ImageStore::Open(state_dir, create);
  }
};

void AddGetImageCommand(CLI::App* app, CliContext* context);
void AddImageCommands(CLI::App* app, CliContext* context);
void AddServeCommand(CLI::App* app, CliContext* context);
void AddNodesCommands(CLI::App* app, CliContext* context);
void AddKernelCommands(CLI::App* app, CliContext* context);
void AddProfileCommands(CLI::App* app, CliContext* context);
void AddBootCommands(CLI::App* app, CliContext* context);

}  // namespace gc
