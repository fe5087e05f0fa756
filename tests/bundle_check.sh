#!/usr/bin/env bash
# Checks that the agent bundle runs in a root that holds nothing but busybox
# and the bundle (as in a minimal initramfs): --help must work and
# prepareclient must fail cleanly on a missing --root.
set -euo pipefail
bundle=${1:?usage: bundle_check.sh BUNDLE_DIR}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/opt"
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp -a "$bundle" "$root/opt/agent"
out=$(chroot "$root" /bin/sh /opt/agent/goldcast-agent --help)
grep -q prepareclient <<<"$out" || { echo "bundle_check: --help does not list prepareclient" >&2; exit 1; }
if err=$(chroot "$root" /bin/sh /opt/agent/goldcast-agent prepareclient --root /nonexistent 2>&1); then
  echo "bundle_check: prepareclient on a missing root succeeded" >&2; exit 1
fi
grep -q "nonexistent" <<<"$err" || { echo "bundle_check: unclear error: $err" >&2; exit 1; }
echo "bundle_check: ok (agent runs in an empty root with only busybox)"
