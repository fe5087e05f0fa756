#!/usr/bin/env bash
# Bad input gets a clear error and loses nothing: a wrong capture token, a
# missing root, unknown images and versions, usage errors, tar archives with
# members that escape the root, and a store that runs out of space.
GC_TEST=bad_input
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
gc_init "$@"
gc_require_cmds curl unshare

ns_a="gc-bad-$$-a"
ns_b="gc-bad-$$-b"
listen="10.88.44.2:7414"
name="bad"
tree="$GC_TMP/tree"
state="$GC_TMP/server-state"

# Every error must follow the CLI's convention.
assert_error_message() {  # WHAT REGEX: on $GC_ERR
  grep -q '^goldcast: error: ' "$GC_ERR" ||
    gc_fail_with_file "$1: stderr lacks a 'goldcast: error: ' line" "$GC_ERR"
  gc_assert_grep "$1" "$2" "$GC_ERR"
}

# --- wrong token -------------------------------------------------------------
mkdir -p "$tree/etc"
printf 'golden\n' >"$tree/etc/hostname"
head -c 100000 /dev/urandom >"$tree/etc/data"
gc_ns_pair_up "$ns_a" "$ns_b" 44
gc_prepareclient_start "$ns_a" "$listen" "$tree" "$name" v1

# Another key than prepareclient's: refused at the handshake, nothing sent.
gc_expect_status 1 "getimage trusting another key" ip netns exec "$ns_b" "$GOLDCAST" \
  --state "$state" getimage --golden-client "$listen" --token "$GC_TOKEN" \
  --pin "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" --image "$name"
gc_assert_grep "the pin mismatch in the error" "does not match the pinned" "$GC_ERR"
gc_expect_status 1 "getimage with a wrong token" ip netns exec "$ns_b" "$GOLDCAST" \
  --state "$state" getimage --golden-client "$listen" --token "wrong-$GC_TOKEN" --pin "$GC_PIN" \
  --image "$name"
assert_error_message "getimage with a wrong token must say 401 / token" '401|token'
gc_assert_grep "getimage error must name the golden client" "${listen%:*}" "$GC_ERR"
versions="$(gc_image_versions "$state" "$name")"
[ -z "$versions" ] || gc_fail "a version ($versions) was published by a getimage with a wrong token"

# Any request with a wrong or missing token gets 401 from the agent; the right
# one gets through (so the 401s are about the token, not the path).
curl_code() {  # PATH [curl args...]
  local path="$1"
  shift
  ip netns exec "$ns_b" curl -s -o /dev/null -w '%{http_code}' --max-time 10 -k \
    --pinnedpubkey "$GC_PIN" "$@" "https://$listen$path" || true
}
for header in "Authorization: Bearer wrong-$GC_TOKEN" "Authorization: Bearer " "X-Nothing: none"; do
  for path in /v1/capture/manifest /v1/capture/layout /v1/capture/object/00 /; do
    code="$(curl_code "$path" -H "$header")"
    [ "$code" = 401 ] ||
      gc_fail "GET https://$listen$path with header '$header' returned HTTP $code, want 401"
  done
done
code="$(curl_code "/v1/capture/manifest?token=$GC_TOKEN")"
[ "$code" = 401 ] || gc_fail "a token in the query string was accepted (HTTP $code), want 401"
code="$(curl_code /v1/capture/done -X POST -H "Authorization: Bearer wrong-$GC_TOKEN")"
[ "$code" = 401 ] || gc_fail "POST /v1/capture/done with a wrong token returned HTTP $code, want 401"
code="$(curl_code /v1/capture/layout -H "Authorization: Bearer $GC_TOKEN")"
[ "$code" = 200 ] || gc_fail "GET /v1/capture/layout with the right token returned HTTP $code, want 200"

# Failed attempts do not burn the real token: the real capture still works.
kill -0 "$GC_AGENT_PID" 2>/dev/null ||
  gc_fail_with_file "prepareclient exited after requests with a wrong token" "$GC_AGENT_LOG"
gc_getimage "$ns_b" "$state" "$listen" "$name" "$GC_TMP/get1.json"
[ "$(gc_json_field "$GC_TMP/get1.json" version)" = 1 ] || gc_fail "capture after wrong tokens is not version 1"
gc_wait_exit "$GC_AGENT_PID" 30

