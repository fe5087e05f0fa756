# Shared helpers for tests/integration/*_test.sh. Source it after setting
# GC_TEST (the test's short name):
#
#   GC_TEST=capture_roundtrip
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   gc_init "$@"          # checks root, tools, binaries; makes $GC_TMP; sets the trap
#
# Network rule: every test makes its own namespaces (gc_ns_pair_up) joined by a
# veth pair that exists only inside them. Nothing binds to or sends on the
# host's interfaces. The EXIT trap (gc_cleanup) kills only the PIDs recorded by
# gc_start_bg, deletes only the namespaces this test made, unmounts only what it
# mounted, and removes $GC_TMP (kept when GC_KEEP_TMP=1, for debugging).
# shellcheck shell=bash

set -euo pipefail

GC_TEST="${GC_TEST:-$(basename "$0" .sh)}"
GC_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
GC_PIDS=()
GC_NETNS=()
GC_MOUNTS=()
GC_TMP=""
GC_LAST_PID=""
GOLDCAST=""
GOLDCAST_AGENT=""

gc_log() {
  echo "[$GC_TEST] $*" >&2
}

# Prints the failed check and its evidence, then exits 1 (the trap cleans up).
gc_fail() {
  echo "[$GC_TEST] FAIL: $*" >&2
  exit 1
}

# gc_fail_with_file MSG FILE: fails, printing FILE's content (e.g. a log) as evidence.
gc_fail_with_file() {
  local msg="$1" file="$2"
  {
    echo "[$GC_TEST] FAIL: $msg"
    echo "----- $file -----"
    if [ -f "$file" ]; then tail -n 60 "$file"; else echo "(missing)"; fi
    echo "-----"
  } >&2
  exit 1
}

gc_require_cmds() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 ||
      gc_fail "required tool '$c' not found; run scripts/install-deps.sh"
  done
}

