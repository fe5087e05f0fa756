// Where a booting node finds its secret: not on the kernel command line
// (/proc/cmdline stays readable, to every user, as long as the kernel
// runs), but in a second initrd the boot service makes for the node's MAC
// (GET /boot/secret.cpio?mac=..., pxe/secret_initrd.h). The kernel
// unpacks it next to the installer's initramfs; the agent reads it there
// and gives it to an installed or diskless root only as node.json (0600).
// A diskless node's switch_root empties the initramfs, file and all.
#pragma once

namespace gc {

// The file's name in the secret initrd (a newc cpio), relative to /.
constexpr char kBootSecretName[] = "goldcast.secret";
// Its path once the kernel unpacked the initrds.
constexpr char kBootSecretPath[] = "/goldcast.secret";

}  // namespace gc
