#!/usr/bin/env bash
# A capture killed with SIGKILL mid-transfer must leave a consistent store (verify
# passes, no version published); the next capture completes and round-trips.
# Then one stored object is corrupted: verify must fail and name the object's
# hash and an image path that uses it.
GC_TEST=interrupt
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
gc_init "$@"
gc_require_cmds tc

ns_a="gc-int-$$-a"
ns_b="gc-int-$$-b"
listen="10.88.43.2:7413"
name="interrupted"
tree="$GC_TMP/tree"
state="$GC_TMP/server-state"

gc_make_tree "$tree" --random-mib 200
gc_ns_pair_up "$ns_a" "$ns_b" 43
# ~25 MB/s from the golden client: the ~225 MiB capture takes ~9 s, long enough
# to kill it in the middle whatever the machine's speed.
ip netns exec "$ns_a" tc qdisc add dev gca root tbf rate 200mbit burst 256kb latency 100ms ||
  gc_fail "could not throttle the veth in $ns_a with tc tbf"

gc_prepareclient_start "$ns_a" "$listen" "$tree" "$name" keep --keep-serving

get_log="$GC_TMP/getimage-killed.log"
gc_start_bg "$ns_b" "$get_log" "$GOLDCAST" --state "$state" getimage --golden-client "$listen" \
  --token "$GC_TOKEN" --pin "$GC_PIN" --image "$name" --json
get_pid=$GC_LAST_PID

# Kill once a good part (>= 40 MiB) of the data has landed in the store.
deadline=$((SECONDS + 120))
while :; do
  kill -0 "$get_pid" 2>/dev/null ||
    gc_fail_with_file "getimage ended before it could be interrupted (throttle ineffective?)" "$get_log"
  used_kib=0
  [ -d "$state" ] && used_kib="$(du -sk "$state" 2>/dev/null | cut -f1)"
  [ "$used_kib" -lt 40960 ] || break
  [ "$SECONDS" -lt "$deadline" ] ||
    gc_fail_with_file "getimage stored only ${used_kib} KiB in 120 s" "$get_log"
  sleep 0.05
done
gc_kill_and_reap "$get_pid" KILL
gc_log "killed getimage with SIGKILL after ${used_kib} KiB had been stored"

gc_verify "$state"
versions="$(gc_image_versions "$state" "$name")"
[ -z "$versions" ] || gc_fail "image list shows version(s) '$versions' of $name after a killed capture"
[ ! -e "$state/store/images/$name/1/manifest" ] ||
  gc_fail "a manifest was published at store/images/$name/1 by the killed capture"
gc_expect_status 1 "image show of the unpublished version" "$GOLDCAST" --state "$state" image show \
  "$name@1"

# The agent keeps serving (and the token stays valid) after a broken transfer.
kill -0 "$GC_AGENT_PID" 2>/dev/null ||
  gc_fail_with_file "prepareclient --keep-serving died when getimage was killed" "$GC_AGENT_LOG"
ip netns exec "$ns_a" tc qdisc del dev gca root || gc_fail "could not remove the throttle"
gc_getimage "$ns_b" "$state" "$listen" "$name" "$GC_TMP/get-resumed.json"
version="$(gc_json_field "$GC_TMP/get-resumed.json" version)"
[ "$version" = 1 ] || gc_fail "the capture after the interrupted one published version $version, want 1"
gc_log "completed capture: $(cat "$GC_TMP/get-resumed.json")"
gc_verify "$state"
gc_verify "$state" "$name@1"
gc_export_and_compare "$state" "$name@1" "$tree" resumed

# SIGTERM stops a --keep-serving agent.
kill -TERM "$GC_AGENT_PID"
gc_wait_exit "$GC_AGENT_PID" 15
case "$GC_EXIT_STATUS" in
  0 | 143) ;;
  *) gc_fail_with_file "prepareclient exited $GC_EXIT_STATUS on SIGTERM, want 0" "$GC_AGENT_LOG" ;;
esac

# --- corruption --------------------------------------------------------------
victim="files/random-3m"
hash="$(sha256sum "$tree/$victim" | cut -d' ' -f1)"
obj="$state/store/objects/${hash:0:2}/$hash"
[ -f "$obj" ] || gc_fail "object $obj for $victim not found in the store"
python3 - "$obj" <<'EOF' || gc_fail "could not flip a byte in $obj"
import os, sys
path = sys.argv[1]
os.chmod(path, 0o644)
with open(path, "r+b") as f:
    f.seek(1000)
    b = f.read(1)
    f.seek(1000)
    f.write(bytes([b[0] ^ 0xFF]))
EOF
for ref in "" "$name@1"; do
  gc_expect_status 1 "image verify ${ref:-(all)} with a corrupted object" "$GOLDCAST" \
    --state "$state" image verify ${ref:+"$ref"}
  cat "$GC_OUT" "$GC_ERR" >"$GC_TMP/verify-corrupt.txt"
  grep -qF "$hash" "$GC_TMP/verify-corrupt.txt" ||
    gc_fail_with_file "image verify ${ref:-(all)} does not name the corrupted object $hash" \
      "$GC_TMP/verify-corrupt.txt"
  grep -qF "$victim" "$GC_TMP/verify-corrupt.txt" ||
    gc_fail_with_file "image verify ${ref:-(all)} does not name $victim, which uses object $hash" \
      "$GC_TMP/verify-corrupt.txt"
done
