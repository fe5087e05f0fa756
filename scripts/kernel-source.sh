#!/usr/bin/env bash
# Prepares the near-vanilla kernel source the kernel-build tests and benchmark
# use, once, into $GOLDCAST_CACHE/kernel-src/ (default /var/cache/goldcast):
#
#   deb/linux_<V>.orig.tar.xz      Debian's upstream tarball of linux <V>: the
#                                  kernel.org tree minus a few non-free paths and
#                                  WITHOUT Debian's patches (checked by apt
#                                  against the signed Sources index)
#   patches-<V>/dfsg/*.patch       Debian's debian/patches/debian/dfsg/ series,
#                                  which makes that tree whole again (make clean,
#                                  configs that reach the removed drivers)
#   migration-6.1.yaml             the test recipe, generated from
#                                  tests/kernel-build/migration-6.1.yaml.in
#                                  with the real paths, version and sha256s
#   linux-source-6.1/              Debian's linux-source-6.1 package unpacked: a
#                                  Debian-PATCHED tree that goldcast must refuse
#   source.env                     shell variables describing all of the above
#
# Prints the generated recipe's path on stdout; progress goes to stderr.
# Idempotent: a second run only re-checks hashes and regenerates the recipe.
#
# Usage: scripts/kernel-source.sh [--no-debian-tree]
# Environment:
#   GOLDCAST_CACHE               cache directory (default /var/cache/goldcast)
#   GOLDCAST_KERNEL_DEB_VERSION  Debian version of the `linux` source package to
#                                fetch (default 6.1.176-1, which the mirror served;
#                                if it is gone, the newest version in main is used)
# Needs root (apt). Pitfalls handled (docs/kernel-build.md):
#   - the default sources have no deb-src; the one added here carries the SAME
#     Signed-By as the deb entry, or apt refuses every command;
#   - plain `apt-get source linux` may pick a bookworm-security version the
#     mirror answers 404 for, so a version from main is pinned;
#   - `--download-only`, because a full `apt-get source` applies Debian's patches.
set -euo pipefail

die() {
  echo "kernel-source: error: $*" >&2
  exit 1
}
say() { echo "kernel-source: $*" >&2; }

with_debian_tree=1
case "${1:-}" in
  "") ;;
  --no-debian-tree) with_debian_tree=0 ;;
  -h | --help)
    sed -n '2,32p' "$0"
    exit 0
    ;;
  *) die "unknown argument '$1' (see --help)" ;;
esac

[ "$(id -u)" -eq 0 ] || die "needs root (apt-get)"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${GOLDCAST_CACHE:-/var/cache/goldcast}"
dir="$cache/kernel-src"
preferred="${GOLDCAST_KERNEL_DEB_VERSION:-6.1.176-1}"
template="$repo/tests/kernel-build/migration-6.1.yaml.in"
test_patch="$repo/tests/kernel-build/patches/0001-goldcast-test.patch"
[ -f "$template" ] || die "recipe template $template is missing"
[ -f "$test_patch" ] || die "test patch $test_patch is missing"
mkdir -p "$dir"

# One run at a time: the kernel tests may call this concurrently.
exec 9>"$dir/.lock"
flock 9

apt_get() { apt-get -o DPkg::Lock::Timeout=900 -q "$@"; }

