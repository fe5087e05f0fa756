// The secret initrd: a newc cpio holding only the node's secret as
// /goldcast.secret (protocol/boot_secret.h), served per MAC to diskless
// nodes (GET /boot/secret.cpio?mac=...). iPXE loads it after the image's
// initramfs and the kernel unpacks both, so the secret reaches the agent
// without ever being on the kernel command line, which stays readable in
// /proc/cmdline for as long as the node runs.
#pragma once

#include <string>
#include <string_view>

namespace gc {

// A newc ("070701") archive: the file `name` (mode 0400, owner root) with
// `content`, then the trailer; every header, name and body 4-byte aligned
// as the kernel's unpacker requires.
std::string NewcArchive(std::string_view name, std::string_view content);

// The node's secret initrd.
std::string SecretInitrd(std::string_view secret);

}  // namespace gc
