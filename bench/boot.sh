#!/usr/bin/env bash
# Boot-service benchmark (see bench/README.md): goldcast serve's /boot/ipxe
# under 1,000 distinct MACs arriving at once (new, then known) beside nginx
# answering the same requests with a static iPXE script; registration rate
# per thousand as the registry grows; and /boot/files throughput for one
# 100 MB artifact to 20 concurrent clients against nginx serving the same
# file. Everything runs in one network namespace, in one run.
#
# Usage: bench/boot.sh [--goldcast PATH] [--load PATH] [--macs N] [--scale N]
#                      [--concurrency C] [--clients C] [--size-mb M] [--runs R]
#                      [--check]
#   --goldcast       goldcast binary (default build/cli/goldcast)
#   --load           boot_load binary (default build/bench/boot_load)
#   --macs N         distinct MACs per /boot/ipxe run, all at once (default 1000)
#   --scale N        then register N more new MACs in batches of 1,000, one
#                    line per batch (a multiple of 1000; default 10000; 0 skips)
#   --concurrency C  requests in flight in each --scale batch (default 1000:
#                    the whole batch at once)
#   --clients C      concurrent downloaders of the artifact (default 20)
#   --size-mb M      artifact size in MB (default 100)
#   --runs R         repetitions of each measurement, medians reported (default 3)
#   --check          exit 1 when a target is missed or any request failed
#                    (default: report only)
# Needs root (namespace), dnsmasq, nginx (nginx-light), curl, python3.
# Exits 1 in any case when the registry does not hold every registered MAC
# exactly once, named bench1..benchN.
set -euo pipefail

GC_TEST=bench-boot
source "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

goldcast="$GC_REPO/build/cli/goldcast"
load="$GC_REPO/build/bench/boot_load"
macs=1000
scale=10000
concurrency=1000
clients=20
size_mb=100
runs=3
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --goldcast) goldcast="$2"; shift 2 ;;
    --load) load="$2"; shift 2 ;;
    --macs) macs="$2"; shift 2 ;;
    --scale) scale="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --size-mb) size_mb="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --check) check=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) gc_fail "unknown argument '$1' (see --help)" ;;
  esac
done
for v in macs concurrency clients size_mb runs; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || gc_fail "--${v/_/-} wants a positive number, got '${!v}'"
done
batch=1000
if ! [[ "$scale" =~ ^(0|[1-9][0-9]*)$ ]] || [ $((scale % batch)) -ne 0 ]; then
  gc_fail "--scale wants 0 or a multiple of $batch, got '$scale'"
fi
# Node index i gets address 10.78.16.1 + (i - 1): the profile's node_addresses
# (10.78.16.1-10.78.255.250) hold 61,434 nodes. Every MAC of every phase is
# registered once (the nginx run registers nothing; the reboot run reuses).
registered=$((macs * runs + scale))
[ "$registered" -le 61434 ] ||
  gc_fail "--macs x --runs + --scale = $registered nodes; the bench profile's node_addresses hold 61434"
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
inflight=$((concurrency < batch ? concurrency : batch))
inflight=$((macs > inflight ? macs : inflight))
ulimit -n "$(ulimit -Hn)" || gc_fail "cannot raise the descriptor limit to $(ulimit -Hn)"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((2 * inflight + 256)) ] ||
  gc_fail "the descriptor limit $(ulimit -n) is too low for $inflight concurrent requests"

ip netns add "$ns" || gc_fail "ip netns add $ns failed"
GC_NETNS+=("$ns")
ip -n "$ns" link set lo up
ip -n "$ns" link add br0 type bridge
ip -n "$ns" addr add "$server/16" dev br0
ip -n "$ns" link set br0 up

# A /16 so that every MAC of every phase gets a fixed address.
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
# own: lift serve's per-address limits (connections, new machines).
gc_start_bg "$ns" "$GC_TMP/serve.log" "$GOLDCAST" --state "$state" serve --profile "$GC_TMP/profile.yaml" \
  --max-connections-per-address 0 --new-machines-per-address 0
serve_pid=$GC_LAST_PID
deadline=$((SECONDS + 30))
until ip netns exec "$ns" curl -fsS --max-time 2 "http://$server:$port/healthz" 2>/dev/null | grep -q ok; do
  kill -0 "$serve_pid" 2>/dev/null || gc_fail_with_file "goldcast serve exited during start-up" "$GC_TMP/serve.log"
  [ "$SECONDS" -lt "$deadline" ] || gc_fail_with_file "goldcast serve did not answer /healthz in 30 s" "$GC_TMP/serve.log"
  sleep 0.1
