#!/usr/bin/env bash
# Every way a cluster kernel build must be refused, each before anything is
# compiled, with a message naming the cause, nothing stored, and the cached
# pristine source untouched:
#   - a required option whose dependency is unmet (CONFIG_E1000=y, CONFIG_PCI=n)
#   - one that resolves to m (CONFIG_VIRTIO_NET=y while CONFIG_VIRTIO_PCI=m)
#   - an option the tree does not have (the patch adding it is missing)
#   - a patch for another kernel version
#   - a patch that does not apply
#   - a tarball whose hash is not the declared one
#   - Debian's linux-source-6.1 tree given as --source-tree (Debian-patched)
#   - `kernel check` of the shipped openMosix recipe (inputs not downloaded)
GC_TEST=kernel_failures
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
gc_init "$@"
gc_require_cmds make gcc patch flex bison bc sha256sum

cache="${GOLDCAST_CACHE:-/var/cache/goldcast}"
kcache="$cache/kernel"
gc_log "preparing the kernel source and Debian's linux-source-6.1 (scripts/kernel-source.sh)"
gc_kernel_source
recipe="$KS_RECIPE"
state="$GC_TMP/state"
pristine="$kcache/sources/$KS_TARBALL_SHA256/tree"
marker="$kcache/sources/$KS_TARBALL_SHA256/COMPLETE"

# variant NAME SED-SCRIPT: a copy of the recipe with one change.
variant() {
  sed "$2" "$recipe" >"$GC_TMP/$1.yaml"
  cmp -s "$recipe" "$GC_TMP/$1.yaml" && gc_fail "variant $1: '$2' changed nothing in $recipe"
  echo "$GC_TMP/$1.yaml"
}

# refused NAME REGEX [build args...]: the build fails fast with a message
# matching REGEX, compiles nothing and stores nothing. Its stderr stays in
# $REFUSED_ERR for further checks.
refused() {
  local name="$1" re="$2" start
  shift 2
  start=$SECONDS
  rm -f "$kcache/logs/migration-6.1.failed.log"
  gc_expect_status 1 "kernel build must refuse: $name" "$GOLDCAST" --state "$state" kernel build \
    --cache "$kcache" "$@"
  REFUSED_ERR="$GC_TMP/refused-${name//[^a-zA-Z0-9]/_}.err"
  cp "$GC_ERR" "$REFUSED_ERR"
  gc_assert_grep "$name: the message names the cause" "$re" "$REFUSED_ERR"
  if [ -f "$kcache/logs/migration-6.1.failed.log" ] &&
    grep -qE '^\$ .* (bzImage|modules)$' "$kcache/logs/migration-6.1.failed.log"; then
    gc_fail_with_file "$name: make compiled the kernel before refusing" \
      "$kcache/logs/migration-6.1.failed.log"
  fi
  gc_expect_status 0 "kernel list after: $name" "$GOLDCAST" --state "$state" kernel list --json
  python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != [])' "$GC_OUT" ||
    gc_fail_with_file "$name: an artifact was stored" "$GC_OUT"
  gc_log "refused: $name ($((SECONDS - start)) s): $(grep -m1 'error:' "$REFUSED_ERR" | cut -c1-200)"
}

tree_print() {
  (cd "$pristine" && find . -printf '%P %y %m %s %T@\n' | LC_ALL=C sort | sha256sum | cut -d' ' -f1)
}

# 1. Unmet dependency. Runs first: it also unpacks the pristine tree if needed.
refused "an option with an unmet dependency" \
  "CONFIG_E1000 \(required =y\) is absent from the resolved \.config: unmet: 'depends on PCI.*PCI=n" \
  --recipe "$(variant unmet 's/^    CONFIG_PCI: y$/    CONFIG_PCI: n/')"
[ -f "$marker" ] || gc_fail "no pristine source cached at $pristine (marker $marker)"
marker_before="$(cat "$marker")"
print_before="$(tree_print)"

