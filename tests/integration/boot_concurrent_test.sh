#!/usr/bin/env bash
# Four BIOS VMs powered on at the same moment race for names: all four must
# boot the test kernel with four distinct names (node1..node4, whatever the
# order) and four distinct fixed addresses; none lost, none named twice, and
# each VM's marker names the node the registry gave its MAC.
GC_TEST=boot_concurrent
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"
t0=$SECONDS

gc_vm_lab_up "gc-bc-$$" 62
state="$GC_TMP/state"
profile="$GC_TMP/profile.yaml"
gc_vm_profile lab.yaml "$profile" PREFIX=node
gc_vm_state_prepare "$state"
gc_serve_start "$state" "$profile"

macs=(52:54:00:77:62:01 52:54:00:77:62:02 52:54:00:77:62:03 52:54:00:77:62:04)
# Taps first, so the four QEMUs start back to back.
for i in 0 1 2 3; do gc_vm_tap_add "gct-c$i"; done
for i in 0 1 2 3; do gc_vm_start "c$i" "${macs[$i]}" bios; done
for i in 0 1 2 3; do
  # pxe-lab.md: 4 nodes at once on 2 cores reach the marker in ~23 s.
  gc_vm_wait_serial "c$i" 'GOLDCAST-BOOT-OK' 120
done
for i in 0 1 2 3; do gc_vm_wait_exit "c$i" 30; done

gc_nodes_json "$GC_TMP/nodes.json"
markers="$GC_TMP/markers.txt"
: >"$markers"
for i in 0 1 2 3; do
  echo "${macs[$i]} $(gc_vm_marker_node "c$i")" >>"$markers"
done
python3 - "$GC_TMP/nodes.json" "$markers" "$GC_VM_NET" <<'EOF' || gc_fail_with_file "registry after four simultaneous boots is wrong" "$GC_TMP/nodes.json"
import json, sys
nodes = json.load(open(sys.argv[1]))
markers = dict(line.split() for line in open(sys.argv[2]) if line.strip())
net = sys.argv[3]
errors = []
if len(nodes) != 4:
    errors.append("registry holds %d nodes, want 4" % len(nodes))
names = [n["name"] for n in nodes]
ips = [n["ip"] for n in nodes]
macs = [n["mac"].lower() for n in nodes]
if sorted(names) != ["node1", "node2", "node3", "node4"]:
    errors.append("names are %s, want node1..node4 each once" % sorted(names))
if len(set(ips)) != len(ips) or "" in ips:
    errors.append("addresses are not distinct: %s" % ips)
want_ips = {"node%d" % i: "%s.%d" % (net, 10 + i) for i in range(1, 5)}
for n in nodes:
    if n["name"] in want_ips and n["ip"] != want_ips[n["name"]]:
        errors.append("%s has %s, want %s" % (n["name"], n["ip"], want_ips[n["name"]]))
if sorted(macs) != sorted(markers):
    errors.append("registered MACs %s differ from the VMs' %s" % (sorted(macs), sorted(markers)))
for n in nodes:
    booted_as = markers.get(n["mac"].lower())
    if booted_as != n["name"]:
        errors.append("VM %s booted as %r but is %s in the registry" % (n["mac"], booted_as, n["name"]))
for e in errors:
    print("error:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
gc_pxe_hosts
for i in 0 1 2 3; do
  name="$(gc_nodes_field "$GC_TMP/nodes.json" "${macs[$i]}" name)"
  ip="$(gc_nodes_field "$GC_TMP/nodes.json" "${macs[$i]}" ip)"
  gc_assert_grep "hosts file entry for $name" "^${macs[$i]},$ip(,$name)?" "$GC_PXE_HOSTS"
  gc_log "VM c$i (${macs[$i]}) -> $name $ip"
done

gc_serve_stop
gc_log "concurrent boot done in $((SECONDS - t0)) s"
