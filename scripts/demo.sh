#!/usr/bin/env bash
# The goldcast demo (README's first command). Until the virtual-cluster demo
# exists it shows the golden-client capture on a real Debian tree:
#   1. installs packages, builds goldcast (release);
#   2. builds (once, cached) a debootstrap minbase tree: the "golden client";
#   3. in two network namespaces joined by a veth (golden 10.88.250.2,
#      server 10.88.250.1), runs goldcast-agent prepareclient on the golden
#      side and goldcast getimage on the server side: compute@1;
#   4. changes a few files, captures again: compute@2 moves only the changes;
#   5. lists, shows, diffs, verifies and exports the image.
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
# shellcheck source=../tests/integration/lib.sh
source tests/integration/lib.sh
gc_init "$repo/build-release/imager/goldcast" "$repo/build-release/node-agent/goldcast-agent"

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
say "done: the namespaces, processes and temp files are removed on exit"
