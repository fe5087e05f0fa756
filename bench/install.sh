#!/usr/bin/env bash
# Installer benchmark (see bench/README.md): how long it takes to write the
# golden tree onto an empty directory over the lab network, with
# `goldcast-agent install --target-root DIR` against `goldcast serve`, and with
# what an admin uses today: rsync -aHAX from an rsync daemon, and a tar of the
# tree served by nginx piped into tar -x. Same tree, same network, one run.
#
# Usage: bench/install.sh [--goldcast PATH] [--agent PATH] [--tree DIR] [--runs N]
#                         [--perf]
#   --goldcast, --agent  binaries (default: build/cli/goldcast and
#                        build/node-agent/goldcast-agent under the repo)
#   --tree DIR           tree to install (default: the golden client, the node
#                        tree of scripts/golden-cache.sh --tree node: Debian
#                        with systemd, a kernel, criu, grub-efi); only read
#   --runs N             timed runs of each tool, medians reported (default 3)
#   --perf               afterwards, two more (untimed) installs: CPU time of
#                        agent and serve, and both under `perf record -g`
# Needs root (namespaces, device nodes), dnsmasq (serve runs it), nginx, curl,
# rsync, python3 and about (2 + 3 x (runs + 1)) times the tree's size in
# ${TMPDIR:-/tmp}.
set -euo pipefail

GC_TEST=bench-install
# lib_vm.sh for gc_fake_kernel_artifact and the cleanup that stops serve
# (and its dnsmasq) before the namespaces go; it sources lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib_vm.sh"

goldcast="$GC_REPO/build/cli/goldcast"
agent="$GC_REPO/build/node-agent/goldcast-agent"
src_tree=""
runs=3
do_perf=0
while [ $# -gt 0 ]; do
  case "$1" in
    --goldcast) goldcast="$2"; shift 2 ;;
    --agent) agent="$2"; shift 2 ;;
    --tree) src_tree="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --perf) do_perf=1; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) gc_fail "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || gc_fail "--runs wants a positive number, got '$runs'"
[ "$(id -u)" -eq 0 ] || gc_fail "needs root (network namespaces, device nodes in the tree)"
[ -x "$goldcast" ] || gc_fail "goldcast binary '$goldcast' not found; build it or pass --goldcast"
[ -x "$agent" ] || gc_fail "goldcast-agent binary '$agent' not found; build it or pass --agent"
gc_require_cmds ip rsync tar curl nginx dnsmasq python3
[ "$do_perf" = 0 ] || gc_require_cmds perf
GOLDCAST="$(realpath "$goldcast")"
GOLDCAST_AGENT="$(realpath "$agent")"

gc_bench_start install gc_vm_cleanup
[ -n "$src_tree" ] || src_tree="$(gc_golden_tree node)" || exit 1
[ -d "$src_tree" ] || gc_fail "tree '$src_tree' is not a directory"
src_tree="$(realpath "$src_tree")"

# Client (the node) in ns_c = 10.88.93.2, everything served from ns_s =
# 10.88.93.1; the veth pair exists only inside them.
ns_c="gc-bi-$$-c"
ns_s="gc-bi-$$-s"
gc_ns_pair_up "$ns_c" "$ns_s" 93
GC_VM_NS="$ns_s"  # gc_vm_cleanup's view of the lab (serve's dnsmasq lives there)
server=10.88.93.1
port=8470
tls_port=8471
rsync_port=8730
nginx_port=8080
state="$GC_TMP/state"
release=6.1.999-bench

# --- the same tree three ways: an image, an rsync module, a tar -----------
gc_log "importing $src_tree as image golden"
gc_expect_status 0 "image import" "$GOLDCAST" --state "$state" image import --dir "$src_tree" \
  --image golden
gc_fake_kernel_artifact "$state" fake-kernel "$release"
# serve's boot scripts name these; nothing boots them here.
mkdir -p "$state/boot/install"
: >"$state/boot/install/vmlinuz"
: >"$state/boot/install/initrd.img"

mkdir -p "$GC_TMP/www"
gc_log "writing a tar of the tree for nginx"
tar --xattrs --xattrs-include='*' --acls --numeric-owner -cf "$GC_TMP/www/x.tar" -C "$src_tree" . \
  2>"$GC_TMP/tar-c.err" || gc_fail_with_file "tar -c of $src_tree failed" "$GC_TMP/tar-c.err"

files="$(find "$src_tree" -type f | wc -l)"
entries="$(find "$src_tree" | wc -l)"
bytes="$(du -sb --apparent-size "$src_tree" | cut -f1)"