# Writes /etc/apt/sources.list.d/goldcast-deb-src.sources: one deb-src stanza
# per enabled Debian deb entry (same URIs, suites, components and Signed-By).
add_deb_src() {
  local out=/etc/apt/sources.list.d/goldcast-deb-src.sources
  python3 - "$out" <<'EOF'
import glob, re, sys

out = sys.argv[1]
codename = ""
for line in open("/etc/os-release"):
    if line.startswith("VERSION_CODENAME="):
        codename = line.split("=", 1)[1].strip().strip('"')
if not codename:
    sys.exit("cannot read VERSION_CODENAME from /etc/os-release")
suite_re = re.compile(r"^%s(-updates|-security)?$" % re.escape(codename))

stanzas = []
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    if path == out:
        continue
    for block in re.split(r"\n\s*\n", open(path).read()):
        fields = {}
        for line in block.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = [s for s in fields.get("suites", "").split() if suite_re.match(s)]
        if not suites:
            continue
        stanza = ["Types: deb-src", "URIs: " + fields["uris"], "Suites: " + " ".join(suites),
                  "Components: " + fields.get("components", "main")]
        if "signed-by" in fields:
            stanza.append("Signed-By: " + fields["signed-by"])
        stanzas.append("\n".join(stanza))
# One-line entries: deb [signed-by=K] URI SUITE COMPONENTS...
try:
    lines = open("/etc/apt/sources.list").read().splitlines()
except FileNotFoundError:
    lines = []
for line in lines:
    m = re.match(r"^\s*deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)$", line.split("#", 1)[0])
    if not m or not suite_re.match(m.group(3)):
        continue
    stanza = ["Types: deb-src", "URIs: " + m.group(2), "Suites: " + m.group(3),
              "Components: " + m.group(4).strip()]
    opts = re.search(r"signed-by=(\S+?)[\]\s]", m.group(1) or "")
    if opts:
        stanza.append("Signed-By: " + opts.group(1))
    stanzas.append("\n".join(stanza))
if not stanzas:
    sys.exit("no enabled Debian 'deb' entry for %s found in /etc/apt" % codename)
with open(out, "w") as f:
    f.write("# Added by goldcast scripts/kernel-source.sh (kernel source for tests).\n")
    f.write("\n\n".join(stanzas) + "\n")
EOF
}

# Whole output first: `grep -q` would close the pipe early and, under
# pipefail, turn apt-cache's SIGPIPE into a failure.
have_linux_src() { apt-cache showsrc linux 2>/dev/null | grep -c '^Package: linux$' >/dev/null; }

ensure_deb_src() {
  if have_linux_src; then return; fi
  say "adding deb-src entries (same Signed-By as the deb entries) and running apt-get update"
  add_deb_src || die "could not derive deb-src entries from /etc/apt"
  apt_get update >&2 || die "apt-get update failed"
  have_linux_src ||
    die "apt-cache showsrc linux still finds nothing after adding deb-src"
}

# Candidate Debian versions: the preferred one first, then main's newest first.
# A version whose files live only in the security archive is tried last: this
# mirror snapshot has answered 404 for those.
candidates() {
  local all v main=() security=()
  all="$(apt-cache showsrc linux | awk '/^Package: /{p=($2=="linux")} p&&/^Version: /{print $2}' |
    sort -u -V -r)"
  for v in $all; do
    if apt-get source --print-uris -qq "linux=$v" 2>/dev/null | grep -c 'debian-security' >/dev/null; then
      security+=("$v")
    else
      main+=("$v")
    fi
  done
  if printf '%s\n' "${main[@]}" "${security[@]}" | grep -cxF "$preferred" >/dev/null; then echo "$preferred"; fi
  printf '%s\n' "${main[@]}" "${security[@]}" | grep -vxF "$preferred" || true
}

fetch_source() {
  local v upstream
  ensure_deb_src
  mkdir -p "$dir/deb"
  for v in $(candidates); do
    upstream="${v%-*}"
    upstream="${upstream#*:}"
    if [ -f "$dir/deb/linux_${upstream}.orig.tar.xz" ] && [ -f "$dir/deb/linux_${v}.debian.tar.xz" ]; then
      echo "$v"
      return 0
    fi
    say "fetching the linux source package $v (about 140 MB)"
    if (cd "$dir/deb" && apt-get source --download-only -q "linux=$v" >&2); then
      echo "$v"
      return 0
    fi
    say "the mirror did not serve linux=$v; trying the next version"
  done
  die "no version of the linux source package could be downloaded (apt-cache showsrc linux)"
}

if [ -f "$dir/source.env" ]; then
  # shellcheck disable=SC1091
  . "$dir/source.env"
fi
deb_version="${KS_DEB_VERSION:-}"
if [ -z "$deb_version" ] || [ ! -f "${KS_TARBALL:-/nonexistent}" ] ||
  [ ! -f "$dir/deb/linux_${deb_version}.debian.tar.xz" ]; then
  deb_version="$(fetch_source)"
fi
upstream="${deb_version%-*}"
upstream="${upstream#*:}"
tarball="$dir/deb/linux_${upstream}.orig.tar.xz"
debian_tar="$dir/deb/linux_${deb_version}.debian.tar.xz"
[ -f "$tarball" ] || die "$tarball is missing after the download"
[ -f "$debian_tar" ] || die "$debian_tar is missing after the download"

