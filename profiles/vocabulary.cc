#include "profiles/vocabulary.h"

#include <cctype>

#include "profiles/yaml_reader.h"  // QuoteValue, ParsePlainDecimal

namespace gc {

namespace {

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::string> NormalizeMac(std::string_view text) {
  std::string out;
  bool ok = text.size() == 17;
  char separator = ok ? text[2] : 0;
  ok = ok && (separator == ':' || separator == '-');
  for (size_t i = 0; ok && i < text.size(); ++i) {
    char c = text[i];
    if (i % 3 == 2) {
      ok = c == separator;
      out += ':';
    } else {
      ok = IsHex(c);
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (!ok) {
    return InvalidArgument(QuoteValue(text) +
                           " is not a MAC address (expected six two-digit hex octets separated "
                           "by ':' or '-', like 52:54:00:12:34:01)");
  }
  return out;
}

std::string FormatIpv4(Ipv4 address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

Result<Ipv4> ParseIpv4(std::string_view text) {
  Ipv4 address = 0;
  std::string_view rest = text;
  for (int i = 0; i < 4; ++i) {
    size_t dot = rest.find('.');
    if ((i < 3) == (dot == std::string_view::npos)) break;  // exactly three dots
    std::string_view octet = rest.substr(0, dot);
    int64_t value = 0;
    if (octet.size() > 3 || !ParsePlainDecimal(octet, &value) || value > 255) break;
    address = (address << 8) | static_cast<Ipv4>(value);
    if (i == 3) return address;
    rest = rest.substr(dot + 1);
  }
  return InvalidArgument(QuoteValue(text) +
                         " is not an IPv4 address (expected four numbers 0 to 255 without "
                         "leading zeros, like 10.77.0.1)");
}

Result<Ipv4Range> ParseIpv4Range(std::string_view text) {
  const std::string expected = " (expected FIRST-LAST like 10.77.0.100-10.77.0.199)";
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    return InvalidArgument(QuoteValue(text) + " is not an address range" + expected);
  }
  auto first = ParseIpv4(TrimSpaces(text.substr(0, dash)));
  auto last = ParseIpv4(TrimSpaces(text.substr(dash + 1)));
  if (!first.ok() || !last.ok()) {
    return InvalidArgument(QuoteValue(text) + " is not an address range" + expected);
  }
  if (*first > *last) {
    return InvalidArgument(QuoteValue(text) + " runs backwards (expected the lower address first)");
  }
  return Ipv4Range{*first, *last};
}

std::string FormatIpv4Range(const Ipv4Range& range) {
  return FormatIpv4(range.first) + "-" + FormatIpv4(range.last);
}

const char* DhcpModeName(DhcpMode mode) {
  switch (mode) {
    case DhcpMode::kAuthoritative:
      return "authoritative";
    case DhcpMode::kProxy:
      return "proxy";
  }
  return "?";
}

Result<DhcpMode> ParseDhcpMode(std::string_view text) {
  for (DhcpMode mode : {DhcpMode::kAuthoritative, DhcpMode::kProxy}) {
    if (text == DhcpModeName(mode)) return mode;
  }
  return InvalidArgument(QuoteValue(text) + " is not one of authoritative, proxy");
}

const char* EnrollmentName(Enrollment enroll) {
  return enroll == Enrollment::kManual ? "manual" : "auto";
}

Result<Enrollment> ParseEnrollment(std::string_view text) {
  for (Enrollment enroll : {Enrollment::kManual, Enrollment::kAuto}) {
    if (text == EnrollmentName(enroll)) return enroll;
  }
  return InvalidArgument(QuoteValue(text) + " is not one of manual, auto");
}

const char* BootModeName(BootMode mode) {
  switch (mode) {
    case BootMode::kInstall:
      return "install";
    case BootMode::kDiskless:
      return "diskless";
    case BootMode::kLocal:
      return "local";
  }
  return "?";
}

Result<BootMode> ParseBootMode(std::string_view text) {
  for (BootMode mode : {BootMode::kInstall, BootMode::kDiskless, BootMode::kLocal}) {
    if (text == BootModeName(mode)) return mode;
  }
  return InvalidArgument(QuoteValue(text) + " is not one of install, diskless, local");
}

}  // namespace gc