# --- servers, all in ns_s ------------------------------------------------
cat >"$GC_TMP/profile.yaml" <<EOF
cluster: bench-install
network:
  interface: gcb
  server: $server
  http_port: $port
  https_port: $tls_port
  subnet: 10.88.93.0/24
  dhcp:
    mode: authoritative
    pool: 10.88.93.100-10.88.93.199
  node_addresses: 10.88.93.11-10.88.93.99
naming:
  prefix: bench
  enroll: auto  # every install is a new machine
groups:
  compute:
    image: golden
    kernel: fake-kernel
    mode: install
default_group: compute
EOF
# Every install is a new machine, all from the bench client's one address.
gc_start_bg "$ns_s" "$GC_TMP/serve.log" "$GOLDCAST" --state "$state" serve \
  --profile "$GC_TMP/profile.yaml" --new-machines-per-address 0
GC_SERVE_PID=$GC_LAST_PID
deadline=$((SECONDS + 30))
until ip netns exec "$ns_c" curl -fsS --max-time 2 "http://$server:$port/healthz" 2>/dev/null |
  grep -q ok; do
  kill -0 "$GC_SERVE_PID" 2>/dev/null || gc_fail_with_file "goldcast serve exited during start-up" "$GC_TMP/serve.log"
  [ "$SECONDS" -lt "$deadline" ] || gc_fail_with_file "goldcast serve did not answer /healthz in 30 s" "$GC_TMP/serve.log"
  sleep 0.1
done

cat >"$GC_TMP/rsyncd.conf" <<EOF
uid = root
gid = root
use chroot = yes
numeric ids = yes
pid file = $GC_TMP/rsyncd.pid
log file = $GC_TMP/rsyncd.log
[golden]
  path = $src_tree
  read only = yes
EOF
gc_start_bg "$ns_s" "$GC_TMP/rsyncd.out" rsync --daemon --no-detach --config="$GC_TMP/rsyncd.conf" \
  --address="$server" --port="$rsync_port"
rsyncd_pid=$GC_LAST_PID
deadline=$((SECONDS + 20))
until ip netns exec "$ns_c" rsync "rsync://$server:$rsync_port/" >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || gc_fail_with_file "rsync daemon did not answer" "$GC_TMP/rsyncd.log"
  sleep 0.1
done

gc_nginx_start "$ns_s" "$ns_c" "$server:$nginx_port" "root $GC_TMP/www;" \
  "http://$server:$nginx_port/x.tar"
nginx_pid=$GC_NGINX_PID