# gc_init GOLDCAST GOLDCAST_AGENT: validates the arguments ctest passes.
gc_init() {
  [ $# -eq 2 ] || gc_fail "usage: bash $0 <path-to-goldcast> <path-to-goldcast-agent>"
  [ "$(id -u)" -eq 0 ] || gc_fail "integration tests need root (namespaces, devices, chown)"
  [ -x "$1" ] || gc_fail "goldcast binary '$1' is missing or not executable"
  [ -x "$2" ] || gc_fail "goldcast-agent binary '$2' is missing or not executable"
  GOLDCAST="$(realpath "$1")"
  GOLDCAST_AGENT="$(realpath "$2")"
  gc_require_cmds ip python3 rsync tar bsdtar setfacl setfattr setcap
  GC_TMP="$(mktemp -d "${TMPDIR:-/tmp}/gc-$GC_TEST.XXXXXX")"
  trap gc_cleanup EXIT
  trap 'exit 130' INT TERM
  gc_log "temp dir $GC_TMP"
}

gc_cleanup() {
  local rc=$? pid i
  set +e
  for pid in "${GC_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${GC_PIDS[@]}"; do
    for i in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  gc_ns_down
  for ((i = ${#GC_MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${GC_MOUNTS[$i]}" 2>/dev/null || umount -l "${GC_MOUNTS[$i]}" 2>/dev/null
  done
  if [ -n "$GC_TMP" ] && [ -d "$GC_TMP" ]; then
    if [ "${GC_KEEP_TMP:-0}" = 1 ]; then
      echo "[$GC_TEST] kept $GC_TMP (GC_KEEP_TMP=1)" >&2
    else
      rm -rf "$GC_TMP"
    fi
  fi
  if [ "$rc" -eq 0 ]; then
    echo "[$GC_TEST] ${GC_DONE_MESSAGE:-PASS}" >&2
  else
    echo "[$GC_TEST] exit status $rc" >&2
  fi
  exit "$rc"
}

# gc_ns_pair_up NAME_A NAME_B K: namespaces A (10.88.K.2/24) and B
# (10.88.K.1/24) joined by a veth pair created inside A with its peer moved
# straight into B, so no interface ever exists in the host namespace.
gc_ns_pair_up() {
  local a="$1" b="$2" k="$3"
  ip netns add "$a" || gc_fail "ip netns add $a failed"
  GC_NETNS+=("$a")
  ip netns add "$b" || gc_fail "ip netns add $b failed"
  GC_NETNS+=("$b")
  ip -n "$a" link set lo up
  ip -n "$b" link set lo up
  ip -n "$a" link add gca type veth peer name gcb netns "$b" ||
    gc_fail "could not create the veth pair between $a and $b"
  ip -n "$a" addr add "10.88.$k.2/24" dev gca
  ip -n "$b" addr add "10.88.$k.1/24" dev gcb
  ip -n "$a" link set gca up
  ip -n "$b" link set gcb up
}

gc_ns_down() {
  local ns
  for ns in "${GC_NETNS[@]}"; do
    ip netns del "$ns" 2>/dev/null
  done
  GC_NETNS=()
  return 0
}

# gc_start_bg NS LOG CMD...: runs CMD in namespace NS (or the current one when NS
# is "-") in the background with stdout+stderr to LOG; records the PID in
# GC_PIDS and GC_LAST_PID. `ip netns exec` execs CMD, so the PID is CMD itself.
# Call it directly, never in $(...): a subshell would lose the record.
gc_start_bg() {
  local ns="$1" log="$2"
  shift 2
  if [ "$ns" = "-" ]; then
    "$@" >"$log" 2>&1 &
  else
    ip netns exec "$ns" "$@" >"$log" 2>&1 &
  fi
  GC_LAST_PID=$!
  GC_PIDS+=("$GC_LAST_PID")
}

# gc_wait_for_file FILE TIMEOUT_S [PID [LOG]]: waits until FILE exists and is
# non-empty; fails early (with LOG as evidence) if PID exits first.
gc_wait_for_file() {
  local file="$1" timeout="$2" pid="${3:-}" log="${4:-}" deadline
  deadline=$((SECONDS + timeout))
  while [ ! -s "$file" ]; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      gc_fail_with_file "process $pid exited before writing $file" "${log:-/dev/null}"
    fi
    [ "$SECONDS" -lt "$deadline" ] ||
      gc_fail_with_file "timed out after ${timeout}s waiting for $file" "${log:-/dev/null}"
    sleep 0.05
  done
}

# gc_wait_exit PID TIMEOUT_S: waits for a PID from gc_start_bg to exit and sets
# GC_EXIT_STATUS to its status; fails if it is still running after TIMEOUT_S.
gc_wait_exit() {
  local pid="$1" timeout="$2" deadline
  deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || gc_fail "process $pid still running after ${timeout}s"
    sleep 0.05
  done
  GC_EXIT_STATUS=0
  wait "$pid" || GC_EXIT_STATUS=$?
  gc_forget_pid "$pid"
}

# gc_kill_and_reap PID SIGNAL: signals a PID from gc_start_bg and reaps it.
gc_kill_and_reap() {
  local pid="$1" sig="$2"
  kill "-$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  gc_forget_pid "$pid"
}

# Drops a reaped PID from GC_PIDS so the cleanup can never signal a reused PID.
gc_forget_pid() {
  local keep=() p
  for p in "${GC_PIDS[@]}"; do
    [ "$p" = "$1" ] || keep+=("$p")
  done
  GC_PIDS=("${keep[@]}")
}

# gc_expect_status WANT DESCRIPTION CMD...: runs CMD, capturing stdout to
# $GC_OUT and stderr to $GC_ERR (files), and fails unless it exits with WANT.
gc_expect_status() {
  local want="$1" what="$2" rc=0
  shift 2
  GC_OUT="$GC_TMP/last.out"
  GC_ERR="$GC_TMP/last.err"
  "$@" >"$GC_OUT" 2>"$GC_ERR" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    {
      echo "[$GC_TEST] FAIL: $what: expected exit $want, got $rc"
      echo "command: $*"
      echo "----- stdout -----"
      head -c 4000 "$GC_OUT"
      echo "----- stderr -----"
      head -c 4000 "$GC_ERR"
      echo "-----"
    } >&2
    exit 1
  fi
}

# gc_assert_grep WHAT REGEX FILE: fails unless FILE has a line matching the
# extended REGEX (case-insensitive).
gc_assert_grep() {
  local what="$1" re="$2" file="$3"
  grep -qiE -- "$re" "$file" || gc_fail_with_file "$what: no line matches /$re/" "$file"
}

# gc_assert_no_grep WHAT REGEX FILE: fails if FILE has a line matching the
# extended REGEX (case-insensitive).
gc_assert_no_grep() {
  local what="$1" re="$2" file="$3"
  ! grep -qiE -- "$re" "$file" || gc_fail_with_file "$what: a line matches /$re/" "$file"
}

# gc_make_tree DIR [make-test-tree options]: builds the standard test tree.
gc_make_tree() {
  local dir="$1"
  shift
  bash "$GC_REPO/scripts/make-test-tree.sh" "$@" "$dir" >"$GC_TMP/make-tree.log" 2>&1 ||
    gc_fail_with_file "scripts/make-test-tree.sh $* $dir failed" "$GC_TMP/make-tree.log"
}

# gc_prepareclient_start NS_A LISTEN ROOT NAME TAG [extra agent args...]:
# starts `goldcast-agent prepareclient` in namespace NS_A and waits until it
# listens (its --token-file appears). Sets GC_AGENT_PID, GC_AGENT_LOG (stdout +
# stderr), GC_TOKEN and GC_PIN (its TLS key's). TAG names the run's files. The
# agent's state directory is $GC_TMP/agent-state, outside ROOT.
gc_prepareclient_start() {
  local ns="$1" listen="$2" root="$3" name="$4" tag="$5"
  shift 5
  local token_file="$GC_TMP/token-$tag"
  GC_AGENT_LOG="$GC_TMP/agent-$tag.log"
  rm -f "$token_file"
  gc_start_bg "$ns" "$GC_AGENT_LOG" "$GOLDCAST_AGENT" prepareclient --root "$root" \
    --listen "$listen" --state "$GC_TMP/agent-state" --token-file "$token_file" \
    --image "$name" "$@"
  GC_AGENT_PID=$GC_LAST_PID
  gc_wait_for_file "$token_file" 120 "$GC_AGENT_PID" "$GC_AGENT_LOG"
  # The token file is written once the server listens; the content must be whole.
  GC_TOKEN="$(tr -d '\n' <"$token_file")"
  [ -n "$GC_TOKEN" ] || gc_fail "token file $token_file is empty"
  local perms
  perms="$(stat -c %a "$token_file")"
  [ "$perms" = 600 ] || gc_fail "token file $token_file has mode $perms, want 600"
  GC_PIN="$(cat "$GC_TMP/agent-state/tls/pin")"
  [ -n "$GC_PIN" ] || gc_fail "prepareclient wrote no TLS key pin in $GC_TMP/agent-state/tls/pin"
}

# gc_check_printed_command NAME LISTEN: the agent's stdout must carry the exact
# getimage command with the token it wrote to --token-file.
gc_check_printed_command() {
  local name="$1" listen="$2" want
  want="goldcast getimage --golden-client $listen --token $GC_TOKEN --pin $GC_PIN --image $name"
  local deadline=$((SECONDS + 10))
  until grep -qF -- "$want" "$GC_AGENT_LOG"; do
    [ "$SECONDS" -lt "$deadline" ] ||
      gc_fail_with_file "prepareclient did not print '$want'" "$GC_AGENT_LOG"
    sleep 0.05
  done
}

# gc_getimage NS_B STATE LISTEN NAME OUT_JSON: runs getimage --json in
# namespace NS_B with the current GC_TOKEN on its standard input (--token-file
# -, so no `ps` shows it); fails unless it exits 0 and prints a JSON object
# naming NAME.
gc_getimage() {
  local ns="$1" state="$2" listen="$3" name="$4" out="$5"
  gc_expect_status 0 "getimage $name from $listen" ip netns exec "$ns" "$GOLDCAST" \
    --state "$state" getimage --golden-client "$listen" --token-file - --pin "$GC_PIN" \
    --image "$name" --json <<<"$GC_TOKEN"
  cp "$GC_OUT" "$out"
  python3 - "$out" "$name" <<'EOF' || gc_fail_with_file "getimage --json output is not the expected object" "$out"
import json, sys
obj = json.load(open(sys.argv[1]))
assert obj["image"] == sys.argv[2], obj
for key in ("version", "files", "bytes_total", "bytes_transferred", "objects_fetched",
            "deltas", "seconds"):
    assert key in obj, "missing key " + key
EOF
}

# gc_golden_tree KIND: prints the cached Debian tree KIND (node: the golden
# client; minbase: debootstrap --variant=minbase, no kernel, no boot loader)
# of scripts/golden-cache.sh, building it on first use.
gc_golden_tree() {
  bash "$GC_REPO/scripts/golden-cache.sh" --tree "$1" 2>"$GC_TMP/golden-cache-$1.log" ||
    gc_fail_with_file "scripts/golden-cache.sh --tree $1 failed" "$GC_TMP/golden-cache-$1.log"
}

# gc_capture_golden STATE NAME [TREE]: captures the real Debian golden client
# (default: the cached node tree, gc_golden_tree node) into
# STATE as NAME@N the way an admin does: `goldcast-agent prepareclient` on
# the golden side of a veth pair, `goldcast getimage` on the server side, each
# in its own namespace. Sets golden_tree and GC_OUT (getimage's JSON).
gc_capture_golden() {
  local state="$1" name="$2" k=$((200 + RANDOM % 50))
  golden_tree="${3:-}"
  [ -n "$golden_tree" ] || golden_tree="$(gc_golden_tree node)" || exit 1
  local golden="gc-gold-$$-$k" server="gc-gsrv-$$-$k"
  gc_ns_pair_up "$golden" "$server" "$k"
  gc_log "capturing the golden client $golden_tree as $name"
  gc_prepareclient_start "$golden" "10.88.$k.2:8470" "$golden_tree" "$name" "golden-$name"
  gc_getimage "$server" "$state" "10.88.$k.2:8470" "$name" "$GC_TMP/getimage-$name.json"
  gc_wait_exit "$GC_AGENT_PID" 60
  ip netns del "$golden"
  ip netns del "$server"
  GC_OUT="$GC_TMP/getimage-$name.json"
}

# gc_json_field FILE KEY: prints a top-level field of a JSON object file.
gc_json_field() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# gc_image_versions STATE NAME: prints the versions of image NAME that
# `image list --json` shows, one per line (nothing if none).
gc_image_versions() {
  local state="$1" name="$2"
  gc_expect_status 0 "image list --json" "$GOLDCAST" --state "$state" image list --json
  python3 - "$GC_OUT" "$name" <<'EOF' || gc_fail_with_file "cannot read image list --json" "$GC_OUT"
import json, sys
data = json.load(open(sys.argv[1]))
name = sys.argv[2]
# `image list --json` is a list with one object per version ({"name":..,
# "version":N,...}); {"images":[{"name":..,"versions":[..]}]} is accepted too.
items = data["images"] if isinstance(data, dict) else data
for item in items:
    if item.get("name") != name:
        continue
    if "versions" in item:
        for v in item["versions"]:
            print(v["version"] if isinstance(v, dict) else v)
    else:
        print(item["version"])
EOF
}

# gc_export_and_compare STATE NAME@V TREE TAG [ALLOWED_REGEX]: exports the
# image as a pax tar, extracts it with GNU tar and with bsdtar into empty
# directories, and compares each with TREE using rsync (dry run, checksums,
# hardlinks, ACLs, xattrs, numeric ids). Only the unix socket may differ (tar
# cannot hold sockets); any other itemized line fails the test.
gc_export_and_compare() {
  local state="$1" ref="$2" tree="$3" tag="$4"
  local tarfile="$GC_TMP/export-$tag.tar" out
  gc_expect_status 0 "image export $ref" "$GOLDCAST" --state "$state" image export "$ref" \
    -o "$tarfile"
  [ -s "$tarfile" ] || gc_fail "image export $ref wrote no archive at $tarfile"
  cp "$GC_ERR" "$GC_TMP/export-$tag.err"
  if [ -S "$tree/devices/socket" ]; then
    gc_assert_grep "export must warn that it skipped the socket" 'devices/socket' \
      "$GC_TMP/export-$tag.err"
  fi

  out="$GC_TMP/out-gnutar-$tag"
  mkdir "$out"
  tar --xattrs --xattrs-include='*' --acls --numeric-owner -xpf "$tarfile" -C "$out" \
    2>"$GC_TMP/gnutar-$tag.err" ||
    gc_fail_with_file "GNU tar could not extract the export of $ref" "$GC_TMP/gnutar-$tag.err"
  gc_rsync_compare "$tree" "$out" "GNU tar extraction of $ref" '^cS\+{9} devices/socket$'

  out="$GC_TMP/out-bsdtar-$tag"
  mkdir "$out"
  bsdtar --acls --xattrs --numeric-owner -xpf "$tarfile" -C "$out" \
    2>"$GC_TMP/bsdtar-$tag.err" ||
    gc_fail_with_file "bsdtar could not extract the export of $ref" "$GC_TMP/bsdtar-$tag.err"
  # libarchive never restores the metadata of "." itself (the extraction
  # directory), so the root's mtime is only checked through GNU tar above.
  gc_rsync_compare "$tree" "$out" "bsdtar extraction of $ref" \
    '^cS\+{9} devices/socket$|^\.d\.\.t\.{6} \./$'

  # Sparse files must stay sparse (the manifest keeps the sparse map).
  if [ -f "$tree/sparse/sparse-10m" ]; then
    local kib
    for out in "$GC_TMP/out-gnutar-$tag" "$GC_TMP/out-bsdtar-$tag"; do
      kib="$(du -k "$out/sparse/sparse-10m" | cut -f1)"
      [ "$kib" -le 512 ] ||
        gc_fail "sparse/sparse-10m uses $kib KiB after export+extract into $out; a sparse file (one 4 KiB block) must stay sparse"
    done
  fi
  rm -rf "$GC_TMP/out-gnutar-$tag" "$GC_TMP/out-bsdtar-$tag" "$tarfile"
}

# gc_rsync_compare TREE OUT WHAT ALLOWED_REGEX: fails if rsync itemizes any
# difference between TREE and OUT other than lines matching ALLOWED_REGEX.
# Requires the socket line to be there when TREE has the socket, which proves
# the comparison sees specials at all.
gc_rsync_compare() {
  local tree="$1" out="$2" what="$3" allowed="$4"
  local report="$GC_TMP/rsync-report.txt"
  rsync -naHAXc --numeric-ids --itemize-changes "$tree/" "$out/" >"$report" 2>&1 ||
    gc_fail_with_file "rsync comparison ($what) failed to run" "$report"
  if grep -vE -- "$allowed" "$report" >"$report.unexpected"; then
    {
      echo "[$GC_TEST] FAIL: $what differs from the source tree $tree"
      echo "rsync -naHAXc --numeric-ids --itemize-changes reported (unexpected lines):"
      cat "$report.unexpected"
      echo "--- full report ---"
      cat "$report"
    } >&2
    exit 1
  fi
  if [ -S "$tree/devices/socket" ]; then
    grep -qE '^cS\+{9} devices/socket$' "$report" ||
      gc_fail_with_file "$what: rsync did not report the socket missing; comparison is not seeing specials" "$report"
  fi
}

# gc_verify STATE [REF]: `image verify` must pass.
gc_verify() {
  gc_expect_status 0 "image verify ${2:-(all)}" "$GOLDCAST" --state "$1" image verify ${2:+"$2"}
}

# gc_bench_build_type: sets build_type to $GOLDCAST's CMake build type (from
# its build directory's CMakeCache.txt, "+sanitizers" when ASan/UBSan are on)
# and warns unless it is an optimised build: timings of a Debug or sanitizer
# build say little.
gc_bench_build_type() {
  local cache
  build_type="unknown"
  cache="$(dirname "$(dirname "$GOLDCAST")")/CMakeCache.txt"
  if [ -f "$cache" ]; then
    build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$cache")"
    if grep -q '^GOLDCAST_SANITIZE:BOOL=ON' "$cache"; then build_type="$build_type+sanitizers"; fi
  fi
  case "$build_type" in
    Release | RelWithDebInfo) ;;
    *) gc_log "warning: $GOLDCAST is a '$build_type' build; use a Release build for timings (see bench/README.md)" ;;
  esac
}

# gc_bench_start TAG CLEANUP: what a bench/ script does once its arguments
# are checked: warns unless $GOLDCAST is a Release build (build_type), makes
# GC_TMP ($TMPDIR/gc-bench-TAG.XXXXXX), runs CLEANUP (gc_cleanup,
# gc_vm_cleanup or the script's own) on exit, and keeps the load average in
# load_before for the report.
gc_bench_start() {
  gc_bench_build_type
  GC_TMP="$(mktemp -d "${TMPDIR:-/tmp}/gc-bench-$1.XXXXXX")"
  chmod 755 "$GC_TMP"
  # shellcheck disable=SC2064  # CLEANUP is fixed now
  trap "$2" EXIT
  trap 'exit 130' INT TERM
  GC_DONE_MESSAGE="done"
  load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
}

# gc_release_agent_bundle: prints the directory of a Release goldcast-agent
# bundle (scripts/bundle-agent.sh) for VMs and initramfs roots, where an
# ASan build cannot run. Uses $GOLDCAST_AGENT_BUNDLE (scripts/test.sh makes
# it) or builds one in $GC_REPO/build-release.
gc_release_agent_bundle() {
  if [ -n "${GOLDCAST_AGENT_BUNDLE:-}" ]; then
    [ -x "$GOLDCAST_AGENT_BUNDLE/goldcast-agent" ] ||
      gc_fail "GOLDCAST_AGENT_BUNDLE=$GOLDCAST_AGENT_BUNDLE holds no goldcast-agent"
    echo "$GOLDCAST_AGENT_BUNDLE"
    return 0
  fi
  local build="$GC_REPO/build-release"
  gc_log "building a Release goldcast-agent in $build for the bundle"
  { cmake -S "$GC_REPO" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release &&
    ninja -C "$build" goldcast-agent &&
    bash "$GC_REPO/scripts/bundle-agent.sh" "$build/node-agent/goldcast-agent" "$GC_TMP/agent-bundle"; } \
    >"$GC_TMP/agent-bundle.log" 2>&1 ||
    gc_fail_with_file "building the Release agent bundle failed" "$GC_TMP/agent-bundle.log"
  echo "$GC_TMP/agent-bundle"
}

# gc_kernel_source [kernel-source.sh options]: prepares Debian's 6.1 kernel
# source and the test recipe (scripts/kernel-source.sh, cached under
# ${GOLDCAST_CACHE:-/var/cache/goldcast}/kernel-src) and loads its
# source.env: KS_RECIPE, KS_TARBALL_SHA256, KS_DEBIAN_TREE, ...
gc_kernel_source() {
  local cache="${GOLDCAST_CACHE:-/var/cache/goldcast}"
  bash "$GC_REPO/scripts/kernel-source.sh" "$@" >"$GC_TMP/recipe-path" \
    2>"$GC_TMP/kernel-source.log" ||
    gc_fail_with_file "scripts/kernel-source.sh failed" "$GC_TMP/kernel-source.log"
  # shellcheck disable=SC1091
  . "$cache/kernel-src/source.env"
  [ -f "$KS_RECIPE" ] || gc_fail "kernel-source.sh did not write the recipe $KS_RECIPE"
}

# gc_build_test_kernel STATE: the one test kernel of the suite (the migration
# kernel recipe), built once into a state shared by every test
# ($GOLDCAST_CACHE/test-kernel; the first build compiles, later ones find
# it up to date) and published into STATE's kernel store as NAME@1, a copy
# of the artifact directory. Sets kernel (NAME@1), artifact (its directory
# in STATE) and release.
gc_build_test_kernel() {
  local state="$1" cache="${GOLDCAST_CACHE:-/var/cache/goldcast}" built
  gc_kernel_source --no-debian-tree
  gc_log "building the test kernel (shared state $cache/test-kernel, cache $cache/kernel)"
  gc_expect_status 0 "kernel build" "$GOLDCAST" --state "$cache/test-kernel" kernel build \
    --recipe "$KS_RECIPE" --cache "$cache/kernel" --json
  built="$(gc_json_field "$GC_OUT" artifact_dir)"
  [ -s "$built/vmlinuz" ] || gc_fail_with_file "the build reported no vmlinuz" "$GC_OUT"
  kernel="$(gc_json_field "$GC_OUT" name)@1"
  artifact="$state/kernels/${kernel%@*}/1"
  mkdir -p "$(dirname "$artifact")"
  cp -a "$built" "$artifact.tmp" && mv "$artifact.tmp" "$artifact" ||
    gc_fail "could not copy the test kernel $built into $state"
  release="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel_release"])' \
    "$artifact/artifact.json")"
  [ -n "$release" ] || gc_fail "artifact.json of $kernel has no kernel_release"
  gc_expect_status 0 "kernel show $kernel" "$GOLDCAST" --state "$state" kernel show "$kernel"
}

