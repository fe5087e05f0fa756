#!/usr/bin/env bash
# Captures a tree holding every file type and metadata kind from a golden
# client (namespace A) into an image store (namespace B), verifies the store,
# exports the image as a pax tar and extracts it with GNU tar and bsdtar: both
# must match the source exactly under rsync -naHAXc, except the unix socket
# (tar cannot hold sockets), which must still be in the image's manifest.
GC_TEST=capture_roundtrip
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
gc_init "$@"

ns_a="gc-rt-$$-a"
ns_b="gc-rt-$$-b"
listen="10.88.41.2:7411"
name="roundtrip"
tree="$GC_TMP/tree"
state="$GC_TMP/server-state"

gc_make_tree "$tree"
gc_ns_pair_up "$ns_a" "$ns_b" 41

gc_prepareclient_start "$ns_a" "$listen" "$tree" "$name" v1
gc_check_printed_command "$name" "$listen"
gc_getimage "$ns_b" "$state" "$listen" "$name" "$GC_TMP/get1.json"

version="$(gc_json_field "$GC_TMP/get1.json" version)"
[ "$version" = 1 ] || gc_fail "first capture published version $version, want 1"

# Totals reported by getimage must describe the tree.
want_files="$(find "$tree" -type f | wc -l)"
want_bytes="$(find "$tree" -type f -links 1 -printf '%s\n' | awk '{s+=$1} END {print s+0}')"
hard_bytes="$(find "$tree" -type f -links +1 -printf '%i %s\n' | sort -u | awk '{s+=$2} END {print s+0}')"
got_files="$(gc_json_field "$GC_TMP/get1.json" files)"
got_total="$(gc_json_field "$GC_TMP/get1.json" bytes_total)"
# A hardlink set counts as one file or as all its names, depending on how the
# manifest counts kHardlink entries; both are correct.
uniq_files=$((want_files - $(find "$tree" -type f -links +1 | wc -l) + $(find "$tree" -type f -links +1 -printf '%i\n' | sort -u | wc -l)))
[ "$got_files" = "$want_files" ] || [ "$got_files" = "$uniq_files" ] ||
  gc_fail "getimage reported files=$got_files, the tree has $want_files regular file names ($uniq_files inodes)"
want_total=$((want_bytes + hard_bytes))
[ "$got_total" = "$want_total" ] ||
  gc_fail "getimage reported bytes_total=$got_total, the tree holds $want_total bytes of regular files"
transferred="$(gc_json_field "$GC_TMP/get1.json" bytes_transferred)"
[ "$transferred" -ge $((want_total / 2)) ] ||
  gc_fail "first capture reported bytes_transferred=$transferred for $want_total bytes of random data; it cannot have fetched everything"

# Without --keep-serving the agent ends by itself after the capture.
gc_wait_exit "$GC_AGENT_PID" 30
[ "$GC_EXIT_STATUS" -eq 0 ] ||
  gc_fail_with_file "prepareclient exited $GC_EXIT_STATUS after a successful capture" "$GC_AGENT_LOG"

gc_verify "$state"
gc_verify "$state" "$name@1"

# The store layout is a contract (docs/store-format.md).
for f in manifest layout.json capture.json; do
  [ -s "$state/store/images/$name/1/$f" ] ||
    gc_fail "store has no $state/store/images/$name/1/$f after the capture"
done
obj_hash="$(sha256sum "$tree/files/random-3m" | cut -d' ' -f1)"
obj="$state/store/objects/${obj_hash:0:2}/$obj_hash"
[ -f "$obj" ] || gc_fail "object for files/random-3m not at $obj"
cmp -s "$obj" "$tree/files/random-3m" || gc_fail "object $obj does not hold files/random-3m's raw content"

# The socket is in the image even though tar cannot carry it.
gc_expect_status 0 "image show --files" "$GOLDCAST" --state "$state" image show "$name@1" --files
cp "$GC_OUT" "$GC_TMP/show-files.txt"
gc_assert_grep "image show --files must list the socket" 'devices/socket' "$GC_TMP/show-files.txt"
gc_assert_grep "image show --files must list the fifo" 'devices/fifo' "$GC_TMP/show-files.txt"
gc_assert_grep "manifest must hold the socket" 'devices/socket' "$state/store/images/$name/1/manifest"
gc_assert_grep "image show --files must list the UTF-8 name" 'ünïcødé-名前|%C3%BCn%C3%AF' \
  "$GC_TMP/show-files.txt"

# A tag (image tag NAME@V TAG) resolves as NAME:TAG.
gc_expect_status 0 "image tag" "$GOLDCAST" --state "$state" image tag "$name@1" golden
gc_expect_status 0 "image show by tag" "$GOLDCAST" --state "$state" image show "$name:golden" --json
python3 - "$GC_OUT" <<'EOF' || gc_fail_with_file "image show $name:golden does not resolve to version 1" "$GC_OUT"
import json, sys
obj = json.load(open(sys.argv[1]))
assert obj.get("version") == 1, obj
EOF

gc_export_and_compare "$state" "$name@1" "$tree" v1

# The zstd export holds the same tar stream.
gc_expect_status 0 "image export --zstd" "$GOLDCAST" --state "$state" image export "$name@1" \
  -o "$GC_TMP/export.tar.zst" --zstd
out="$GC_TMP/out-zstd"
mkdir "$out"
tar --zstd --xattrs --xattrs-include='*' --acls --numeric-owner -xpf "$GC_TMP/export.tar.zst" \
  -C "$out" 2>"$GC_TMP/zstd.err" ||
  gc_fail_with_file "GNU tar --zstd could not extract the --zstd export" "$GC_TMP/zstd.err"
gc_rsync_compare "$tree" "$out" "zstd export extracted with GNU tar" '^cS\+{9} devices/socket$'