# --- helpers -------------------------------------------------------------
# Bytes received and sent by the client's end of the veth (headers included).
wire_bytes() {
  ip netns exec "$ns_c" cat /proc/net/dev | awk '$1 == "gca:" {print $2, $10}'
}
clk_tck="$(getconf CLK_TCK)"
# CPU ticks (user + system) of the client side: what this shell's children
# used, read without a fork so the reading itself is not counted.
client_ticks() {
  local st
  read -r -a st <"/proc/$$/stat"
  echo $((st[15] + st[16]))
}
# CPU ticks of a server: the process (all threads), the children it reaped
# (rsync's per-connection child) and its live children (nginx's workers).
server_ticks() {
  local pid="$1"
  # shellcheck disable=SC2046
  awk '{sub(/^.*\) /, ""); s += $12 + $13 + $14 + $15} END {print s}' "/proc/$pid/stat" \
    $(sed 's|[0-9]\+|/proc/&/stat|g' /proc/"$pid"/task/*/children 2>/dev/null)
}
# Prefixes each line with the time it arrived: the agent's phase lines.
stamp() {
  local line
  while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done
}
# A new node per install (each run from scratch, like a new machine): asks
# for its boot script as iPXE would, which names it and gives it a one-time
# install token (the agent redeems it for the secret, as a real install does).
# Sets NODE and TOKEN.
new_node() {
  local mac="$1" script="$GC_TMP/ipxe.txt"
  ip netns exec "$ns_c" curl -fsS --max-time 10 -o "$script" \
    "http://$server:$port/boot/ipxe?mac=$mac" 2>"$GC_TMP/ipxe.err" ||
    gc_fail_with_file "GET /boot/ipxe?mac=$mac failed" "$GC_TMP/ipxe.err"
  NODE="$(grep -o 'goldcast.node=[^ ]*' "$script" | head -n 1 | cut -d= -f2 || true)"
  TOKEN="$(grep -o 'goldcast.token=[0-9a-f]*' "$script" | head -n 1 | cut -d= -f2 || true)"
  PIN="$(grep -o 'goldcast.pin=[^ ]*' "$script" | head -n 1 | cut -d= -f2- || true)"
  [ -n "$NODE" ] && [ -n "$TOKEN" ] && [ -n "$PIN" ] ||
    gc_fail_with_file "the boot script for $mac carries no goldcast.node= / goldcast.token= / goldcast.pin=" "$script"
}

# measure TOOL DEST: one run of TOOL into the new empty directory DEST.
# Sets T_RUN (until the tool exited) and T_SYNC (until its writes are on disk:
# the installer syncs before it reports done, so the others get a `sync`
# too), RX/TX (bytes on the client's veth), CPU_CLIENT/CPU_SERVER (CPU
# seconds of the client command and of the server it talked to) and PHASES
# (goldcast only).
# Before each run, `sync` flushes the previous run's writes so their writeback
# is not charged to this one. Page caches are not dropped: the warm-up run of
# each tool leaves every source (store objects, tree, tar) cached.
node_seq=0
measure() {
  local tool="$1" dest="$2" t0 t1 t2 before after
  local log="$GC_TMP/$tool.log"
  mkdir "$dest"
  PHASES=""
  if [ "$tool" = goldcast ]; then
    node_seq=$((node_seq + 1))
    new_node "$(printf '52:54:00:88:93:%02x' "$node_seq")"
  fi
  local server_pid
  case "$tool" in
    goldcast) server_pid=$GC_SERVE_PID ;;
    rsync) server_pid=$rsyncd_pid ;;
    tar) server_pid=$nginx_pid ;;
  esac
  sync
  wire_bytes >"$GC_TMP/wire"
  read -r -a before <"$GC_TMP/wire"
  local s0 s1 c0 c1
  s0="$(server_ticks "$server_pid")"
  c0="$(client_ticks)"
  t0=$EPOCHREALTIME
  case "$tool" in
    goldcast)
      ip netns exec "$ns_c" "$GOLDCAST_AGENT" install --server "https://$server:$tls_port" \
        --pin "$PIN" --node "$NODE" --token "$TOKEN" --target-root "$dest" 2>&1 | stamp >"$log" ||
        gc_fail_with_file "goldcast-agent install into $dest failed" "$log"
      ;;
    rsync)
      ip netns exec "$ns_c" rsync -aHAX --numeric-ids "rsync://$server:$rsync_port/golden/" \
        "$dest/" >"$log" 2>&1 || gc_fail_with_file "rsync into $dest failed" "$log"
      ;;
    tar)
      ip netns exec "$ns_c" bash -c 'set -o pipefail; curl -fsS "$1" |
          tar --xattrs --xattrs-include="*" --acls --numeric-owner -xpf - -C "$2"' \
        sh "http://$server:$nginx_port/x.tar" "$dest" >"$log" 2>&1 ||
        gc_fail_with_file "curl | tar -x into $dest failed" "$log"
      ;;
  esac
  t1=$EPOCHREALTIME
  c1="$(client_ticks)"
  sync
  t2=$EPOCHREALTIME
  s1="$(server_ticks "$server_pid")"
  wire_bytes >"$GC_TMP/wire"
  read -r -a after <"$GC_TMP/wire"
  CPU_CLIENT="$(awk -v n=$((c1 - c0)) -v hz="$clk_tck" 'BEGIN {printf "%.2f", n / hz}')"
  CPU_SERVER="$(awk -v n=$((s1 - s0)) -v hz="$clk_tck" 'BEGIN {printf "%.2f", n / hz}')"
  T_RUN="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')"
  T_SYNC="$(awk -v a="$t0" -v b="$t2" 'BEGIN {printf "%.3f", b - a}')"
  RX=$((after[0] - before[0]))
  TX=$((after[1] - before[1]))
  if [ "$tool" = goldcast ]; then
    # Seconds from the start to each phase line: [image] comes after the
    # plan, [kernel] after the image's manifest and objects, [identity]
    # after the modules, [done] after the identity and the installer's sync.
    PHASES="$(awk -v t0="$t0" '
      match($0, /goldcast-agent install: \[[a-z]+\]/) {
        p = substr($0, RSTART + 25, RLENGTH - 26)
        if (!(p in seen)) { seen[p] = 1; printf "%s%s=%.3f", sep, p, $1 - t0; sep = " " }
      }' "$log")"
  fi
}

# compare DEST WHAT ALLOWED_REGEX: DEST must equal the source tree (content
# by checksum, hardlinks, ACLs, xattrs, numeric ids, no extra files) except
# for itemized lines matching ALLOWED_REGEX: each tool wrote the same tree.
compare() {
  local dest="$1" what="$2" allowed="$3" report="$GC_TMP/compare-$2.txt"
  rsync -naHAXc --numeric-ids --delete --itemize-changes "$src_tree/" "$dest/" >"$report" 2>&1 ||
    gc_fail_with_file "rsync comparison of $what's tree failed to run" "$report"
  if grep -vE -- "$allowed" "$report" >"$report.unexpected"; then
    gc_fail_with_file "$what wrote a tree that differs from $src_tree" "$report.unexpected"
  fi
}

# --- warm-up (and check) one run each, then the timed runs -----------------
tools=(goldcast rsync tar)
for tool in "${tools[@]}"; do
  gc_log "warm-up: $tool"
  measure "$tool" "$GC_TMP/out-$tool.0"
  gc_log "warm-up $tool: $T_SYNC s ${PHASES:+(phases: $PHASES)}"
done
# The installer writes the node's identity (hostname, hosts, machine-id,
# etc/goldcast/, and where the tree has them new SSH host keys and dbus's
# machine-id link) and the kernel (boot/*-RELEASE, the modules under
# usr/lib/modules since lib -> usr/lib), which also changes the mtime of the
# directories holding them. Nothing else may differ, and nothing may be
# missing or extra (--delete itemizes extra files).
gc_paths='\./|etc/|etc/(hostname|hosts|machine-id)|etc/goldcast/(node\.json)?'
gc_paths+='|etc/ssh/|etc/ssh/ssh_host_[a-z0-9]+_key(\.pub)?|var/lib/dbus/|var/lib/dbus/machine-id'
gc_paths+="|boot/|boot/(vmlinuz|System\\.map|config)-$release|usr/lib/|usr/lib/modules/.*"
compare "$GC_TMP/out-goldcast.0" goldcast "^[^ ]+ +($gc_paths)\$"
compare "$GC_TMP/out-rsync.0" rsync '^$'
compare "$GC_TMP/out-tar.0" tar '^$'
gc_log "all three wrote the same tree ($entries entries, $files regular files, $bytes bytes)"

declare -A times=() synced=() rx=() tx=() cpu_c=() cpu_s=()
gc_phases=()
for ((run = 1; run <= runs; run++)); do
  line="run $run:"
  for tool in "${tools[@]}"; do
    measure "$tool" "$GC_TMP/out-$tool.$run"
    times[$tool]+=" $T_RUN"
    synced[$tool]+=" $T_SYNC"
    cpu_c[$tool]+=" $CPU_CLIENT"
    cpu_s[$tool]+=" $CPU_SERVER"
    rx[$tool]=$RX
    tx[$tool]=$TX
    [ "$tool" = goldcast ] && gc_phases+=("$PHASES")
    line+=" $tool $T_RUN s (+sync $T_SYNC s; CPU client $CPU_CLIENT s, server $CPU_SERVER s),"
  done
  gc_log "$line goldcast phases (s from start): ${gc_phases[-1]}"
done

# --perf: where the install's time goes. One more install (untimed) with the
# agent under `perf stat` (its CPU time against the wall time) and serve's
# CPU time from /proc; then one under `perf record -g`, with serve recorded
# at the same time.
serve_cpu_s() {  # utime + stime of serve, all threads, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$GC_SERVE_PID/stat"
}
perf_install() {  # DEST PERF-ARGS...: an install of a new node with the agent under perf
  local dest="$1"
  shift
  node_seq=$((node_seq + 1))
  new_node "$(printf '52:54:00:88:93:%02x' "$node_seq")"
  mkdir "$dest"
  sync
  ip netns exec "$ns_c" perf "$@" -- "$GOLDCAST_AGENT" install --server "https://$server:$tls_port" \
    --pin "$PIN" --node "$NODE" --token "$TOKEN" --target-root "$dest" >"$dest.log" 2>&1 ||
    gc_fail_with_file "install under perf $* failed" "$dest.log"
}
perf_top() {  # DATA N: the N hottest dso/symbol pairs (self time)
  perf report -i "$1" --no-children --sort dso,symbol -g none --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | sed -E 's/[ -]+$//; s/ {2,}/  /g' | cut -c1-110 | head -n "$2" || true
}
if [ "$do_perf" = 1 ]; then
  gc_log "perf: CPU time of one install"
  cpu0="$(serve_cpu_s)"
  t0=$EPOCHREALTIME
  perf_install "$GC_TMP/out-perf-stat" stat -x, -e task-clock -o "$GC_TMP/perf-stat.txt"
  t1=$EPOCHREALTIME
  cpu1="$(serve_cpu_s)"
  agent_cpu="$(awk -F, '$3 == "task-clock" {printf "%.3f", $1 / 1000}' "$GC_TMP/perf-stat.txt")"
  perf_wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')"
  serve_cpu="$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.2f", b - a}')"

  gc_log "perf: one install under perf record -g, serve recorded too"
  gc_start_bg - "$GC_TMP/perf-serve.log" perf record -q -g -p "$GC_SERVE_PID" \
    -o "$GC_TMP/perf-serve.data"
  perf_serve_pid=$GC_LAST_PID
  sleep 0.5  # perf attaches
  perf_install "$GC_TMP/out-perf-record" record -q -g -o "$GC_TMP/perf-agent.data"
  gc_kill_and_reap "$perf_serve_pid" INT
  perf report -i "$GC_TMP/perf-agent.data" --no-children --sort dso -g none --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | sed -E 's/ +$//; s/ {2,}/  /g' | head -n 6 >"$GC_TMP/perf-agent-dso.txt" || true
  # Inclusive time per system call: which file operations the agent pays for.
  perf report -i "$GC_TMP/perf-agent.data" --children --sort symbol -g none --stdio 2>/dev/null |
    awk '$1 ~ /%$/ && $4 ~ /^__x64_sys_/ {printf "  %7s  %s\n", $1, substr($4, 11)}' |
    head -n 14 >"$GC_TMP/perf-agent-sys.txt" || true
  perf_top "$GC_TMP/perf-agent.data" 12 >"$GC_TMP/perf-agent-top.txt"
  perf_top "$GC_TMP/perf-serve.data" 10 >"$GC_TMP/perf-serve-top.txt"
fi

# Stopped here rather than by the trap, which would have to kill them.
gc_kill_and_reap "$nginx_pid" TERM
gc_kill_and_reap "$rsyncd_pid" TERM

report() {  # TOOL NAME: one row's fields for the report
  printf '%s;%s;%s;%s;%s;%s;%s;\n' "$2" "${times[$1]}" "${synced[$1]}" "${cpu_c[$1]}" \
    "${cpu_s[$1]}" "${rx[$1]}" "${tx[$1]}"
}
{
  report goldcast "goldcast-agent install"
  report rsync "rsync -aHAX (daemon)"
  report tar "curl | tar -x (nginx)"
} >"$GC_TMP/rows.txt"
printf '%s\n' "${gc_phases[@]}" >"$GC_TMP/phases.txt"
python3 - "$GC_TMP/rows.txt" "$GC_TMP/phases.txt" <<EOF
import statistics, sys

def med(s):
    return statistics.median(float(x) for x in s.split())

files, entries, nbytes = $files, $entries, $bytes
rows = []
for line in open(sys.argv[1]):
    name, t, ts, cc, cs, rx, tx, _ = line.rstrip("\n").split(";")
    rows.append((name, med(t), med(ts), med(cc), med(cs), int(rx), int(tx)))
print()
print("goldcast install benchmark: $GOLDCAST ($build_type build, $(nproc) cores)")
print("tree: $src_tree (%d entries, %d regular files, %.1f MB); medians of $runs runs "
      "into empty directories, after one warm-up run each" % (entries, files, nbytes / 1e6))
fmt = "%-23s %7s %8s %8s %6s %9s %9s %11s %9s"
print(fmt % ("", "exit s", "+sync s", "files/s", "MB/s", "CPU cli s", "CPU srv s", "rx bytes",
             "tx bytes"))
for name, t, ts, cc, cs, rx, tx in rows:
    print(fmt % (name, "%.3f" % t, "%.3f" % ts, "%.0f" % (files / ts), "%.1f" % (nbytes / 1e6 / ts),
                 "%.2f" % cc, "%.2f" % cs, rx, tx))
print()
g = rows[0][2]
for row in rows[1:]:
    print("goldcast / %-21s %5.2f  (+sync times; lower is better for goldcast)" % (row[0], g / row[2]))
print("goldcast phases per run, s from start ([done] follows the installer's own sync):")
for phases in open(sys.argv[2]).read().splitlines():
    print("  " + phases)
EOF
if [ "$do_perf" = 1 ]; then
  echo
  echo "perf: one install took $perf_wall s wall; CPU: agent $agent_cpu s (task-clock), serve $serve_cpu s"
  echo "agent, by binary (self time):"
  cat "$GC_TMP/perf-agent-dso.txt"
  echo "agent, by system call (inclusive):"
  cat "$GC_TMP/perf-agent-sys.txt"
  echo "agent, hottest symbols (self time):"
  cat "$GC_TMP/perf-agent-top.txt"
  echo "serve during that install, hottest symbols (self time):"
  cat "$GC_TMP/perf-serve-top.txt"
fi
