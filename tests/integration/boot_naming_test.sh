#!/usr/bin/env bash
# Boot-order naming, end to end with real firmware: three BIOS VMs with blank
# disks are powered on one after another in a lab namespace; each PXE-boots
# through goldcast's dnsmasq into iPXE, fetches its script from goldcast serve
# and boots the test kernel, whose /init prints the node name and mode it got
# on the serial console. The registry must name them mosix1..3 in start order,
# with the profile's fixed addresses. serve is then restarted (SIGTERM: exit 0,
# dnsmasq gone) and the VMs boot again in reverse order: same names, and
# dnsmasq now hands iPXE each node's fixed address. A UEFI VM (OVMF, TFTP ->
# snponly.efi -> iPXE) gets the next name. Finally `nodes set --mode local`
# changes the script served (sanboot for BIOS, exit for UEFI).
GC_TEST=boot_naming
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"
t0=$SECONDS

gc_vm_lab_up "gc-bn-$$" 61
state="$GC_TMP/state"
profile="$GC_TMP/profile.yaml"
gc_vm_profile lab.yaml "$profile" PREFIX=mosix
gc_vm_state_prepare "$state"
macs=(unused 52:54:00:77:61:01 52:54:00:77:61:02 52:54:00:77:61:03 52:54:00:77:61:04)

# check_node I NAME: the registry entry and serial console of VM vmI.
check_node() {
  local i="$1" want="$2" json="$GC_TMP/nodes.json" serial got ip
  serial="$(gc_vm_serial "vm$i")"
  got="$(gc_nodes_field "$json" "${macs[$i]}" name)"
  [ "$got" = "$want" ] ||
    gc_fail_with_file "VM vm$i (mac ${macs[$i]}) is named '$got' in the registry, want $want" "$json"
  got="$(gc_nodes_field "$json" "${macs[$i]}" index)"
  [ "$got" = "${want#mosix}" ] || gc_fail_with_file "node $want has index '$got'" "$json"
  ip="$(gc_nodes_field "$json" "${macs[$i]}" ip)"
  [ "$ip" = "$GC_VM_NET.$((10 + ${want#mosix}))" ] ||
    gc_fail_with_file "node $want has address '$ip', want the profile's $GC_VM_NET.$((10 + ${want#mosix})) (node_addresses start at .11)" "$json"
  got="$(gc_vm_marker_node "vm$i")"
  [ "$got" = "$want" ] || gc_vm_fail "vm$i" "VM vm$i booted as node '$got', the registry says $want"
  gc_assert_grep "vm$i must boot in install mode" "GOLDCAST-BOOT-OK node=$want mode=install" "$serial"
  # The install command line: the node API's URL (TLS) and its key's pin,
  # node, a hex install token, and the group's kernel_args from the profile.
  local cmdline
  cmdline="$(grep -a '^GOLDCAST-CMDLINE ' "$serial" | tail -n 1)"
  for re in "goldcast\.server=https://$GC_VM_SERVER:$((GC_VM_PORT + 1))( |/? )" \
    'goldcast\.pin=sha256//[A-Za-z0-9+/]{43}=( |$)' "goldcast\.node=$want( |$)" \
    'goldcast\.token=[0-9a-f]{32}( |$)' 'goldcast\.mode=install' 'goldcast\.test=lab' \
    'console=ttyS0' 'initrd=initrd\.img'; do
    echo "$cmdline" | grep -qE -- "$re" ||
      gc_vm_fail "vm$i" "kernel command line of $want lacks /$re/: $cmdline"
  done
}

# --- Round 1: three BIOS VMs, one after another ---------------------------
gc_serve_start "$state" "$profile"
for i in 1 2 3; do
  gc_vm_start "vm$i" "${macs[$i]}" bios
  # The next VM starts only once this one asked for its script, so "start
  # order" is the order the registry saw them in.
  gc_nodes_wait_count "$i" 60
  gc_log "vm$i registered after $(gc_vm_elapsed "vm$i") s"
done
for i in 1 2 3; do
  gc_vm_wait_serial "vm$i" 'GOLDCAST-BOOT-OK' 90
  gc_vm_wait_exit "vm$i" 30
done
gc_nodes_json "$GC_TMP/nodes.json"
count="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$GC_TMP/nodes.json")"
[ "$count" = 3 ] || gc_fail_with_file "registry holds $count nodes after three boots, want 3" \
  "$GC_TMP/nodes.json"
for i in 1 2 3; do check_node "$i" "mosix$i"; done
python3 - "$GC_TMP/nodes.json" <<'EOF' || gc_fail_with_file "nodes list --json lacks a field" "$GC_TMP/nodes.json"
import json, sys
for n in json.load(open(sys.argv[1])):
    for key in ("index", "name", "mac", "ip", "group", "mode", "state"):
        assert key in n, "missing %s in %r" % (key, n)
    assert "last_seen" in n or "last_seen_ns" in n, "missing last_seen in %r" % n
    assert n["group"] == "compute" and n["mode"] == "install", n
