// `goldcast serve`: the image server daemon. One process holds the HTTP
// server (boot scripts, boot files), the node registry and dnsmasq as a
// supervised child. See docs/boot-service.md.
#pragma once

#include <string>

#include "common/status.h"

namespace gc {

struct ServeOptions {
  std::string state_dir;
  std::string profile_path;
  std::string ipxe_dir = "/usr/lib/ipxe";
  std::string boot_files;  // default STATE/boot
  // The agent bundle each group's installer carries (default: the one
  // beside goldcast, see DefaultAgentBundle).
  std::string agent_bundle;
  // Connections one address may hold at once: a rack boots one connection
  // per machine, so a client with more is holding them (a load test from
  // one address raises it).
  unsigned max_connections_per_address = 64;
  // Boot requests per minute one address may send for machines the
  // registry does not know (0: no limit): BootService::SetNewMachineLimit.
  unsigned new_machines_per_address = 10;
};

// Runs until SIGTERM or SIGINT. Errors before serving (bad profile, missing
// interface, port in use, dnsmasq or iPXE missing, another serve running)
// are returned and leave the registry untouched.
Status RunServe(const ServeOptions& options);

}  // namespace gc
