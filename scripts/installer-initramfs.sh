#!/usr/bin/env bash
# Builds the installer initramfs that `goldcast serve` hands to nodes in
# install mode (STATE/boot/install/initrd.img): busybox-static, the bundled
# goldcast-agent, and the tools the installer runs (sfdisk, mkfs.ext4,
# extlinux + its MBR), each with the shared libraries ldd finds. Its /init
# brings the network up with DHCP, runs `goldcast-agent install` (which reads
# goldcast.server/node/secret from the kernel command line), and reboots: into
# the installed system when the install worked, into the installer again
# (after 30 s) when it failed. It is the diskless initramfs too: with
# goldcast.mode=diskless it mounts a tmpfs at /newroot, runs `goldcast-agent
# install --diskless-root /newroot` (secret from the secret initrd's
# /goldcast.secret) and switch_roots into the image's /sbin/init.
#
# Usage: scripts/installer-initramfs.sh --agent BINARY | --agent-bundle DIR [--init FILE] OUT.img
#   --agent BINARY      goldcast-agent to bundle (scripts/bundle-agent.sh)
#   --agent-bundle DIR  an existing bundle (the output of bundle-agent.sh)
#   --init FILE         use FILE as /init instead of the installer's (e.g. a
#                       diskless root that only runs `goldcast-agent run`);
#                       it finds the agent at /opt/goldcast-agent/goldcast-agent
#                       and the DHCP hook at /etc/udhcpc.script
# The kernel that boots it needs virtio/your NIC and disk drivers, ext4 and
# devtmpfs built in (the migration kernel profiles/kernels/migration-6.1.yaml
# has them). Needs root (mknod /dev/console).
set -euo pipefail

die() {
  echo "installer-initramfs: error: $*" >&2
  exit 1
}

agent="" bundle="" init_file="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --agent) agent="${2:?--agent needs a file}"; shift ;;
    --agent-bundle) bundle="${2:?--agent-bundle needs a directory}"; shift ;;
    --init) init_file="${2:?--init needs a file}"; shift ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$out" ] || die "only one OUT.img allowed"; out="$1" ;;
  esac
  shift
done
[ -n "$out" ] || die "missing OUT.img (see --help)"
[ -n "$agent" ] || [ -n "$bundle" ] || die "give --agent BINARY or --agent-bundle DIR"
[ "$(id -u)" -eq 0 ] || die "needs root (mknod /dev/console)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

busybox_bin=/bin/busybox
mbr=/usr/lib/syslinux/mbr/mbr.bin
[ -x "$busybox_bin" ] || die "$busybox_bin not found; install busybox-static (scripts/install-deps.sh)"
if LC_ALL=C file "$busybox_bin" 2>/dev/null | grep -q 'dynamically linked'; then
  die "$busybox_bin is dynamically linked; install busybox-static"
fi
[ -f "$mbr" ] || die "$mbr not found; install syslinux-common (scripts/install-deps.sh)"
tools=()
for t in sfdisk mkfs.ext4 mkfs.vfat extlinux blkid; do
  p="$(command -v "$t" || true)"
  [ -n "$p" ] || die "'$t' not found; run scripts/install-deps.sh"
  tools+=("$t:$(readlink -f "$p")")
done
for c in cpio gzip ldd; do command -v "$c" >/dev/null || die "'$c' not found"; done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,etc,tmp,mnt,usr/bin,usr/sbin,opt,usr/lib/syslinux/mbr}
cp "$busybox_bin" "$root/bin/busybox"
for applet in sh mount umount ip ifconfig route udhcpc reboot poweroff sleep cat echo sync \
  chroot mkdir blockdev partx ls dmesg switch_root; do
  ln -s busybox "$root/bin/$applet"
done
cp "$mbr" "$root/usr/lib/syslinux/mbr/mbr.bin"