EOF
secrets="$(grep -ahoE 'goldcast\.token=[0-9a-f]+' "$GC_VM_DIR"/vm[123].serial | sort -u | wc -l)"
[ "$secrets" = 3 ] || gc_fail "the three nodes got $secrets distinct install tokens, want 3"
gc_pxe_hosts

# Named nodes get a dnsmasq host entry: MAC -> fixed address and name.
for i in 1 2 3; do
  gc_assert_grep "hosts file entry for mosix$i" \
    "^${macs[$i]},$GC_VM_NET\.$((10 + i))(,mosix$i)?" "$GC_PXE_HOSTS"
done

# --- Restart: same MACs keep their names; iPXE now gets the fixed address --
gc_serve_stop
gc_log "serve stopped cleanly; restarting"
log_lines="$(wc -l <"$GC_PXE_LOG")"
gc_serve_start "$state" "$profile"
for i in 3 2 1; do gc_vm_start "vm$i" "${macs[$i]}" bios; done
for i in 3 2 1; do
  gc_vm_wait_serial "vm$i" 'GOLDCAST-BOOT-OK' 90
  gc_vm_wait_exit "vm$i" 30
done
gc_nodes_json "$GC_TMP/nodes.json"
count="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$GC_TMP/nodes.json")"
[ "$count" = 3 ] || gc_fail_with_file "registry holds $count nodes after the known VMs booted again, want 3" \
  "$GC_TMP/nodes.json"
for i in 1 2 3; do check_node "$i" "mosix$i"; done
tail -n "+$((log_lines + 1))" "$GC_PXE_LOG" >"$GC_TMP/dnsmasq-round2.log"
for i in 1 2 3; do
  gc_assert_grep "after the restart dnsmasq must hand mosix$i its fixed address" \
    "DHCPACK\(br0\) $GC_VM_NET\.$((10 + i)) ${macs[$i]}" "$GC_TMP/dnsmasq-round2.log"
done

# --- UEFI: OVMF's PXE -> snponly.efi over TFTP -> iPXE -> the next name ----
gc_vm_start vm4 "${macs[4]}" uefi
gc_vm_wait_serial vm4 'GOLDCAST-BOOT-OK' 120
gc_vm_wait_exit vm4 30
gc_nodes_json "$GC_TMP/nodes.json"
check_node 4 mosix4
gc_assert_grep "the UEFI VM must have fetched snponly.efi over TFTP" \
  'sent .*snponly\.efi to' "$GC_PXE_LOG"

# --- nodes set --mode local: the script changes without a restart ---------
gc_vm_http "/boot/ipxe?mac=${macs[2]}&platform=pcbios&arch=i386"
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "GET /boot/ipxe for mosix2: HTTP $GC_HTTP_STATUS" "$GC_OUT"
gc_assert_grep "mosix2 in install mode gets the installer kernel" \
  "^kernel .*/boot/files/install/vmlinuz .*goldcast\.node=mosix2" "$GC_OUT"
gc_expect_status 0 "nodes set mosix2 --mode local" "$GOLDCAST" --state "$state" nodes set mosix2 \
  --mode local
gc_vm_http "/boot/ipxe?mac=${macs[2]}&platform=pcbios&arch=i386"
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "GET /boot/ipxe for mosix2: HTTP $GC_HTTP_STATUS" "$GC_OUT"
cp "$GC_OUT" "$GC_TMP/local-bios.ipxe"
gc_assert_grep "mosix2 in local mode (BIOS) must boot the first disk" \
  '^sanboot --no-describe --drive 0x80' "$GC_TMP/local-bios.ipxe"
if grep -qE '^(kernel|initrd|chain) ' "$GC_TMP/local-bios.ipxe"; then
  gc_fail_with_file "the local-mode script still loads a kernel" "$GC_TMP/local-bios.ipxe"
fi
gc_vm_http "/boot/ipxe?mac=${macs[2]}&platform=efi&arch=x86_64"
cp "$GC_OUT" "$GC_TMP/local-efi.ipxe"
gc_assert_grep "mosix2 in local mode (UEFI) must exit to the firmware" '^exit' "$GC_TMP/local-efi.ipxe"
if grep -q sanboot "$GC_TMP/local-efi.ipxe"; then
  gc_fail_with_file "the UEFI local-mode script must not sanboot" "$GC_TMP/local-efi.ipxe"
fi
gc_nodes_json "$GC_TMP/nodes.json"
[ "$(gc_nodes_field "$GC_TMP/nodes.json" "${macs[2]}" mode)" = local ] ||
  gc_fail_with_file "nodes list does not show mosix2 in local mode" "$GC_TMP/nodes.json"
[ "$(gc_nodes_field "$GC_TMP/nodes.json" "${macs[2]}" name)" = mosix2 ] ||
  gc_fail_with_file "mosix2 lost its name when its mode changed" "$GC_TMP/nodes.json"

gc_serve_stop
gc_log "boot naming done in $((SECONDS - t0)) s"
