#!/usr/bin/env bash
# Machines that cannot be installed as planned are refused before their
# disk is touched, say why on their console and in `goldcast nodes show`,
# and wait for the admin's fix instead of rebooting (issue 9). The image is
# a real Debian captured with prepareclient/getimage: the cached minbase
# tree, which has no kernel and no GRUB EFI. Three blank VMs at once:
#   mosix1  BIOS, group nokern (no kernel:): the server has no installer for
#           it and no kernel to boot afterwards; iPXE says so and asks again
#   mosix2  UEFI, group noefi (migration kernel): the installer refuses, as
#           the image has no UEFI boot loader files
#   mosix3  BIOS, group small (migration kernel): a 64 MiB disk, too small
# For each: the reason in `nodes show --json` (state failed, progress
# failed) and on the console, a second try a minute later on the same boot
# (QEMU runs with -no-reboot, so a reboot would end it), and the disk still
# all zeros.
GC_TEST=install_refusals
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"

state="$GC_TMP/state"
gc_capture_golden "$state" bare "$(gc_golden_tree minbase)"
gc_build_test_kernel "$state"
bundle="$(gc_release_agent_bundle)"

gc_vm_lab_up "gc-refuse-$$" 69
macs=(52:54:00:77:69:01 52:54:00:77:69:02 52:54:00:77:69:03)
profile="$GC_TMP/profile.yaml"
gc_vm_profile refusals.yaml "$profile" KERNEL="${kernel%@*}" IMAGE=bare \
  MAC_NOKERN="${macs[0]}" MAC_NOEFI="${macs[1]}" MAC_SMALL="${macs[2]}"
gc_serve_start "$state" "$profile" --agent-bundle "$bundle"

GC_VM_DISK_SIZE=64M gc_vm_start n1 "${macs[0]}" bios
GC_VM_DISK_SIZE=1G gc_vm_start n2 "${macs[1]}" uefi
GC_VM_DISK_SIZE=64M gc_vm_start n3 "${macs[2]}" bios

# gc_expect_refused NAME VM CONSOLE_REGEX RETRY_REGEX MESSAGE_PART: waits for
# NAME's failed install naming MESSAGE_PART in the registry and CONSOLE_REGEX
# on VM's console, then for a second RETRY_REGEX line (the try a minute
# later) with QEMU still running. iPXE wraps its console at 80 columns:
# a regex must match within one line.
gc_expect_refused() {
  local name="$1" vm="$2" console="$3" retry="$4" part="$5" deadline serial
  serial="$(gc_vm_serial "$vm")"
  gc_vm_wait_serial "$vm" "$console" "$(gc_vm_scaled 600)"
  gc_expect_status 0 "nodes show $name" "$GOLDCAST" --state "$state" nodes show "$name" --json
  python3 - "$GC_OUT" "$part" <<'PY' || gc_fail_with_file "$name: nodes show does not give the refusal" "$GC_OUT"
import json, sys
n = json.load(open(sys.argv[1]))
p = n.get("progress") or {}
assert n["state"] == "failed", n["state"]
assert n["mode"] == "install", n["mode"]
assert p.get("phase") == "failed", p
assert sys.argv[2] in p.get("message", ""), p
PY
  gc_log "$name refused after $(gc_vm_elapsed "$vm") s: $(python3 -c \
    'import json,sys; print(json.load(open(sys.argv[1]))["progress"]["message"])' "$GC_OUT")"
  # `nodes show` in text form says it too.
  gc_expect_status 0 "nodes show $name" "$GOLDCAST" --state "$state" nodes show "$name"
  grep -qF "$part" "$GC_OUT" || gc_fail_with_file "$name: nodes show (text) lacks '$part'" "$GC_OUT"
  deadline=$((SECONDS + $(gc_vm_scaled 240)))
  until [ "$(grep -cE "$retry" "$serial")" -ge 2 ]; do
    kill -0 "${GC_VM_PID[$vm]}" 2>/dev/null || gc_vm_fail "$vm" "$name's VM ended: it rebooted or powered off"
    [ "$SECONDS" -lt "$deadline" ] || gc_vm_fail "$vm" "$name did not try again within a minute and a half"
    sleep 3
  done
  kill -0 "${GC_VM_PID[$vm]}" 2>/dev/null || gc_vm_fail "$vm" "$name's VM ended: it rebooted or powered off"
  gc_log "$name tried again in place after $(gc_vm_elapsed "$vm") s"
}

gc_expect_refused mosix1 n1 'mosix1 \(install\) cannot boot: no installer for group nokern' \
  'mosix1 \(install\) cannot boot' "image bare@1 has no /boot/vmlinuz-*"
gc_expect_refused mosix2 n2 'has no UEFI boot loader files' 'GOLDCAST-INSTALL-FAILED' \
  "image bare@1 has no UEFI boot loader files"
gc_expect_refused mosix3 n3 'the image needs about' 'GOLDCAST-INSTALL-FAILED' \
  "give the node a bigger disk"

# Nothing was written to any disk: not a partition table, not a byte.
for vm in n1 n2 n3; do
  gc_vm_stop "$vm"
  disk="$GC_VM_DIR/$vm.raw"
  cmp -s -n "$(stat -c %s "$disk")" "$disk" /dev/zero ||
    gc_fail "the disk of $vm was written to: $(cmp -n "$(stat -c %s "$disk")" "$disk" /dev/zero 2>&1 | head -n 1)"
done
gc_log "no disk was touched"
gc_log "PASS"
