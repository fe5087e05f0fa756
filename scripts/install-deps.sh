#!/usr/bin/env bash
# Installs every Debian package goldcast's build, tests, demo and benchmarks need.
# Idempotent; safe to run on every CI job. Needs root (or sudo).
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
  # libraries
  libarchive-dev librsync-dev libcurl4-openssl-dev libyaml-cpp-dev libmicrohttpd-dev
  libsqlite3-dev libssl-dev libzstd-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libncurses-dev
  # runtime and test tools
  iproute2 util-linux e2fsprogs dosfstools fdisk rsync tar libarchive-tools acl attr
  libcap2-bin zstd xz-utils curl procps psmisc python3 openssh-client
  dnsmasq ipxe qemu-system-x86 ovmf debootstrap busybox-static cpio
  # the installer initramfs: BIOS bootloader for installed nodes
  extlinux syslinux-common
  # UEFI nodes: mkfs.vfat (dosfstools, above) makes the ESP; their GRUB comes
  # from the image, the host's only serves disk_setup_test's real grub-mkimage
  grub-efi-amd64-bin
  # the Vagrantfile's lab (CI checks it with vagrant validate)
  vagrant vagrant-libvirt
  # bench/boot.sh serves the same file with nginx for comparison
  nginx-light
  # kernel builds (goldcast kernel build, tests/integration/kernel_*_test.sh); kmod
  # for depmod, which make modules_install needs to write modules.dep
  ccache patch bc bison flex libelf-dev make gcc gpgv kmod
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -q
# dnsmasq's package starts a system service on install; goldcast never uses it
# (it runs its own dnsmasq inside test namespaces), so keep it from starting.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