# The dfsg patches, in the order of Debian's series file.
patch_dir="$dir/patches-$upstream/dfsg"
if [ ! -f "$patch_dir/series" ]; then
  say "extracting debian/patches/debian/dfsg from $(basename "$debian_tar")"
  tmp="$(mktemp -d "$dir/.dfsg.XXXXXX")"
  tar -xJf "$debian_tar" -C "$tmp" debian/patches/series debian/patches/debian/dfsg
  mkdir -p "$tmp/out"
  grep -E '^debian/dfsg/' "$tmp/debian/patches/series" | awk '{print $1}' >"$tmp/order"
  [ -s "$tmp/order" ] || die "no debian/dfsg patches in the series of $debian_tar"
  while read -r p; do
    cp "$tmp/debian/patches/$p" "$tmp/out/"
    basename "$p" >>"$tmp/out/series"
  done <"$tmp/order"
  rm -rf "$patch_dir"
  mkdir -p "$(dirname "$patch_dir")"
  mv "$tmp/out" "$patch_dir"
  rm -rf "$tmp"
fi

say "hashing $(basename "$tarball")"
tarball_sha="$(sha256sum "$tarball" | cut -d' ' -f1)"
test_patch_sha="$(sha256sum "$test_patch" | cut -d' ' -f1)"

dfsg_yaml=""
while read -r p; do
  sha="$(sha256sum "$patch_dir/$p" | cut -d' ' -f1)"
  dfsg_yaml+="  - file: $patch_dir/$p"$'\n'"    sha256: $sha"$'\n'"    for: \"$upstream\""$'\n'
done <"$patch_dir/series"

recipe="$dir/migration-6.1.yaml"
python3 - "$template" "$recipe.tmp" <<EOF
import sys
text = open(sys.argv[1]).read()
for key, value in {
    "@VERSION@": "$upstream",
    "@DEB_VERSION@": "$deb_version",
    "@TARBALL@": "$tarball",
    "@TARBALL_SHA256@": "$tarball_sha",
    "@TEST_PATCH@": "$test_patch",
    "@TEST_PATCH_SHA256@": "$test_patch_sha",
}.items():
    text = text.replace(key, value)
text = text.replace("@DFSG_PATCHES@\n", """$dfsg_yaml""")
assert "@" not in "".join(l for l in text.splitlines() if not l.lstrip().startswith("#")), \
    "unreplaced placeholder in the template"
open(sys.argv[2], "w").write(text)
EOF
mv "$recipe.tmp" "$recipe"

# Debian's linux-source-6.1: a Debian-patched tree, unpacked once.
debian_tree=""
if [ "$with_debian_tree" = 1 ]; then
  debian_tree="$dir/linux-source-6.1"
  if [ ! -f "$dir/linux-source-6.1.complete" ]; then
    if [ ! -f /usr/src/linux-source-6.1.tar.xz ]; then
      say "installing linux-source-6.1 (Debian-patched; used to test the non-vanilla refusal)"
      DEBIAN_FRONTEND=noninteractive apt_get install -y --no-install-recommends \
        linux-source-6.1 >&2 || die "apt-get install linux-source-6.1 failed"
    fi
    say "unpacking /usr/src/linux-source-6.1.tar.xz (about 1.5 GB)"
    rm -rf "$debian_tree" "$dir/.linux-source.tmp"
    mkdir -p "$dir/.linux-source.tmp"
    tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$dir/.linux-source.tmp"
    mv "$dir/.linux-source.tmp/linux-source-6.1" "$debian_tree"
    rm -rf "$dir/.linux-source.tmp"
    touch "$dir/linux-source-6.1.complete"
  fi
fi

cat >"$dir/source.env.tmp" <<EOF
# Written by scripts/kernel-source.sh; sourced by the kernel tests and bench.
KS_DEB_VERSION=$deb_version
KS_VERSION=$upstream
KS_TARBALL=$tarball
KS_TARBALL_SHA256=$tarball_sha
KS_DFSG_DIR=$patch_dir
KS_RECIPE=$recipe
KS_DEBIAN_TREE=$debian_tree
EOF
mv "$dir/source.env.tmp" "$dir/source.env"
say "ready: linux $upstream (Debian $deb_version), recipe $recipe"
echo "$recipe"