done

# nginx answers /boot/ipxe?mac=...&uuid=... (any query) with one static
# script: what serve answers a known node, saved once the first run has
# registered it ($static stays empty until then; nginx opens it per request).
static="$GC_TMP/static.ipxe"
: >"$static"
gc_nginx_start "$ns" "$ns" "$server:$nginx_port" \
  "location /boot/files/ { alias $state/boot/; }
    location = /boot/ipxe { alias $static; default_type text/plain; }" \
  "http://$server:$nginx_port/boot/files/bench/artifact.bin" 4096
nginx_pid=$GC_NGINX_PID

# field LINE KEY: a value from boot_load's key=value line.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
# run_load PHASE ARGS...: boot_load ARGS in the namespace; its result line
# goes to stdout and stderr. Failed requests (and short transfers) are
# reported, not fatal: logged with boot_load's first error and added to
# failures.txt under PHASE. Only a boot_load that printed no result fails.
: >"$GC_TMP/failures.txt"
run_load() {
  local phase="$1" out rc=0 failed short
  shift
  out="$(ip netns exec "$ns" "$load" "$@" 2>"$GC_TMP/load.err")" || rc=$?
  [[ "$out" == *" failed="* ]] || gc_fail_with_file "boot_load $* failed (exit $rc)" "$GC_TMP/load.err"
  echo "$out" >&2
  failed="$(field "$out" failed)"
  short="$(field "$out" short)"
  failed=$((failed + ${short:-0}))
  if [ "$failed" -gt 0 ]; then
    gc_log "$phase: $failed failed: $(cat "$GC_TMP/load.err")"
    echo "$phase: $failed" >>"$GC_TMP/failures.txt"
  elif [ "$rc" -ne 0 ]; then
    gc_fail_with_file "boot_load $* exited $rc with no failed request" "$GC_TMP/load.err"
  fi
  echo "$out"
}
mac_for() { printf '52:54:01:%02x:%02x:%02x' $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }

# --- (a) /boot/ipxe: first boot (unknown MACs: named now), reboot, nginx ---
: >"$GC_TMP/ipxe-new.txt"
: >"$GC_TMP/ipxe-known.txt"
: >"$GC_TMP/ipxe-nginx.txt"
for r in $(seq 1 "$runs"); do
  offset=$(((r - 1) * macs))
  gc_log "run $r: /boot/ipxe, $macs new MACs at once"
  run_load "first boot, run $r" ipxe "http://$server:$port" --macs "$macs" --mac-offset "$offset" \
    >>"$GC_TMP/ipxe-new.txt"
  if [ "$r" = 1 ]; then
    # What a known node gets, as the same request boot_load makes.
    ip netns exec "$ns" curl -fsS --max-time 30 -o "$static.tmp" \
      "http://$server:$port/boot/ipxe?mac=$(mac_for 0)&uuid=00000000-0000-0000-0000-000000000000&arch=x86_64&platform=pcbios" \
      2>"$GC_TMP/static.err" || gc_fail_with_file "could not fetch the known node's script from serve" "$GC_TMP/static.err"
    [ "$(head -c 6 "$static.tmp")" = '#!ipxe' ] || gc_fail_with_file "serve's answer for $(mac_for 0) is no iPXE script" "$static.tmp"
    cat "$static.tmp" >"$static"
    gc_log "static iPXE script for nginx: $(stat -c %s "$static") bytes"
  fi
  gc_log "run $r: /boot/ipxe, the same $macs MACs again"
  run_load "reboot, run $r" ipxe "http://$server:$port" --macs "$macs" --mac-offset "$offset" \
    >>"$GC_TMP/ipxe-known.txt"
  gc_log "run $r: /boot/ipxe from nginx (static script), $macs requests at once"
  run_load "nginx static script, run $r" ipxe "http://$server:$nginx_port" --macs "$macs" \
    --mac-offset "$offset" >>"$GC_TMP/ipxe-nginx.txt"
done

# --- (b) registration rate per thousand as the registry grows --------------
: >"$GC_TMP/scale.txt"
for ((b = 0; b < scale / batch; b++)); do
  first=$((macs * runs + b * batch))
  gc_log "scale: nodes $((first + 1))-$((first + batch)), $batch new MACs, $concurrency in flight"
  run_load "scale, nodes $((first + 1))-$((first + batch))" ipxe "http://$server:$port" \
    --macs "$batch" --mac-offset "$first" --concurrency "$concurrency" >>"$GC_TMP/scale.txt"
done