# --- missing root ------------------------------------------------------------
gc_expect_status 1 "prepareclient --root /nonexistent" timeout 30 ip netns exec "$ns_a" \
  "$GOLDCAST_AGENT" prepareclient --root /nonexistent/gc-root --listen "$listen" \
  --state "$GC_TMP/agent-state" --token-file "$GC_TMP/token-nonexistent" --image "$name"
gc_assert_grep "prepareclient must name the missing root" '/nonexistent/gc-root' "$GC_ERR"
[ ! -e "$GC_TMP/token-nonexistent" ] || gc_fail "prepareclient wrote a token file for a missing root"

# --- unknown images and versions ----------------------------------------------
gc_expect_status 1 "image show nosuch" "$GOLDCAST" --state "$state" image show nosuch
assert_error_message "image show nosuch must name the image" 'nosuch'
gc_expect_status 1 "image show $name@99" "$GOLDCAST" --state "$state" image show "$name@99"
assert_error_message "image show $name@99 must name the version" '99'
gc_expect_status 1 "image export nosuch@1" "$GOLDCAST" --state "$state" image export nosuch@1 \
  -o "$GC_TMP/nosuch.tar"
[ ! -e "$GC_TMP/nosuch.tar" ] || gc_fail "image export of a missing image left $GC_TMP/nosuch.tar behind"

