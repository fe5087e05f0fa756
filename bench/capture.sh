#!/usr/bin/env bash
# Capture benchmark: goldcast (prepareclient + getimage) against what
# SystemImager does (rsync -aHAX pulling from an rsync daemon on the golden
# client), on the same real Debian tree, in one run. See bench/README.md.
#
# Usage: bench/capture.sh [--goldcast PATH] [--agent PATH] [--tree DIR] [--runs N] [--check]
#   --goldcast, --agent  binaries (default: build/cli/goldcast and
#                        build/node-agent/goldcast-agent under the repo)
#   --tree DIR           golden tree to capture (default: the minbase tree from
#                        scripts/golden-cache.sh); it is copied first and never
#                        modified
#   --runs N             repeat each timed measurement N times, report medians (default 3)
#   --check              exit 1 when a target is missed (default: report only)
# Needs root (namespaces, devices in the tree). Uses ~5x the tree's size in
# ${TMPDIR:-/tmp}.
set -euo pipefail

GC_TEST=bench-capture
source "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

goldcast="$GC_REPO/build/cli/goldcast"
agent="$GC_REPO/build/node-agent/goldcast-agent"
src_tree=""
check=0
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --goldcast) goldcast="$2"; shift 2 ;;
    --agent) agent="$2"; shift 2 ;;
    --tree) src_tree="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --check) check=1; shift ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) gc_fail "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || gc_fail "--runs wants a positive number, got '$runs'"
[ "$(id -u)" -eq 0 ] || gc_fail "needs root (network namespaces, device nodes in the tree)"
[ -x "$goldcast" ] || gc_fail "goldcast binary '$goldcast' not found; build it or pass --goldcast"
[ -x "$agent" ] || gc_fail "goldcast-agent binary '$agent' not found; build it or pass --agent"
gc_require_cmds ip rsync python3 du
GOLDCAST="$(realpath "$goldcast")"
GOLDCAST_AGENT="$(realpath "$agent")"
gc_bench_start capture gc_cleanup
[ -n "$src_tree" ] || src_tree="$(gc_golden_tree minbase)" || exit 1
[ -d "$src_tree" ] || gc_fail "tree '$src_tree' is not a directory"

ns_a="gc-bench-$$-a"  # golden client
ns_b="gc-bench-$$-b"  # image server
golden_ip=10.88.90.2
tree="$GC_TMP/golden"
state="$GC_TMP/goldcast-state"
rsync_v1="$GC_TMP/rsync-v1"
rsync_cur="$GC_TMP/rsync-current"

gc_log "copying $src_tree to $tree (the benchmark modifies its copy)"
cp -a "$src_tree" "$tree"
gc_ns_pair_up "$ns_a" "$ns_b" 90

# The agent skips these by default; rsync gets the same list so both move the
# same files.
excludes=(/proc/* /sys/* /dev/* /run/* /tmp/* /var/tmp/* /mnt/* /media/* lost+found)
rsync_excludes=()
for e in "${excludes[@]}"; do rsync_excludes+=("--exclude=$e"); done

cat >"$GC_TMP/rsyncd.conf" <<EOF
uid = root
gid = root
use chroot = yes
numeric ids = yes
pid file = $GC_TMP/rsyncd.pid
log file = $GC_TMP/rsyncd.log
[golden]
  path = $tree
  read only = yes
EOF
gc_start_bg "$ns_a" "$GC_TMP/rsyncd.out" rsync --daemon --no-detach --config="$GC_TMP/rsyncd.conf" \
  --address="$golden_ip" --port=8730
deadline=$((SECONDS + 20))
until ip netns exec "$ns_b" rsync "rsync://$golden_ip:8730/" >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || gc_fail_with_file "rsync daemon did not answer" "$GC_TMP/rsyncd.log"
  sleep 0.1
done

now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
# Before each timed run: read the tree (warm cache for both tools) and flush
# the previous run's dirty pages, so their writeback does not land in this run.
warm_tree() {
  tar -cf - -C "$tree" . 2>/dev/null | cat >/dev/null
  sync
}
rsync_received() {  # rsync --stats output -> bytes received by the client
  sed -n 's/^Total bytes received: \([0-9,]*\).*/\1/p' "$1" | tr -d ,
}

