#!/usr/bin/env bash
# goldcast serve without VMs, in a lab namespace: the files it prepares (TFTP
# root with only the iPXE binaries, a dnsmasq config that `dnsmasq --test`
# accepts), the first iPXE script, /boot/files with correct sizes and ranges,
# TFTP through its dnsmasq, `goldcast nodes` edits reaching the boot script
# and dnsmasq's host list while serve runs (reload, not restart), dnsmasq
# restarted when it dies, and a clean SIGTERM.
GC_TEST=boot_serve
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"

gc_vm_lab_up "gc-bs-$$" 65
state="$GC_TMP/state"
profile="$GC_TMP/profile.yaml"
gc_vm_profile lab.yaml "$profile" PREFIX=mosix
gc_vm_state_prepare "$state"
gc_serve_start "$state" "$profile"
pxe="$state/pxe"

# --- Prepared files --------------------------------------------------------
# dnsmasq runs as its own user (issue 10, finding 9): it reads its hosts file
# and TFTP root from a runtime directory it can reach, not the private state.
tftp="$(sed -n 's/^tftp-root=//p' "$pxe/dnsmasq.conf")"
[[ "$tftp" == /run/goldcast/pxe-*/tftp ]] || gc_fail "dnsmasq's tftp-root is '$tftp', want /run/goldcast/pxe-*/tftp"
gc_assert_grep "dnsmasq must drop root" '^user=dnsmasq$' "$pxe/dnsmasq.conf"
dnsmasq_user="$(ps -o user= -p "$(gc_dnsmasq_pids | head -n 1)")"
[ "$dnsmasq_user" = dnsmasq ] || gc_fail "serve's dnsmasq runs as '$dnsmasq_user', want dnsmasq"
for f in undionly.kpxe snponly.efi ipxe.efi; do
  cmp -s "$tftp/$f" "/usr/lib/ipxe/$f" || gc_fail "$tftp/$f is not the ipxe package's $f"
done
extra="$(cd "$tftp" && find . -mindepth 1 ! -name undionly.kpxe ! -name snponly.efi ! -name ipxe.efi)"
[ -z "$extra" ] || gc_fail "the TFTP root holds more than the iPXE binaries: $extra"
gc_expect_status 0 "dnsmasq --test on serve's config" dnsmasq --test --conf-file="$pxe/dnsmasq.conf"
gc_assert_grep "dnsmasq must serve only the profile's interface" '^interface=br0' "$pxe/dnsmasq.conf"
gc_assert_grep "dnsmasq's DNS must be off" '^port=0' "$pxe/dnsmasq.conf"

# --- The first script: chain to /boot/ipxe with the machine's identity ----
gc_vm_http /boot/start.ipxe
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "GET /boot/start.ipxe: HTTP $GC_HTTP_STATUS" "$GC_OUT"
cp "$GC_OUT" "$GC_TMP/start.ipxe"
gc_assert_grep "start.ipxe is an iPXE script" '^#!ipxe' "$GC_TMP/start.ipxe"
for arg in 'mac=\$\{net0/mac\}' 'uuid=\$\{uuid\}' 'arch=\$\{buildarch\}' 'platform=\$\{platform\}'; do
  gc_assert_grep "start.ipxe must pass $arg" "http://$GC_VM_SERVER:$GC_VM_PORT/boot/ipxe\?.*$arg" \
    "$GC_TMP/start.ipxe"
done

