#include "common/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace gc {

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Without randomness every node would share its identity; stop here.
      std::fprintf(stderr, "goldcast: getrandom failed: %d\n", errno);
      std::abort();
    }
    got += static_cast<size_t>(n);
  }
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : raw) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  return hex;
}

std::string RandomUuid() {
  std::string hex = RandomHex(16);
  hex[12] = '4';                                                               // version 4
  hex[16] = "89ab"[std::strtoul(hex.substr(16, 1).c_str(), nullptr, 16) & 3];  // variant 10
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace gc
