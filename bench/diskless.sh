#!/usr/bin/env bash
# Diskless benchmark (see bench/README.md): which gets a diskless node's
# root into RAM sooner under the same iPXE, the same kernel and the same
# VM: the agent filling a tmpfs from the image's objects (what goldcast
# does), or a RAM image of the image version built beforehand (a cpio the
# kernel unpacks, as Warewulf does), uncompressed and zstd-compressed.
#
#   objects     serve --agent-bundle: the installer's /init fills a tmpfs with
#               `goldcast-agent install --diskless-root` (GOLDCAST-DISKLESS-OK),
#               then switch_root; timed to that line and to the first heartbeat
#   cpio, cpio.zst
#               an export of the image as a newc cpio (GNU tar, GNU cpio) with
#               an /init that only prints GOLDCAST-RAMIMAGE-READY, served as the
#               diskless initrd (serve without an installer falls back to
#               STATE/boot/diskless/initrd.img); timed to that line. It is a
#               lower bound for a RAM image: the node's identity, the network
#               and the agent would still have to be made after it.
#
# Usage: bench/diskless.sh [--goldcast PATH] [--agent-bundle DIR] [--tree DIR]
#                          [--mem MIB] [--timeout S]
#   --goldcast      goldcast binary (default build-release/cli/goldcast)
#   --agent-bundle  Release agent bundle (default $GOLDCAST_AGENT_BUNDLE, else
#                   built in build-release/)
#   --tree DIR      golden tree, imported as image compute (default: the node
#                   tree of scripts/golden-cache.sh --tree node); only read
#   --mem MIB       VM RAM (default 4096: a RAM image and the root unpacked
#                   from it are in RAM at once; 2560 was too little for the
#                   910 MB golden client: "Initramfs unpacking failed")
#   --timeout S     per run (default 900)
# Needs root, qemu-system-x86_64, dnsmasq, GNU tar and cpio, zstd, python3, the kernel
# source cache of scripts/kernel-source.sh, and about 4x the tree in $TMPDIR.
set -euo pipefail

GC_TEST=bench-diskless
source "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib_vm.sh"

goldcast="$GC_REPO/build-release/cli/goldcast"
bundle=""
src_tree=""
mem=4096
timeout=900
while [ $# -gt 0 ]; do
  case "$1" in
    --goldcast) goldcast="$2"; shift 2 ;;
    --agent-bundle) bundle="$2"; shift 2 ;;
    --tree) src_tree="$2"; shift 2 ;;
    --mem) mem="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) gc_fail "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$mem" =~ ^[1-9][0-9]{2,5}$ ]] || gc_fail "--mem wants MiB (100..999999), got '$mem'"
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || gc_fail "--timeout wants seconds, got '$timeout'"
[ "$(id -u)" -eq 0 ] || gc_fail "needs root (network namespace, taps)"
[ -x "$goldcast" ] || gc_fail "goldcast binary '$goldcast' not found; build it or pass --goldcast"
gc_require_cmds ip qemu-system-x86_64 dnsmasq tar cpio zstd python3 mknod
[ -c /dev/net/tun ] || gc_fail "/dev/net/tun is missing; QEMU's tap networking needs the tun module"
GOLDCAST="$(realpath "$goldcast")"

gc_bench_vm_setup diskless

# The RAM images: the export restored by GNU tar, plus /dev/console (the
# kernel opens it for /init) and an /init that reports and waits, archived
# by GNU cpio (newc, hardlinks kept as such).
gc_log "building the RAM images from an export of compute@1"
gc_expect_status 0 "image export" "$GOLDCAST" --state "$state" image export compute@1 \
  -o "$GC_TMP/compute.tar"
root="$GC_TMP/ramroot"
mkdir -p "$root"
t0=$EPOCHREALTIME
tar --xattrs --xattrs-include='*' --acls --numeric-owner -xpf "$GC_TMP/compute.tar" -C "$root" ||
  gc_fail "GNU tar could not restore the export"
rm -f "$GC_TMP/compute.tar" "$root/dev/console"
mknod -m 600 "$root/dev/console" c 5 1
printf '#!/bin/sh\necho GOLDCAST-RAMIMAGE-READY\nexec sleep 3600\n' >"$root/init"
chmod 755 "$root/init"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) >"$GC_TMP/root.cpio" ||
  gc_fail "cpio failed"
cpio_s="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')"
rm -rf "$root"
t0=$EPOCHREALTIME
zstd -q -3 -T0 "$GC_TMP/root.cpio" -o "$GC_TMP/root.cpio.zst" || gc_fail "zstd failed"
zst_s="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')"

