#!/usr/bin/env bash
# Fails if a folder includes a header of a folder it must not use: the
# dependency order of HACKING.md (cli > server > pxe > cluster > imager,
# kernel-build > profiles, protocol > common; the agent uses only common,
# protocol and profiles). Prints each offending include.
set -euo pipefail
cd "$(dirname "$0")/.."

# The folders each folder may include, besides itself.
declare -A allowed=(
  [common]=""
  [profiles]="common"
  [protocol]="common"
  [imager]="common profiles protocol"
  [kernel-build]="common profiles protocol"
  [cluster]="common profiles protocol imager kernel-build"
  [pxe]="common profiles protocol imager kernel-build cluster"
  [server]="common profiles protocol imager kernel-build cluster pxe"
  [cli]="common profiles protocol imager kernel-build cluster pxe server"
  [node-agent]="common profiles protocol"
)

bad=0
for folder in "${!allowed[@]}"; do
  while IFS= read -r line; do
    file=${line%%:*}
    used=$(sed -n 's/.*#include "\([^/"]*\)\/.*/\1/p' <<<"$line")
    [ -n "$used" ] && [ "$used" != "$folder" ] || continue
    case " ${allowed[$folder]} " in
      *" $used "*) ;;
      *)
        echo "check-layers: $file includes $used/ (${folder}/ may use: ${allowed[$folder]:-nothing})" >&2
        bad=1
        ;;
    esac
  done < <(grep -Hn '^#include "' $(git ls-files -co --exclude-standard -- "$folder/*.cc" "$folder/*.h") || true)
done
[ "$bad" -eq 0 ] || exit 1
echo "check-layers: every include follows the dependency order"
