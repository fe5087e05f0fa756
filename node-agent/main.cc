// goldcast-agent: the node side of goldcast.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <memory>

#include "common/cli_errors.h"
#include "common/status.h"
#include "node-agent/heartbeat.h"
#include "node-agent/install.h"
#include "node-agent/prepareclient.h"

namespace {

// 3 tells the installer's /init to reboot for a fresh boot script (and
// token) instead of trying again with credentials the server refuses.
int Fail(const gc::Status& status) {
  std::fprintf(stderr, "goldcast-agent: error: %s\n", status.message().c_str());
  if (status.code() == gc::Code::kUnauthorized) return 3;
  return status.code() == gc::Code::kInvalidArgument ? 2 : 1;
}

// The command to run once parsing is done, set by the parsed subcommand.
using RunCommand = std::function<gc::Status()>;

void AddPrepareClientCommand(CLI::App* app, RunCommand* run) {
  auto prepare = std::make_shared<gc::PrepareClientOptions>();
  auto* cmd = app->add_subcommand(
      "prepareclient",
      "Serve this machine's tree (or --root DIR) to the image server behind a one-time token");
  cmd->add_option("--root", prepare->root, "Capture this directory as if it were /")
      ->capture_default_str();
  cmd->add_option("--listen", prepare->listen, "ADDRESS:PORT to serve on")->capture_default_str();
  cmd->add_option("--exclude", prepare->excludes,
                  "Leave out paths matching this glob (repeatable), e.g. '/home/*'");
  cmd->add_option("--exclude-file", prepare->exclude_files,
                  "File of exclude patterns, one per line (repeatable)");
  cmd->add_option("--state", prepare->state_dir, "Agent state directory (hash cache)")
      ->capture_default_str();
  cmd->add_option("--token-file", prepare->token_file,
                  "Also write the token to this file (mode 0600) once listening");
  cmd->add_option("--image", prepare->image, "Image name to put in the printed command");
  cmd->add_flag("--keep-serving", prepare->keep_serving,
                "Keep serving after a getimage finished (until SIGTERM)");
  cmd->callback([=] { *run = [=] { return gc::RunPrepareClient(*prepare); }; });
}

void AddInstallCommand(CLI::App* app, RunCommand* run) {
  auto install = std::make_shared<gc::InstallOptions>();
  auto* cmd = app->add_subcommand(
      "install", "Install this node from the image server (runs in the installer initramfs)");
  cmd->add_option("--server", install->server, "Server URL (default: goldcast.server=)");
  cmd->add_option("--pin", install->pin,
                  "Pin of the server's TLS key, sha256//BASE64 (default: goldcast.pin=; on the "
                  "server: STATE/tls/pin)");
  cmd->add_option("--node", install->node, "Node name (default: goldcast.node=)");
  auto* token_opt = cmd->add_option(
      "--token", install->token,
      "One-time install token to redeem for the node's secret (default: goldcast.token=)");
  auto* secret_opt =
      cmd->add_option("--secret", install->secret, "Node secret (instead of a token)")
          ->excludes(token_opt);
  cmd->add_option("--secret-file", install->secret_file, "Read the node secret from a file")
      ->excludes(secret_opt)
      ->excludes(token_opt);
  cmd->add_option("--secret-cache", install->secret_cache,
                  "Keep the redeemed secret in this file (0600); when it exists, use it instead "
                  "of the token (a second try on the same boot)");
  cmd->footer(
      "Exit status 3: the server refused this node's token or secret (spent, expired, or the "
      "node was reinstalled): reboot it for a fresh boot script. 2: bad arguments. 1: any other "
      "failure.");
  cmd->add_option("--disk", install->disk, "Disk to erase, e.g. /dev/vda (default: first)");
  auto* target_opt = cmd->add_option("--target-root", install->target_root,
                                     "Install into this empty directory instead of a disk");
  cmd->add_option("--diskless-root", install->diskless_root,
                  "Fill this (RAM) directory as the root of a diskless node: no disk, no boot "
                  "loader, no 'done' (the diskless initramfs then switch_roots into it)")
      ->excludes(target_opt);
  cmd->add_option("--mount-dir", install->mount_dir, "Where to mount the new root")
      ->capture_default_str();
  cmd->add_option("--syslinux-dir", install->syslinux_dir, "Holds mbr/mbr.bin")
      ->capture_default_str();
  cmd->add_option("--agent-bundle", install->agent_bundle,
                  "Agent bundle to copy onto the node (default: the running one)");
  cmd->add_flag("--yes-erase", install->yes_erase,
                "Erase the disk even outside the installer (no goldcast.mode=install)");
  cmd->add_flag("--reboot", install->reboot, "Reboot when the install succeeded");
  cmd->callback([=] { *run = [=] { return gc::RunInstallCommand(*install); }; });
}

void AddRunCommand(CLI::App* app, RunCommand* run) {
  auto options = std::make_shared<gc::RunOptions>();
  auto* cmd = app->add_subcommand(
      "run",
      "Send heartbeats to the image server (load, memory, CPUs, kernel, image, cluster-file "
      "hashes) until SIGTERM");
  cmd->footer(
      "The node's identity comes from --config (written by the installer); on a diskless "
      "node, from node.json in its RAM root, which its initramfs wrote. Failures are retried "
      "with backoff of up to 5 minutes.");
  cmd->add_option("--config", options->config_path, "The node's configuration (node.json)")
      ->capture_default_str();
  cmd->add_option("--interval", options->interval_s, "Seconds between heartbeats (at least 1)")
      ->capture_default_str();
  cmd->add_flag("--once", options->once,
                "Send one heartbeat and exit: status 0 only if the server accepted it");
  cmd->add_option("--server", options->server, "Server URL instead of the configured one");
  cmd->add_option("--node", options->node, "Node name instead of the configured one");
  cmd->add_option("--secret-file", options->secret_file,
                  "Read the node secret from this file instead of the configuration");
  cmd->callback([=] { *run = [=] { return gc::RunAgent(*options); }; });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "goldcast-agent: the node side of goldcast (golden-client capture, node install, "
      "heartbeats)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "goldcast-agent 0.1.0");
  RunCommand run;
  AddPrepareClientCommand(&app, &run);
  AddInstallCommand(&app, &run);
  AddRunCommand(&app, &run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return gc::ReportUsageError(app, e, "goldcast-agent");
  }
  gc::Status status = run ? run() : gc::Status::Ok();
  if (!status.ok()) return Fail(status);
  return 0;
}
