# Helpers for the network-boot tests (tests/integration/boot_*_test.sh): a lab
# network namespace with a bridge, QEMU machines on taps that PXE-boot from
# `goldcast serve`, and readers for their serial consoles. Source it instead
# of lib.sh (it sources lib.sh):
#
#   GC_TEST=boot_naming
#   source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
#   gc_vm_init "$@"            # gc_init + VM tools + test kernel/initramfs
#   gc_vm_lab_up "gc-boot-$$" 61   # namespace, br0 = 10.77.61.1/24
#   gc_vm_profile naming.yaml "$GC_TMP/profile.yaml" PREFIX=mosix
#   gc_vm_state_prepare "$state"   # test kernel + initramfs into STATE/boot/
#   gc_serve_start "$state" "$GC_TMP/profile.yaml"
#   gc_vm_start vm1 52:54:00:77:61:01 bios
#   gc_vm_wait_serial vm1 'GOLDCAST-BOOT-OK node=mosix1' 60
#
# Network rule (docs/pxe-lab): everything lives in namespaces the test makes.
# QEMU gets -nodefaults and a tap in the lab namespace, never user-mode
# networking; dnsmasq and the HTTP server bind only the bridge. The EXIT trap
# ends the recorded PIDs (serve first, so it stops its dnsmasq), then whatever
# is still running inside the test's own namespaces, then lib.sh's cleanup.
#
# Environment: GC_VM_ACCEL (default tcg: /dev/kvm on these machines hangs
# guests; set kvm only where a probe boot proved it works), GC_VM_TIMEOUT_SCALE
# (multiplies every VM wait, default 1).
# shellcheck shell=bash

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GC_VM_NS=""
GC_VM_NET=""     # "10.77.61": the lab's /24
GC_VM_SERVER=""  # "10.77.61.1": br0's address, goldcast serve's address
GC_VM_PORT=8470
GC_VM_ARTIFACTS=""
GC_VM_DIR=""
declare -A GC_VM_PID=()
declare -A GC_VM_START=()
GC_VM_EXTRA_LOGS=()  # printed with every VM failure (serve log, dnsmasq log)
GC_SERVE_PID=""
GC_SERVE_LOG=""
GC_SERVE_STATE=""
GC_SERVE_RUNS=0
# dnsmasq's files as serve's dnsmasq.conf names them (set by gc_serve_start).
GC_PXE_HOSTS=""
GC_PXE_HOSTS_DIR=""
GC_PXE_LEASES=""
GC_PXE_LOG=""

gc_vm_init() {
  gc_init "$@"
  trap gc_vm_cleanup EXIT
  gc_require_cmds qemu-system-x86_64 dnsmasq curl truncate
  [ -c /dev/net/tun ] || gc_fail "/dev/net/tun is missing; QEMU's tap networking needs the tun module"
  GC_VM_DIR="$GC_TMP/vm"
  mkdir -p "$GC_VM_DIR"
  GC_VM_ARTIFACTS="$(bash "$GC_REPO/scripts/boot-artifacts.sh" 2>"$GC_TMP/boot-artifacts.log")" ||
    gc_fail_with_file "scripts/boot-artifacts.sh failed" "$GC_TMP/boot-artifacts.log"
  [ -s "$GC_VM_ARTIFACTS/vmlinuz" ] && [ -s "$GC_VM_ARTIFACTS/initrd.img" ] ||
    gc_fail "scripts/boot-artifacts.sh printed '$GC_VM_ARTIFACTS' without vmlinuz and initrd.img in it"
}

