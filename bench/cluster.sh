#!/usr/bin/env bash
# Cluster benchmark (see bench/README.md): N blank VMs power on at once in the
# VM lab and PXE-install the golden client with the migration kernel. For
# each N: seconds from each VM's power-on to its first heartbeat (the
# installed Debian's agent reporting to serve), and the bytes the server sent
# over the lab bridge against the image's bytes.
#
# Usage: bench/cluster.sh [--goldcast PATH] [--agent-bundle DIR] [--tree DIR]
#                         [--nodes "1 4"] [--timeout S]
#   --goldcast      goldcast binary (default build-release/cli/goldcast)
#   --agent-bundle  Release agent bundle for the installer (default
#                   $GOLDCAST_AGENT_BUNDLE, else built in build-release/)
#   --tree DIR      golden tree, imported as image compute (default: the node
#                   tree of scripts/golden-cache.sh --tree node); only read
#   --nodes LIST    node counts, one run each, in order (default "1 4")
#   --timeout S     per run, until every node has heartbeated (default 1800)
# Needs root (namespace, taps), qemu-system-x86_64, dnsmasq, curl, python3, the
# kernel source cache of scripts/kernel-source.sh, 3 GiB of sparse disk and
# 768 MiB of RAM per node.
set -euo pipefail

GC_TEST=bench-cluster
source "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib_vm.sh"

goldcast="$GC_REPO/build-release/cli/goldcast"
bundle=""
src_tree=""
counts="1 4"
timeout=1800
while [ $# -gt 0 ]; do
  case "$1" in
    --goldcast) goldcast="$2"; shift 2 ;;
    --agent-bundle) bundle="$2"; shift 2 ;;
    --tree) src_tree="$2"; shift 2 ;;
    --nodes) counts="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
    *) gc_fail "unknown argument '$1' (see --help)" ;;
  esac
done
total=0
for n in $counts; do
  [[ "$n" =~ ^[1-9][0-9]{0,1}$ ]] || gc_fail "--nodes wants counts 1..99, got '$n'"
  total=$((total + n))
done
# install.yaml's node addresses .11-.99, one of them for the warm-up below.
[ "$total" -ge 1 ] && [ "$total" -le 88 ] || gc_fail "--nodes '$counts': 1 to 88 nodes in all"
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || gc_fail "--timeout wants seconds, got '$timeout'"
[ "$(id -u)" -eq 0 ] || gc_fail "needs root (network namespace, taps)"
[ -x "$goldcast" ] || gc_fail "goldcast binary '$goldcast' not found; build it or pass --goldcast"
gc_require_cmds ip qemu-system-x86_64 dnsmasq curl truncate python3
[ -c /dev/net/tun ] || gc_fail "/dev/net/tun is missing; QEMU's tap networking needs the tun module"
GOLDCAST="$(realpath "$goldcast")"

# --- the image, the kernel, the lab -------------------------------------------
gc_bench_vm_setup cluster
gc_log "kernel $kernel ($release)"

k=79
gc_vm_lab_up "gc-bcl-$$" "$k"
gc_vm_profile install.yaml "$GC_TMP/profile.yaml" IMAGE=compute KERNEL="${kernel%@*}"
gc_serve_start "$state" "$GC_TMP/profile.yaml" --agent-bundle "$bundle"

# serve builds the group's installer on the first install boot that needs
# it; one boot script asked for by hand before the timed runs builds it, so
# every run measures the same thing (that request's time is printed).
t0=$EPOCHREALTIME
gc_vm_http "/boot/ipxe?mac=52:54:00:77:$k:ff"
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "warm-up GET /boot/ipxe: HTTP $GC_HTTP_STATUS" "$GC_SERVE_LOG"
warmup_s="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')"
installer_bytes="$(find "$state/boot/installers" -type f -printf '%s\n' 2>/dev/null |
  awk '{s += $1} END {print s + 0}')"
gc_log "installer built in $warmup_s s ($installer_bytes bytes under boot/installers)"

# Bytes the server side (serve, its dnsmasq) sent into the lab: br0's own
# transmit counter (frames the bridge forwards between VMs are not in it).
br0_tx() { gc_vm_ns_exec cat /sys/class/net/br0/statistics/tx_bytes; }

# first_beats JSON: "MAC TIME_NS" of every node with a heartbeat. A node's
# heartbeat time is serve's clock at its latest heartbeat; read at the first
# poll that shows one, it is the first heartbeat's (they come far apart).
first_beats() {
  python3 - "$1" <<'EOF'
import json, sys
for n in json.load(open(sys.argv[1])):
    if n.get("heartbeat"):
        print(n["mac"].lower(), n["heartbeat"]["time_ns"])
EOF
}

