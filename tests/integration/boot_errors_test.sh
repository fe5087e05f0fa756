#!/usr/bin/env bash
# goldcast serve's failure paths, each with a clear message and the node
# registry untouched: a bad profile (file:line:col + the key), the profile's
# interface missing, the HTTP port in use, dnsmasq not installed, the iPXE
# binaries missing, a second serve on the same state directory, malformed
# `mac=` (and other query arguments) -> HTTP 400, and paths that try to leave
# STATE/boot/. No VMs: everything runs in one lab namespace.
GC_TEST=boot_errors
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"

gc_vm_lab_up "gc-be-$$" 64
state="$GC_TMP/state"
profile="$GC_TMP/profile.yaml"
gc_vm_profile lab.yaml "$profile"
gc_vm_state_prepare "$state"

# serve_must_fail WHAT REGEX STATE PROFILE: serve must exit 1 within 30 s,
# print a message matching REGEX, and leave no dnsmasq behind. When set, the
# array `wrap` is a command prefix that runs serve in a changed world (a
# private mount namespace hiding a package's files).
wrap=()
serve_must_fail() {
  local what="$1" re="$2" st="$3" prof="$4" err="$GC_TMP/err-${1// /-}.txt"
  gc_expect_status 1 "serve with $what" timeout 30 "${wrap[@]}" ip netns exec "$GC_VM_NS" \
    env PATH=/usr/bin:/bin "$GOLDCAST" --state "$st" serve --profile "$prof"
  cp "$GC_ERR" "$err"
  gc_assert_grep "serve with $what must say why" "$re" "$err"
  [ -z "$(gc_dnsmasq_pids)" ] || gc_fail "serve with $what left dnsmasq running (pid $(gc_dnsmasq_pids))"
  gc_log "serve with $what: $(grep -iE -m1 -- "$re" "$err")"
}

# registry_snapshot OUT: the registry as `nodes list --json` shows it, without
# the fields a read may legitimately refresh.
registry_snapshot() {
  gc_expect_status 0 "nodes list --json" "$GOLDCAST" --state "$state" nodes list --json
  python3 - "$GC_OUT" >"$1" <<'EOF'
import json, sys
for n in json.load(open(sys.argv[1])):
    print(n["index"], n["name"], n["mac"].lower(), n["ip"], n["group"], n["mode"], n["state"],
          n.get("last_seen", n.get("last_seen_ns")))
EOF
}

# --- A bad profile: file:line:col and the key; nothing created ------------
fresh="$GC_TMP/fresh-state"
bad="$GC_REPO/tests/integration/profiles/bad_unknown_key.yaml"
serve_must_fail "a typo in the profile" 'bad_unknown_key\.yaml:8:3.*htpp_port|htpp_port.*bad_unknown_key\.yaml:8:3' \
  "$fresh" "$bad"
[ ! -e "$fresh/registry.db" ] || gc_fail "serve created $fresh/registry.db although the profile was refused"

# --- A registry with two nodes, made by a good serve -----------------------
gc_serve_start "$state" "$profile"
gc_expect_status 0 "nodes add" "$GOLDCAST" --state "$state" nodes add --mac 52:54:00:77:64:01
gc_vm_http "/boot/ipxe?mac=52:54:00:77:64:02&platform=pcbios&arch=i386"
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "a valid /boot/ipxe request got HTTP $GC_HTTP_STATUS" "$GC_OUT"
registry_snapshot "$GC_TMP/registry-before.txt"
[ "$(wc -l <"$GC_TMP/registry-before.txt")" = 2 ] ||
  gc_fail_with_file "registry should hold the added and the booted node" "$GC_TMP/registry-before.txt"

# --- A second serve on the same state directory is refused ----------------
serve_second() {
  gc_expect_status 1 "a second serve on $state" timeout 30 ip netns exec "$GC_VM_NS" \
    "$GOLDCAST" --state "$state" serve --profile "$profile"
  gc_assert_grep "the second serve must say another one runs" \
    'already|another|running|locked|in use' "$GC_ERR"
  gc_log "second serve: $(head -n 1 "$GC_ERR")"
}
serve_second
kill -0 "$GC_SERVE_PID" 2>/dev/null || gc_fail_with_file "the first serve died when a second one was tried" \
  "$GC_SERVE_LOG"
gc_vm_http /healthz
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail "the first serve stopped answering after a second one was tried"

# --- Malformed query arguments: 400 with a message, registry untouched ----
long="$(printf 'a%.0s' $(seq 1 5000))"
bad_queries=(
  ""                                          # no mac at all
  "mac="
  "mac=zz:zz:zz:zz:zz:zz"
  "mac=52:54:00:77:64"
  "mac=52:54:00:77:64:03:04"
  "mac=52:54:00:77:64:0g"
  "mac=..%2F..%2Fregistry.db"
  "mac=52:54:00:77:64:03%00"
  "mac=52:54:00:77:64:03%0Akernel%20http://evil/x"
  "mac=$long"
  "mac=52:54:00:77:64:03&uuid=%22%3B%20shell%20%23"
  "mac=52:54:00:77:64:03&arch=$long"
  "mac=52:54:00:77:64:03&platform=pc%20bios%0Ashell"
)
for q in "${bad_queries[@]}"; do
  gc_vm_http "/boot/ipxe?$q"
  [ "$GC_HTTP_STATUS" = 400 ] ||
    gc_fail_with_file "GET /boot/ipxe?${q:0:80} answered HTTP $GC_HTTP_STATUS, want 400" "$GC_OUT"
  grep -qiE 'mac|uuid|arch|platform' "$GC_OUT" ||
    gc_fail_with_file "the 400 for /boot/ipxe?${q:0:80} does not name the bad argument" "$GC_OUT"
