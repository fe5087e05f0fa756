#include "pxe/boot_script.h"

#include <cctype>
#include <string_view>
#include <vector>

#include "common/text.h"

namespace gc {

namespace {

constexpr size_t kMaxEcho = 64;

// A value from the network as it may appear in an error message: at most
// kMaxEcho characters, anything unprintable escaped, so a hostile query
// cannot flood or forge log lines.
std::string Quote(std::string_view value) {
  std::string out = "'";
  size_t used = 0;
  for (unsigned char c : value) {
    std::string piece;
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      piece = static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      piece = {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
    if (used + piece.size() > kMaxEcho) {
      out += "...";
      break;
    }
    out += piece;
    used += piece.size();
  }
  return out + "'";
}

Status BadArgument(std::string_view name, std::string_view value, std::string_view expected) {
  return InvalidArgument("argument " + std::string(name) + " of /boot/ipxe: " + Quote(value) +
                         " is not valid (expected " + std::string(expected) + ")");
}

// Optional argument: absent or empty is fine (iPXE expands an unset
// setting to nothing).
Result<std::string> Optional(const std::map<std::string, std::string>& query, std::string_view name,
                             size_t max_length, bool (*allowed)(char), std::string_view expected) {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::string();
  const std::string& value = it->second;
  if (value.size() > max_length) return BadArgument(name, value, expected);
  for (char c : value) {
    if (!allowed(c)) return BadArgument(name, value, expected);
  }
  return value;
}

bool UuidChar(char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '-'; }
bool WordChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The last path component: iPXE names a downloaded image after it, and the
// kernel's EFI stub finds the initrd by that name (`initrd=NAME`).
std::string BaseName(std::string_view url) {
  size_t query = url.find_first_of("?#");
  if (query != std::string_view::npos) url = url.substr(0, query);
  size_t slash = url.rfind('/');
  return std::string(slash == std::string_view::npos ? url : url.substr(slash + 1));
}

std::string StartUrl(const std::string& server_url) { return server_url + "/boot/start.ipxe"; }

// The end of every script that gives up for now: wait, then start over
// through the start script (so a changed registry or server is seen).
std::string AskAgainIn(int seconds, const std::string& server_url) {
  return "sleep " + std::to_string(seconds) + "\nchain --replace --autofree " +
         StartUrl(server_url) + "\n";
}

// Text iPXE echoes as it is: no settings expansion ($), no operators (|, &),
// no quoting, one line. Anything else becomes '?'.
std::string IpxeText(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 400)) {
    bool plain =
        std::isalnum(c) || std::string_view(" .,:;/_@()=+-*<>[]'!%").find(static_cast<char>(c)) !=
                               std::string_view::npos;
    out += plain ? static_cast<char>(c) : '?';
  }
  return out;
}

}  // namespace

Result<BootRequest> ParseBootQuery(const std::map<std::string, std::string>& query,
                                   const std::string& remote_address) {
  BootRequest request;
  auto mac = query.find("mac");
  if (mac == query.end() || mac->second.empty()) {
    return InvalidArgument(
        "argument mac of /boot/ipxe is missing (iPXE sends it as mac=${net0/mac}; "
        "start the node through /boot/start.ipxe)");
  }
  // Our own message, not NormalizeMac's: it could quote the whole value.
  constexpr std::string_view kMacExpected = "a MAC address such as 52:54:00:12:34:56";
  if (mac->second.size() > 64) return BadArgument("mac", mac->second, kMacExpected);
  Result<std::string> normalized = NormalizeMac(mac->second);
  if (!normalized.ok()) return BadArgument("mac", mac->second, kMacExpected);
  request.mac = std::move(normalized).value();
  GC_ASSIGN_OR_RETURN(request.uuid,
                      Optional(query, "uuid", 36, UuidChar, "up to 36 hex digits and '-'"));
  request.uuid = Lower(request.uuid);
  GC_ASSIGN_OR_RETURN(request.arch, Optional(query, "arch", 16, WordChar,
                                             "up to 16 characters of a-z, 0-9 and '_'"));
  GC_ASSIGN_OR_RETURN(request.platform, Optional(query, "platform", 16, WordChar,
                                                 "up to 16 characters of a-z, 0-9 and '_'"));
  request.remote_address = remote_address;
  return request;
}

