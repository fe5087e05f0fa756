// Shell scripts compiled into goldcast (pxe/CMakeLists.txt embeds them), so
// the installer initramfs needs nothing from the source tree at run time.
#pragma once

#include <string_view>

namespace gc {

extern const std::string_view kInstallerInit;          // pxe/installer_init.sh
extern const std::string_view kInstallerUdhcpcScript;  // pxe/installer_udhcpc.sh

}  // namespace gc
