#!/usr/bin/env bash
# The installer and the heartbeat against a real `goldcast serve`, without a
# VM: a machine asks for its boot script like iPXE does (which names it and
# hands it a one-time install token), then `goldcast-agent install
# --target-root DIR` redeems the token for the node's secret and writes the
# image, the kernel artifact's modules and the node's identity into DIR,
# and `goldcast-agent run --once` heartbeats from it. Checks: the tree equals
# the image except for what the installer must change; a wrong token, and
# the right one a second time, are refused (exit 3: reboot for a fresh
# one) with nothing written; the registry follows the install (installing
# -> installed, mode local) and flags the drift of a node that does not run
# its group's kernel (this host's kernel is not the artifact).
GC_TEST=install_root
source "$(dirname "${BASH_SOURCE[0]}")/lib_vm.sh"
gc_vm_init "$@"

# A fake kernel artifact is enough here: the VM test boots the real one.
state="$GC_TMP/state"
bash "$GC_REPO/tests/integration/node_tree.sh" "$GC_TMP/tree"
gc_expect_status 0 "image import" "$GOLDCAST" --state "$state" image import \
  --dir "$GC_TMP/tree" --image node
gc_fake_kernel_artifact "$state" fake-kernel 6.1.999-fake

gc_vm_lab_up "gc-ir-$$" 68
profile="$GC_TMP/profile.yaml"
gc_vm_profile install.yaml "$profile" KERNEL=fake-kernel IMAGE=node
gc_vm_state_prepare "$state"
gc_serve_start "$state" "$profile"

mac=52:54:00:77:68:01
gc_vm_http "/boot/ipxe?mac=$mac"
[ "$GC_HTTP_STATUS" = 200 ] || gc_fail_with_file "GET /boot/ipxe: $GC_HTTP_STATUS" "$GC_OUT"
token="$(grep -o 'goldcast.token=[0-9a-f]*' "$GC_OUT" | head -n 1 | cut -d= -f2)"
[ -n "$token" ] || gc_fail_with_file "the install script carries no goldcast.token" "$GC_OUT"
gc_assert_no_grep "the boot script carries no secret" 'goldcast\.secret' "$GC_OUT"
server="$(gc_vm_node_url "")"
pin="$(gc_vm_pin "$state")"

# Another server key than the pinned one (a responder in the server's
# place): refused at the TLS handshake, before the token is sent.
mkdir "$GC_TMP/mitm"
gc_expect_status 3 "install trusting another key" gc_vm_ns_exec "$GOLDCAST_AGENT" install \
  --server "$server" --pin "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" --node mosix1 \
  --token "$token" --target-root "$GC_TMP/mitm"
gc_assert_grep "the pin mismatch in the error" "does not match the pinned" "$GC_ERR"
# Plain HTTP to the node API: refused, pointing to TLS.
mkdir "$GC_TMP/plain"
gc_expect_status 3 "install over plain HTTP" gc_vm_ns_exec "$GOLDCAST_AGENT" install \
  --server "$(gc_vm_url "")" --node mosix1 --token "$token" --target-root "$GC_TMP/plain"
gc_assert_grep "the refusal names TLS" "403 the node API is served over TLS only" "$GC_ERR"

# A wrong token (the last digit changed): refused (401, exit 3), nothing
# written, and the right token is not spent by the wrong guess.
case "$token" in *0) wrong="${token%?}1" ;; *) wrong="${token%?}0" ;; esac
mkdir "$GC_TMP/wrong"
gc_expect_status 3 "install with a wrong token" gc_vm_ns_exec "$GOLDCAST_AGENT" install \
  --server "$server" --pin "$pin" --node mosix1 --token "$wrong" --target-root "$GC_TMP/wrong"
gc_assert_grep "the 401 in the error" "401" "$GC_ERR"
[ -z "$(ls -A "$GC_TMP/wrong")" ] || gc_fail "a refused install wrote into its target: $(ls -A "$GC_TMP/wrong")"

# The real install into a directory.
root="$GC_TMP/root"
mkdir "$root"
bundle="$(gc_release_agent_bundle)"
gc_expect_status 0 "install --target-root" gc_vm_ns_exec "$GOLDCAST_AGENT" install \
  --server "$server" --pin "$pin" --node mosix1 --token "$token" --target-root "$root" \
  --agent-bundle "$bundle"
