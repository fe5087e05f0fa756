#!/usr/bin/env bash
# The goldcast demo (README's first command): a real Debian golden client
# becomes a virtual cluster.
#   1. installs packages, builds goldcast (release);
#   2. builds (once, cached) the golden client: Debian 12 with systemd, sshd,
#      Debian's kernel and criu (scripts/golden-cache.sh --tree node);
#   3. in two network namespaces joined by a veth (golden 10.88.250.2,
#      server 10.88.250.1), runs goldcast-agent prepareclient on the golden
#      side and goldcast getimage on the server side: compute@1;
#   4. changes a few files, captures again: compute@2 moves only the changes;
#   5. lists, shows, diffs and verifies the image;
#   6. builds the cluster's migration kernel (Debian's vanilla 6.1 tarball +
#      the test patch, every option systemd and CRIU need built in; the first
#      build compiles for several minutes, later ones hit the cache);
#   7. runs goldcast serve on a lab bridge (its own namespace) and powers on
#      three blank QEMU machines in order: mosix1 (BIOS) and mosix2 (UEFI)
#      are installed with compute@2 and boot the migration kernel from their
#      own disks, mosix3 runs diskless with its root in RAM; then a table of
#      the cluster and `ssh root@mosix2 'hostname; systemctl
#      is-system-running; criu check'` from the server's namespace.
# Needs root. Everything it starts runs inside its own namespaces and is
# removed at the end (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

bash scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build-release goldcast goldcast-agent
tree_cache=$(bash scripts/golden-cache.sh --tree node)

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
say "golden client: a copy of the cached Debian node tree ($tree_cache)"
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
  local pin
  pin="$(cat "$GC_TMP/agent-state/tls/pin")"
  echo "server$ goldcast getimage --golden-client 10.88.250.2:8470 --token-file - --pin $pin --image compute"
  ip netns exec "$server" "$GOLDCAST" --state "$state" getimage \
    --golden-client 10.88.250.2:8470 --token-file - --pin "$pin" --image compute -m "$1" \
    <"$GC_TMP/token"
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
say "5. verify every object"
"$GOLDCAST" --state "$state" image verify
echo "store on disk: $(du -sh "$state/store" | cut -f1) for two versions (tree: $(du -sh "$tree" | cut -f1))"

say "6. the cluster's migration kernel and the installer"
gc_kernel_source --no-debian-tree
echo "server$ goldcast kernel build --recipe profiles/kernels/migration-6.1.yaml"
"$GOLDCAST" --state "$state" kernel build --recipe "$KS_RECIPE" \
  --cache "${GOLDCAST_CACHE:-/var/cache/goldcast}/kernel" --json >"$GC_TMP/kernel.json"
kernel="$(gc_json_field "$GC_TMP/kernel.json" kernel)"
"$GOLDCAST" --state "$state" kernel list
bash scripts/bundle-agent.sh "$GOLDCAST_AGENT" "$GC_TMP/agent-bundle"
"$GOLDCAST" --state "$state" boot build-installer --kernel "$kernel" --agent-bundle "$GC_TMP/agent-bundle"

say "7. goldcast serve on a lab bridge; three blank machines power on in order"
gc_vm_lab_up "gc-demo-lab-$$" 90
macs=(52:54:00:90:00:0a 52:54:00:90:00:0b 52:54:00:90:00:0c)
firmware=(bios uefi bios)
gc_vm_profile demo.yaml "$GC_TMP/cluster.yaml" KERNEL="${kernel%@*}" IMAGE=compute \
  MAC_RAM="${macs[2]}"
grep -v '^#' "$GC_TMP/cluster.yaml"
gc_serve_start "$state" "$GC_TMP/cluster.yaml" --agent-bundle "$GC_TMP/agent-bundle"
declare -A first_beat=()
for i in 0 1 2; do
  mem=768
  [ "$i" = 2 ] && mem=2560  # diskless: the whole image lives in RAM
  GC_VM_REBOOT=1 GC_VM_DISK_SIZE=3G GC_VM_MEM=$mem gc_vm_start "mosix$((i + 1))" "${macs[$i]}" \
    "${firmware[$i]}"
  # Named in boot order: wait until this one is in the registry (which
  # holds the declared diskless machine from the start).
  [ "$i" = 2 ] || gc_nodes_wait_count "$((i + 2))" 120
