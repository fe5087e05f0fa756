#!/usr/bin/env bash
# Packs goldcast-agent with every shared library it needs (as ldd resolves
# them) and the dynamic loader, so it runs on any golden client and inside a
# minimal initramfs without the libraries installed:
#   OUT/goldcast-agent          a /bin/sh wrapper (busybox sh is enough)
#   OUT/lib/goldcast-agent.bin  the real binary
#   OUT/lib/*.so*               its libraries and ld-linux
# Usage: scripts/bundle-agent.sh BINARY OUT_DIR
set -euo pipefail
binary=${1:?usage: bundle-agent.sh BINARY OUT_DIR}
out=${2:?usage: bundle-agent.sh BINARY OUT_DIR}
[ -x "$binary" ] || { echo "bundle-agent: $binary is not an executable" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/lib"
cp "$binary" "$out/lib/goldcast-agent.bin"
loader=""
while read -r line; do
  # "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
  path=$(sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p' <<<"$line")
  [ -n "$path" ] || continue
  case "$line" in *"not found"*) echo "bundle-agent: $line" >&2; exit 1 ;; esac
  cp -L "$path" "$out/lib/"
  case "$path" in */ld-linux*) loader=$(basename "$path") ;; esac
done < <(ldd "$binary")
[ -n "$loader" ] || { echo "bundle-agent: no dynamic loader found in ldd output" >&2; exit 1; }
cat > "$out/goldcast-agent" <<WRAPPER
#!/bin/sh
# goldcast-agent bundle: runs the agent with its own libraries.
here=\$(dirname "\$0")
exec "\$here/lib/$loader" --library-path "\$here/lib" "\$here/lib/goldcast-agent.bin" "\$@"
WRAPPER
chmod +x "$out/goldcast-agent"
echo "bundle-agent: $out ($(ls "$out/lib" | wc -l) files, $(du -sh "$out" | cut -f1))"
