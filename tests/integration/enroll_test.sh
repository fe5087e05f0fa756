#!/usr/bin/env bash
# Enrollment (issue 10, finding 1): with naming.enroll: manual, the
# default, a MAC anyone invents on the boot LAN is not named and gets no
# secret, no kernel and no image: its boot script only waits. It shows as
# pending in `goldcast nodes list`; `goldcast nodes accept` names pending
# machines in the order they first booted, and only then does a machine get
# its install. Against a running serve in a lab namespace, no VM.
GC_TEST=enroll
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"

gc_vm_lab_up "gc-en-$$" 64
state="$GC_TMP/state"
profile="$GC_TMP/profile.yaml"
gc_vm_profile lab.yaml "$profile" PREFIX=mosix
sed -i 's/^  enroll: auto.*/  enroll: manual/' "$profile"
grep -q '^  enroll: manual' "$profile" || gc_fail "could not make the lab profile manual"
gc_serve_start "$state" "$profile"

# boot_script MAC: the boot script serve gives MAC, in $GC_OUT.
boot_script() {
  gc_vm_http "/boot/ipxe?mac=$1&platform=pcbios&arch=x86_64"
  [ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "GET /boot/ipxe for $1: HTTP $GC_HTTP_STATUS" "$GC_OUT"
}

# Two invented MACs, the second first booted later.
boot_script 52:54:00:de:ad:02
cp "$GC_OUT" "$GC_TMP/waiting.ipxe"
sleep 1.1
boot_script 52:54:00:de:ad:01
boot_script 52:54:00:de:ad:02  # asks again: keeps its first boot time
for word in goldcast.secret goldcast.token 'kernel ' initrd goldcast.node; do
  grep -qF -- "$word" "$GC_TMP/waiting.ipxe" &&
    gc_fail_with_file "an unknown MAC's script carries '$word'" "$GC_TMP/waiting.ipxe"
done
gc_assert_grep "the waiting script says what to do" \
  'waits for approval; on the server: goldcast nodes accept 52:54:00:de:ad:02' "$GC_TMP/waiting.ipxe"
gc_log "an invented MAC gets a script that only waits"

gc_expect_status 0 "nodes list --json" "$GOLDCAST" --state "$state" nodes list --json
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$GC_OUT")" = 0 ] || gc_fail_with_file "pending machines became nodes" "$GC_OUT"
gc_expect_status 0 "nodes list" "$GOLDCAST" --state "$state" nodes list
gc_assert_grep "nodes list shows the pending machines" '2 machine\(s\) pending' "$GC_OUT"
gc_assert_grep "nodes list shows a pending MAC and its firmware" \
  '^52:54:00:de:ad:01 +10\.77\.64\.1 +x86_64 pcbios' "$GC_OUT"
gc_expect_status 0 "nodes pending --json" "$GOLDCAST" --state "$state" nodes pending --json
python3 - "$GC_OUT" <<'PY' || gc_fail_with_file "nodes pending --json is not the two machines in first-boot order" "$GC_OUT"
import json, sys
p = json.load(open(sys.argv[1]))
assert [m["mac"] for m in p] == ["52:54:00:de:ad:02", "52:54:00:de:ad:01"], p
assert all(m["state"] == "pending" and m["first_seen_ns"] > 0 for m in p), p
PY

# The node API knows no such node.
gc_vm_https "$state" /v1/node/plan -H 'X-Goldcast-Node: mosix1' -H 'Authorization: Bearer x'
[ "$GC_HTTP_STATUS" = 401 ] || gc_fail "the node API answered $GC_HTTP_STATUS for a pending machine"

gc_expect_status 1 "accept of a MAC that is not pending" "$GOLDCAST" --state "$state" nodes accept \
  52:54:00:de:ad:01 52:54:00:de:ad:99
gc_assert_grep "the refusal names the MAC" '52:54:00:de:ad:99 is not waiting for approval' "$GC_ERR"
gc_expect_status 0 "nodes accept --all" "$GOLDCAST" --state "$state" nodes accept --all
gc_assert_grep "the first to boot is mosix1" '^accepted 52:54:00:de:ad:02 as mosix1' "$GC_OUT"
gc_assert_grep "the second is mosix2" '^accepted 52:54:00:de:ad:01 as mosix2' "$GC_OUT"
boot_script 52:54:00:de:ad:02
gc_assert_grep "an accepted machine installs" '^echo goldcast: mosix1 \(install\)' "$GC_OUT"
gc_expect_status 0 "nodes pending" "$GOLDCAST" --state "$state" nodes pending
gc_assert_grep "no machine waits any more" 'no machine is waiting for approval' "$GC_OUT"
gc_log "PASS"