# --- /boot/files: whole files, ranges, errors -----------------------------
kernel="$state/boot/install/vmlinuz"
size="$(stat -c %s "$kernel")"
gc_vm_http /boot/files/install/vmlinuz -D "$GC_TMP/headers.txt"
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail "GET /boot/files/install/vmlinuz: HTTP $GC_HTTP_STATUS"
cmp -s "$GC_OUT" "$kernel" || gc_fail "/boot/files/install/vmlinuz differs from $kernel"
gc_assert_grep "Content-Length of the kernel" "^content-length: $size" "$GC_TMP/headers.txt"
gc_vm_http /boot/files/install/vmlinuz -r 1000-1999 -D "$GC_TMP/headers.txt"
[ "$GC_HTTP_STATUS" = 206 ] || gc_fail "a range request answered HTTP $GC_HTTP_STATUS, want 206"
[ "$(stat -c %s "$GC_OUT")" = 1000 ] || gc_fail "range 1000-1999 returned $(stat -c %s "$GC_OUT") bytes"
cmp -s "$GC_OUT" <(tail -c +1001 "$kernel" | head -c 1000) || gc_fail "range 1000-1999 has the wrong bytes"
gc_assert_grep "Content-Range of a range" "^content-range: bytes 1000-1999/$size" "$GC_TMP/headers.txt"
gc_vm_http /boot/files/install/vmlinuz -r "-100"
[ "$GC_HTTP_STATUS" = 206 ] && cmp -s "$GC_OUT" <(tail -c 100 "$kernel") ||
  gc_fail "suffix range -100: HTTP $GC_HTTP_STATUS or wrong bytes"
gc_vm_http /boot/files/install/vmlinuz -r "$((size + 10))-$((size + 20))"
[ "$GC_HTTP_STATUS" = 416 ] || gc_fail "a range past the end answered HTTP $GC_HTTP_STATUS, want 416"
gc_vm_http /boot/files/install/missing.img
[ "$GC_HTTP_STATUS" = 404 ] || gc_fail "a missing file answered HTTP $GC_HTTP_STATUS, want 404"

# --- TFTP through serve's dnsmasq: the iPXE binaries, nothing else --------
gc_vm_ns_exec curl -sS --max-time 20 -o "$GC_TMP/tftp-undionly" "tftp://$GC_VM_SERVER/undionly.kpxe" ||
  gc_fail_with_file "TFTP download of undionly.kpxe failed" "$GC_PXE_LOG"
cmp -s "$GC_TMP/tftp-undionly" /usr/lib/ipxe/undionly.kpxe || gc_fail "TFTP served a wrong undionly.kpxe"
if gc_vm_ns_exec curl -sS --max-time 10 -o "$GC_TMP/tftp-leak" "tftp://$GC_VM_SERVER/../registry.db" \
  2>/dev/null && [ -s "$GC_TMP/tftp-leak" ]; then
  gc_fail "TFTP served ../registry.db"
fi

