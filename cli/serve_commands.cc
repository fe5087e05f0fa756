// `goldcast serve`.
#include <memory>

#include "cli/cli.h"
#include "server/serve.h"

namespace gc {

void AddServeCommand(CLI::App* app, CliContext* context) {
  auto options = std::make_shared<ServeOptions>();
  auto* cmd = app->add_subcommand(
      "serve", "Run the image server: HTTP boot service, node registry, dnsmasq (DHCP/TFTP)");
  cmd->add_option("--profile", options->profile_path, "Cluster profile (YAML)")->required();
  cmd->add_option("--ipxe-dir", options->ipxe_dir, "Where the iPXE binaries are")
      ->capture_default_str();
  cmd->add_option("--boot-files", options->boot_files,
                  "Directory served under /boot/files (default STATE/boot)");
  cmd->add_option("--agent-bundle", options->agent_bundle,
                  "Agent bundle for the installers built for each group (default: the one "
                  "beside goldcast)");
  cmd->add_option("--max-connections-per-address", options->max_connections_per_address,
                  "Connections one client address may hold at once (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--new-machines-per-address", options->new_machines_per_address,
                  "Boot requests per minute one address may send for machines not yet known "
                  "(0: no limit; a load test from one address lifts it)")
      ->capture_default_str();
  cmd->callback([=] {
    context->run = [=]() -> Status {
      options->state_dir = context->state_dir;
      return RunServe(*options);
    };
  });
}

}  // namespace gc