# Runs before lib.sh's cleanup: serve gets SIGTERM first (it stops dnsmasq),
# QEMUs and helpers next; anything still alive inside our own namespaces (an
# orphaned dnsmasq, say) is ended by PID before the namespaces go.
gc_vm_cleanup() {
  local rc=$? pid ns _
  set +e
  if [ -n "$GC_SERVE_PID" ] && kill -0 "$GC_SERVE_PID" 2>/dev/null; then
    kill -TERM "$GC_SERVE_PID"
    for _ in $(seq 1 50); do
      kill -0 "$GC_SERVE_PID" 2>/dev/null || break
      sleep 0.1
    done
  fi
  for pid in "${GC_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for ns in "${GC_NETNS[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -TERM "$pid" 2>/dev/null
    done
  done
  sleep 0.3
  for ns in "${GC_NETNS[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -KILL "$pid" 2>/dev/null
    done
  done
  (exit "$rc")
  gc_cleanup
}

# Seconds scaled by GC_VM_TIMEOUT_SCALE.
gc_vm_scaled() {
  echo $(($1 * ${GC_VM_TIMEOUT_SCALE:-1}))
}

# gc_vm_lab_up NS K: namespace NS with lo up and bridge br0 =
# 10.77.K.1/24. The IPv6 ULA (no DAD) is there only so dnsmasq can send
# router advertisements: without them iPXE waits ~13 s for IPv6 autoconf.
gc_vm_lab_up() {
  local ns="$1" k="$2"
  GC_VM_NS="$ns"
  GC_VM_NET="10.77.$k"
  GC_VM_SERVER="$GC_VM_NET.1"
  ip netns add "$ns" || gc_fail "ip netns add $ns failed"
  GC_NETNS+=("$ns")
  ip -n "$ns" link set lo up
  ip -n "$ns" link add br0 type bridge forward_delay 0 stp_state 0 ||
    gc_fail "could not create bridge br0 in namespace $ns"
  ip -n "$ns" addr add "$GC_VM_SERVER/24" dev br0
  ip -n "$ns" addr add "fd77:$k::1/64" dev br0 nodad
  ip -n "$ns" link set br0 up
}

# gc_vm_tap_add TAP: a tap on br0 in the lab namespace (kept if it exists, so
# a VM can be started again on the same tap).
gc_vm_tap_add() {
  local tap="$1"
  if ! ip -n "$GC_VM_NS" link show "$tap" >/dev/null 2>&1; then
    ip -n "$GC_VM_NS" tuntap add dev "$tap" mode tap || gc_fail "could not create tap $tap"
  fi
  ip -n "$GC_VM_NS" link set "$tap" master br0 up || gc_fail "could not attach tap $tap to br0"
}

# gc_vm_ns_exec CMD...: runs CMD inside the lab namespace.
gc_vm_ns_exec() {
  ip netns exec "$GC_VM_NS" "$@"
}

gc_vm_serial() { echo "$GC_VM_DIR/$1.serial"; }

# gc_vm_start NAME MAC [bios|uefi]: powers on a VM with a blank 64 MiB disk
# that network-boots from its virtio NIC. The serial console goes to
# $(gc_vm_serial NAME) (truncated on every start); QEMU's own messages to
# $GC_VM_DIR/NAME.qemu.log. BIOS: SeaBIOS runs the NIC's iPXE ROM. UEFI: OVMF
# on q35 with the NIC ROM dropped (romfile=), so OVMF's own PXE client fetches
# snponly.efi over TFTP first. The disk is the second boot device, as on a
# rack's machines: OVMF keeps only the boot options QEMU's boot order names,
# so an installed UEFI node's `exit` from iPXE falls through to its disk's
# EFI/BOOT/BOOTX64.EFI. GC_VM_REBOOT=1 lets a reboot reboot (an
# installed node PXE-boots again and then boots its disk) instead of ending
# QEMU; GC_VM_DISK_SIZE sets the blank disk's size (default 64M), GC_VM_MEM
# the RAM in MiB (default 256, UEFI 512; a diskless Debian root needs ~2048).
gc_vm_start() {
  local name="$1" mac="$2" firmware="${3:-bios}"
  local tap="gct-${name:0:11}" disk="$GC_VM_DIR/$name.raw" serial
  local accel="${GC_VM_ACCEL:-tcg}" cpu=qemu64 nic_rom="" mem=256
  local machine=(-machine pc,graphics=off)
  local pflash=() fw_cfg=()
  serial="$(gc_vm_serial "$name")"
  if [ -n "${GC_VM_PID[$name]:-}" ] && kill -0 "${GC_VM_PID[$name]}" 2>/dev/null; then
    gc_fail "VM $name is already running (pid ${GC_VM_PID[$name]})"
  fi
  [ "$accel" = kvm ] && cpu=host
  case "$firmware" in
    bios) ;;
    uefi)
      local code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
      [ -f "$code" ] && [ -f "$vars" ] || gc_fail "OVMF not found at $code; install the ovmf package"
      [ -f "$GC_VM_DIR/$name.vars.fd" ] || cp "$vars" "$GC_VM_DIR/$name.vars.fd"
      machine=(-machine q35,graphics=off)
      pflash=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$code"
        -drive "if=pflash,format=raw,unit=1,file=$GC_VM_DIR/$name.vars.fd")
      nic_rom=",romfile="
      # No IPv6 stack in OVMF (fw_cfg knob of edk2 2022.11): its PXEv6 and
      # HTTPv6 boot options would each wait out their DHCPv6 timeouts
      # before an installed node's disk gets its turn, as on a rack whose
      # firmware is set to boot over IPv4 only.
      fw_cfg=(-fw_cfg name=opt/org.tianocore/IPv6Support,string=n)
      mem=512
      ;;
    *) gc_fail "gc_vm_start: firmware must be bios or uefi, got '$firmware'" ;;
  esac
  mem="${GC_VM_MEM:-$mem}"
  gc_vm_tap_add "$tap"
  [ -f "$disk" ] || truncate -s "${GC_VM_DISK_SIZE:-64M}" "$disk"
  local reboot=(-no-reboot)
  [ "${GC_VM_REBOOT:-0}" = 1 ] && reboot=()
  : >"$serial"
  gc_start_bg "$GC_VM_NS" "$GC_VM_DIR/$name.qemu.log" qemu-system-x86_64 -name "$name" \
    -nodefaults "${machine[@]}" -accel "$accel" -cpu "$cpu" -display none -m "$mem" -smp 1 \
    "${pflash[@]}" "${fw_cfg[@]}" -serial "file:$serial" \
    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
    -device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1$nic_rom" \
    -drive "file=$disk,format=raw,if=none,id=disk0" \
    -device "virtio-blk-pci,drive=disk0,bootindex=2" "${reboot[@]}"
  GC_VM_PID[$name]=$GC_LAST_PID
  GC_VM_START[$name]=$(date +%s.%N)
  gc_log "started VM $name ($firmware, mac $mac, pid $GC_LAST_PID)"
}