# --- nodes edits while serve runs -----------------------------------------
dnsmasq_pid="$(gc_dnsmasq_pids)"
mac_a=52:54:00:77:65:01
mac_b=52:54:00:77:65:02
gc_expect_status 0 "nodes add" "$GOLDCAST" --state "$state" nodes add --mac "$mac_a" --name mosix7
# wait_hosts REGEX PRESENT(1|0) WHAT: the hosts file must (not) match within 3 s.
wait_hosts() {
  local re="$1" want="$2" what="$3" deadline=$((SECONDS + 3)) has
  while :; do
    has=0
    gc_pxe_hosts
    grep -qiE -- "$re" "$GC_PXE_HOSTS" 2>/dev/null && has=1
    [ "$has" = "$want" ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || gc_fail_with_file "$what within 3 s" "$GC_PXE_HOSTS"
    sleep 0.1
  done
}
wait_hosts "^$mac_a,$GC_VM_NET\.17(,mosix7)?" 1 "nodes add must put mosix7 (index 7 -> .17) in dnsmasq's hosts file"
gc_vm_http "/boot/ipxe?mac=$mac_b&platform=pcbios&arch=i386"
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "GET /boot/ipxe: HTTP $GC_HTTP_STATUS" "$GC_OUT"
gc_assert_grep "an unknown MAC gets the first free name" 'goldcast\.node=mosix1( |$)' "$GC_OUT"
wait_hosts "^$mac_b,$GC_VM_NET\.11" 1 "a booted node must reach the hosts file"
# Issue 10, finding 2: anyone may ask for this script, so it carries a
# one-time install token, never the node's secret.
token1="$(grep -oE 'goldcast\.token=[0-9a-f]+' "$GC_OUT")"
[ -n "$token1" ] || gc_fail_with_file "the install script carries no goldcast.token" "$GC_OUT"
gc_assert_no_grep "the install script carries no secret" 'secret' "$GC_OUT"

gc_expect_status 0 "nodes set --mode diskless" "$GOLDCAST" --state "$state" nodes set mosix1 --mode diskless
gc_vm_http "/boot/ipxe?mac=$mac_b&platform=pcbios&arch=i386"
cp "$GC_OUT" "$GC_TMP/diskless.ipxe"
gc_assert_grep "diskless mode boots the diskless kernel" '^kernel .*/boot/files/diskless/vmlinuz .*goldcast\.mode=diskless' \
  "$GC_TMP/diskless.ipxe"
gc_assert_grep "diskless mode loads the diskless initrd" '^initrd .*/boot/files/diskless/initrd\.img' \
  "$GC_TMP/diskless.ipxe"

gc_expect_status 0 "nodes reinstall" "$GOLDCAST" --state "$state" nodes reinstall mosix1
gc_vm_http "/boot/ipxe?mac=$mac_b&platform=pcbios&arch=i386"
gc_assert_grep "reinstall switches back to install mode" 'goldcast\.mode=install' "$GC_OUT"
token2="$(grep -oE 'goldcast\.token=[0-9a-f]+' "$GC_OUT")"
[ -n "$token2" ] && [ "$token2" != "$token1" ] ||
  gc_fail "reinstall must hand out a fresh install token (before $token1, after $token2)"
gc_expect_status 0 "nodes show --json" "$GOLDCAST" --state "$state" nodes show mosix1 --json
python3 - "$GC_OUT" "$mac_b" <<'EOF' || gc_fail_with_file "nodes show --json mosix1 is wrong" "$GC_OUT"
import json, sys
n = json.load(open(sys.argv[1]))
assert n["name"] == "mosix1" and n["mac"].lower() == sys.argv[2], n
assert n["mode"] == "install" and n["state"] == "new", n
EOF

gc_expect_status 0 "nodes rm" "$GOLDCAST" --state "$state" nodes rm mosix7
wait_hosts "^$mac_a," 0 "nodes rm must drop mosix7 from dnsmasq's hosts file"
gc_expect_status 1 "nodes show of a removed node" "$GOLDCAST" --state "$state" nodes show mosix7
gc_assert_grep "nodes show must name the missing node" 'mosix7' "$GC_ERR"
[ "$(gc_dnsmasq_pids)" = "$dnsmasq_pid" ] ||
  gc_fail_with_file "dnsmasq was restarted (pid $dnsmasq_pid -> $(gc_dnsmasq_pids)) instead of reloaded for host changes" \
    "$GC_SERVE_LOG"
# dnsmasq logs every file of its dhcp-hostsdir it reads: new ones as they
# appear (nodes added), all again on SIGHUP (a node removed).
gc_assert_grep "dnsmasq must have read the hosts directory" "read $GC_PXE_HOSTS_DIR/hosts-" "$GC_PXE_LOG"

# --- dnsmasq dies: serve starts a new one --------------------------------
kill -KILL "$dnsmasq_pid"
deadline=$((SECONDS + 15))
until new="$(gc_dnsmasq_pids)" && [ -n "$new" ] && [ "$new" != "$dnsmasq_pid" ]; do
  [ "$SECONDS" -lt "$deadline" ] ||
    gc_fail_with_file "serve did not restart dnsmasq within 15 s after it was killed" "$GC_SERVE_LOG"
  kill -0 "$GC_SERVE_PID" 2>/dev/null || gc_fail_with_file "serve exited when dnsmasq died" "$GC_SERVE_LOG"
  sleep 0.2
done
gc_log "dnsmasq restarted after $((SECONDS - deadline + 15)) s (pid $dnsmasq_pid -> $new)"
gc_vm_http /healthz
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail "serve stopped answering after dnsmasq was restarted"

gc_serve_stop
