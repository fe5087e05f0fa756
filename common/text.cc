#include "common/text.h"

#include <string.h>

#include <ctime>

namespace gc {

std::string Trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

std::string JoinStrings(const std::vector<std::string>& items, std::string_view separator,
                        bool skip_empty) {
  std::string out;
  bool first = true;
  for (const std::string& item : items) {
    if (skip_empty && item.empty()) continue;
    if (!first) out += separator;
    out += item;
    first = false;
  }
  return out;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(begin, end - begin);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    begin = end + 1;
  }
  return parts;
}

bool ParseDecimal(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 19) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = value;
  return true;
}

std::string FormatUtcTime(int64_t ns) {
  std::time_t seconds = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buffer;
}

std::string NewestVmlinuzRelease(const std::vector<std::string>& names) {
  constexpr std::string_view kPrefix = "vmlinuz-";
  std::string newest;
  for (const std::string& name : names) {
    if (name.rfind(kPrefix, 0) != 0 || name.size() == kPrefix.size()) continue;
    if (name.find('/') != std::string::npos) continue;
    std::string release = name.substr(kPrefix.size());
    if (newest.empty() || ::strverscmp(release.c_str(), newest.c_str()) > 0) newest = release;
  }
  return newest;
}

}  // namespace gc
