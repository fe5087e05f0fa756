#!/usr/bin/env bash
# A diskless node boots the captured Debian golden client (systemd, sshd) in
# RAM on the cluster's migration kernel: `goldcast kernel build` makes the
# kernel, `goldcast serve` boots it with the installer initramfs and the
# node's secret initrd (GET /boot/secret.cpio), whose /init fills a tmpfs
# with `goldcast-agent install --diskless-root` and switch_roots into the
# image's systemd. The serial console must show the test patch's boot
# message, the RAM root and systemd's multi-user.target; the registry must
# then show the node diskless, heartbeating the artifact and the image with
# no drift; over ssh (the golden client's root key) /proc/cmdline must hold
# no goldcast.secret=, node.json is 0600 and `systemctl is-system-running`
# says running. Needs the golden tree (scripts/golden-cache.sh:
# GOLDCAST_CACHE/node, node-key) and 2 GiB for the VM.
GC_TEST=kernel_diskless_boot
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"
gc_require_cmds make gcc patch flex bison bc ssh
cache="${GOLDCAST_CACHE:-/var/cache/goldcast}"
[ -f "$cache/node.complete" ] && [ -f "$cache/node-key" ] ||
  gc_fail "no golden tree in $cache/node or no $cache/node-key: run scripts/golden-cache.sh"

state="$GC_TMP/state"
gc_build_test_kernel "$state"

gc_vm_lab_up "gc-kd-$$" 66
profile="$GC_TMP/profile.yaml"
gc_log "importing the golden tree $cache/node as image compute"
gc_expect_status 0 "image import" "$GOLDCAST" --state "$state" image import \
  --dir "$cache/node" --image compute
gc_vm_profile diskless.yaml "$profile" KERNEL="${kernel%@*}" IMAGE=compute
gc_vm_state_prepare "$state"
# The diskless initramfs is the installer's: its /init sees goldcast.mode=diskless.
bash "$GC_REPO/scripts/installer-initramfs.sh" --agent-bundle "$(gc_release_agent_bundle)" \
  "$state/boot/diskless/initrd.img" 2>"$GC_TMP/initramfs.log" ||
  gc_fail_with_file "installer-initramfs.sh failed" "$GC_TMP/initramfs.log"
gc_serve_start "$state" "$profile"

# The artifact is served byte for byte.
gc_vm_http "/boot/kernels/$kernel/vmlinuz"
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "GET /boot/kernels/$kernel/vmlinuz: $GC_HTTP_STATUS" "$GC_OUT"
cmp -s "$GC_OUT" "$artifact/vmlinuz" || gc_fail "/boot/kernels/$kernel/vmlinuz differs from the artifact"
gc_vm_http "/boot/kernels/$kernel/../../files/x" --path-as-is
[ "$GC_HTTP_STATUS" = 404 ] || gc_fail "a path escaping /boot/kernels got $GC_HTTP_STATUS, want 404"

mac=52:54:00:77:66:01
gc_vm_tap_add gct-d1
GC_VM_MEM="${GC_VM_MEM:-2048}" gc_vm_start d1 "$mac" bios
gc_vm_wait_serial d1 'goldcast-test: patched kernel booted' 180
gc_vm_wait_serial d1 'GOLDCAST-DISKLESS-OK' 900
# systemd stops printing targets once the serial getty owns the console:
# multi-user.target is checked over ssh below.
gc_vm_wait_serial d1 'mosix1 login:' 300
gc_log "a diskless node booted $kernel and the golden client's systemd from RAM"

# The agent heartbeats from the new root.
deadline=$((SECONDS + $(gc_vm_scaled 180)))
while :; do
  gc_expect_status 0 "nodes show" "$GOLDCAST" --state "$state" nodes show mosix1 --json
  python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["heartbeat"] else 1)' \
    "$GC_OUT" && break
  [ "$SECONDS" -lt "$deadline" ] || gc_vm_fail d1 "no heartbeat from mosix1 after multi-user.target"
  sleep 2
done
cp "$GC_OUT" "$GC_TMP/node.json"
python3 - "$GC_TMP/node.json" "$kernel" "$release" <<'PY' || gc_fail_with_file "registry after the diskless heartbeat" "$GC_TMP/node.json"
import json, sys
n = json.load(open(sys.argv[1]))
kernel, release = sys.argv[2], sys.argv[3]
hb = n["heartbeat"]
assert n["state"] == "diskless", n["state"]
assert n["mode"] == "diskless", n["mode"]
assert hb["boot"] == "diskless", hb["boot"]
assert hb["kernel"]["artifact"] == kernel, hb["kernel"]
assert hb["kernel"]["release"] == release, hb["kernel"]
assert hb["image"] == "compute@1", hb["image"]
assert not n["drift"], n["drift"]
PY
ip="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ip"])' "$GC_TMP/node.json")"
gc_log "mosix1 ($ip) heartbeats $kernel (release $release) from RAM, no drift"

# Over ssh with the golden client's key: no secret on the command line.
key="$GC_TMP/node-key"
install -m 600 "$cache/node-key" "$key"
node_ssh() {
  gc_vm_ns_exec ssh -i "$key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o ConnectTimeout=10 -o BatchMode=yes "root@$ip" "$@"
}
deadline=$((SECONDS + $(gc_vm_scaled 120)))
until node_ssh true >"$GC_TMP/ssh.log" 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || gc_fail_with_file "ssh root@$ip never worked" "$GC_TMP/ssh.log"
  sleep 3
done
node_ssh 'cat /proc/cmdline; echo; hostname; stat -c "%a %n" /etc/goldcast/node.json;
  ls /goldcast.secret 2>&1; findmnt -no FSTYPE /; systemctl is-active multi-user.target;
  systemctl is-system-running --wait;
  systemctl --failed --no-legend' >"$GC_TMP/node-facts.txt" 2>&1 || true
cat "$GC_TMP/node-facts.txt" >&2
grep -q 'goldcast.mode=diskless' "$GC_TMP/node-facts.txt" ||
  gc_fail_with_file "no /proc/cmdline read over ssh" "$GC_TMP/node-facts.txt"
! grep -q 'goldcast.secret' "$GC_TMP/node-facts.txt" ||
  gc_fail_with_file "the secret is readable on the node's /proc/cmdline" "$GC_TMP/node-facts.txt"
gc_assert_grep "the node is named mosix1" '^mosix1$' "$GC_TMP/node-facts.txt"
gc_assert_grep "node.json is 0600" '^600 /etc/goldcast/node.json$' "$GC_TMP/node-facts.txt"
gc_assert_grep "the secret initrd is gone" 'No such file' "$GC_TMP/node-facts.txt"
gc_assert_grep "the root is RAM" '^tmpfs$' "$GC_TMP/node-facts.txt"
gc_assert_grep "multi-user.target is reached" '^active$' "$GC_TMP/node-facts.txt"
gc_assert_grep "systemd is running (failed units listed above)" '^running$' "$GC_TMP/node-facts.txt"
gc_log "mosix1 runs the golden client diskless: systemd running, ssh works, no secret on /proc/cmdline"