# --- hostile tar archives ----------------------------------------------------
snapshot() {  # STATE OUT: every path, type and size under the store
  (cd "$1" && find . -printf '%y %s %p\n' | LC_ALL=C sort) >"$2"
}
work="$GC_TMP/work/sub"
mkdir -p "$work"
abs_target="/tmp/gc-evil-abs-$$"
escape_dir="$GC_TMP/escape-$$"
mkdir "$escape_dir"
python3 - "$GC_TMP" "$abs_target" "$escape_dir" <<'EOF' || gc_fail "could not build the hostile tars"
import io, sys, tarfile
out, abs_target, escape_dir = sys.argv[1:4]
def add_file(t, name, data=b"payload\n"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    t.addfile(info, io.BytesIO(data))
def add_dir(t, name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    t.addfile(info)
# A good member first, so a half-done import would leave something behind.
with tarfile.open(out + "/dotdot.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add_dir(t, "etc")
    add_file(t, "etc/good", b"good content that must not leak into the store\n")
    add_file(t, "../evil")
with tarfile.open(out + "/absolute.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add_dir(t, "etc")
    add_file(t, "etc/good", b"good content, absolute archive\n")
    add_file(t, abs_target)
with tarfile.open(out + "/through-symlink.tar", "w", format=tarfile.PAX_FORMAT) as t:
    link = tarfile.TarInfo("escape")
    link.type = tarfile.SYMTYPE
    link.linkname = escape_dir
    t.addfile(link)
    add_file(t, "escape/owned")
EOF

gc_verify "$state"
snapshot "$state" "$GC_TMP/store-before.txt"
for t in dotdot absolute through-symlink; do
  (cd "$work" && gc_expect_status 1 "image import --tar $t.tar" "$GOLDCAST" --state "$state" \
    image import --tar "$GC_TMP/$t.tar" --image "evil-$t")
  GC_ERR="$GC_TMP/last.err"
  case "$t" in
    dotdot) assert_error_message "import of a '../evil' member must name it" '\.\./evil|\.\.' ;;
    absolute) assert_error_message "import of an absolute member must name it" "$abs_target|absolute" ;;
    through-symlink) assert_error_message "import through a symlink must name the member" 'escape' ;;
  esac
  versions="$(gc_image_versions "$state" "evil-$t")"
  [ -z "$versions" ] || gc_fail "import of $t.tar published version(s) '$versions'"
done
[ ! -e "$GC_TMP/work/evil" ] || gc_fail "import of dotdot.tar wrote $GC_TMP/work/evil"
[ ! -e "$abs_target" ] || { rm -f "$abs_target"; gc_fail "import of absolute.tar wrote $abs_target"; }
[ ! -e "$escape_dir/owned" ] || gc_fail "import of through-symlink.tar wrote $escape_dir/owned"
gc_verify "$state"
gc_expect_status 0 "image gc" "$GOLDCAST" --state "$state" image gc
snapshot "$state" "$GC_TMP/store-after.txt"
if ! diff -u "$GC_TMP/store-before.txt" "$GC_TMP/store-after.txt" >"$GC_TMP/store.diff"; then
  gc_fail_with_file "refused imports changed the store (after image gc); diff before/after" \
    "$GC_TMP/store.diff"
fi

# --- full disk ---------------------------------------------------------------
# An 8 MiB tmpfs as the state directory, in a private mount namespace (the
# mount vanishes with it, whatever happens), and a 20 MiB import.
big="$GC_TMP/big20"
mkdir -p "$big/data"
for i in 1 2 3 4 5; do head -c $((4 * 1024 * 1024)) /dev/urandom >"$big/data/chunk-$i"; done
small="$GC_TMP/small-state"
mkdir "$small"
res="$GC_TMP/full"
mkdir "$res"
unshare -m --propagation private bash -c '
  state="$1" goldcast="$2" src="$3" res="$4"
  mount -t tmpfs -o size=8m gc-full-test "$state" || exit 90
  run() {  # TAG CMD...
    local tag="$1"; shift
    "$@" >"$res/$tag.out" 2>"$res/$tag.err"
    echo $? >"$res/$tag.rc"
  }
  run import "$goldcast" --state "$state" image import --dir "$src" --image full
  run list "$goldcast" --state "$state" image list --json
  run verify "$goldcast" --state "$state" image verify
  run gc "$goldcast" --state "$state" image gc
  run verify2 "$goldcast" --state "$state" image verify
  df -k --output=used "$state" | tail -n 1 | tr -d " " >"$res/used-kib"
  (cd "$state" && find . -type f -printf "%s %p\n") >"$res/files-after-gc"
' _ "$small" "$GOLDCAST" "$big" "$res" || gc_fail "could not mount an 8 MiB tmpfs in a private mount namespace"

[ "$(cat "$res/import.rc")" = 1 ] ||
  gc_fail_with_file "import of 20 MiB into an 8 MiB store exited $(cat "$res/import.rc"), want 1" "$res/import.err"
GC_ERR="$res/import.err"
assert_error_message "a full store must say so" 'no space|space left|ENOSPC|disk full'
[ "$(cat "$res/list.rc")" = 0 ] || gc_fail_with_file "image list failed on the full store" "$res/list.err"
python3 - "$res/list.out" <<'EOF' || gc_fail_with_file "a version of 'full' is listed after the failed import" "$res/list.out"
import json, sys
data = json.load(open(sys.argv[1]))
items = data["images"] if isinstance(data, dict) else data
assert not any(i.get("name") == "full" for i in items), items
EOF
[ "$(cat "$res/verify.rc")" = 0 ] || gc_fail_with_file "image verify fails after the failed import" "$res/verify.err"
[ "$(cat "$res/gc.rc")" = 0 ] || gc_fail_with_file "image gc fails after the failed import" "$res/gc.err"
[ "$(cat "$res/verify2.rc")" = 0 ] || gc_fail_with_file "image verify fails after image gc" "$res/verify2.err"
leftover="$(awk '{s+=$1} END {print s+0}' "$res/files-after-gc")"
[ "$leftover" -lt $((512 * 1024)) ] ||
  gc_fail_with_file "after the failed import and image gc, $leftover bytes of files remain in the store (partial data leaked)" "$res/files-after-gc"

# --- usage errors exit 2 -------------------------------------------------------
gc_expect_status 2 "unknown subcommand" "$GOLDCAST" --state "$state" frobnicate
gc_expect_status 2 "image show without a name" "$GOLDCAST" --state "$state" image show
gc_expect_status 2 "getimage without --token" "$GOLDCAST" --state "$state" getimage \
  --golden-client "$listen" --pin "$GC_PIN" --image "$name"
gc_expect_status 2 "getimage without --pin" "$GOLDCAST" --state "$state" getimage \
  --golden-client "$listen" --token x --image "$name"
gc_expect_status 2 "prepareclient with an unknown option" "$GOLDCAST_AGENT" prepareclient \
  --no-such-option