# The same token again (a replay by whoever read the boot script): refused.
mkdir "$GC_TMP/replay"
gc_expect_status 3 "install with a spent token" gc_vm_ns_exec "$GOLDCAST_AGENT" install \
  --server "$server" --pin "$pin" --node mosix1 --token "$token" --target-root "$GC_TMP/replay"
gc_assert_grep "a replayed token is refused" "401 no install token is waiting for node mosix1" "$GC_ERR"
[ -z "$(ls -A "$GC_TMP/replay")" ] || gc_fail "a replayed token wrote into its target"
python3 - "$root/etc/goldcast/node.json" "$token" <<'PY' || gc_fail "node.json must hold a secret, not the token"
import json, sys
config = json.load(open(sys.argv[1]))
assert len(config["secret"]) == 32 and config["secret"] != sys.argv[2], config
assert config["server"].startswith("https://") and config["pin"].startswith("sha256//"), config
assert sys.argv[2] not in open(sys.argv[1]).read()
PY
gc_expect_status 0 "nodes show" "$GOLDCAST" --state "$state" nodes show mosix1 --json
python3 - "$GC_OUT" <<'PY' || gc_fail_with_file "registry after install" "$GC_OUT"
import json, sys
n = json.load(open(sys.argv[1]))
assert n["state"] == "installed", n["state"]
assert n["mode"] == "local", n["mode"]
assert n["progress"]["phase"] == "done", n["progress"]
PY

# The tree is the image plus exactly what the installer changes or adds.
gc_expect_status 0 "import the installed tree" "$GOLDCAST" --state "$state" image import \
  --dir "$root" --image installed
gc_expect_status 0 "image diff" "$GOLDCAST" --state "$state" image diff node@1 installed@1
sed -E 's/[[:space:]]+/ /g' "$GC_OUT" >"$GC_TMP/diff.txt"
for want in '^M /etc/hostname' '^M /etc/machine-id' '^- /etc/ssh/ssh_host_ed25519_key' \
  '^\+ /etc/goldcast/node.json' '^\+ /etc/openmosix.map' '^\+ /etc/hosts' \
  '^\+ /lib/modules/6.1.999-fake/kernel/drivers/net/dummy.ko' '^\+ /boot/vmlinuz-6.1.999-fake' \
  '^\+ /usr/local/sbin/goldcast-agent'; do
  grep -qE "$want" "$GC_TMP/diff.txt" || gc_fail_with_file "image diff lacks /$want/" "$GC_TMP/diff.txt"
done
# Nothing of the image itself may differ.
# (--target-root makes no file system, so fstab keeps the image's lines.)
if grep -E '^[-+Mm] /(bin|sbin/init|etc/udhcpc.script|etc/passwd|etc/fstab)( |$)' "$GC_TMP/diff.txt"; then
  gc_fail_with_file "the installer changed files of the image" "$GC_TMP/diff.txt"
fi
cmp -s "$root/boot/vmlinuz-6.1.999-fake" "$state/kernels/fake-kernel/1/vmlinuz" ||
  gc_fail "installed vmlinuz differs from the artifact"
[ "$(cat "$root/etc/hostname")" = mosix1 ] || gc_fail "hostname is $(cat "$root/etc/hostname")"
[ "$(stat -c %a "$root/etc/goldcast/node.json")" = 600 ] || gc_fail "node.json is not 0600"

# A heartbeat from the installed config: recorded, and drift flagged since this
# host's kernel is not the group's artifact.
gc_expect_status 0 "run --once" gc_vm_ns_exec "$GOLDCAST_AGENT" run --once \
  --config "$root/etc/goldcast/node.json"
gc_expect_status 0 "nodes show" "$GOLDCAST" --state "$state" nodes show mosix1 --json
python3 - "$GC_OUT" "$(uname -r)" <<'PY' || gc_fail_with_file "registry after heartbeat" "$GC_OUT"
import json, sys
n = json.load(open(sys.argv[1]))
hb = n["heartbeat"]
assert hb is not None, "no heartbeat"
assert hb["kernel"]["release"] == sys.argv[2], hb["kernel"]
assert hb["image"] == "node@1", hb["image"]
assert "kernel" in n["drift"], n["drift"]
assert "image" not in n["drift"], n["drift"]
PY
gc_expect_status 0 "nodes list" "$GOLDCAST" --state "$state" nodes list
gc_assert_grep "mosix1 in nodes list" "mosix1" "$GC_OUT"
gc_log "install into a directory, heartbeat and drift: ok"
