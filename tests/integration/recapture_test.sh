#!/usr/bin/env bash
# Captures a tree (v1), changes a few files (three small rewrites, 4 KiB
# appended to the 20 MiB file, one file added, one deleted) and captures again
# (v2). The second capture must move only about what changed (a librsync delta
# for the big file), its export must match the changed tree, and
# `image diff NAME@1 NAME@2` must list exactly the changed paths.
GC_TEST=recapture
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
gc_init "$@"

ns_a="gc-rc-$$-a"
ns_b="gc-rc-$$-b"
listen="10.88.42.2:7412"
name="recap"
tree="$GC_TMP/tree"
state="$GC_TMP/server-state"

gc_make_tree "$tree"
gc_ns_pair_up "$ns_a" "$ns_b" 42

gc_prepareclient_start "$ns_a" "$listen" "$tree" "$name" v1
gc_getimage "$ns_b" "$state" "$listen" "$name" "$GC_TMP/get1.json"
[ "$(gc_json_field "$GC_TMP/get1.json" version)" = 1 ] || gc_fail "first capture is not version 1"
gc_wait_exit "$GC_AGENT_PID" 30

# --- change the tree ---------------------------------------------------------
# Parent directory mtimes are put back afterwards, so the only differences
# between v1 and v2 are the six paths below.
big_v1_hash="$(sha256sum "$tree/files/big-20m" | cut -d' ' -f1)"
saved_mtime() { stat -c '%.9Y' "$1"; }
files_mtime="$(saved_mtime "$tree/files")"
names_mtime="$(saved_mtime "$tree/names")"
changed_bytes=0
for f in files/small-1 files/small-2 "names/dir with spaces/file with spaces.txt"; do
  printf 'rewritten for v2: %s\n' "$f" >"$tree/$f"
  changed_bytes=$((changed_bytes + $(stat -c %s "$tree/$f")))
done
head -c 4096 /dev/urandom >>"$tree/files/big-20m"
changed_bytes=$((changed_bytes + 4096))
printf 'a new file in v2\n' >"$tree/files/added-in-v2"
changed_bytes=$((changed_bytes + $(stat -c %s "$tree/files/added-in-v2")))
rm "$tree/files/small-5"
touch -m -d "@$files_mtime" "$tree/files"
touch -m -d "@$names_mtime" "$tree/names"
# Exactly these paths differ between v1 and v2.
expected_paths=(
  "files/added-in-v2"
  "files/big-20m"
  "files/small-1"
  "files/small-2"
  "files/small-5"
  "names/dir with spaces/file with spaces.txt"
)

gc_prepareclient_start "$ns_a" "$listen" "$tree" "$name" v2
gc_getimage "$ns_b" "$state" "$listen" "$name" "$GC_TMP/get2.json"
gc_wait_exit "$GC_AGENT_PID" 30
[ "$GC_EXIT_STATUS" -eq 0 ] ||
  gc_fail_with_file "prepareclient exited $GC_EXIT_STATUS after the second capture" "$GC_AGENT_LOG"

version="$(gc_json_field "$GC_TMP/get2.json" version)"
[ "$version" = 2 ] || gc_fail "second capture published version $version, want 2"
total="$(gc_json_field "$GC_TMP/get2.json" bytes_total)"
transferred="$(gc_json_field "$GC_TMP/get2.json" bytes_transferred)"
deltas="$(gc_json_field "$GC_TMP/get2.json" deltas)"
fetched="$(gc_json_field "$GC_TMP/get2.json" objects_fetched)"
gc_log "v2: bytes_total=$total bytes_transferred=$transferred deltas=$deltas objects_fetched=$fetched (changed ~$changed_bytes bytes)"
limit=$((2 * 1024 * 1024))
[ "$transferred" -lt "$limit" ] ||
  gc_fail "re-capture moved $transferred bytes for ~$changed_bytes changed bytes; want < $limit (manifest + deltas). JSON: $(cat "$GC_TMP/get2.json")"