# Seconds since VM NAME was started, one decimal.
gc_vm_elapsed() {
  python3 -c 'import sys,time; print("%.1f" % (time.time() - float(sys.argv[1])))' \
    "${GC_VM_START[$1]}"
}

# gc_vm_fail NAME MESSAGE: fails with the VM's serial console, QEMU's messages
# and GC_VM_EXTRA_LOGS as evidence.
gc_vm_fail() {
  local name="$1" msg="$2" f
  {
    echo "[$GC_TEST] FAIL: $msg"
    for f in "$(gc_vm_serial "$name")" "$GC_VM_DIR/$name.qemu.log" "${GC_VM_EXTRA_LOGS[@]}"; do
      echo "----- $f -----"
      if [ -f "$f" ]; then tail -n 40 "$f" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g'; else echo "(missing)"; fi
    done
    echo "-----"
  } >&2
  exit 1
}

# gc_vm_wait_serial NAME REGEX TIMEOUT_S: waits until the VM's serial console
# has a line matching the extended REGEX; fails early if QEMU exits first.
gc_vm_wait_serial() {
  local name="$1" re="$2" timeout deadline serial pid
  timeout="$(gc_vm_scaled "$3")"
  serial="$(gc_vm_serial "$name")"
  pid="${GC_VM_PID[$name]:-}"
  deadline=$((SECONDS + timeout))
  while ! grep -qaE -- "$re" "$serial" 2>/dev/null; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      grep -qaE -- "$re" "$serial" 2>/dev/null && break
      gc_vm_fail "$name" "VM $name exited before its serial console showed /$re/"
    fi
    [ "$SECONDS" -lt "$deadline" ] ||
      gc_vm_fail "$name" "VM $name: no /$re/ on the serial console within ${timeout}s"
    sleep 0.2
  done
  gc_log "VM $name: /$re/ after $(gc_vm_elapsed "$name") s"
}