# One goldcast capture into STATE with the agent's hash cache in AGENT_STATE:
# from starting the agent (it walks and hashes the tree) to getimage's exit,
# which is what the admin waits for. Sets T_GOLDCAST (and T_READY, the part
# until the agent listened) and writes getimage's JSON to JSON.
goldcast_capture() {  # STATE AGENT_STATE JSON
  local store="$1" agent_state="$2" json="$3" t0 t1
  warm_tree
  rm -f "$GC_TMP/token"
  t0="$(now)"
  gc_start_bg "$ns_a" "$GC_TMP/agent.log" "$GOLDCAST_AGENT" prepareclient --root "$tree" \
    --listen "$golden_ip:7490" --state "$agent_state" --token-file "$GC_TMP/token" \
    --image bench
  local pid=$GC_LAST_PID t_ready
  # A tight poll, and no process spawned to do arithmetic: the harness must
  # not add time to what it measures (rsync's run has no such gap).
  local deadline=$((SECONDS + 600))
  while [ ! -s "$GC_TMP/token" ]; do
    kill -0 "$pid" 2>/dev/null || gc_fail_with_file "the agent exited before listening" "$GC_TMP/agent.log"
    [ "$SECONDS" -lt "$deadline" ] || gc_fail_with_file "the agent did not listen within 600 s" "$GC_TMP/agent.log"
    sleep 0.002
  done
  t_ready="$(now)"
  ip netns exec "$ns_b" "$GOLDCAST" -v --state "$store" getimage --golden-client "$golden_ip:7490" \
    --token "$(cat "$GC_TMP/token")" --pin "$(cat "$agent_state/tls/pin")" --image bench --json >"$json" 2>"$GC_TMP/getimage.err" ||
    gc_fail_with_file "getimage failed" "$GC_TMP/getimage.err"
  t1="$(now)"
  T_READY="$(elapsed "$t0" "$t_ready")"
  # getimage -v prints when each phase ended; keep them for the log.
  GC_PHASES="$(sed -n 's/^goldcast: debug: getimage: \(.*\) at \([0-9.]*\) s$/\1 \2/p' "$GC_TMP/getimage.err" |
    awk '{printf "%s%s=%.3f", sep, $1, $NF; sep=" "}')"
  gc_wait_exit "$pid" 60
  T_GOLDCAST="$(elapsed "$t0" "$t1")"
}

