#!/usr/bin/env bash
# The image server's state is root's alone (issue 10, finding 8): the store
# holds every image's /etc/shadow and ssh host keys, the registry every
# node's secret. A local user other than root reads none of it: not through
# a state directory goldcast made, nor through one an older goldcast made
# world-readable (tightened on first use), nor from an export.
GC_TEST=state_private
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
gc_init "$@"
gc_require_cmds runuser
# The test's own directory open to all, so that only goldcast's modes stop
# user nobody.
chmod 755 "$GC_TMP"

tree="$GC_TMP/tree"
mkdir -p "$tree/etc"
echo 'root:$6$secret-hash:19000:0:99999:7:::' >"$tree/etc/shadow"
chmod 640 "$tree/etc/shadow"
echo golden >"$tree/etc/hostname"

# nobody_reads PATH: true when user nobody can read PATH.
nobody_reads() { runuser -u nobody -- cat "$1" >/dev/null 2>&1; }

state="$GC_TMP/state"
gc_expect_status 0 "image import" "$GOLDCAST" --state "$state" image import --dir "$tree" --image golden
shadow_hash="$(sha256sum <"$tree/etc/shadow" | cut -d' ' -f1)"
object="$state/store/objects/${shadow_hash:0:2}/$shadow_hash"
[ -f "$object" ] || gc_fail "the store has no object for /etc/shadow at $object"
[ "$(stat -c %a "$state")" = 700 ] || gc_fail "the state directory has mode $(stat -c %a "$state"), want 700"
[ "$(stat -c %a "$object")" = 400 ] || gc_fail "an object has mode $(stat -c %a "$object"), want 400"
# Even past the state directory, the store and objects stay closed.
chmod 755 "$state"
nobody_reads "$object" && gc_fail "user nobody reads /etc/shadow out of the store"
gc_log "nobody cannot read the store's copy of /etc/shadow (state 700, objects 400)"

# A state directory as an older goldcast left it: tightened on first use.
chmod 755 "$state"
gc_expect_status 0 "image list" "$GOLDCAST" --state "$state" image list
[ "$(stat -c %a "$state")" = 700 ] || gc_fail "a 0755 state directory stayed $(stat -c %a "$state")"
grep -q "made $state private" "$GC_ERR" || gc_fail_with_file "no notice that the state directory was made private" "$GC_ERR"

# Exports carry /etc/shadow too.
gc_expect_status 0 "image export" "$GOLDCAST" --state "$state" image export golden@1 -o "$GC_TMP/golden.tar"
nobody_reads "$GC_TMP/golden.tar" && gc_fail "user nobody reads the export (mode $(stat -c %a "$GC_TMP/golden.tar"))"
gc_log "PASS"