# gc_vm_wait_exit NAME TIMEOUT_S: waits for QEMU to exit (the test initramfs
# powers off; -no-reboot turns any reboot into an exit too).
gc_vm_wait_exit() {
  local name="$1" timeout pid
  timeout="$(gc_vm_scaled "$2")"
  pid="${GC_VM_PID[$name]}"
  local deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || gc_vm_fail "$name" "VM $name still running after ${timeout}s"
    sleep 0.2
  done
  wait "$pid" 2>/dev/null || true
  gc_forget_pid "$pid"
  GC_VM_PID[$name]=""
}

# gc_vm_stop NAME: powers a VM off (SIGTERM to QEMU) and reaps it.
gc_vm_stop() {
  local pid="${GC_VM_PID[$1]:-}"
  [ -n "$pid" ] || return 0
  gc_kill_and_reap "$pid" TERM
  GC_VM_PID[$1]=""
}

# gc_vm_marker_node NAME: the node= value of the VM's GOLDCAST-BOOT-OK line.
gc_vm_marker_node() {
  grep -aoE 'GOLDCAST-BOOT-OK node=[^ ]+' "$(gc_vm_serial "$1")" | tail -n 1 | sed 's/.*node=//' |
    tr -d '\r'
}

# gc_vm_profile TEMPLATE OUT [KEY=VALUE...]: writes a test profile from
# tests/integration/profiles/TEMPLATE, replacing @NET@ (10.77.K), @SERVER@,
# @PORT@, @IFACE@ (br0), @PREFIX@ (mosix), @DHCP_MODE@ (authoritative) and any
# KEY given.
gc_vm_profile() {
  local template="$GC_REPO/tests/integration/profiles/$1" out="$2" kv key value
  shift 2
  [ -f "$template" ] || gc_fail "profile template $template is missing"
  declare -A vars=([NET]="$GC_VM_NET" [SERVER]="$GC_VM_SERVER" [PORT]="$GC_VM_PORT"
    [IFACE]=br0 [PREFIX]=mosix [DHCP_MODE]=authoritative)
  for kv in "$@"; do
    vars[${kv%%=*}]="${kv#*=}"
  done
  cp "$template" "$out"
  for key in "${!vars[@]}"; do
    value="${vars[$key]}"
    sed -i "s|@$key@|$value|g" "$out"
  done
  if grep -nE '@[A-Z_]+@' "$out" >"$GC_TMP/profile-leftover.txt"; then
    gc_fail_with_file "profile $out still has placeholders" "$GC_TMP/profile-leftover.txt"
  fi
}

# gc_vm_state_prepare STATE: puts the test kernel and initramfs where serve's
# boot scripts point (STATE/boot/install/ and STATE/boot/diskless/).
gc_vm_state_prepare() {
  local state="$1" mode
  for mode in install diskless; do
    mkdir -p "$state/boot/$mode"
    cp "$GC_VM_ARTIFACTS/vmlinuz" "$GC_VM_ARTIFACTS/initrd.img" "$state/boot/$mode/"
  done
}

# gc_vm_url PATH: the lab server's URL for PATH.
gc_vm_url() { echo "http://$GC_VM_SERVER:$GC_VM_PORT$1"; }

# gc_vm_node_url PATH: the lab server's node API URL for PATH (TLS, the
# profile's default https_port: http_port + 1).
gc_vm_node_url() { echo "https://$GC_VM_SERVER:$((GC_VM_PORT + 1))$1"; }

# gc_vm_pin STATE: the pin of serve's TLS key (serve writes STATE/tls/pin).
gc_vm_pin() {
  [ -s "$1/tls/pin" ] || gc_fail "serve wrote no TLS key pin at $1/tls/pin"
  cat "$1/tls/pin"
}

