// Small text helpers shared across modules (one copy of each, not one per file).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gc {

// Without leading and trailing spaces, tabs, CR and LF.
std::string Trim(std::string_view text);

// The items with `separator` between them: {"a", "b"}, ", " is "a, b".
// With `skip_empty`, empty items are left out (and get no separator).
std::string JoinStrings(const std::vector<std::string>& items, std::string_view separator,
                        bool skip_empty = false);

// The components of a '/'-separated path; empty and "." ones are dropped
// ("a//./b/" is {"a", "b"}; ".." is kept for the caller to judge).
std::vector<std::string> SplitPath(std::string_view path);

// A plain decimal (digits only, no sign, at most 19 digits). False otherwise.
bool ParseDecimal(std::string_view text, uint64_t* out);

// The release of the newest "vmlinuz-RELEASE" among `names` (file names in
// a /boot directory), by version order (6.1.0-9 before 6.1.0-10); "" when
// there is none. The image's own kernel, as the server and the installer
// both pick it.
std::string NewestVmlinuzRelease(const std::vector<std::string>& names);

// "2026-11-21 09:33:40Z" for nanoseconds since the epoch.
std::string FormatUtcTime(int64_t ns);

}  // namespace gc
