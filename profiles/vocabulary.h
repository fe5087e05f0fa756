// The small vocabulary types every layer of goldcast names: MAC addresses,
// IPv4 addresses and ranges, the DHCP mode and the boot mode. One spelling
// of each, parsed strictly here, so the profile, the registry, the boot
// service and the command line accept the same text. Errors say what the
// text should look like; a caller adds where it came from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gc {

// "52:54:00:AB:cd:01" or "52-54-00-ab-cd-01" -> "52:54:00:ab:cd:01".
Result<std::string> NormalizeMac(std::string_view text);

// IPv4 addresses are kept in host byte order.
using Ipv4 = uint32_t;
std::string FormatIpv4(Ipv4 address);
// Four numbers 0 to 255 without leading zeros: "10.77.0.1".
Result<Ipv4> ParseIpv4(std::string_view text);

struct Ipv4Range {
  Ipv4 first = 0;
  Ipv4 last = 0;  // inclusive
  uint64_t size() const { return uint64_t{last} - first + 1; }
  bool Contains(Ipv4 address) const { return address >= first && address <= last; }
};
// "10.77.0.100-10.77.0.199" (spaces around the '-' allowed), lowest first.
Result<Ipv4Range> ParseIpv4Range(std::string_view text);
std::string FormatIpv4Range(const Ipv4Range& range);  // "10.77.0.100-10.77.0.199"

enum class DhcpMode {
  kAuthoritative,  // goldcast's dnsmasq hands out addresses
  kProxy,          // another DHCP server hands out addresses; dnsmasq only adds PXE boot info
};
const char* DhcpModeName(DhcpMode mode);  // "authoritative", "proxy"
Result<DhcpMode> ParseDhcpMode(std::string_view text);

// What happens to a machine the registry does not know when it asks for
// its boot script.
enum class Enrollment {
  kManual,  // it waits, pending, until `goldcast nodes accept` names it
  kAuto,    // it is named at once, in boot order (labs, the demo)
};
const char* EnrollmentName(Enrollment enroll);  // "manual", "auto"
Result<Enrollment> ParseEnrollment(std::string_view text);

enum class BootMode { kInstall, kDiskless, kLocal };
const char* BootModeName(BootMode mode);  // "install", "diskless", "local"
Result<BootMode> ParseBootMode(std::string_view text);

}  // namespace gc