# gc_vm_https STATE PATH [curl args...]: like gc_vm_http, to the node API
# over TLS, trusting only serve's pinned key (as the agent does).
gc_vm_https() {
  local state="$1" path="$2" pin
  shift 2
  pin="$(gc_vm_pin "$state")"
  GC_OUT="$GC_TMP/http.out"
  GC_HTTP_STATUS="$(gc_vm_ns_exec curl -sS --max-time 10 -k --pinnedpubkey "$pin" -o "$GC_OUT" \
    -w '%{http_code}' "$@" "$(gc_vm_node_url "$path")" 2>"$GC_TMP/http.err")" || GC_HTTP_STATUS=000
}

# gc_vm_http PATH [curl args...]: GET from inside the lab namespace. Writes the
# body to $GC_OUT and sets GC_HTTP_STATUS; never fails by itself.
gc_vm_http() {
  local path="$1"
  shift
  GC_OUT="$GC_TMP/http.out"
  GC_HTTP_STATUS="$(gc_vm_ns_exec curl -sS --max-time 10 -o "$GC_OUT" -w '%{http_code}' "$@" \
    "$(gc_vm_url "$path")" 2>"$GC_TMP/http.err")" || GC_HTTP_STATUS=000
}

# gc_dnsmasq_pids: PIDs of dnsmasq processes in the lab namespace that the
# test did not start itself (i.e. serve's children), except `dnsmasq --test`
# (serve's config check, which ends by itself).
gc_dnsmasq_pids() {
  local pid p mine
  for pid in $(ip netns pids "$GC_VM_NS" 2>/dev/null); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dnsmasq ] || continue
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qx -- --test && continue
    mine=0
    for p in "${GC_PIDS[@]}"; do [ "$p" = "$pid" ] && mine=1; done
    [ "$mine" = 1 ] || echo "$pid"
  done
}

# gc_serve_start STATE PROFILE [extra serve args...]: starts `goldcast serve`
# in the lab namespace and waits until /healthz answers "ok" and its dnsmasq
# runs. Sets GC_SERVE_PID and GC_SERVE_LOG (a new log per start).
gc_serve_start() {
  local state="$1" profile="$2" deadline
  shift 2
  GC_SERVE_RUNS=$((GC_SERVE_RUNS + 1))
  GC_SERVE_LOG="$GC_TMP/serve-$GC_SERVE_RUNS.log"
  GC_SERVE_STATE="$state"
  GC_VM_EXTRA_LOGS=("$GC_SERVE_LOG")
  gc_start_bg "$GC_VM_NS" "$GC_SERVE_LOG" "$GOLDCAST" --state "$state" serve \
    --profile "$profile" "$@"
  GC_SERVE_PID=$GC_LAST_PID
  deadline=$((SECONDS + 30))
  while :; do
    kill -0 "$GC_SERVE_PID" 2>/dev/null ||
      gc_fail_with_file "goldcast serve exited during start-up" "$GC_SERVE_LOG"
    gc_vm_http /healthz
    if [ "$GC_HTTP_STATUS" = 200 ] && grep -q '^ok' "$GC_OUT" && [ -n "$(gc_dnsmasq_pids)" ]; then
      break
    fi
    [ "$SECONDS" -lt "$deadline" ] ||
      gc_fail_with_file "goldcast serve: no 'ok' from /healthz with dnsmasq running within 30s (last HTTP status $GC_HTTP_STATUS)" "$GC_SERVE_LOG"
    sleep 0.1
  done
  gc_serve_pxe_paths "$state"
  GC_VM_EXTRA_LOGS+=("$GC_PXE_LOG")
  gc_log "serve up (pid $GC_SERVE_PID, dnsmasq pid $(gc_dnsmasq_pids | tr '\n' ' '))"
}

