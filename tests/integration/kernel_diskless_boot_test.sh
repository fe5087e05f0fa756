#!/usr/bin/env bash
# A node group names a kernel artifact and boots diskless: the kernel built by
# `goldcast kernel build` (Debian's 6.1 orig tarball + goldcast's test patch)
# is served by `goldcast serve` under /boot/kernels/NAME@N/vmlinuz, and a
# blank VM PXE-boots it through dnsmasq and iPXE. The serial console must show
# the test patch's boot message and the initramfs marker with the node's
# boot-order name and mode=diskless. The RAM root runs the Release agent's
# `goldcast-agent run --once` with the identity from its kernel command line,
# so the registry must then show the node diskless, heartbeating the artifact
# and its release. The kernel build reuses the ccache that
# kernel_build_test.sh warmed (about a minute), or compiles cold.
GC_TEST=kernel_diskless_boot
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"
gc_require_cmds make gcc patch flex bison bc

state="$GC_TMP/state"
gc_build_test_kernel "$state"

gc_vm_lab_up "gc-kd-$$" 66
profile="$GC_TMP/profile.yaml"
bash "$GC_REPO/tests/integration/node_tree.sh" "$GC_TMP/tree"
gc_expect_status 0 "image import" "$GOLDCAST" --state "$state" image import \
  --dir "$GC_TMP/tree" --image ram
gc_vm_profile diskless.yaml "$profile" KERNEL="${kernel%@*}" IMAGE=ram
gc_vm_state_prepare "$state"
# The diskless root: busybox, the Release agent and an /init that heartbeats
# once, prints the marker and powers off.
cat >"$GC_TMP/diskless-init" <<'INIT'
#!/bin/sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
node=unknown mode=unknown
for word in $(cat /proc/cmdline); do
  case "$word" in
    goldcast.node=*) node="${word#goldcast.node=}" ;;
    goldcast.mode=*) mode="${word#goldcast.mode=}" ;;
  esac
done
ip link set lo up
for i in /sys/class/net/*; do
  n="${i##*/}"
  [ "$n" = lo ] && continue
  ip link set "$n" up
  udhcpc -i "$n" -n -q -t 10 -T 2 -s /etc/udhcpc.script && break
done
if /opt/goldcast-agent/goldcast-agent run --once; then
  echo "GOLDCAST-HEARTBEAT-OK"
else
  echo "GOLDCAST-HEARTBEAT-FAILED"
fi
echo "GOLDCAST-BOOT-OK node=$node mode=$mode"
sync
poweroff -f
INIT
bash "$GC_REPO/scripts/installer-initramfs.sh" --agent-bundle "$(gc_release_agent_bundle)" \
  --init "$GC_TMP/diskless-init" "$state/boot/diskless/initrd.img" 2>"$GC_TMP/initramfs.log" ||
  gc_fail_with_file "installer-initramfs.sh --init failed" "$GC_TMP/initramfs.log"
gc_serve_start "$state" "$profile"

# The artifact is served byte for byte.
gc_vm_http "/boot/kernels/$kernel/vmlinuz"
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "GET /boot/kernels/$kernel/vmlinuz: $GC_HTTP_STATUS" "$GC_OUT"
cmp -s "$GC_OUT" "$artifact/vmlinuz" || gc_fail "/boot/kernels/$kernel/vmlinuz differs from the artifact"
gc_vm_http "/boot/kernels/$kernel/../../files/x" --path-as-is
[ "$GC_HTTP_STATUS" = 404 ] || gc_fail "a path escaping /boot/kernels got $GC_HTTP_STATUS, want 404"

gc_vm_tap_add gct-d1
gc_vm_start d1 52:54:00:77:66:01 bios
gc_vm_wait_serial d1 'goldcast-test: patched kernel booted' 180
gc_vm_wait_serial d1 'GOLDCAST-HEARTBEAT-OK' 60
gc_vm_wait_serial d1 'GOLDCAST-BOOT-OK node=mosix1 mode=diskless' 30
# Only the artifact carries the test patch, so its message proves which kernel
# booted (the boot-artifacts kernel in boot/diskless/ has no such line).
gc_log "a diskless node booted $kernel over the network"

gc_expect_status 0 "nodes show" "$GOLDCAST" --state "$state" nodes show mosix1 --json
python3 - "$GC_OUT" "$kernel" "$release" <<'PY' || gc_fail_with_file "registry after the diskless heartbeat" "$GC_OUT"
import json, sys
n = json.load(open(sys.argv[1]))
kernel, release = sys.argv[2], sys.argv[3]
hb = n["heartbeat"]
assert hb is not None, "no heartbeat recorded"
assert n["state"] == "diskless", n["state"]
assert hb["boot"] == "diskless", hb["boot"]
assert hb["kernel"]["artifact"] == kernel, hb["kernel"]
assert hb["kernel"]["release"] == release, hb["kernel"]
assert hb["image"] == "ram@1", hb["image"]
assert not n["drift"], n["drift"]
PY
gc_log "mosix1 heartbeats $kernel (release $release) from RAM, no drift"
