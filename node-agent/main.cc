// goldcast-agent: the node side of goldcast.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/cli_errors.h"
#include "common/status.h"
#include "node-agent/prepareclient.h"

namespace {

int Fail(const gc::Status& status) {
  std::fprintf(stderr, "goldcast-agent: error: %s\n", status.message().c_str());
  return status.code() == gc::Code::kInvalidArgument ? 2 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"goldcast-agent: the node side of goldcast (golden-client capture, ...)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "goldcast-agent 0.1.0");

  gc::PrepareClientOptions prepare;
  auto* prepare_cmd = app.add_subcommand(
      "prepareclient",
      "Serve this machine's tree (or --root DIR) to the image server behind a one-time token");
  prepare_cmd->add_option("--root", prepare.root, "Capture this directory as if it were /")
      ->capture_default_str();
  prepare_cmd->add_option("--listen", prepare.listen, "ADDRESS:PORT to serve on")
      ->capture_default_str();
  prepare_cmd->add_option("--exclude", prepare.excludes,
                          "Leave out paths matching this glob (repeatable), e.g. '/home/*'");
  prepare_cmd->add_option("--exclude-file", prepare.exclude_files,
                          "File of exclude patterns, one per line (repeatable)");
  prepare_cmd->add_option("--state", prepare.state_dir, "Agent state directory (hash cache)")
      ->capture_default_str();
  prepare_cmd->add_option("--token-file", prepare.token_file,
                          "Also write the token to this file (mode 0600) once listening");
  prepare_cmd->add_option("--image", prepare.image, "Image name to put in the printed command");
  prepare_cmd->add_flag("--keep-serving", prepare.keep_serving,
                        "Keep serving after a getimage finished (until SIGTERM)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return gc::ReportUsageError(app, e, "goldcast-agent");
  }

  gc::Status status;
  if (prepare_cmd->parsed()) status = gc::RunPrepareClient(prepare);
  if (!status.ok()) return Fail(status);
  return 0;
}