# gc_serve_pxe_paths STATE: sets GC_PXE_HOSTS_DIR, GC_PXE_LEASES and
# GC_PXE_LOG from STATE/pxe/dnsmasq.conf, the config serve wrote (the hosts
# directory is absent in proxy mode).
gc_serve_pxe_paths() {
  local conf="$1/pxe/dnsmasq.conf"
  [ -f "$conf" ] || gc_fail "serve wrote no dnsmasq config at $conf"
  GC_PXE_HOSTS_DIR="$(sed -n 's/^dhcp-hostsdir=//p' "$conf" | tail -n 1)"
  GC_PXE_LEASES="$(sed -n 's/^dhcp-leasefile=//p' "$conf" | tail -n 1)"
  GC_PXE_LOG="$(sed -n 's/^log-facility=//p' "$conf" | tail -n 1)"
  [ -n "$GC_PXE_LEASES" ] && [ -n "$GC_PXE_LOG" ] ||
    gc_fail_with_file "dnsmasq.conf names no dhcp-leasefile or log-facility" "$conf"
}

# gc_pxe_hosts: dnsmasq's host list as it is now (every file of its hosts
# directory) in $GC_PXE_HOSTS, for grep.
gc_pxe_hosts() {
  GC_PXE_HOSTS="$GC_TMP/pxe.hosts"
  cat "$GC_PXE_HOSTS_DIR"/hosts-* >"$GC_PXE_HOSTS" 2>/dev/null || : >"$GC_PXE_HOSTS"
}

# gc_serve_stop: SIGTERM to serve; it must exit 0 within 15 s and leave no
# dnsmasq behind.
gc_serve_stop() {
  local pid="$GC_SERVE_PID" deadline
  kill -TERM "$pid" 2>/dev/null || gc_fail "serve (pid $pid) was not running when asked to stop"
  gc_wait_exit "$pid" 15
  GC_SERVE_PID=""
  [ "$GC_EXIT_STATUS" -eq 0 ] ||
    gc_fail_with_file "goldcast serve exited $GC_EXIT_STATUS on SIGTERM, want 0" "$GC_SERVE_LOG"
  deadline=$((SECONDS + 5))
  while [ -n "$(gc_dnsmasq_pids)" ]; do
    [ "$SECONDS" -lt "$deadline" ] ||
      gc_fail_with_file "dnsmasq (pid $(gc_dnsmasq_pids)) still runs after serve exited" "$GC_SERVE_LOG"
    sleep 0.1
  done
}

# gc_nodes_json OUT: `goldcast nodes list --json` of the current serve state.
gc_nodes_json() {
  gc_expect_status 0 "nodes list --json" "$GOLDCAST" --state "$GC_SERVE_STATE" nodes list --json
  cp "$GC_OUT" "$1"
}

# gc_nodes_field JSON MAC FIELD: FIELD of the node with MAC ("" if none).
gc_nodes_field() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
nodes = json.load(open(sys.argv[1]))
for n in nodes:
    if n.get("mac", "").lower() == sys.argv[2].lower():
        print(n.get(sys.argv[3], ""))
        break
EOF
}

# gc_nodes_wait_count N TIMEOUT_S: waits until the registry holds N nodes.
gc_nodes_wait_count() {
  local want="$1" timeout deadline count
  timeout="$(gc_vm_scaled "$2")"
  deadline=$((SECONDS + timeout))
  while :; do
    gc_nodes_json "$GC_TMP/nodes-wait.json"
    count="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' \
      "$GC_TMP/nodes-wait.json")"
    [ "$count" -ge "$want" ] && return 0
    [ "$SECONDS" -lt "$deadline" ] ||
      gc_fail_with_file "registry has $count nodes after ${timeout}s, want $want" "$GC_SERVE_LOG"
    sleep 0.2
  done
}

