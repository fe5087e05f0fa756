#include "pxe/secret_initrd.h"

#include <cstdio>

#include "protocol/boot_secret.h"

namespace gc {

namespace {

void Pad4(std::string* out) {
  while (out->size() % 4 != 0) out->push_back('\0');
}

// One member: header, NUL-terminated name, body, each padded to 4 bytes.
void AppendMember(std::string* out, int ino, unsigned mode, std::string_view name,
                  std::string_view body) {
  char header[111];
  std::snprintf(header, sizeof header, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                ino, mode, 0u, 0u, 1u, 0u, static_cast<unsigned>(body.size()), 0u, 0u, 0u, 0u,
                static_cast<unsigned>(name.size() + 1), 0u);
  out->append(header, 110);
  out->append(name);
  out->push_back('\0');
  Pad4(out);
  out->append(body);
  Pad4(out);
}

}  // namespace

std::string NewcArchive(std::string_view name, std::string_view content) {
  std::string out;
  AppendMember(&out, 1, 0100400, name, content);  // a regular file, read-only by root
  AppendMember(&out, 0, 0, "TRAILER!!!", "");
  return out;
}

std::string SecretInitrd(std::string_view secret) {
  return NewcArchive(kBootSecretName, std::string(secret) + "\n");
}

}  // namespace gc
