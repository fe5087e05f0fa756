// iPXE scripts served to booting nodes, and the parsing of their request.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "cluster/node_registry.h"
#include "common/status.h"
#include "profiles/cluster_profile.h"

namespace gc {

// Parses the query of GET /boot/ipxe (mac required; uuid, arch, platform
// optional, each bounded and charset-checked). Errors name the argument.
Result<BootRequest> ParseBootQuery(const std::map<std::string, std::string>& query,
                                   const std::string& remote_address);

// The first script every iPXE client gets (from DHCP's boot filename): it
// chains to /boot/ipxe with the machine's MAC, UUID, arch and platform.
std::string StartScript(const std::string& server_url);

struct BootFiles {
  std::string server_url;  // http://10.77.0.1:8470: what firmware fetches
  // https://10.77.0.1:8471 and the pin of its key: what the agent talks to
  // (goldcast.server=, goldcast.pin=).
  std::string node_url;
  std::string server_pin;
  // URLs relative to server_url of the kernel and initrd for the node's mode.
  std::string install_kernel = "/boot/files/install/vmlinuz";
  std::string install_initrd = "/boot/files/install/initrd.img";
  std::string diskless_kernel = "/boot/files/diskless/vmlinuz";
  std::string diskless_initrd = "/boot/files/diskless/initrd.img";
  // What a diskless node runs, resolved ("test-6.1-tiny@1", "compute@2"):
  // passed as goldcast.kernel= and goldcast.image= so that its heartbeats
  // can report them. Empty = unknown, left off the command line.
  std::string diskless_kernel_ref;
  std::string diskless_image_ref;
  // The node's one-time install token (cluster/install_tokens.h) for an
  // install or diskless boot.
  std::string install_token;
};

// The script for a node: install or diskless (the installer's kernel and
// initrd, with the server URL, node name and one-time install token on the
// command line; never the node's secret, which anyone could ask this
// script for) or local (boot the first disk: `sanboot` for BIOS, `exit` to
// the firmware's next boot entry for UEFI).
std::string NodeScript(const Node& node, const NodeGroup& group, const BootFiles& files);

// How long a machine waiting for approval waits before it asks again.
constexpr int kPendingRetrySeconds = 30;

// The script for a machine that waits for `goldcast nodes accept`: it says
// so on its console and asks again; it carries nothing else (no kernel, no
// secret).
std::string PendingScript(const PendingMachine& machine, const std::string& server_url);

// How long a machine whose address sent too many boot requests waits.
constexpr int kSlowDownSeconds = 60;

// The script for a machine the server will not name or keep pending now
// (its address sent too many boot requests): it says why and asks again.
std::string SlowDownScript(std::string_view reason, const std::string& server_url);

// How long a node that cannot boot waits before it asks again.
constexpr int kCannotBootRetrySeconds = 60;

// The script for a node the server has nothing to boot with (no installer
// for its group, no kernel artifact): it prints `reason` on the console and
// asks again after kCannotBootRetrySeconds, through the start script, so
// fixing the server (a capture, a kernel build) is all it takes; the machine
// never reboots and its disk is never touched. `reason` is reduced to
// characters iPXE prints as they are.
std::string CannotBootScript(const Node& node, std::string_view reason,
                             const std::string& server_url);

}  // namespace gc
