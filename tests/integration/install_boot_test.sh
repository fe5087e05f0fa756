#!/usr/bin/env bash
# A blank VM becomes an installed node that runs the group's kernel artifact:
# it PXE-boots the installer (`goldcast boot build-installer --kernel`: the
# test kernel + an initramfs with the Release agent; serve picks it for the
# group, whose kernel: is that artifact), which partitions the 64 MiB disk, writes the image
# (tests/integration/node_tree.sh), the kernel and its modules, the node's
# identity and the openMosix map, installs extlinux and reboots; the server
# switches the node to local boot, so the second PXE boot hands over to the
# disk. The installed system must boot the artifact from its own disk, load a
# module from the installed modules tree, and heartbeat: the registry then
# shows the node installed, local, running the artifact, with no drift.
GC_TEST=install_boot
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"
gc_require_cmds make gcc patch flex bison bc sfdisk mkfs.ext4 extlinux mkfs.vfat

state="$GC_TMP/state"
gc_build_test_kernel "$state"

# The image: the busybox node tree.
bash "$GC_REPO/tests/integration/node_tree.sh" "$GC_TMP/tree"
gc_expect_status 0 "image import" "$GOLDCAST" --state "$state" image import \
  --dir "$GC_TMP/tree" --image node

# The installer: the artifact's kernel (disk and NIC drivers built in) and the
# initramfs with the Release agent (an ASan agent cannot run there). Built
# once: a second call with the same inputs is a no-op.
bundle="$(gc_release_agent_bundle)"
gc_expect_status 0 "boot build-installer" "$GOLDCAST" --state "$state" boot build-installer \
  --kernel "$kernel" --agent-bundle "$bundle" --json
installer="$(gc_json_field "$GC_OUT" dir)"
[ "$(gc_json_field "$GC_OUT" reused)" = False ] || gc_fail "a first build-installer reused a cache entry"
cmp -s "$installer/vmlinuz" "$artifact/vmlinuz" || gc_fail "the installer's vmlinuz is not $kernel's"
gc_expect_status 0 "boot build-installer again" "$GOLDCAST" --state "$state" boot build-installer \
  --kernel "$kernel" --agent-bundle "$bundle" --json
[ "$(gc_json_field "$GC_OUT" dir)" = "$installer" ] && [ "$(gc_json_field "$GC_OUT" reused)" = True ] ||
  gc_fail_with_file "the same inputs did not reuse $installer" "$GC_OUT"

gc_vm_lab_up "gc-in-$$" 67
profile="$GC_TMP/profile.yaml"
gc_vm_profile install.yaml "$profile" KERNEL="${kernel%@*}" IMAGE=node
# No STATE/boot/install: the node can only have booted the installer serve
# picked for its group (the kernel artifact's, built above).
[ ! -e "$state/boot/install" ] || gc_fail "$state/boot/install exists"
gc_serve_start "$state" "$profile" --agent-bundle "$bundle"

mac=52:54:00:77:67:01
GC_VM_REBOOT=1 GC_VM_DISK_SIZE=128M gc_vm_start n1 "$mac" bios
gc_vm_wait_serial n1 'GOLDCAST-INSTALL-OK' 300
gc_vm_wait_serial n1 'GOLDCAST-NODE-UP host=mosix1 ' 240
serial="$(gc_vm_serial n1)"
grep -aqE "GOLDCAST-NODE-UP host=mosix1 kernel=$release root=PARTUUID=[0-9a-f]{8}-01 fs=ext4" "$serial" ||
  gc_vm_fail n1 "the installed node did not report kernel $release with its ext4 root on partition 1"
# The installer ran the same kernel, so one patch message per boot: two.
[ "$(grep -ac 'goldcast-test: patched kernel booted' "$serial")" -ge 2 ] ||
  gc_vm_fail n1 "the installed system did not boot the patched artifact"
gc_vm_wait_serial n1 'GOLDCAST-MODULE-OK dummy' 30
gc_vm_wait_serial n1 'GOLDCAST-AGENT-STARTED' 30

