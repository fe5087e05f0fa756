#!/usr/bin/env bash
# Makes the test kernel and initramfs that the boot tests and benchmarks hand
# to network-booted VMs, once, and reuses them afterwards:
#
#   vmlinuz     Debian's amd64 kernel (linux-image-<ver>-amd64, fetched with
#               `apt-get download`; this host has no /boot/vmlinuz)
#   initrd.img  busybox-static + an /init that prints, on the serial console,
#                 GOLDCAST-CMDLINE <the kernel command line>
#                 GOLDCAST-BOOT-OK node=<goldcast.node> mode=<goldcast.mode>
#               and powers the machine off (QEMU -no-reboot then exits)
#
# Usage: scripts/boot-artifacts.sh [--rebuild] [OUT_DIR]
#   Prints the directory holding vmlinuz and initrd.img on stdout: OUT_DIR
#   (the files are copied there) or the cache directory. Progress on stderr.
# Environment:
#   GOLDCAST_CACHE        cache directory (default /var/cache/goldcast); the
#                         artifacts live in $GOLDCAST_CACHE/boot-test
#   GOLDCAST_KERNEL_PKG   kernel package to fetch (default: what the
#                         linux-image-amd64 metapackage depends on)
#   GOLDCAST_TEST_KERNEL  use this kernel image file instead of fetching one
# Needs root (apt-get download as root, mknod for /dev/console). A half-made
# cache is never reused: everything is built in a temporary directory that is
# renamed into place, with a stamp naming the kernel and the /init it holds.
set -euo pipefail

die() {
  echo "boot-artifacts: error: $*" >&2
  exit 1
}
say() { echo "boot-artifacts: $*" >&2; }

rebuild=0
out_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild) rebuild=1 ;;
    -h | --help)
      sed -n '2,24p' "$0"
      exit 0
      ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *)
      [ -z "$out_dir" ] || die "only one OUT_DIR allowed (got '$out_dir' and '$1')"
      out_dir="$1"
      ;;
  esac
  shift
done

[ "$(id -u)" -eq 0 ] || die "needs root (apt-get download, mknod /dev/console)"
busybox_bin=/bin/busybox
for c in cpio gzip dpkg-deb apt-get apt-cache sha256sum flock; do
  command -v "$c" >/dev/null || die "'$c' not found; run scripts/install-deps.sh"
done
# busybox-static's binary must not need a dynamic loader inside the initramfs.
[ -x "$busybox_bin" ] || die "$busybox_bin not found; install busybox-static (scripts/install-deps.sh)"
if LC_ALL=C file "$busybox_bin" 2>/dev/null | grep -q 'dynamically linked'; then
  die "$busybox_bin is dynamically linked; install busybox-static"
fi

cache="${GOLDCAST_CACHE:-/var/cache/goldcast}"
dest="$cache/boot-test"
mkdir -p "$cache"

# The /init every test VM runs. Kept here so its hash is part of the stamp:
# editing it rebuilds the initramfs.
read -r -d '' init_script <<'EOF' || true
#!/bin/busybox sh
# goldcast boot-test /init: report what the boot script passed, then power off.
/bin/busybox mkdir -p /proc /sys /dev /bin /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
node=unknown
mode=unknown
for word in $(cat /proc/cmdline); do
  case "$word" in
    goldcast.node=*) node="${word#goldcast.node=}" ;;
    goldcast.mode=*) mode="${word#goldcast.mode=}" ;;
  esac
done
# Marker words start a line so a log reader never sees them split.
echo
echo "GOLDCAST-CMDLINE $(cat /proc/cmdline)"
echo "GOLDCAST-BOOT-OK node=$node mode=$mode"
sync
poweroff -f
sleep 2
reboot -f
EOF

if [ -n "${GOLDCAST_TEST_KERNEL:-}" ]; then
  [ -f "$GOLDCAST_TEST_KERNEL" ] || die "GOLDCAST_TEST_KERNEL=$GOLDCAST_TEST_KERNEL is not a file"
  kernel_id="file:$(sha256sum "$GOLDCAST_TEST_KERNEL" | cut -d' ' -f1)"
