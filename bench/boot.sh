#!/usr/bin/env bash
# Boot-service benchmark (see bench/README.md): goldcast serve's /boot/ipxe
# under 1,000 distinct MACs arriving at once, and its /boot/files throughput
# for one 100 MB artifact to 20 concurrent clients against nginx serving the
# same file in the same namespace in the same run.
#
# Usage: bench/boot.sh [--goldcast PATH] [--load PATH] [--macs N] [--clients C]
#                      [--size-mb M] [--runs R] [--check]
#   --goldcast   goldcast binary (default build/cli/goldcast)
#   --load       boot_load binary (default build/bench/boot_load)
#   --macs N     distinct MACs per /boot/ipxe run (default 1000)
#   --clients C  concurrent downloaders of the artifact (default 20)
#   --size-mb M  artifact size in MB (default 100)
#   --runs R     repetitions of each measurement, medians reported (default 3)
#   --check      exit 1 when a target is missed (default: report only)
# Needs root (namespace), dnsmasq, nginx (nginx-light), curl, python3.
set -euo pipefail

GC_TEST=bench-boot
source "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

goldcast="$GC_REPO/build/cli/goldcast"
load="$GC_REPO/build/bench/boot_load"
macs=1000
clients=20
size_mb=100
runs=3
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --goldcast) goldcast="$2"; shift 2 ;;
    --load) load="$2"; shift 2 ;;
    --macs) macs="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --size-mb) size_mb="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --check) check=1; shift ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) gc_fail "unknown argument '$1' (see --help)" ;;
  esac
done
for v in macs clients size_mb runs; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || gc_fail "--${v/_/-} wants a positive number, got '${!v}'"
done
[ "$macs" -le 60000 ] || gc_fail "--macs is at most 60000 (the bench profile's address range)"
[ "$(id -u)" -eq 0 ] || gc_fail "needs root (network namespace)"
[ -x "$goldcast" ] || gc_fail "goldcast binary '$goldcast' not found; build it or pass --goldcast"
[ -x "$load" ] || gc_fail "boot_load '$load' not found; ninja -C build boot_load, or pass --load"
gc_require_cmds ip dnsmasq nginx curl python3
GOLDCAST="$(realpath "$goldcast")"
load="$(realpath "$load")"

ns="gc-bench-boot-$$"
gc_bench_start boot bench_cleanup
# Whatever serve or nginx left inside our namespace ends with it.
bench_cleanup() {
  local rc=$? pid
  set +e
  for pid in "${GC_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  (exit "$rc")
  gc_cleanup
}

server=10.78.0.1
port=8470
nginx_port=8080
state="$GC_TMP/state"
# 1,000 connections at once need more than the default 1,024 descriptors,
# in the client and in the servers (they inherit this limit): use the hard limit.
ulimit -n "$(ulimit -Hn)" || gc_fail "cannot raise the descriptor limit to $(ulimit -Hn)"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((2 * macs + 256)) ] ||
  gc_fail "the descriptor limit $(ulimit -n) is too low for $macs concurrent requests"

ip netns add "$ns" || gc_fail "ip netns add $ns failed"
GC_NETNS+=("$ns")
ip -n "$ns" link set lo up
ip -n "$ns" link add br0 type bridge
ip -n "$ns" addr add "$server/16" dev br0
ip -n "$ns" link set br0 up

# A /16 so that every MAC of every run gets a fixed address.
cat >"$GC_TMP/profile.yaml" <<EOF
cluster: bench
network:
  interface: br0
  server: $server
  http_port: $port
  subnet: 10.78.0.0/16
  dhcp:
    mode: authoritative
    pool: 10.78.1.1-10.78.1.250
  node_addresses: 10.78.16.1-10.78.255.250
naming:
  prefix: bench
  first: 1
  enroll: auto  # the storm registers new MACs
groups:
  compute:
    image: minbase
    mode: install
default_group: compute
EOF

mkdir -p "$state/boot/install" "$state/boot/bench"
: >"$state/boot/install/vmlinuz"
: >"$state/boot/install/initrd.img"
artifact="$state/boot/bench/artifact.bin"
gc_log "writing a ${size_mb} MB artifact"
head -c "$((size_mb * 1000 * 1000))" /dev/urandom >"$artifact"
size="$(stat -c %s "$artifact")"

# The load comes from one address, where a rack's machines each have their
# own: lift serve's per-address connection limit.
gc_start_bg "$ns" "$GC_TMP/serve.log" "$GOLDCAST" --state "$state" serve --profile "$GC_TMP/profile.yaml" \
  --max-connections-per-address 0
serve_pid=$GC_LAST_PID
deadline=$((SECONDS + 30))
until ip netns exec "$ns" curl -fsS --max-time 2 "http://$server:$port/healthz" 2>/dev/null | grep -q ok; do
  kill -0 "$serve_pid" 2>/dev/null || gc_fail_with_file "goldcast serve exited during start-up" "$GC_TMP/serve.log"
  [ "$SECONDS" -lt "$deadline" ] || gc_fail_with_file "goldcast serve did not answer /healthz in 30 s" "$GC_TMP/serve.log"
  sleep 0.1
done

gc_nginx_start "$ns" "$ns" "$server:$nginx_port" "location /boot/files/ { alias $state/boot/; }" \
  "http://$server:$nginx_port/boot/files/bench/artifact.bin" 4096
