// goldcast: the image server's command line.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/cli.h"
#include "common/cli_errors.h"
#include "common/log.h"

namespace {

// The state directory holds every node's secret and every image's
// /etc/shadow and ssh host keys: only its owner may enter it. It is made
// 0700; one made by an older goldcast (0755) is tightened on first use.
void MakeStateDirPrivate(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (::mkdir(dir.c_str(), 0700) == 0) return;
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) return;
  if ((st.st_mode & 077) == 0) return;
  if (::chmod(dir.c_str(), st.st_mode & 0700) == 0) {
    std::fprintf(stderr, "goldcast: made %s private (mode %o): it holds node secrets and images\n",
                 dir.c_str(), st.st_mode & 0700);
  }
}

}  // namespace

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
  MakeStateDirPrivate(context.state_dir);
  gc::Status status = context.run();
  if (!status.ok()) {
    std::fprintf(stderr, "goldcast: error: %s\n", status.message().c_str());
    return 1;
  }
  return 0;
}