else
  pkg="${GOLDCAST_KERNEL_PKG:-}"
  if [ -z "$pkg" ]; then
    pkg="$(apt-cache depends linux-image-amd64 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)"
    [ -n "$pkg" ] || die "apt knows no linux-image-amd64 dependency; run 'apt-get update' or set GOLDCAST_KERNEL_PKG"
  fi
  kernel_id="pkg:$pkg"
fi
init_sha="$(printf '%s\n' "$init_script" | sha256sum | cut -d' ' -f1)"
busybox_sha="$(sha256sum "$busybox_bin" | cut -d' ' -f1)"
stamp="kernel=$kernel_id init=$init_sha busybox=$busybox_sha"

is_complete() {
  [ -f "$dest/stamp" ] && [ "$(cat "$dest/stamp")" = "$stamp" ] &&
    [ -s "$dest/vmlinuz" ] && [ -s "$dest/initrd.img" ]
}

# Concurrent runs (parallel CI jobs) build once; the others wait.
exec 9>"$cache/.boot-test.lock"
flock 9

if [ "$rebuild" = 1 ] || ! is_complete; then
  work="$(mktemp -d "$cache/boot-test.tmp.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  mkdir "$work/out"

  if [ -n "${GOLDCAST_TEST_KERNEL:-}" ]; then
    cp "$GOLDCAST_TEST_KERNEL" "$work/out/vmlinuz"
  else
    say "fetching $pkg with apt-get download"
    mkdir "$work/deb"
    # apt downloads as _apt when that user may write the directory.
    chmod 755 "$work"
    chown _apt "$work/deb" 2>/dev/null || true
    if ! (cd "$work/deb" && apt-get download -q "$pkg" >&2); then
      say "download failed; refreshing apt's package lists once"
      apt-get -o DPkg::Lock::Timeout=900 update -q >&2 ||
        die "apt-get update failed; is the Debian mirror reachable?"
      (cd "$work/deb" && apt-get download -q "$pkg" >&2) ||
        die "apt-get download $pkg failed; set GOLDCAST_KERNEL_PKG to a package apt offers, or GOLDCAST_TEST_KERNEL to a kernel file"
    fi
    deb="$(ls "$work/deb"/*.deb)"
    kver="${pkg#linux-image-}"
    mkdir "$work/kernel"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/kernel" "./boot/vmlinuz-$kver" ||
      die "$deb holds no ./boot/vmlinuz-$kver"
    mv "$work/kernel/boot/vmlinuz-$kver" "$work/out/vmlinuz"
    rm -rf "$work/deb" "$work/kernel"
  fi

  say "building the initramfs (busybox-static + /init)"
  root="$work/root"
  mkdir -p "$root"/{bin,dev,proc,sys,sbin,usr/bin,usr/sbin}
  cp "$busybox_bin" "$root/bin/busybox"
  printf '%s\n' "$init_script" >"$root/init"
  chmod 755 "$root/init"
  # The kernel opens /dev/console before /init runs (devtmpfs is not mounted yet).
  mknod -m 600 "$root/dev/console" c 5 1
  (cd "$root" && find . -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc -R 0:0 --quiet | gzip -9 -n) >"$work/out/initrd.img"
  printf '%s\n' "$stamp" >"$work/out/stamp"

  if [ -e "$dest" ]; then
    mv "$dest" "$work/old"
  fi
  mv "$work/out" "$dest"
  rm -rf "$work"
  trap - EXIT
  say "cached in $dest ($(du -h "$dest/vmlinuz" | cut -f1) kernel, $(du -h "$dest/initrd.img" | cut -f1) initramfs)"
fi

if [ -n "$out_dir" ]; then
  mkdir -p "$out_dir"
  cp "$dest/vmlinuz" "$dest/initrd.img" "$out_dir/"
  realpath "$out_dir"
else
  echo "$dest"
fi