nginx_pid=$GC_NGINX_PID

# field LINE KEY: a value from boot_load's key=value line.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
run_load() {
  local out
  out="$(ip netns exec "$ns" "$load" "$@" 2>"$GC_TMP/load.err")" ||
    gc_fail_with_file "boot_load $* failed" "$GC_TMP/load.err"
  echo "$out" >&2
  echo "$out"
}

# --- (a) /boot/ipxe: first boot (unknown MACs: named now) and reboot -------
: >"$GC_TMP/ipxe-new.txt"
: >"$GC_TMP/ipxe-known.txt"
for r in $(seq 1 "$runs"); do
  offset=$(((r - 1) * macs))
  gc_log "run $r: /boot/ipxe, $macs new MACs at once"
  run_load ipxe "http://$server:$port" --macs "$macs" --mac-offset "$offset" >>"$GC_TMP/ipxe-new.txt"
  gc_log "run $r: /boot/ipxe, the same $macs MACs again"
  run_load ipxe "http://$server:$port" --macs "$macs" --mac-offset "$offset" >>"$GC_TMP/ipxe-known.txt"
done
"$GOLDCAST" --state "$state" nodes list --json >"$GC_TMP/nodes.json" 2>"$GC_TMP/nodes.err" ||
  gc_fail_with_file "nodes list --json failed" "$GC_TMP/nodes.err"
python3 - "$GC_TMP/nodes.json" "$((macs * runs))" <<'EOF' || gc_fail "the registry does not hold every MAC exactly once"
import json, sys
nodes = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
names = {n["name"] for n in nodes}
macs = {n["mac"].lower() for n in nodes}
ips = {n["ip"] for n in nodes}
assert len(nodes) == want == len(names) == len(macs) == len(ips), (len(nodes), len(names), len(macs), len(ips), want)
assert names == {"bench%d" % i for i in range(1, want + 1)}, "names are not bench1..bench%d" % want
EOF

# --- (b) one artifact to C clients: goldcast vs nginx -----------------------
g_url="http://$server:$port/boot/files/bench/artifact.bin"
n_url="http://$server:$nginx_port/boot/files/bench/artifact.bin"
# Warm the page cache and both servers once.
run_load file "$g_url" --clients 2 --expect-size "$size" >/dev/null
run_load file "$n_url" --clients 2 --expect-size "$size" >/dev/null
: >"$GC_TMP/file-goldcast.txt"
: >"$GC_TMP/file-nginx.txt"
for r in $(seq 1 "$runs"); do
  gc_log "run $r: $clients clients x ${size_mb} MB from goldcast, then nginx"
  run_load file "$g_url" --clients "$clients" --expect-size "$size" >>"$GC_TMP/file-goldcast.txt"
  run_load file "$n_url" --clients "$clients" --expect-size "$size" >>"$GC_TMP/file-nginx.txt"
done

gc_kill_and_reap "$serve_pid" TERM
gc_kill_and_reap "$nginx_pid" TERM

col() { while read -r line; do field "$line" "$1"; done <"$2" | median; }
new_rps="$(col rps "$GC_TMP/ipxe-new.txt")"
new_p50="$(col p50_ms "$GC_TMP/ipxe-new.txt")"
new_p99="$(col p99_ms "$GC_TMP/ipxe-new.txt")"
known_rps="$(col rps "$GC_TMP/ipxe-known.txt")"
known_p50="$(col p50_ms "$GC_TMP/ipxe-known.txt")"
known_p99="$(col p99_ms "$GC_TMP/ipxe-known.txt")"
g_mbs="$(col mb_per_s "$GC_TMP/file-goldcast.txt")"
n_mbs="$(col mb_per_s "$GC_TMP/file-nginx.txt")"
ratio="$(python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$g_mbs" "$n_mbs")"

# Targets: a 1,000-node cluster powering on is named within a few seconds on
# two cores (p99 <= 2 s), and file serving keeps up with nginx (>= 0.8).
verdict() { python3 -c 'import sys; print("ok" if eval(sys.argv[1]) else "MISSED")' "$1"; }
v_p99="$(verdict "$new_p99 <= 2000")"
v_ratio="$(verdict "$ratio >= 0.8")"
{
  echo
  echo "goldcast boot service benchmark ($build_type build, $(nproc) cores, medians of $runs runs)"
  echo
  printf '%-44s %10s %10s %10s %8s\n' "/boot/ipxe, $macs MACs at once" "req/s" "p50 ms" "p99 ms" "target"
  printf '%-44s %10s %10s %10s %8s\n' "first boot (each MAC named and stored)" "$new_rps" "$new_p50" "$new_p99" "p99<=2000 $v_p99"
  printf '%-44s %10s %10s %10s %8s\n' "reboot (known MACs)" "$known_rps" "$known_p50" "$known_p99" ""
  echo
  printf '%-44s %10s %10s %10s %8s\n' "${size_mb} MB artifact, $clients clients" "goldcast" "nginx" "ratio" "target"
  printf '%-44s %10s %10s %10s %8s\n' "throughput (MB/s, g/n: higher is better)" "$g_mbs" "$n_mbs" "$ratio" ">=0.8 $v_ratio"
} | tee "$GC_TMP/report.txt"
if [ "$check" = 1 ] && grep -q MISSED "$GC_TMP/report.txt"; then
  GC_DONE_MESSAGE="a target was missed"
  exit 1
fi