# Every MAC sent to serve (0 .. registered-1) must be in the registry exactly
# once, named in boot order bench1..benchN. A first-boot or scale request that failed
# may not have registered its MAC: that many may be missing (and are counted
# as failures above); none may be doubled.
"$GOLDCAST" --state "$state" nodes list --json >"$GC_TMP/nodes.json" 2>"$GC_TMP/nodes.err" ||
  gc_fail_with_file "nodes list --json failed" "$GC_TMP/nodes.err"
failed_registering="$(sed -n 's/^\(first boot\|scale\).*: //p' "$GC_TMP/failures.txt" |
  awk '{s += $1} END {print s + 0}')"
registry_ok=1
registry_line="$(python3 - "$GC_TMP/nodes.json" "$registered" "$failed_registering" <<'EOF'
import json, sys
nodes = json.load(open(sys.argv[1]))
want, slack = int(sys.argv[2]), int(sys.argv[3])
n = len(nodes)
names = {x["name"] for x in nodes}
macs = {x["mac"].lower() for x in nodes}
ips = {x["ip"] for x in nodes}
sent = {"52:54:01:%02x:%02x:%02x" % (i >> 16 & 255, i >> 8 & 255, i & 255) for i in range(want)}
problems = []
if not len(names) == len(macs) == len(ips) == n:
    problems.append("not unique: %d nodes, %d names, %d MACs, %d addresses"
                    % (n, len(names), len(macs), len(ips)))
if names != {"bench%d" % i for i in range(1, n + 1)}:
    problems.append("names are not bench1..bench%d" % n)
if macs - sent:
    problems.append("%d MACs the bench never sent" % len(macs - sent))
if not want - slack <= n <= want:
    problems.append("%d nodes, want %d" % (n, want))
verdict = "MISMATCH: " + "; ".join(problems) if problems else "ok"
if not problems and n < want:
    verdict += " (%d missing: their requests failed)" % (want - n)
print("registry: %d of %d MACs, each once, named bench1..bench%d: %s" % (n, want, n, verdict))
sys.exit(1 if problems else 0)
EOF
)" || registry_ok=0

# --- (c) one artifact to C clients: goldcast vs nginx -----------------------
g_url="http://$server:$port/boot/files/bench/artifact.bin"
n_url="http://$server:$nginx_port/boot/files/bench/artifact.bin"
# Warm the page cache and both servers once.
run_load "file warm-up, goldcast" file "$g_url" --clients 2 --expect-size "$size" >/dev/null
run_load "file warm-up, nginx" file "$n_url" --clients 2 --expect-size "$size" >/dev/null
: >"$GC_TMP/file-goldcast.txt"
: >"$GC_TMP/file-nginx.txt"
for r in $(seq 1 "$runs"); do
  gc_log "run $r: $clients clients x ${size_mb} MB from goldcast, then nginx"
  run_load "file, goldcast, run $r" file "$g_url" --clients "$clients" --expect-size "$size" \
    >>"$GC_TMP/file-goldcast.txt"
  run_load "file, nginx, run $r" file "$n_url" --clients "$clients" --expect-size "$size" \
    >>"$GC_TMP/file-nginx.txt"
done

gc_kill_and_reap "$serve_pid" TERM
gc_kill_and_reap "$nginx_pid" TERM

values() { while read -r line; do field "$line" "$1"; done <"$2"; }
col() { values "$1" "$2" | median; }
total() { values "$1" "$2" | awk '{s += $1} END {print s + 0}'; }
ratio() {
  python3 -c 'import sys; b = float(sys.argv[2]); print("%.2f" % (float(sys.argv[1]) / b) if b else "n/a")' "$1" "$2"
}
new_rps="$(col rps "$GC_TMP/ipxe-new.txt")"
new_p50="$(col p50_ms "$GC_TMP/ipxe-new.txt")"
new_p99="$(col p99_ms "$GC_TMP/ipxe-new.txt")"
new_failed="$(total failed "$GC_TMP/ipxe-new.txt")"
known_rps="$(col rps "$GC_TMP/ipxe-known.txt")"
known_p50="$(col p50_ms "$GC_TMP/ipxe-known.txt")"
known_p99="$(col p99_ms "$GC_TMP/ipxe-known.txt")"
known_failed="$(total failed "$GC_TMP/ipxe-known.txt")"
ngx_rps="$(col rps "$GC_TMP/ipxe-nginx.txt")"
ngx_p50="$(col p50_ms "$GC_TMP/ipxe-nginx.txt")"
ngx_p99="$(col p99_ms "$GC_TMP/ipxe-nginx.txt")"
ngx_failed="$(total failed "$GC_TMP/ipxe-nginx.txt")"
g_mbs="$(col mb_per_s "$GC_TMP/file-goldcast.txt")"
n_mbs="$(col mb_per_s "$GC_TMP/file-nginx.txt")"
g_file_failed=$(($(total failed "$GC_TMP/file-goldcast.txt") + $(total short "$GC_TMP/file-goldcast.txt")))
n_file_failed=$(($(total failed "$GC_TMP/file-nginx.txt") + $(total short "$GC_TMP/file-nginx.txt")))
ratio="$(ratio "$g_mbs" "$n_mbs")"
failures_total="$(awk -F': ' '{s += $2} END {print s + 0}' "$GC_TMP/failures.txt")"