# The registry: installed, local boot, heartbeating the artifact, no drift.
deadline=$((SECONDS + $(gc_vm_scaled 90)))
while :; do
  gc_expect_status 0 "nodes show" "$GOLDCAST" --state "$state" nodes show mosix1 --json
  cp "$GC_OUT" "$GC_TMP/node.json"
  reported="$(python3 - "$GC_TMP/node.json" <<'PY'
import json, sys
n = json.load(open(sys.argv[1]))
hb = n.get("heartbeat") or {}
print((hb.get("kernel") or {}).get("artifact", ""))
PY
)"
  [ "$reported" = "$kernel" ] && break
  [ "$SECONDS" -lt "$deadline" ] || gc_vm_fail n1 "no heartbeat reporting $kernel (got '$reported'): $(cat "$GC_TMP/node.json")"
  sleep 1
done
python3 - "$GC_TMP/node.json" "$kernel" "$release" <<'PY' || gc_vm_fail n1 "registry check failed: $(cat "$GC_TMP/node.json")"
import json, sys
n = json.load(open(sys.argv[1]))
kernel, release = sys.argv[2], sys.argv[3]
hb = n["heartbeat"]
problems = []
if n.get("state") != "installed": problems.append("state %r" % n.get("state"))
if n.get("mode") != "local": problems.append("mode %r" % n.get("mode"))
if hb["kernel"]["release"] != release: problems.append("release %r" % hb["kernel"]["release"])
if hb.get("image") != "node@1": problems.append("image %r" % hb.get("image"))
if hb.get("boot") != "installed": problems.append("boot %r" % hb.get("boot"))
if not hb.get("cluster_files", {}).get("etc/openmosix.map"): problems.append("no map hash")
if n.get("drift"): problems.append("drift %r" % n.get("drift"))
if problems:
    print("; ".join(problems), file=sys.stderr)
    sys.exit(1)
PY
gc_log "mosix1 heartbeats kernel $kernel (release $release), image node@1, no drift"
gc_vm_stop n1

# The disk, read back (noload: the VM was powered off with a live journal):
# identity replaced, kernel and modules installed.
mnt="$GC_TMP/mnt"
mkdir -p "$mnt"
mount -o ro,noload,loop,offset=1048576 "$GC_VM_DIR/n1.raw" "$mnt" ||
  gc_fail "cannot mount the installed disk's first partition"
GC_MOUNTS+=("$mnt")
[ "$(cat "$mnt/etc/hostname")" = mosix1 ] || gc_fail "/etc/hostname is $(cat "$mnt/etc/hostname")"
[ "$(cat "$mnt/etc/machine-id")" != 0123456789abcdef0123456789abcdef ] ||
  gc_fail "machine-id is the golden client's"
[ ! -e "$mnt/etc/ssh/ssh_host_ed25519_key" ] || gc_fail "the golden ssh host key was kept"
grep -q '^UUID=.* / ext4 ' "$mnt/etc/fstab" || gc_fail "fstab has no UUID root line: $(cat "$mnt/etc/fstab")"
grep -q '/dev/sda1' "$mnt/etc/fstab" && gc_fail "fstab still names the golden disk"
cmp -s "$mnt/boot/vmlinuz-$release" "$artifact/vmlinuz" || gc_fail "/boot/vmlinuz-$release differs from the artifact"
find "$mnt/lib/modules/$release" -name 'dummy.ko*' | grep -q . ||
  gc_fail "no dummy module under /lib/modules/$release"
[ "$(stat -c %a "$mnt/etc/goldcast/node.json")" = 600 ] || gc_fail "node.json is not mode 0600"
grep -q "^1 " "$mnt/etc/openmosix.map" || gc_fail "openMosix map missing: $(cat "$mnt/etc/openmosix.map" 2>&1)"
gc_log "the installed disk holds mosix1's identity, $kernel and its modules"