done
deadline=$((SECONDS + 1500))
while [ "${#first_beat[@]}" -lt 3 ]; do
  "$GOLDCAST" --state "$state" nodes list --json >"$GC_TMP/nodes.json"
  for name in mosix1 mosix2 mosix3; do
    [ -n "${first_beat[$name]:-}" ] && continue
    if python3 - "$GC_TMP/nodes.json" "$name" <<'PY'; then
import json, sys
sys.exit(0 if any(n["name"] == sys.argv[2] and n.get("heartbeat")
                  for n in json.load(open(sys.argv[1]))) else 1)
PY
      first_beat[$name]="$(gc_vm_elapsed "$name")"
      echo "$name: first heartbeat ${first_beat[$name]} s after power-on"
    fi
  done
  # Progress while they install: one line per node from the registry.
  python3 - "$GC_TMP/nodes.json" <<'PY'
import json, sys
for n in json.load(open(sys.argv[1])):
    p = n.get("progress") or {}
    if p.get("phase") and not n.get("heartbeat"):
        total = p.get("total") or 0
        pct = " %d%%" % (100 * p["done"] // total) if total else ""
        print("  %s: %s%s %s" % (n["name"], p["phase"], pct, p.get("message", "")))
PY
  [ "$SECONDS" -lt "$deadline" ] || gc_fail "not all three nodes heartbeat within 25 minutes: $("$GOLDCAST" --state "$state" nodes list)"
  sleep 5
done

say "8. the cluster"
declare -A map_sum=()
for name in mosix1 mosix2 mosix3; do
  address="$(python3 -c 'import json,sys; print([n["ip"] for n in json.load(open(sys.argv[1])) if n["name"] == sys.argv[2]][0])' "$GC_TMP/nodes.json" "$name")"
  gc_vm_wait_ssh "$address" 300
  gc_vm_ssh "$address" 'systemctl is-system-running --wait >/dev/null; sha256sum </etc/openmosix.map'
  map_sum[$name]="$(cut -d' ' -f1 "$GC_OUT")"
done
"$GOLDCAST" --state "$state" nodes list --json >"$GC_TMP/nodes.json"
python3 - "$GC_TMP/nodes.json" "${first_beat[mosix1]}" "${first_beat[mosix2]}" \
  "${first_beat[mosix3]}" "${map_sum[mosix1]}" "${map_sum[mosix2]}" "${map_sum[mosix3]}" <<'PY'
import json, sys
nodes = {n["name"]: n for n in json.load(open(sys.argv[1]))}
beats, sums = sys.argv[2:5], sys.argv[5:8]
same = "yes" if len(set(sums)) == 1 and all(sums) else "no"
row = "%-7s %-13s %-9s %-8s %-26s %-10s %8s  %s"
print(row % ("name", "address", "mode", "firmware", "kernel", "image", "up (s)", "openMosix map identical"))
for i, name in enumerate(["mosix1", "mosix2", "mosix3"]):
    n = nodes[name]
    hb = n.get("heartbeat") or {}
    k = hb.get("kernel") or {}
    firmware = "UEFI" if n.get("platform") == "efi" else "BIOS"
    print(row % (name, n["ip"], n["mode"], firmware, "%s (%s)" % (k.get("artifact"), k.get("release")),
                 hb.get("image"), beats[i], same))
PY
"$GOLDCAST" --state "$state" nodes list
mosix2="$(python3 -c 'import json,sys; print([n["ip"] for n in json.load(open(sys.argv[1])) if n["name"] == "mosix2"][0])' "$GC_TMP/nodes.json")"
echo "server$ ssh root@mosix2 'hostname; systemctl is-system-running; criu check'"
gc_vm_ssh "$mosix2" 'hostname; systemctl is-system-running; criu check 2>&1'
sed 's/^/  /' "$GC_OUT" "$GC_TMP/ssh.err"
say "done: the VMs, namespaces, processes and temp files are removed on exit"