# gc_fake_kernel_artifact STATE NAME RELEASE: publishes a kernel artifact
# NAME@1 by hand (the layout of kernel-build/kernel_store.h): a vmlinuz of
# random bytes and a modules tree with one module, for tests that ship a
# kernel but do not boot it.
gc_fake_kernel_artifact() {
  local state="$1" name="$2" release="$3" dir
  dir="$state/kernels/$name/1"
  mkdir -p "$dir/modules/lib/modules/$release/kernel/drivers/net"
  head -c 65536 /dev/urandom >"$dir/vmlinuz"
  echo "ffffffff81000000 T _text" >"$dir/System.map"
  echo "CONFIG_MODULES=y" >"$dir/config"
  echo '$ make (fake)' >"$dir/build.log"
  echo "{\"inputs_key\": \"fake-$name\"}" >"$dir/inputs.json"
  echo "{\"kernel_release\": \"$release\", \"modules\": true}" >"$dir/artifact.json"
  echo "fake module" >"$dir/modules/lib/modules/$release/kernel/drivers/net/dummy.ko"
  echo "kernel/drivers/net/dummy.ko:" >"$dir/modules/lib/modules/$release/modules.dep"
  "$GOLDCAST" --state "$state" kernel show "$name@1" >"$GC_TMP/fake-kernel.out" 2>&1 ||
    gc_fail_with_file "goldcast does not accept the fake kernel artifact" "$GC_TMP/fake-kernel.out"
}

# gc_vm_ssh ADDRESS CMD...: runs CMD as root on a node over ssh from the lab
# namespace (the server's side), with the golden client's key
# ($GOLDCAST_CACHE/node-key, scripts/golden-cache.sh). Host keys are not
# remembered: every installed node makes fresh ones. Output to $GC_OUT, status
# in GC_EXIT_STATUS; never fails by itself.
gc_vm_ssh() {
  local address="$1" key="${GOLDCAST_CACHE:-/var/cache/goldcast}/node-key"
  shift
  GC_OUT="$GC_TMP/ssh.out"
  GC_EXIT_STATUS=0
  gc_vm_ns_exec ssh -n -i "$key" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 \
    "root@$address" "$@" >"$GC_OUT" 2>"$GC_TMP/ssh.err" || GC_EXIT_STATUS=$?
}

# gc_vm_wait_ssh ADDRESS TIMEOUT_S: waits until sshd on ADDRESS lets root in.
gc_vm_wait_ssh() {
  local address="$1" timeout deadline
  timeout="$(gc_vm_scaled "$2")"
  deadline=$((SECONDS + timeout))
  while :; do
    gc_vm_ssh "$address" true
    [ "$GC_EXIT_STATUS" = 0 ] && return 0
    [ "$SECONDS" -lt "$deadline" ] ||
      gc_fail_with_file "no ssh login as root on $address within ${timeout}s" "$GC_TMP/ssh.err"
    sleep 2
  done
}

# gc_bench_vm_setup TAG: the start of a VM benchmark (bench/cluster.sh,
# bench/diskless.sh) once its arguments are read (GOLDCAST, src_tree and
# bundle possibly set): gc_bench_start, the golden tree (src_tree, default
# the node tree), GC_VM_DIR, the Release agent bundle (bundle), the tree
# imported as image compute@1 into $GC_TMP/state (state, image_bytes,
# image_files) and the test kernel (kernel, artifact, release).
gc_bench_vm_setup() {
  gc_bench_start "$1" gc_vm_cleanup
  [ -n "$src_tree" ] || src_tree="$(gc_golden_tree node)" || exit 1
  [ -d "$src_tree" ] || gc_fail "tree '$src_tree' is not a directory"
  GC_VM_DIR="$GC_TMP/vm"
  mkdir -p "$GC_VM_DIR"
  [ -n "$bundle" ] || bundle="$(gc_release_agent_bundle)"
  [ -x "$bundle/goldcast-agent" ] || gc_fail "agent bundle '$bundle' holds no goldcast-agent"
  state="$GC_TMP/state"
  gc_log "importing $src_tree as image compute"
  gc_expect_status 0 "image import" "$GOLDCAST" --state "$state" image import --dir "$src_tree" \
    --image compute
  gc_expect_status 0 "image show compute@1" "$GOLDCAST" --state "$state" image show compute@1 --json
  image_bytes="$(gc_json_field "$GC_OUT" bytes_total)"
  image_files="$(gc_json_field "$GC_OUT" files)"
  gc_build_test_kernel "$state"  # sets kernel, artifact, release
}
