#!/usr/bin/env bash
# Proxy-DHCP: the lab network already has a DHCP server (a second dnsmasq that
# hands out addresses only: no boot filename, no PXE options, no TFTP), and
# goldcast serve runs with `dhcp.mode: proxy`, so its dnsmasq only adds the
# PXE boot information. A BIOS VM and a UEFI VM powered on together must both
# get their address from the other server, iPXE + the boot script from
# goldcast, and boot the test kernel under their registered names.
GC_TEST=boot_proxy
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"
t0=$SECONDS

k=63
gc_vm_lab_up "gc-bp-$$" "$k"
state="$GC_TMP/state"
profile="$GC_TMP/profile.yaml"
gc_vm_profile proxy.yaml "$profile" PREFIX=mosix
gc_vm_state_prepare "$state"

# The network's own DHCP server (think: the site's router). It also sends the
# router advertisements a real network has, so iPXE's IPv6 autoconf ends at once.
other="$GC_TMP/other-dhcp"
mkdir -p "$other"
cat >"$other/dnsmasq.conf" <<EOF
port=0
interface=br0
bind-interfaces
except-interface=lo
no-resolv
no-hosts
user=root
dhcp-authoritative
dhcp-range=$GC_VM_NET.50,$GC_VM_NET.90,255.255.255.0,1h
dhcp-leasefile=$other/leases
no-ping
enable-ra
dhcp-range=fd77:$k::,ra-only,64,1h
ra-param=br0,10,0
dhcp-option=option:router
dhcp-option=option:dns-server
log-dhcp
log-facility=$other/dnsmasq.log
EOF
gc_start_bg "$GC_VM_NS" "$other/stderr.log" dnsmasq --keep-in-foreground \
  --conf-file="$other/dnsmasq.conf"
other_pid=$GC_LAST_PID
gc_wait_for_file "$other/dnsmasq.log" 10 "$other_pid" "$other/stderr.log"

gc_serve_start "$state" "$profile"
GC_VM_EXTRA_LOGS+=("$other/dnsmasq.log")
kill -0 "$other_pid" 2>/dev/null ||
  gc_fail_with_file "the other DHCP server died when goldcast's dnsmasq started beside it" \
    "$other/stderr.log"

bios_mac=52:54:00:77:63:01
uefi_mac=52:54:00:77:63:02
gc_vm_start pb "$bios_mac" bios
gc_vm_start pu "$uefi_mac" uefi
gc_vm_wait_serial pb 'GOLDCAST-BOOT-OK' 90
gc_vm_wait_serial pu 'GOLDCAST-BOOT-OK' 120
gc_vm_wait_exit pb 30
gc_vm_wait_exit pu 30

gc_nodes_json "$GC_TMP/nodes.json"
for vm in pb pu; do
  if [ "$vm" = pb ]; then mac=$bios_mac; else mac=$uefi_mac; fi
  name="$(gc_nodes_field "$GC_TMP/nodes.json" "$mac" name)"
  [[ "$name" =~ ^mosix[12]$ ]] ||
    gc_fail_with_file "VM $vm ($mac) is named '$name' in the registry, want mosix1 or mosix2" \
      "$GC_TMP/nodes.json"
  gc_assert_grep "VM $vm must boot as $name" "GOLDCAST-BOOT-OK node=$name mode=install" \
    "$(gc_vm_serial "$vm")"
  gc_assert_grep "VM $vm's kernel must get the proxy group's kernel_args" \
    '^GOLDCAST-CMDLINE .*goldcast\.test=proxy' "$(gc_vm_serial "$vm")"
  # The address came from the other server (its pool .50-.90), never goldcast's.
  gc_assert_grep "the other DHCP server must have acknowledged $vm" \
    "DHCPACK\(br0\) $GC_VM_NET\.[0-9]+ $mac" "$other/dnsmasq.log"
  if [ -f "$GC_PXE_LEASES" ] && grep -qi "$mac" "$GC_PXE_LEASES"; then
    gc_fail_with_file "goldcast's dnsmasq leased an address to $mac in proxy mode" "$GC_PXE_LEASES"
  fi
  # In proxy mode the registry keeps the address the node was last seen at.
  ip="$(gc_nodes_field "$GC_TMP/nodes.json" "$mac" ip)"
  last="${ip##*.}"
  [[ "$ip" == "$GC_VM_NET."* ]] && [ "$last" -ge 50 ] && [ "$last" -le 90 ] ||
    gc_fail_with_file "node $name ($mac) has address '$ip'; want the one the other server gave ($GC_VM_NET.50-90)" \
      "$GC_TMP/nodes.json"
done
[ "$(gc_nodes_field "$GC_TMP/nodes.json" "$bios_mac" name)" != \
  "$(gc_nodes_field "$GC_TMP/nodes.json" "$uefi_mac" name)" ] ||
  gc_fail_with_file "both VMs got the same name" "$GC_TMP/nodes.json"
if grep -qE "DHCPACK\(br0\) $GC_VM_NET\.(1[0-9][0-9]|[1-4][0-9]|[0-9]) " "$GC_PXE_LOG"; then
  gc_fail_with_file "goldcast's dnsmasq handed out an address in proxy mode" "$GC_PXE_LOG"
fi
gc_assert_grep "goldcast's dnsmasq must have sent the UEFI VM snponly.efi" 'sent .*snponly\.efi to' \
  "$GC_PXE_LOG"

# Issue 10, finding 3: anyone can ask for a node's boot script in its name
# from elsewhere (here the server's own address); that must not move the
# node's address, which the openMosix map would then spread to every node.
ip_before="$(gc_nodes_field "$GC_TMP/nodes.json" "$bios_mac" ip)"
gc_vm_http "/boot/ipxe?mac=$bios_mac"
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail "the spoofed boot request got HTTP $GC_HTTP_STATUS"
gc_nodes_json "$GC_TMP/nodes-after.json"
ip_after="$(gc_nodes_field "$GC_TMP/nodes-after.json" "$bios_mac" ip)"
[ "$ip_after" = "$ip_before" ] ||
  gc_fail "a boot request from $GC_VM_SERVER moved $bios_mac from $ip_before to $ip_after"

gc_serve_stop
kill -0 "$other_pid" 2>/dev/null ||
  gc_fail_with_file "stopping goldcast serve took the other DHCP server down" "$other/stderr.log"
gc_log "proxy boot done in $((SECONDS - t0)) s"
