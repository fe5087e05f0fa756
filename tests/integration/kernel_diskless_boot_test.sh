#!/usr/bin/env bash
# A node group names a kernel artifact and boots diskless: the kernel built by
# `goldcast kernel build` (Debian's 6.1 orig tarball + goldcast's test patch)
# is served by `goldcast serve` under /boot/kernels/NAME@N/vmlinuz, and a
# blank VM PXE-boots it through dnsmasq and iPXE. The serial console must show
# the test patch's boot message and the initramfs marker with the node's
# boot-order name and mode=diskless. The kernel build reuses the ccache that
# kernel_build_test.sh warmed (about a minute), or compiles cold.
GC_TEST=kernel_diskless_boot
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"
gc_require_cmds make gcc patch flex bison bc

cache="${GOLDCAST_CACHE:-/var/cache/goldcast}"
bash "$GC_REPO/scripts/kernel-source.sh" --no-debian-tree >"$GC_TMP/recipe-path" \
  2>"$GC_TMP/kernel-source.log" ||
  gc_fail_with_file "scripts/kernel-source.sh failed" "$GC_TMP/kernel-source.log"
# shellcheck disable=SC1091
. "$cache/kernel-src/source.env"
[ -f "$KS_RECIPE" ] || gc_fail "kernel-source.sh did not write the recipe $KS_RECIPE"

state="$GC_TMP/state"
gc_log "building the test kernel into $state (cache $cache/kernel)"
gc_expect_status 0 "kernel build" "$GOLDCAST" --state "$state" kernel build \
  --recipe "$KS_RECIPE" --cache "$cache/kernel" --json
kernel="$(gc_json_field "$GC_OUT" kernel)"
artifact="$(gc_json_field "$GC_OUT" artifact_dir)"
[ -s "$artifact/vmlinuz" ] || gc_fail_with_file "the build reported no vmlinuz" "$GC_OUT"

gc_vm_lab_up "gc-kd-$$" 66
profile="$GC_TMP/profile.yaml"
gc_vm_profile diskless.yaml "$profile" KERNEL="${kernel%@*}"
gc_vm_state_prepare "$state"  # the busybox initramfs as boot/diskless/initrd.img
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
gc_vm_wait_serial d1 'GOLDCAST-BOOT-OK node=mosix1 mode=diskless' 60
# Only the artifact carries the test patch, so its message proves which kernel
# booted (the boot-artifacts kernel in boot/diskless/ has no such line).
gc_log "a diskless node booted $kernel over the network"