done
gc_log "all ${#bad_queries[@]} malformed queries answered 400: $(head -c 200 "$GC_OUT")"
registry_snapshot "$GC_TMP/registry-after.txt"
cmp -s "$GC_TMP/registry-before.txt" "$GC_TMP/registry-after.txt" ||
  gc_fail_with_file "malformed requests changed the registry (before: $(cat "$GC_TMP/registry-before.txt"))" \
    "$GC_TMP/registry-after.txt"

# --- Paths outside STATE/boot/ are never served ---------------------------
for p in /boot/files/../registry.db /boot/files/%2e%2e/registry.db /boot/files/install/../../registry.db \
  /boot/files/%2e%2e%2fregistry.db /boot/files//etc/passwd /boot/files/install/%00; do
  gc_vm_http "$p" --path-as-is
  case "$GC_HTTP_STATUS" in
    400 | 403 | 404) ;;
    *) gc_fail_with_file "GET $p answered HTTP $GC_HTTP_STATUS, want 400/403/404" "$GC_OUT" ;;
  esac
  if head -c 16 "$GC_OUT" | grep -qa 'SQLite format' || grep -qa '^root:' "$GC_OUT"; then
    gc_fail "GET $p leaked a file from outside STATE/boot/"
  fi
done

gc_serve_stop

# --- Start-up failures: registry untouched each time ---------------------
# The profile's interface does not exist.
gc_vm_profile lab.yaml "$GC_TMP/no-iface.yaml" IFACE=gcmissing0
serve_must_fail "a missing interface" 'gcmissing0' "$state" "$GC_TMP/no-iface.yaml"

# The HTTP port is taken by another program on the server address.
gc_start_bg "$GC_VM_NS" "$GC_TMP/squatter.log" python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT of earlier requests
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen()
print("listening", flush=True)
time.sleep(600)' "$GC_VM_SERVER" "$GC_VM_PORT"
squatter=$GC_LAST_PID
# The log exists from the start; "listening" says the port is taken.
deadline=$((SECONDS + 20))
until grep -q listening "$GC_TMP/squatter.log"; do
  kill -0 "$squatter" 2>/dev/null || gc_fail_with_file "the port squatter died" "$GC_TMP/squatter.log"
  [ "$SECONDS" -lt "$deadline" ] || gc_fail_with_file "the port squatter never listened" "$GC_TMP/squatter.log"
  sleep 0.1
done
serve_must_fail "the HTTP port in use" "$GC_VM_PORT.*(in use|already|busy)|(in use|already|busy).*$GC_VM_PORT" \
  "$state" "$profile"
gc_kill_and_reap "$squatter" TERM

# dnsmasq not installed: in a private mount namespace /usr/sbin/dnsmasq is an
# empty, non-executable file, and PATH (/usr/bin:/bin) has no other dnsmasq.
[ -x /usr/sbin/dnsmasq ] || gc_fail "this test expects Debian's /usr/sbin/dnsmasq"
: >"$GC_TMP/not-dnsmasq"
chmod 644 "$GC_TMP/not-dnsmasq"
wrap=(unshare --mount --propagation private bash -c \
  'mount --bind "$0" /usr/sbin/dnsmasq && exec "$@"' "$GC_TMP/not-dnsmasq")
serve_must_fail "dnsmasq not installed" 'dnsmasq' "$state" "$profile"
gc_assert_grep "the no-dnsmasq error must say what to install" 'install|package' "$GC_ERR"

# The iPXE binaries missing: an empty tmpfs over /usr/lib/ipxe (where Debian's
# ipxe package puts them), again only in a private mount namespace.
wrap=(unshare --mount --propagation private bash -c \
  'mount -t tmpfs -o size=1m gc-no-ipxe /usr/lib/ipxe && exec "$@"' gc-no-ipxe)
serve_must_fail "no iPXE binaries" 'undionly\.kpxe|snponly\.efi|ipxe\.efi' "$state" "$profile"
gc_assert_grep "the no-iPXE error must name the ipxe package" 'ipxe' "$GC_ERR"
wrap=()

registry_snapshot "$GC_TMP/registry-end.txt"
cmp -s "$GC_TMP/registry-before.txt" "$GC_TMP/registry-end.txt" ||
  gc_fail_with_file "a failed start changed the registry (before: $(cat "$GC_TMP/registry-before.txt"))" \
    "$GC_TMP/registry-end.txt"

# After all that, the state directory still serves.
gc_serve_start "$state" "$profile"
gc_serve_stop