[ $((transferred * 10)) -lt "$total" ] ||
  gc_fail "re-capture moved $transferred of $total bytes (>= 10%); only a few files changed. JSON: $(cat "$GC_TMP/get2.json")"
[ "$deltas" -ge 1 ] ||
  gc_fail "re-capture used no delta for files/big-20m (4 KiB appended to 20 MiB); deltas=$deltas. JSON: $(cat "$GC_TMP/get2.json")"
# Four changed contents plus one new file: at most a few objects.
[ "$fetched" -le 5 ] ||
  gc_fail "re-capture fetched $fetched objects; only 5 contents are new. JSON: $(cat "$GC_TMP/get2.json")"

gc_verify "$state"
gc_verify "$state" "$name@1"
# v1's content of the big file must still be stored next to v2's.
for h in "$big_v1_hash" "$(sha256sum "$tree/files/big-20m" | cut -d' ' -f1)"; do
  [ -f "$state/store/objects/${h:0:2}/$h" ] ||
    gc_fail "object $h of files/big-20m (v1 or v2) is missing from the store"
done
versions="$(gc_image_versions "$state" "$name" | tr '\n' ' ')"
[ "$versions" = "1 2 " ] || gc_fail "image list shows versions '$versions' of $name, want '1 2'"

gc_export_and_compare "$state" "$name@2" "$tree" v2

# --- image diff ----------------------------------------------------------------
# --json: a list of {"path": "/a/b", "change": "+"|"-"|"M", "detail": "content,mtime"}.
gc_expect_status 0 "image diff $name@1 $name@2 --json" "$GOLDCAST" --state "$state" image diff \
  "$name@1" "$name@2" --json
cp "$GC_OUT" "$GC_TMP/diff.json"
{
  printf '+ files/added-in-v2\n'
  printf 'M files/big-20m content\n'
  printf 'M files/small-1 content\n'
  printf 'M files/small-2 content\n'
  printf -- '- files/small-5\n'
  printf 'M names/dir with spaces/file with spaces.txt content\n'
} >"$GC_TMP/diff.want"
python3 - "$GC_TMP/diff.json" >"$GC_TMP/diff.got" <<'EOF' ||
import json, sys
for item in sorted(json.load(open(sys.argv[1])), key=lambda i: i["path"]):
    path = item["path"]
    path = path[1:] if path.startswith("/") else path
    line = item["change"] + " " + path
    # A changed content must say so; other details (mtime) are not checked.
    if item["change"] == "M" and "content" in item.get("detail", "").split(","):
        line += " content"
    print(line)
EOF
  gc_fail_with_file "cannot read image diff --json" "$GC_TMP/diff.json"
if ! diff -u "$GC_TMP/diff.want" "$GC_TMP/diff.got" >"$GC_TMP/diff.cmp"; then
  gc_fail_with_file "image diff $name@1 $name@2 does not list exactly the changed paths (diff -u want got)" "$GC_TMP/diff.cmp"
fi

# The plain-text diff names the same paths, and nothing unchanged.
gc_expect_status 0 "image diff (text)" "$GOLDCAST" --state "$state" image diff "$name@1" "$name@2"
for p in "${expected_paths[@]}"; do
  grep -qF -- "$p" "$GC_OUT" || gc_fail_with_file "text image diff does not mention $p" "$GC_OUT"
done
lines="$(grep -c . "$GC_OUT")"
[ "$lines" -eq "${#expected_paths[@]}" ] ||
  gc_fail_with_file "text image diff has $lines lines for ${#expected_paths[@]} changed paths" "$GC_OUT"

# Diffing a version with itself lists nothing.
gc_expect_status 0 "image diff $name@2 $name@2" "$GOLDCAST" --state "$state" image diff \
  "$name@2" "$name@2" --json
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])) == [] else 1)' "$GC_OUT" ||
  gc_fail_with_file "image diff of a version with itself is not empty" "$GC_OUT"