std::string StartScript(const std::string& server_url) {
  // --replace: the node script takes this one's place, so a `goto` in it
  // never lands here. The retry loop covers a server that is restarting.
  return "#!ipxe\n"
         "echo goldcast: asking " +
         server_url +
         " for this machine's boot script\n"
         ":start\n"
         "chain --replace --autofree " +
         server_url +
         "/boot/ipxe?mac=${net0/mac}&uuid=${uuid}&arch=${buildarch}&platform=${platform}"
         " || goto retry\n"
         ":retry\n"
         "echo goldcast: no boot script (error ${errno}); retrying in 3 s\n"
         "sleep 3\n"
         "goto start\n";
}

std::string NodeScript(const Node& node, const NodeGroup& group, const BootFiles& files) {
  std::string script =
      "#!ipxe\necho goldcast: " + node.name + " (" + BootModeName(node.mode) + ")\n";
  if (node.mode == BootMode::kLocal) {
    if (node.platform == "efi") {
      // Leaving iPXE returns to the firmware's boot manager, which tries
      // the next boot entry (the installed disk) only when this one failed:
      // EDK2's BDS answers a boot option that returns EFI_SUCCESS with its
      // setup menu. So iPXE leaves with a non-zero status.
      return script + "exit 1\n";
    }
    // BIOS: hand the first hard disk to the BIOS boot path. If that fails
    // (no disk, no boot sector), leaving iPXE lets the BIOS try its next
    // boot device.
    return script +
           "sanboot --no-describe --drive 0x80 || goto failed\n"
           ":failed\n"
           "echo goldcast: local disk not bootable (error ${errno})\n"
           "exit\n";
  }
  bool install = node.mode == BootMode::kInstall;
  const std::string& kernel = install ? files.install_kernel : files.diskless_kernel;
  const std::string& initrd = install ? files.install_initrd : files.diskless_initrd;
  std::string kernel_ref, image_ref;
  if (node.mode == BootMode::kDiskless) {
    if (!files.diskless_kernel_ref.empty())
      kernel_ref = "goldcast.kernel=" + files.diskless_kernel_ref;
    if (!files.diskless_image_ref.empty()) image_ref = "goldcast.image=" + files.diskless_image_ref;
  }
  // Empty ones (no kernel or image ref, no extra arguments) are left out.
  std::vector<std::string> words = {
      "kernel",
      files.server_url + kernel,
      "initrd=" + BaseName(initrd),
      "console=ttyS0,115200",
      "goldcast.server=" + (files.node_url.empty() ? files.server_url : files.node_url),
      files.server_pin.empty() ? "" : "goldcast.pin=" + files.server_pin,
      "goldcast.node=" + node.name,
      // Stays readable in /proc/cmdline, but is spent before anything but
      // the initramfs runs: the agent redeems it for the secret at once.
      "goldcast.token=" + files.install_token,
      std::string("goldcast.mode=") + BootModeName(node.mode),
      kernel_ref,
      image_ref,
      group.kernel_args,
  };
  std::string kernel_line = JoinStrings(words, " ", /*skip_empty=*/true);
  // A failed download starts over through the start script instead of
  // falling to the next boot device, which on a blank node is nothing.
  return script + kernel_line + " || goto failed\n" + "initrd " + files.server_url + initrd +
         " || goto failed\n"
         "boot || goto failed\n"
         ":failed\n"
         "echo goldcast: booting " +
         node.name + " failed (error ${errno}); retrying in 10 s\n" +
         AskAgainIn(10, files.server_url);
}

std::string PendingScript(const PendingMachine& machine, const std::string& server_url) {
  std::string seconds = std::to_string(kPendingRetrySeconds);
  return "#!ipxe\n"
         "echo goldcast: this machine (" +
         machine.mac + ") waits for approval; on the server: goldcast nodes accept " + machine.mac +
         "\n"
         "echo goldcast: asking again in " +
         seconds + " s\n" + AskAgainIn(kPendingRetrySeconds, server_url);
}

std::string SlowDownScript(std::string_view reason, const std::string& server_url) {
  return "#!ipxe\necho goldcast: " + IpxeText(reason) + "\necho goldcast: asking again in " +
         std::to_string(kSlowDownSeconds) + " s\n" + AskAgainIn(kSlowDownSeconds, server_url);
}

std::string CannotBootScript(const Node& node, std::string_view reason,
                             const std::string& server_url) {
  std::string seconds = std::to_string(kCannotBootRetrySeconds);
  return "#!ipxe\n"
         "echo goldcast: " +
         node.name + " (" + BootModeName(node.mode) + ") cannot boot: " + IpxeText(reason) +
         "\n"
         "echo goldcast: the server says why in: goldcast nodes show " +
         node.name + "; asking again in " + seconds + " s (the disk is not touched)\n" +
         AskAgainIn(kCannotBootRetrySeconds, server_url);
}

}  // namespace gc
