// The profiles' one YAML error format starts "FILE:LINE:COL: " (see
// profiles/yaml_reader.h); both YAML fuzzers check every error against it.
#pragma once

#include <string>

namespace gc::fuzz {

inline bool StartsWithPosition(const std::string& message, const std::string& file) {
  if (message.rfind(file + ":", 0) != 0) return false;
  size_t i = file.size() + 1;
  for (int part = 0; part < 2; ++part) {
    size_t start = i;
    while (i < message.size() && message[i] >= '0' && message[i] <= '9') ++i;
    if (i == start || i >= message.size() || message[i] != ':') return false;
    ++i;
  }
  return message.compare(i, 1, " ") == 0;
}

}  // namespace gc::fuzz