# gc_nginx_start NS PROBE_NS LISTEN SERVER_DIRECTIVES PROBE_URL [CONNECTIONS]:
# runs nginx (benchmarks compare against it) inside namespace NS, listening on
# LISTEN (ADDRESS:PORT) with SERVER_DIRECTIVES in its server block, every
# file under $GC_TMP/nginx; waits until PROBE_URL answers from PROBE_NS and
# sets GC_NGINX_PID.
gc_nginx_start() {
  local ns="$1" probe_ns="$2" listen="$3" directives="$4" probe_url="$5"
  local connections="${6:-1024}" dir="$GC_TMP/nginx" deadline
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<CONF
user root;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $connections; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen $listen;
    $directives
  }
}
CONF
  gc_start_bg "$ns" "$dir/stderr.log" nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
  GC_NGINX_PID=$GC_LAST_PID
  deadline=$((SECONDS + 10))
  until ip netns exec "$probe_ns" curl -fsS --max-time 2 -o /dev/null -r 0-0 "$probe_url" \
    2>/dev/null; do
    kill -0 "$GC_NGINX_PID" 2>/dev/null || gc_fail_with_file "nginx exited during start-up" "$dir/error.log"
    [ "$SECONDS" -lt "$deadline" ] || gc_fail_with_file "nginx did not answer in 10 s" "$dir/error.log"
    sleep 0.1
  done
}
