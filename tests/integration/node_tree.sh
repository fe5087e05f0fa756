#!/usr/bin/env bash
# Makes the smallest golden tree an installed test node can run: busybox as
# the whole userland and an /sbin/init that mounts the kernel file systems,
# prints what booted, loads a module from the installed kernel's modules
# tree, brings the network up with DHCP and starts the node agent that the
# installer put into /usr/local/sbin. The lines it prints on the serial
# console:
#   GOLDCAST-NODE-UP host=<hostname> kernel=<uname -r> root=<root= argument> fs=<type of />
#   GOLDCAST-MODULE-OK dummy | GOLDCAST-MODULE-FAILED dummy
#   GOLDCAST-AGENT-STARTED | GOLDCAST-AGENT-MISSING
# It also holds what the installer must replace: a golden hostname,
# machine-id, ssh host key and an fstab naming the golden client's disk.
# Usage: tests/integration/node_tree.sh DIR (DIR must not exist)
set -euo pipefail
dir=${1:?usage: node_tree.sh DIR}
[ ! -e "$dir" ] || { echo "node_tree: $dir exists" >&2; exit 1; }
mkdir -p "$dir"/{bin,sbin,dev,proc,sys,tmp,root,etc/ssh,etc/init.d,lib/modules,usr/bin,usr/local/sbin,var/log,boot}
cp /bin/busybox "$dir/bin/busybox"
for applet in sh mount umount ip ifconfig route udhcpc sleep cat echo grep hostname uname \
  modprobe lsmod ls sync reboot poweroff; do
  ln -s busybox "$dir/bin/$applet"
done
chmod 1777 "$dir/tmp"
echo golden >"$dir/etc/hostname"
echo 0123456789abcdef0123456789abcdef >"$dir/etc/machine-id"
echo "golden-host-key" >"$dir/etc/ssh/ssh_host_ed25519_key"
chmod 600 "$dir/etc/ssh/ssh_host_ed25519_key"
printf '/dev/sda1 / ext4 defaults 0 1\nproc /proc proc defaults 0 0\n' >"$dir/etc/fstab"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dir/etc/passwd"
cat >"$dir/etc/udhcpc.script" <<'SCRIPT'
#!/bin/sh
case "$1" in
  bound | renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}"
    [ -n "$router" ] && route add default gw "${router%% *}" dev "$interface"
    ;;
esac
exit 0
SCRIPT
chmod 755 "$dir/etc/udhcpc.script"
cat >"$dir/sbin/init" <<'SCRIPT'
#!/bin/sh
# goldcast test node: report, load a module, network, agent.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp 2>/dev/null
exec </dev/console >/dev/console 2>&1
hostname "$(cat /etc/hostname)"
rootarg=""
for word in $(cat /proc/cmdline); do
  case "$word" in root=*) rootarg="${word#root=}" ;; esac
done
rootfs=$(grep ' / ' /proc/mounts | grep -v '^rootfs' | cut -d' ' -f3 | head -n 1)
echo
echo "GOLDCAST-NODE-UP host=$(hostname) kernel=$(uname -r) root=$rootarg fs=$rootfs"
if modprobe dummy && grep -q '^dummy ' /proc/modules; then
  echo "GOLDCAST-MODULE-OK dummy"
else
  echo "GOLDCAST-MODULE-FAILED dummy"
fi
ip link set lo up
for i in /sys/class/net/*; do
  n="${i##*/}"
  case "$n" in lo | dummy*) continue ;; esac
  ip link set "$n" up
  udhcpc -i "$n" -n -q -t 10 -T 2 -s /etc/udhcpc.script && break
done
if [ -x /usr/local/sbin/goldcast-agent ]; then
  echo "GOLDCAST-AGENT-STARTED"
  /usr/local/sbin/goldcast-agent run --interval 2 &
else
  echo "GOLDCAST-AGENT-MISSING"
fi
while :; do sleep 3600; done
SCRIPT
chmod 755 "$dir/sbin/init"