k=78
mac=52:54:00:77:78:03
gc_vm_lab_up "gc-bdl-$$" "$k"
# golden.yaml declares three MACs, named in that order: the diskless one
# (group ram) is mosix3.
gc_vm_profile golden.yaml "$GC_TMP/profile.yaml" IMAGE=compute KERNEL="${kernel%@*}" \
  MAC_OWN=52:54:00:77:78:01 MAC_MIGR=52:54:00:77:78:02 MAC_RAM="$mac"
: >"$GC_TMP/results.txt"

# boot VARIANT MARKER [heartbeat]: one diskless boot of a new VM; appends
# "VARIANT SECONDS_TO_MARKER SECONDS_TO_HEARTBEAT|-" to results.txt.
boot() {
  local variant="$1" marker="$2" beat="${3:-}" vm="d-${1//./-}" ready beat_s=- deadline ns
  GC_VM_MEM="$mem" gc_vm_start "$vm" "$mac" bios
  gc_vm_wait_serial "$vm" "$marker" "$timeout"
  ready="$(gc_vm_elapsed "$vm")"
  gc_log "$variant: root ready $ready s after power-on"
  if [ -n "$beat" ]; then
    deadline=$((SECONDS + timeout))
    while :; do
      gc_expect_status 0 "nodes show mosix3" "$GOLDCAST" --state "$state" nodes show mosix3 --json
      ns="$(python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("heartbeat") or {}).get("time_ns", 0))' "$GC_OUT")"
      if [ "$ns" != 0 ]; then
        beat_s="$(awk -v t="$ns" -v s="${GC_VM_START[$vm]}" 'BEGIN {printf "%.1f", t / 1e9 - s}')"
        break
      fi
      [ "$SECONDS" -lt "$deadline" ] || gc_vm_fail "$vm" "$variant: no heartbeat within ${timeout}s"
      sleep 1
    done
    gc_log "$variant: first heartbeat $beat_s s after power-on"
  fi
  echo "$variant $ready $beat_s" >>"$GC_TMP/results.txt"
  gc_vm_stop "$vm"
}

# objects: the installer made (and cached) before the timed boot.
gc_serve_start "$state" "$GC_TMP/profile.yaml" --agent-bundle "$bundle"
gc_vm_http "/boot/ipxe?mac=$mac"  # declared, so it is named and its installer built
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "warm-up GET /boot/ipxe: HTTP $GC_HTTP_STATUS" "$GC_SERVE_LOG"
boot objects GOLDCAST-DISKLESS-OK heartbeat
gc_serve_stop

# The RAM images: serve without an installer serves STATE/boot/diskless/.
for variant in cpio cpio.zst; do
  mkdir -p "$state/boot/diskless"
  cp "$GC_TMP/root.$variant" "$state/boot/diskless/initrd.img"
  gc_serve_start "$state" "$GC_TMP/profile.yaml" --agent-bundle "$GC_TMP/no-such-bundle"
  boot "$variant" GOLDCAST-RAMIMAGE-READY
  gc_serve_stop
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

cpio_bytes="$(stat -c %s "$GC_TMP/root.cpio")"
zst_bytes="$(stat -c %s "$GC_TMP/root.cpio.zst")"
python3 - "$GC_TMP/results.txt" <<EOF
import sys
rows = {l.split()[0]: l.split()[1:] for l in open(sys.argv[1])}
size = {"objects": $image_bytes, "cpio": $cpio_bytes, "cpio.zst": $zst_bytes}
made = {"objects": "-", "cpio": "$cpio_s", "cpio.zst": "$cpio_s + $zst_s"}
print()
print("goldcast diskless benchmark: $GOLDCAST ($build_type build, $(nproc) cores, "
      "VM: ${GC_VM_ACCEL:-tcg}, 1 vCPU, $mem MiB, BIOS); kernel $kernel ($release)")
print("image compute@1: $src_tree, %.1f MB (bytes_total)" % ($image_bytes / 1e6))
print("load average before: $load_before, after: $load_after")
print()
print("%-9s %12s %16s %14s %12s" % ("variant", "MB fetched", "made before, s", "root ready, s",
                                    "heartbeat, s"))
for v in ("objects", "cpio", "cpio.zst"):
    ready, beat = rows[v]
    print("%-9s %12.1f %16s %14s %12s" % (v, size[v] / 1e6, made[v], ready, beat))
print()
print("root ready = power-on until GOLDCAST-DISKLESS-OK (objects: the tmpfs is filled) or")
print("GOLDCAST-RAMIMAGE-READY (the kernel unpacked the RAM image and ran its /init).")
print("objects: 'MB fetched' is the image's apparent bytes (the agent fetches each object once).")
EOF
