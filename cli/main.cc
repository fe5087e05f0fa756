// goldcast: the image server's command line.
#include <cstdio>

#include "cli/cli.h"
#include "common/cli_errors.h"
#include "common/log.h"

int main(int argc, char** argv) {
  CLI::App app{"goldcast: cluster imaging and provisioning (image server)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "goldcast 0.1.0");
  gc::CliContext context;
  app.add_option("--state", context.state_dir, "State directory (image store, registry)")
      ->capture_default_str();
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Show debug messages");

  gc::AddGetImageCommand(&app, &context);
  gc::AddImageCommands(&app, &context);
  gc::AddServeCommand(&app, &context);
  gc::AddNodesCommands(&app, &context);
  gc::AddKernelCommands(&app, &context);
  gc::AddProfileCommands(&app, &context);
  gc::AddBootCommands(&app, &context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return gc::ReportUsageError(app, e, "goldcast");
  }
  if (verbose) gc::SetLogLevel(gc::LogLevel::kDebug);
  if (!context.run) {
    std::fprintf(stderr, "%s", app.help().c_str());
    return 2;
  }
  gc::Status status = context.run();
  if (!status.ok()) {
    std::fprintf(stderr, "goldcast: error: %s\n", status.message().c_str());
    return 1;
  }
  return 0;
}