# 2. Resolves to m: VIRTIO_PCI=m selects VIRTIO=m, which holds VIRTIO_NET at m.
refused "an option that resolves to m" \
  "CONFIG_VIRTIO_NET resolved to m \(module\); it must be built in \(=y\).*depends on VIRTIO.*VIRTIO=m" \
  --recipe "$(variant module 's/^    CONFIG_MODULES: n$/    CONFIG_MODULES: y/; s/^    CONFIG_VIRTIO_PCI: y$/    CONFIG_VIRTIO_PCI: m/')"

# 3. An option the series does not add.
refused "an option the tree does not have" \
  'CONFIG_MOSIX \(recipe line [0-9]+\) does not exist in this tree \(is the patch that adds it in the series\?\)' \
  --recipe "$(variant unknown 's/^    CONFIG_GOLDCAST_TEST: y$/    CONFIG_GOLDCAST_TEST: y\n    CONFIG_MOSIX: y/')"

# 4. A patch for another kernel version: refused before anything is unpacked.
refused "a patch for another kernel version" \
  '0001-goldcast-test\.patch \(recipe line [0-9]+\) is for linux 2\.4\.26' \
  --recipe "$(variant version 's/^    for: "6\.1"$/    for: "2.4.26"/')"

# 5. A patch that does not apply.
cat >"$GC_TMP/0099-does-not-apply.patch" <<'EOF'
--- a/init/main.c
+++ b/init/main.c
@@ -1,3 +1,4 @@
 this line is not in init/main.c
+int goldcast_never_applied;
 nor is this one
 nor this
EOF
bad_sha="$(sha256sum "$GC_TMP/0099-does-not-apply.patch" | cut -d' ' -f1)"
refused "a patch that does not apply" \
  'patch 8 of 8, .*0099-does-not-apply\.patch \(recipe line [0-9]+\) does not apply' \
  --recipe "$(variant noapply "s|^config:\$|  - file: $GC_TMP/0099-does-not-apply.patch\n    sha256: $bad_sha\n    for: \"6.1\"\nconfig:|")"

# 6. A tarball that is not the declared one.
refused "a tarball with the wrong hash" \
  "is not the vanilla source you declared: its sha256 is $KS_TARBALL_SHA256 but the recipe declares 1111" \
  --recipe "$(variant hash "s/^  sha256: $KS_TARBALL_SHA256\$/  sha256: $(printf '1%.0s' $(seq 64))/")"

# 7. Debian's linux-source-6.1: Debian-patched, refused as non-vanilla.
[ -n "$KS_DEBIAN_TREE" ] && [ -f "$KS_DEBIAN_TREE/Makefile" ] ||
  gc_fail "kernel-source.sh did not unpack linux-source-6.1 ($KS_DEBIAN_TREE)"
refused "Debian's linux-source-6.1 tree" \
  'is not a vanilla kernel tree' --recipe "$recipe" --source-tree "$KS_DEBIAN_TREE"
gc_assert_grep "the refusal names Debian's patches" 'LINUX_PACKAGE_ID|perf_paranoid_any' "$REFUSED_ERR"
gc_assert_grep "the refusal says how to override" '--allow-non-vanilla' "$REFUSED_ERR"

# The pristine source is exactly as it was unpacked.
[ "$(cat "$marker")" = "$marker_before" ] || gc_fail "the pristine marker $marker changed"
[ "$(tree_print)" = "$print_before" ] || gc_fail "the pristine tree $pristine was modified"
[ -z "$(ls -A "$kcache/work" 2>/dev/null)" ] || gc_fail "work trees were left in $kcache/work"

# 8. The shipped openMosix recipe: its inputs must be downloaded and verified first.
gc_expect_status 1 "kernel check of the openMosix recipe" "$GOLDCAST" --state "$state" kernel check \
  --recipe "$GC_REPO/profiles/kernels/openmosix-2.4.26-om1.yaml"
gc_assert_grep "check names the missing tarball" 'linux-2\.4\.26\.tar\.bz2 not found' "$GC_ERR"
gc_assert_grep "check names the placeholder hash" 'all-zero placeholder' "$GC_ERR"
gc_assert_grep "check names the missing patch" 'openMosix-2\.4\.26-1\.bz2' "$GC_ERR"
gc_expect_status 0 "kernel check of the test recipe" "$GOLDCAST" --state "$state" kernel check \
  --recipe "$recipe"
