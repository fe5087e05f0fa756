#!/bin/sh
# goldcast installer /init: drivers, network up, install, reboot; or,
# booted with goldcast.mode=diskless, fill a RAM root and switch_root into it.
# `goldcast boot build-installer` puts it into the installer initramfs.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp 2>/dev/null
exec </dev/console >/dev/console 2>&1
echo
# An image's own kernel has its disk and NIC drivers as modules: load them,
# every module after those it needs (the list is in that order). A kernel
# artifact has them built in and the list is empty.
if [ -s /etc/goldcast/modules ]; then
  echo "goldcast installer: loading drivers"
  while read -r module; do
    insmod "$module" || echo "goldcast installer: insmod $module failed; continuing"
  done </etc/goldcast/modules
fi
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
# The boot script's install token buys the node's secret once; a second
# try on this boot uses the secret kept here (gone with the initramfs).
secret_cache=/run/goldcast.secret
mkdir -p /run
# Exit status 3: the server refused the token or secret (spent, expired,
# the server restarted or the node was reinstalled): only a fresh boot
# script gives a fresh token, so reboot.
refused() {
  echo "GOLDCAST-TOKEN-REFUSED (see above); rebooting for a fresh boot script in 10 s"
  rm -f "$secret_cache"
  sleep 10
  reboot -f
}
if [ "$mode" = diskless ]; then
  # The same image as an install, written into RAM. The token on the
  # command line is spent by then; the secret goes only into the RAM
  # root's node.json (0600).
  echo "goldcast diskless: $up is up; writing the root into RAM"
  mkdir -p /newroot
  until mount -t tmpfs -o size=90%,mode=0755 tmpfs /newroot &&
    /opt/goldcast-agent/goldcast-agent install --diskless-root /newroot \
      --secret-cache "$secret_cache"; do
    [ $? -eq 3 ] && refused
    # No reboot loop: the server shows why (goldcast nodes show); the next
    # try picks up the admin's fix.
    echo "GOLDCAST-DISKLESS-FAILED (see above); trying again in 60 s (no reboot)"
    umount /newroot 2>/dev/null
    sleep 60
  done
  echo "GOLDCAST-DISKLESS-OK"
  # Hand the NIC over unconfigured: udev renames an interface only while
  # it is down, and networkd waits for that rename before it applies the
  # node's network config.
  ip addr flush dev "$up"
  ip link set "$up" down
  umount /tmp
  for m in dev proc sys; do
    mkdir -p "/newroot/$m"
    mount -o move "/$m" "/newroot/$m"
  done
  exec switch_root /newroot /sbin/init
fi
echo "goldcast installer: $up is up; installing"
until /opt/goldcast-agent/goldcast-agent install --secret-cache "$secret_cache"; do
  [ $? -eq 3 ] && refused
  # No reboot loop: a machine that cannot be installed as planned (no kernel
  # in the image, no UEFI boot loader files, a disk too small: checked before
  # the disk is touched) waits here and tries again once a minute; the
  # server shows why (goldcast nodes show), and a try after the admin's fix
  # goes through.
  echo "GOLDCAST-INSTALL-FAILED (see above); trying again in 60 s (no reboot)"
  sleep 60
done
echo "GOLDCAST-INSTALL-OK"
sync
reboot -f