# Tools and their libraries at the paths ldd resolved, so the host's loader
# path baked into each binary works inside the initramfs too.
copy_with_libs() {
  local name="$1" bin="$2" lib
  cp "$bin" "$root/sbin/$name"
  while read -r lib; do
    [ -n "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    [ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
  done < <(ldd "$bin" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p')
}
for t in "${tools[@]}"; do copy_with_libs "${t%%:*}" "${t#*:}"; done
[ -e "$root/sbin/mkfs.ext4" ] || die "mkfs.ext4 missing in the initramfs"
[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$root/etc/"

if [ -n "$agent" ]; then
  bash "$here/bundle-agent.sh" "$agent" "$root/opt/goldcast-agent" >&2
else
  [ -x "$bundle/goldcast-agent" ] || die "$bundle holds no goldcast-agent wrapper"
  cp -a "$bundle" "$root/opt/goldcast-agent"
fi

cat >"$root/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc hook: configure the leased address and the default route.
case "$1" in
  bound | renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}"
    if [ -n "$router" ]; then
      route del default 2>/dev/null
      route add default gw "${router%% *}" dev "$interface"
    fi
    ;;
esac
exit 0
EOF
chmod 755 "$root/etc/udhcpc.script"

cat >"$root/init" <<'EOF'
#!/bin/sh
# goldcast installer /init: network up, install, reboot; or, booted with
# goldcast.mode=diskless, fill a RAM root and switch_root into it.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp 2>/dev/null
exec </dev/console >/dev/console 2>&1
echo
echo "goldcast installer: bringing the network up"
ip link set lo up
up=""
for i in /sys/class/net/*; do
  n="${i##*/}"
  [ "$n" = lo ] && continue
  ip link set "$n" up
  if udhcpc -i "$n" -n -q -t 10 -T 2 -s /etc/udhcpc.script; then
    up="$n"
    break
  fi
done
if [ -z "$up" ]; then
  echo "GOLDCAST-INSTALL-FAILED no DHCP lease on any interface; rebooting in 30 s"
  sleep 30
  reboot -f
fi
mode=install
for word in $(cat /proc/cmdline); do
  case "$word" in goldcast.mode=*) mode="${word#goldcast.mode=}" ;; esac
done
if [ "$mode" = diskless ]; then
  # The same image as an install, written into RAM; the secret comes from
  # the boot service's secret initrd (/goldcast.secret), which switch_root
  # deletes with the rest of the initramfs.
  echo "goldcast diskless: $up is up; writing the root into RAM"
  mkdir -p /newroot
  if mount -t tmpfs -o size=90%,mode=0755 tmpfs /newroot &&
    /opt/goldcast-agent/goldcast-agent install --diskless-root /newroot; then
    echo "GOLDCAST-DISKLESS-OK"
    umount /tmp
    for m in dev proc sys; do
      mkdir -p "/newroot/$m"
      mount -o move "/$m" "/newroot/$m"
    done
    exec switch_root /newroot /sbin/init
  fi
  echo "GOLDCAST-DISKLESS-FAILED (see above); rebooting in 30 s"
  sleep 30
  reboot -f
fi
echo "goldcast installer: $up is up; installing"
if /opt/goldcast-agent/goldcast-agent install; then
  echo "GOLDCAST-INSTALL-OK"
  sync
  reboot -f
fi
echo "GOLDCAST-INSTALL-FAILED (see above); rebooting into the installer in 30 s"
sleep 30
reboot -f
EOF
if [ -n "$init_file" ]; then
  [ -f "$init_file" ] || die "--init $init_file is not a file"
  cp "$init_file" "$root/init"
fi
chmod 755 "$root/init"
mknod -m 600 "$root/dev/console" c 5 1

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
  cpio --null -o -H newc -R 0:0 --quiet | gzip -6 -n) >"$out.tmp"
mv "$out.tmp" "$out"
echo "installer-initramfs: $out ($(du -h "$out" | cut -f1))" >&2