# One rsync pull into DEST, as si_getimage does. Sets T_RSYNC, writes --stats to STATS.
rsync_capture() {  # DEST STATS
  local dest="$1" stats="$2" t0 t1
  warm_tree
  mkdir -p "$dest"
  t0="$(now)"
  ip netns exec "$ns_b" rsync -aHAX --numeric-ids --delete --stats "${rsync_excludes[@]}" \
    "rsync://$golden_ip:8730/golden/" "$dest/" >"$stats" 2>&1 ||
    gc_fail_with_file "rsync pull failed" "$stats"
  t1="$(now)"
  T_RSYNC="$(elapsed "$t0" "$t1")"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# (a) first capture into empty stores, $runs times; the last run's store and
# rsync copy are kept for (b).
first_gc=() first_rs=() first_ready=()
# Each run writes into fresh directories: deleting the previous run's output
# right before a timed run would make the file system scan the just-freed
# inodes while allocating new ones, which skews whichever tool runs first.
base_state="$state" base_rsync="$rsync_cur"
for ((run = 1; run <= runs; run++)); do
  state="$base_state.$run" rsync_cur="$base_rsync.$run"
  agent_state="$GC_TMP/agent-state.$run"
  goldcast_capture "$state" "$agent_state" "$GC_TMP/get1.json"
  first_gc+=("$T_GOLDCAST")
  first_ready+=("$T_READY")
  rsync_capture "$rsync_cur" "$GC_TMP/rsync1.stats"
  first_rs+=("$T_RSYNC")
  gc_log "first capture run $run: goldcast $T_GOLDCAST s (agent ready after $T_READY s; getimage phases: $GC_PHASES), rsync $T_RSYNC s"
done
first_gc_bytes="$(gc_json_field "$GC_TMP/get1.json" bytes_transferred)"
first_rs_bytes="$(rsync_received "$GC_TMP/rsync1.stats")"
# SystemImager keeps each version as a full copy: keep v1 (cp -a, not cp -al).
cp -a "$rsync_cur" "$rsync_v1"

# (b) append a line to 1% of the regular files (every 100th of the sorted
# list, so the choice is deterministic) and capture again, $runs times; each
# run appends another line to the same files and makes the next version.
mapfile -d '' regular < <(cd "$tree" && find . -xdev -type f -links 1 \
  -not -path './proc/*' -not -path './sys/*' -not -path './dev/*' -not -path './run/*' \
  -not -path './tmp/*' -not -path './var/tmp/*' -print0 | LC_ALL=C sort -z)
re_gc=() re_rs=() re_ready=()
for ((run = 1; run <= runs; run++)); do
  changed=0
  for ((i = 0; i < ${#regular[@]}; i += 100)); do
    printf 'goldcast bench change %d run %d\n' "$i" "$run" >>"$tree/${regular[$i]}"
    changed=$((changed + 1))
  done
  goldcast_capture "$state" "$agent_state" "$GC_TMP/get2.json"
  re_gc+=("$T_GOLDCAST")
  re_ready+=("$T_READY")
  rsync_capture "$rsync_cur" "$GC_TMP/rsync2.stats"
  re_rs+=("$T_RSYNC")
  want_version=$((run + 1))
  [ "$(gc_json_field "$GC_TMP/get2.json" version)" = "$want_version" ] ||
    gc_fail_with_file "re-capture $run did not make version $want_version" "$GC_TMP/get2.json"
  gc_log "re-capture run $run ($changed of ${#regular[@]} files changed): goldcast $T_GOLDCAST s (agent ready after $T_READY s; getimage phases: $GC_PHASES), rsync $T_RSYNC s"
  if [ "$run" = 1 ]; then
    re_gc_bytes="$(gc_json_field "$GC_TMP/get2.json" bytes_transferred)"
    re_rs_bytes="$(rsync_received "$GC_TMP/rsync2.stats")"
    # (c) storage of two versions: the store now holds v1 and v2.
    store_kib="$(du -sk "$state/store" | cut -f1)"
    one_copy_kib="$(du -sk "$rsync_v1" | cut -f1)"
    two_copies_kib="$(du -skc "$rsync_v1" "$rsync_cur" | tail -n 1 | cut -f1)"
  fi
done

python3 - "$check" <<EOF
import sys
rows = [
    ("first capture (s)", $(median "${first_gc[@]}"), $(median "${first_rs[@]}"), 1.0),
    ("re-capture, 1% changed (s)", $(median "${re_gc[@]}"), $(median "${re_rs[@]}"), 0.5),
    ("bytes received, first", $first_gc_bytes, $first_rs_bytes, None),
    ("bytes received, re-capture", $re_gc_bytes, $re_rs_bytes, None),
    ("storage, two versions (KiB)", $store_kib, $two_copies_kib, None),
    ("store 2 versions / 1 copy", $store_kib, $one_copy_kib, 1.1),
]
print()
print("goldcast: $GOLDCAST ($build_type build)")
print("tree: $src_tree (${#regular[@]} regular files, $changed changed per re-capture; "
      "one copy $one_copy_kib KiB); times are medians of $runs runs")
print("%-30s %14s %14s %8s %8s  %s" % ("measurement", "goldcast", "rsync", "ratio", "target", ""))
missed = 0
for name, g, r, target in rows:
    ratio = g / r if r else float("inf")
    verdict = ""
    if target is not None:
        verdict = "ok" if ratio <= target else "MISSED"
        missed += verdict == "MISSED"
    print("%-30s %14s %14s %8.3f %8s  %s" % (name, g, r, ratio,
          "<= %.1f" % target if target is not None else "", verdict))
print("goldcast time until the agent listened (walk + hash), median: first %s s, re-capture %s s"
      % ($(median "${first_ready[@]}"), $(median "${re_ready[@]}")))
if missed and sys.argv[1] == "1":
    print("%d target(s) missed" % missed, file=sys.stderr)
    sys.exit(1)
EOF
