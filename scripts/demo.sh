#!/usr/bin/env bash
# The goldcast demo (README's first command): a golden-client capture on a
# real Debian tree, then a virtual cluster of blank VMs installed over PXE.
#   1. installs packages, builds goldcast (release);
#   2. builds (once, cached) a debootstrap minbase tree: the "golden client";
#   3. in two network namespaces joined by a veth (golden 10.88.250.2,
#      server 10.88.250.1), runs goldcast-agent prepareclient on the golden
#      side and goldcast getimage on the server side: compute@1;
#   4. changes a few files, captures again: compute@2 moves only the changes;
#   5. lists, shows, diffs, verifies and exports the image;
#   6. builds the kernel artifact (Debian's vanilla 6.1 tarball + a test
#      patch; the first build compiles for several minutes, later ones hit
#      the cache), imports a small busybox node image and makes the installer;
#   7. runs goldcast serve on a lab bridge (its own namespace) and powers on
#      two blank QEMU machines one after the other: they are named mosix1 and
#      mosix2 in boot order, installed, rebooted into the artifact from their
#      own disks, and heartbeat; `goldcast nodes` shows the cluster.
# Needs root. Everything it starts runs inside its own namespaces and is
# removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

bash scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build-release goldcast goldcast-agent
tree_cache=$(bash scripts/golden-cache.sh)

GC_TEST=demo
# shellcheck source=../tests/integration/lib_vm.sh
source tests/integration/lib_vm.sh
gc_vm_init "$repo/build-release/cli/goldcast" "$repo/build-release/node-agent/goldcast-agent"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
golden=gc-demo-golden-$$
server=gc-demo-server-$$
gc_ns_pair_up "$golden" "$server" 250
state=$GC_TMP/server-state
tree=$GC_TMP/golden-root
say "golden client: a copy of the cached Debian minbase tree ($tree_cache)"
cp -a "$tree_cache" "$tree"
du -sh "$tree"

capture() {
  rm -f "$GC_TMP/token"
  gc_start_bg "$golden" "$GC_TMP/prepareclient.log" "$GOLDCAST_AGENT" prepareclient \
    --root "$tree" --listen 10.88.250.2:8470 --state "$GC_TMP/agent-state" \
    --token-file "$GC_TMP/token" --image compute
  local pid=$GC_LAST_PID
  gc_wait_for_file "$GC_TMP/token" 120 "$pid" "$GC_TMP/prepareclient.log"
  echo "golden$ goldcast-agent prepareclient --root $tree --listen 10.88.250.2:8470"
  grep -v '^$' "$GC_TMP/prepareclient.log" | sed 's/^/  /'
  echo "server$ goldcast getimage --golden-client 10.88.250.2:8470 --token … --image compute"
  ip netns exec "$server" "$GOLDCAST" --state "$state" getimage \
    --golden-client 10.88.250.2:8470 --token "$(cat "$GC_TMP/token")" --image compute -m "$1"
  gc_wait_exit "$pid" 30
}

say "1. first capture"
capture "first capture"

say "2. change a few files on the golden client and capture again"
echo "mosix1" >"$tree/etc/hostname"
echo "# goldcast demo" >>"$tree/etc/bash.bashrc"
head -c 2000000 /dev/urandom >"$tree/usr/local/bin/cluster-tool"
chmod 755 "$tree/usr/local/bin/cluster-tool"
capture "hostname, bashrc, cluster-tool"

say "3. the image store"
"$GOLDCAST" --state "$state" image list
"$GOLDCAST" --state "$state" image show compute@2
say "4. what changed between the versions"
"$GOLDCAST" --state "$state" image diff compute@1 compute@2
say "5. verify every object and export compute@2"
"$GOLDCAST" --state "$state" image verify
"$GOLDCAST" --state "$state" image tag compute@2 stable
"$GOLDCAST" --state "$state" image export compute:stable -o "$GC_TMP/compute.tar.zst" --zstd
ls -lh "$GC_TMP/compute.tar.zst"
echo "store on disk: $(du -sh "$state/store" | cut -f1) for two versions (tree: $(du -sh "$tree" | cut -f1))"
say "6. a kernel artifact, a node image and the installer"
gc_build_test_kernel "$state"
"$GOLDCAST" --state "$state" kernel list
bash tests/integration/node_tree.sh "$GC_TMP/node-tree"
"$GOLDCAST" --state "$state" image import --dir "$GC_TMP/node-tree" --image node -m "busybox node"
bash scripts/bundle-agent.sh "$GOLDCAST_AGENT" "$GC_TMP/agent-bundle"
mkdir -p "$state/boot/install"
cp "$artifact/vmlinuz" "$state/boot/install/vmlinuz"
bash scripts/installer-initramfs.sh --agent-bundle "$GC_TMP/agent-bundle" \
  "$state/boot/install/initrd.img"

say "7. goldcast serve on a lab bridge; two blank machines power on in order"
gc_vm_lab_up "gc-demo-lab-$$" 90
gc_vm_profile install.yaml "$GC_TMP/cluster.yaml" KERNEL="${kernel%@*}" IMAGE=node
grep -v '^#' "$GC_TMP/cluster.yaml"
gc_serve_start "$state" "$GC_TMP/cluster.yaml"
GC_VM_REBOOT=1 GC_VM_DISK_SIZE=128M gc_vm_start node-a 52:54:00:90:00:0a bios
gc_nodes_wait_count 1 120
GC_VM_REBOOT=1 GC_VM_DISK_SIZE=128M gc_vm_start node-b 52:54:00:90:00:0b bios
for vm in node-a node-b; do
  gc_vm_wait_serial "$vm" 'GOLDCAST-INSTALL-OK' 300
  gc_vm_wait_serial "$vm" 'GOLDCAST-AGENT-STARTED' 240
done
for vm in node-a node-b; do
  echo "$vm's console:"
  grep -aE 'goldcast installer|goldcast-agent install|GOLDCAST-' "$(gc_vm_serial "$vm")" |
    tr -d '\r' | sed 's/^/  /' | tail -n 12
done
deadline=$((SECONDS + 120))
until "$GOLDCAST" --state "$state" nodes list --json | python3 -c '
import json, sys
nodes = json.load(sys.stdin)
sys.exit(0 if len(nodes) == 2 and all(n.get("heartbeat") and not n.get("drift")
                                       for n in nodes) else 1)'; do
  # mosix1 was installed before mosix2 joined the openMosix map: its
  # heartbeat answer brings it the new map, and the drift clears.
  [ "$SECONDS" -lt "$deadline" ] ||
    gc_fail "the two nodes did not heartbeat without drift within 120 s: $("$GOLDCAST" --state "$state" nodes list)"
  sleep 1
done
"$GOLDCAST" --state "$state" nodes list
"$GOLDCAST" --state "$state" nodes show mosix1
say "done: the VMs, namespaces, processes and temp files are removed on exit"