# Targets: issue 10 asks p99 < 50 ms for 1,000 new MACs at once (nginx's
# static script is the floor it is read against), and file serving keeps
# up with nginx (>= 0.8).
# Registration should not slow down as the registry grows (last / first
# thousand close to 1.0): reported, not asserted.
verdict() { python3 -c 'import sys; print("ok" if eval(sys.argv[1]) else "MISSED")' "$1"; }
v_p99="$(verdict "$new_p99 < 50")"
v_ratio="$(verdict "$ratio >= 0.8")"
row() { printf '%-40s %9s %9s %9s %7s %10s %8s  %s\n' "$@" | sed 's/ *$//'; }
{
  echo
  echo "goldcast boot service benchmark ($build_type build, $(nproc) cores, load average before $load_before, medians of $runs runs)"
  echo
  row "/boot/ipxe, $macs requests at once" "req/s" "p50 ms" "p99 ms" "failed" "req/s g/n" "p99 g/n" "target"
  row "goldcast, first boot (MACs named)" "$new_rps" "$new_p50" "$new_p99" "$new_failed" \
    "$(ratio "$new_rps" "$ngx_rps")" "$(ratio "$new_p99" "$ngx_p99")" "p99<50 $v_p99"
  row "goldcast, reboot (known MACs)" "$known_rps" "$known_p50" "$known_p99" "$known_failed" \
    "$(ratio "$known_rps" "$ngx_rps")" "$(ratio "$known_p99" "$ngx_p99")" ""
  row "nginx, static script ($(stat -c %s "$static") bytes)" "$ngx_rps" "$ngx_p50" "$ngx_p99" "$ngx_failed" \
    "" "" ""
  echo "(g/n = goldcast / nginx: for req/s higher is better, for p99 lower)"
  if [ "$scale" -gt 0 ]; then
    echo
    row "new MACs, $batch per batch, $concurrency in flight" "req/s" "p50 ms" "p99 ms" "failed"
    b=0
    while read -r line; do
      lo=$((macs * runs + b * batch + 1))
      b=$((b + 1))
      row "nodes $lo-$((lo + batch - 1))" "$(field "$line" rps)" "$(field "$line" p50_ms)" \
        "$(field "$line" p99_ms)" "$(field "$line" failed)"
    done <"$GC_TMP/scale.txt"
    first_rps="$(head -n 1 "$GC_TMP/scale.txt")"
    last_rps="$(tail -n 1 "$GC_TMP/scale.txt")"
    if [ "$scale" -gt "$batch" ]; then
      echo "last / first thousand req/s: $(ratio "$(field "$last_rps" rps)" "$(field "$first_rps" rps)") (flat = 1.00)"
    else
      echo "last / first thousand req/s: n/a (one batch)"
    fi
  fi
  echo
  row "${size_mb} MB artifact, $clients clients" "goldcast" "nginx" "ratio" "" "" "" "target"
  row "throughput (MB/s, g/n: higher is better)" "$g_mbs" "$n_mbs" "$ratio" "" "" "" ">=0.8 $v_ratio"
  row "failed or short transfers" "$g_file_failed" "$n_file_failed" "" "" "" "" ""
  echo
  echo "$registry_line"
  if [ "$failures_total" -gt 0 ]; then
    echo "failed requests: $failures_total ($(paste -sd ';' "$GC_TMP/failures.txt" | sed 's/;/; /g'))"
  else
    echo "failed requests: none"
  fi
} | tee "$GC_TMP/report.txt"
if [ "$registry_ok" = 0 ]; then
  GC_DONE_MESSAGE="the registry does not hold every MAC exactly once"
  gc_log "$GC_DONE_MESSAGE"
  exit 1
fi
if [ "$check" = 1 ] && { grep -q MISSED "$GC_TMP/report.txt" || [ "$failures_total" -gt 0 ]; }; then
  GC_DONE_MESSAGE="a target was missed or requests failed"
  exit 1
fi
