#!/usr/bin/env bash
# Builds a real Debian tree once and reuses it afterwards; benchmarks and
# end-to-end tests capture it as a golden client. Prints the tree's path on
# stdout (progress goes to stderr). Two trees:
#   minbase  `debootstrap --variant=minbase bookworm` (small; benchmarks)
#   node     a cluster node as an admin would set one up: minbase + systemd,
#            dbus, sshd, Debian's kernel with its initramfs, criu, iproute2,
#            procps, less, grub-efi-amd64-bin (the installer builds a UEFI
#            node's GRUB from it); DHCP through systemd-networkd; root may
#            log in with the key $GOLDCAST_CACHE/node-key (made here, ed25519)
#
# Usage: scripts/golden-cache.sh [--tree minbase|node] [--rebuild]
# Environment:
#   GOLDCAST_CACHE   cache directory (default /var/cache/goldcast); the tree is
#                    $GOLDCAST_CACHE/<tree>
#   GOLDCAST_MIRROR  Debian mirror URL; default: the one apt already uses for
#                    bookworm (/etc/apt/sources.list and sources.list.d/*)
#   GOLDCAST_SUITE   default bookworm
# Needs root and debootstrap. A half-built tree is never reused: the build goes
# to a temporary directory that is renamed into place only when complete. The
# marker records the package list; a tree built from another list is rebuilt.
set -euo pipefail

die() {
  echo "golden-cache: error: $*" >&2
  exit 1
}

rebuild=0
name=minbase
while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild) rebuild=1 ;;
    --tree)
      [ $# -ge 2 ] || die "--tree needs minbase or node"
      name="$2"
      shift
      ;;
    -h | --help)
      sed -n '2,23p' "$0"
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
case "$name" in
  minbase) include="" ;;
  node) include="systemd-sysv,dbus,openssh-server,linux-image-amd64,initramfs-tools,criu,iproute2,procps,less,grub-efi-amd64-bin" ;;
  *) die "unknown tree '$name' (minbase or node)" ;;
esac

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap not found; run scripts/install-deps.sh"

cache="${GOLDCAST_CACHE:-/var/cache/goldcast}"
suite="${GOLDCAST_SUITE:-bookworm}"
tree="$cache/$name"
# Outside the tree, so the tree is exactly what was built.
marker="$cache/$name.complete"
mkdir -p "$cache"

# Prints the first mirror URI apt uses for $suite itself (not -security or
# -updates), from one-line .list files or deb822 .sources files.
find_mirror() {
  python3 - "$suite" /etc/apt/sources.list /etc/apt/sources.list.d/* <<'EOF'
import sys

suite, paths = sys.argv[1], sys.argv[2:]

def from_list(text):
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        words = [w for w in words[1:] if not w.startswith("[")]  # drop [options]
        if len(words) >= 2 and words[1] == suite:
            return words[0]
    return None

def from_sources(text):
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and suite in fields.get("suites", []) \
                and fields.get("enabled", ["yes"])[0].lower() != "no":
            uris = fields.get("uris", [])
            if uris:
                return uris[0]
    return None

for path in paths:
    try:
        text = open(path).read()
    except OSError:
        continue
    found = from_sources(text) if path.endswith(".sources") else \
        from_list(text) if path.endswith(".list") else None
    if found:
        print(found)
        sys.exit(0)
sys.exit(1)
EOF
}

exec 9>"$cache/.$name.lock"
flock 9  # another run building the same cache: wait for it, then reuse its tree

if [ "$rebuild" = 1 ] && [ -d "$tree" ]; then
  echo "golden-cache: removing $tree (--rebuild)" >&2
  rm -rf "$tree" "$marker"
fi
if [ -f "$marker" ] && [ -d "$tree" ]; then
  if [ "$(sed -n 's/^include: //p' "$marker")" = "$include" ]; then
    echo "golden-cache: reusing $tree" >&2
    echo "$tree"
    exit 0
  fi
  echo "golden-cache: $tree was built with other packages than --include=$include; rebuilding" >&2
  rm -rf "$tree" "$marker"
fi
[ ! -e "$tree" ] || die "$tree exists but is incomplete (no $marker); remove it or pass --rebuild"

mirror="${GOLDCAST_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(find_mirror)" ||
    die "no 'deb' source for suite $suite in /etc/apt/sources.list{,.d/*}; set GOLDCAST_MIRROR=http://.../debian"
fi
echo "golden-cache: debootstrap --variant=minbase${include:+ --include=$include} $suite from $mirror into $tree" >&2

work="$(mktemp -d "$cache/.$name-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
if ! debootstrap --variant=minbase ${include:+--include="$include"} "$suite" "$work/tree" "$mirror" \
  >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  die "debootstrap failed (log above); check that $mirror is reachable"
fi

# What an admin does to a fresh node before capturing it: a name, the
# network, a way in for root. The ssh host keys debootstrap generated stay:
# they are the golden client's own, which every installed node must replace.
configure_node() {
  local root="$1" key="$cache/node-key"
  echo golden >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tgolden\n' >"$root/etc/hosts"
  mkdir -p "$root/etc/systemd/network"
  printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n' \
    >"$root/etc/systemd/network/50-dhcp.network"
  chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1 ||
    die "cannot enable systemd-networkd in $root"
  [ -f "$key" ] || ssh-keygen -q -t ed25519 -N "" -C goldcast-golden -f "$key" ||
    die "ssh-keygen failed for $key"
  install -d -m 0700 "$root/root/.ssh"
  install -m 0600 "$key.pub" "$root/root/.ssh/authorized_keys"
  [ -e "$root/boot/vmlinuz" ] || ls "$root"/boot/vmlinuz-* >/dev/null 2>&1 ||
    die "$root has no kernel in /boot (linux-image-amd64 did not install)"
}
[ "$name" != node ] || configure_node "$work/tree"
mv "$work/tree" "$tree"
printf 'built: %s\ninclude: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$include" >"$marker"
echo "golden-cache: built $tree in $((SECONDS - start)) s ($(du -sh "$tree" | cut -f1))" >&2
echo "$tree"
