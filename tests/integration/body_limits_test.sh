#!/usr/bin/env bash
# Nobody who has not authenticated makes a goldcast server buffer a body
# (issue 10, finding 6): 30 unauthenticated uploads of 8 MiB to serve's
# node API took it to 375 MB, 3 of 250 MB to prepareclient's capture
# endpoint took that to 890 MB. Each upload must now get its 401 before the
# body is read, and the server's peak memory must not grow by the bodies.
# Uploads stream from /dev/zero without "Expect: 100-continue", as an
# attacker would send them. Last, one address holding many half-sent
# requests must not starve the others.
GC_TEST=body_limits
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"
gc_require_cmds curl

# peak_kb PID: the process's peak resident set (VmHWM) in KiB.
peak_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# upload NS URL MIB OUT [curl args...]: POSTs MIB MiB of zeros, streamed
# (chunked), to URL from namespace NS; writes the HTTP status to OUT.
upload() {
  local ns="$1" url="$2" mib="$3" out="$4"
  shift 4
  head -c "${mib}M" /dev/zero |
    ip netns exec "$ns" curl -sS -o /dev/null -w '%{http_code}' --max-time 120 -X POST -T - \
      -H 'Expect:' "$@" "$url" >"$out" 2>"$out.err" || true
}

# uploads_refused NS URL COUNT MIB PID WHAT [curl args...]: COUNT parallel
# uploads must all get 401, and PID's peak memory grow by less than 64 MiB.
uploads_refused() {
  local ns="$1" url="$2" count="$3" mib="$4" pid="$5" what="$6" i before after
  local uploads=()
  shift 6
  before="$(peak_kb "$pid")"
  for ((i = 0; i < count; i++)); do
    upload "$ns" "$url" "$mib" "$GC_TMP/code.$i" "$@" &
    uploads+=($!)
  done
  wait "${uploads[@]}"  # not serve or the agent, also children of this shell
  # A 401, or the server closing the connection on an upload it refused
  # while curl was still sending (curl 55/56: it never reads the answer).
  local answered=0 cut=0
  for ((i = 0; i < count; i++)); do
    if [ "$(cat "$GC_TMP/code.$i")" = 401 ]; then
      answered=$((answered + 1))
    elif grep -qE '^curl: \((55|56)\)' "$GC_TMP/code.$i.err"; then
      cut=$((cut + 1))
    else
      gc_fail_with_file "$what: upload $i got HTTP '$(cat "$GC_TMP/code.$i")', want 401" \
        "$GC_TMP/code.$i.err"
    fi
  done
  after="$(peak_kb "$pid")"
  gc_log "$what: $count x $mib MiB unauthenticated: $answered answered 401, $cut cut off;" \
    "peak memory $before -> $after KiB"
  [ $((after - before)) -lt 65536 ] ||
    gc_fail "$what: peak memory grew by $(((after - before) / 1024)) MiB for uploads it refused"
  # A small body arrives whole before the answer: that answer is the 401.
  upload "$ns" "$url" 0 "$GC_TMP/code.small" "$@"
  [ "$(cat "$GC_TMP/code.small")" = 401 ] ||
    gc_fail_with_file "$what: an empty upload got HTTP '$(cat "$GC_TMP/code.small")', want 401" \
      "$GC_TMP/code.small.err"
}

# --- serve's node API ------------------------------------------------------
gc_vm_lab_up "gc-bl-$$" 66
state="$GC_TMP/state"
gc_vm_profile lab.yaml "$GC_TMP/profile.yaml" PREFIX=mosix
gc_serve_start "$state" "$GC_TMP/profile.yaml"
url="$(gc_vm_node_url /v1/node/objects)"
tls=(-k --pinnedpubkey "$(gc_vm_pin "$state")")
uploads_refused "$GC_VM_NS" "$url" 30 8 "$GC_SERVE_PID" "serve" "${tls[@]}" \
  -H 'X-Goldcast-Node: mosix1' -H 'Authorization: Bearer not-the-secret'
uploads_refused "$GC_VM_NS" "$url" 30 8 "$GC_SERVE_PID" "serve (no credentials)" "${tls[@]}"
# The node API is not served over plain HTTP at all: 403 before the body.
upload "$GC_VM_NS" "$(gc_vm_url /v1/node/objects)" 8 "$GC_TMP/code.plain" \
  -H 'X-Goldcast-Node: mosix1' -H 'Authorization: Bearer not-the-secret'
[ "$(cat "$GC_TMP/code.plain")" = 403 ] || grep -qE '^curl: \((55|56)\)' "$GC_TMP/code.plain.err" ||
  gc_fail_with_file "the node API over plain HTTP answered '$(cat "$GC_TMP/code.plain")', want 403" \
    "$GC_TMP/code.plain.err"
gc_vm_http /healthz
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail "serve's /healthz answered $GC_HTTP_STATUS after the uploads"

# One address holding 64 half-sent requests (serve's per-address limit):
# its 65th connection gets no answer, and another address is served at once.
gc_vm_ns_exec ip addr add "$GC_VM_NET.250/24" dev br0
gc_vm_ns_exec python3 - "$GC_VM_SERVER" "$GC_VM_PORT" "$GC_VM_NET.250" >"$GC_TMP/hold.txt" 2>&1 <<'PY' ||
import socket, sys, time
server, port, other = sys.argv[1], int(sys.argv[2]), sys.argv[3]
held = []
for i in range(64):
    s = socket.create_connection((server, port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
    held.append(s)
time.sleep(0.5)
extra = socket.create_connection((server, port), timeout=5)
extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    answer = extra.recv(100)
except (ConnectionResetError, socket.timeout):
    answer = b""
if answer.startswith(b"HTTP/1.1 200"):
    sys.exit("the 65th connection from one address was served: " + repr(answer))
ok = socket.create_connection((server, port), timeout=5, source_address=(other, 0))
ok.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
answer = ok.recv(100)
if not answer.startswith(b"HTTP/1.1 200"):
    sys.exit("another address was not served while one held 64 connections: " + repr(answer))
print("65th refused, other address served")
PY
  gc_fail_with_file "serve's per-address connection limit" "$GC_TMP/hold.txt"
gc_log "serve: one address holding 64 connections: $(cat "$GC_TMP/hold.txt")"

# --- prepareclient's capture endpoint --------------------------------------
tree="$GC_TMP/tree"
mkdir -p "$tree/etc"
echo golden >"$tree/etc/hostname"
gc_ns_pair_up "gc-blg-$$" "gc-bls-$$" 67
gc_prepareclient_start "gc-blg-$$" 10.88.67.2:8470 "$tree" golden limits
uploads_refused "gc-bls-$$" "https://10.88.67.2:8470/v1/capture/delta/x" 3 250 "$GC_AGENT_PID" \
  "prepareclient" -k --pinnedpubkey "$GC_PIN" -H 'Authorization: Bearer wrong'
kill -0 "$GC_AGENT_PID" 2>/dev/null || gc_fail_with_file "prepareclient died" "$GC_AGENT_LOG"
gc_log "PASS"