# run_nodes N: powers on N new VMs at once and waits until each has
# heartbeated; appends "N VM NODE SECONDS" lines to results.txt and
# "N TX_BYTES SECONDS" to bytes.txt, then powers them off.
: >"$GC_TMP/results.txt"
: >"$GC_TMP/bytes.txt"
run_nodes() {
  local n="$1" i vm tx0 tx1 deadline start_s beat_ns name
  local -A mac_of=() done_s=()
  local vms=()
  for ((i = 1; i <= n; i++)); do
    vms+=("n${n}x$i")
    mac_of[n${n}x$i]="$(printf '52:54:00:%02x:%02x:%02x' "$k" "$n" "$i")"
  done
  gc_log "run N=$n: powering on ${vms[*]} at once"
  tx0="$(br0_tx)"
  start_s=$EPOCHREALTIME
  for vm in "${vms[@]}"; do
    GC_VM_REBOOT=1 GC_VM_DISK_SIZE=3G GC_VM_MEM=768 gc_vm_start "$vm" "${mac_of[$vm]}" bios
  done
  deadline=$((SECONDS + timeout))
  while [ "${#done_s[@]}" -lt "$n" ]; do
    gc_nodes_json "$GC_TMP/nodes.json"
    first_beats "$GC_TMP/nodes.json" >"$GC_TMP/beats.txt"
    for vm in "${vms[@]}"; do
      [ -z "${done_s[$vm]:-}" ] || continue
      kill -0 "${GC_VM_PID[$vm]}" 2>/dev/null || gc_vm_fail "$vm" "VM $vm exited before it heartbeated"
      beat_ns="$(awk -v m="${mac_of[$vm]}" '$1 == m {print $2}' "$GC_TMP/beats.txt")"
      [ -n "$beat_ns" ] || continue
      done_s[$vm]="$(awk -v t="$beat_ns" -v s="${GC_VM_START[$vm]}" 'BEGIN {printf "%.1f", t / 1e9 - s}')"
      name="$(gc_nodes_field "$GC_TMP/nodes.json" "${mac_of[$vm]}" name)"
      gc_log "N=$n: $vm ($name) heartbeated ${done_s[$vm]} s after power-on"
      echo "$n $vm $name ${done_s[$vm]}" >>"$GC_TMP/results.txt"
    done
    [ "${#done_s[@]}" -lt "$n" ] || break
    if [ "$SECONDS" -ge "$deadline" ]; then
      for vm in "${vms[@]}"; do
        [ -n "${done_s[$vm]:-}" ] || gc_vm_fail "$vm" "N=$n: VM $vm did not heartbeat within ${timeout}s"
      done
    fi
    sleep 1
  done
  tx1="$(br0_tx)"
  echo "$n $((tx1 - tx0)) $(awk -v a="$start_s" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", b - a}')" \
    >>"$GC_TMP/bytes.txt"
  for vm in "${vms[@]}"; do gc_vm_stop "$vm"; done
}

for n in $counts; do run_nodes "$n"; done
gc_serve_stop
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$GC_TMP/results.txt" "$GC_TMP/bytes.txt" <<EOF
import statistics, sys
secs = {}
for line in open(sys.argv[1]):
    n, vm, name, s = line.split()
    secs.setdefault(int(n), []).append((vm, name, float(s)))
image = $image_bytes
print()
print("goldcast cluster benchmark: $GOLDCAST ($build_type build, $(nproc) cores, "
      "VMs: ${GC_VM_ACCEL:-tcg}, 1 vCPU, 768 MiB, BIOS)")
print("image compute@1: $src_tree, $image_files files, %.1f MB (bytes_total); kernel $kernel "
      "($release); installer built in $warmup_s s before the runs (%.1f MB)"
      % (image / 1e6, $installer_bytes / 1e6))
print("load average before: $load_before, after: $load_after")
print()
print("%-4s %-8s %-10s %s" % ("N", "VM", "node", "s power-on -> first heartbeat"))
for n in sorted(secs):
    for vm, name, s in secs[n]:
        print("%-4d %-8s %-10s %.1f" % (n, vm, name, s))
print()
print("%-4s %9s %9s %15s %9s %11s" % ("N", "median s", "max s", "server tx bytes", "tx/image",
                                      "tx/(N*img)"))
for line in open(sys.argv[2]):
    n, tx, _ = (int(x) for x in line.split())
    s = [x[2] for x in secs[n]]
    print("%-4d %9.1f %9.1f %15d %9.3f %11.3f" % (n, statistics.median(s), max(s), tx, tx / image,
                                                 tx / (n * image)))
print()
print("server tx = br0's transmit counter in the lab namespace from power-on until the last")
print("node's first heartbeat (iPXE, installer kernel + initramfs, image, modules, DHCP, TFTP);")
print("target for tx/(N*img): <= 1.05 (reported, not asserted)")
EOF
