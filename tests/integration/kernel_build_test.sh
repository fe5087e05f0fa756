#!/usr/bin/env bash
# A real kernel build: Debian's upstream tarball of linux 6.1 (fetched once by
# scripts/kernel-source.sh), Debian's dfsg patches and goldcast's test patch,
# the migration kernel recipe (tinyconfig + systemd, CRIU and QEMU options). Checks that:
#   1. `goldcast kernel build` stores NAME@1 and the kernel boots under QEMU
#      (TCG, no network device at all) into a busybox initramfs, printing the
#      test patch's message and the initramfs marker on the serial console;
#   2. a second build from a fresh state (same cache) gives a byte-identical
#      vmlinuz;
#   3. a third build in the first state returns the stored artifact at once
#      ("up to date", no make run);
#   4. changing one required option builds a new version with that value.
# The source, the pristine tree and ccache live in
# ${GOLDCAST_CACHE:-/var/cache/goldcast}/kernel-src and .../kernel, shared
# between runs: the first run compiles cold (5-10 min on 2 cores), later ones
# hit ccache (about a minute).
GC_TEST=kernel_build
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
gc_init "$@"
gc_require_cmds qemu-system-x86_64 cpio gzip make gcc patch flex bison bc timeout sha256sum

cache="${GOLDCAST_CACHE:-/var/cache/goldcast}"
kcache="$cache/kernel"

gc_log "preparing the kernel source (scripts/kernel-source.sh)"
gc_kernel_source --no-debian-tree
recipe="$KS_RECIPE"

json_field() { gc_json_field "$1" "$2"; }

# kernel_build TAG STATE [RECIPE]: builds with --json into $GC_TMP/build-TAG.json.
kernel_build() {
  local tag="$1" state="$2" r="${3:-$recipe}" start
  start=$SECONDS
  gc_expect_status 0 "kernel build ($tag)" "$GOLDCAST" --state "$state" kernel build \
    --recipe "$r" --cache "$kcache" --json
  cp "$GC_OUT" "$GC_TMP/build-$tag.json"
  cp "$GC_ERR" "$GC_TMP/build-$tag.err"
  gc_log "build $tag: $(json_field "$GC_TMP/build-$tag.json" kernel)," \
    "reused=$(json_field "$GC_TMP/build-$tag.json" reused), $((SECONDS - start)) s"
}

# --- 1. build and boot ---------------------------------------------------------
state1="$GC_TMP/state1"
kernel_build first "$state1"
art1="$(json_field "$GC_TMP/build-first.json" artifact_dir)"
[ "$(json_field "$GC_TMP/build-first.json" kernel)" = "migration-6.1@1" ] ||
  gc_fail_with_file "the first build is not migration-6.1@1" "$GC_TMP/build-first.json"
for f in vmlinuz System.map config build.log inputs.json artifact.json; do
  [ -s "$art1/$f" ] || gc_fail "the artifact $art1 has no $f"
done
[ -d "$art1/modules" ] || gc_fail "the artifact $art1 has no modules/ directory"
gc_assert_grep "the resolved config has the patch's option" '^CONFIG_GOLDCAST_TEST=y$' "$art1/config"
gc_assert_grep "inputs.json records the tarball hash" "$KS_TARBALL_SHA256" "$art1/inputs.json"
gc_assert_grep "inputs.json records the compiler" '"cc_version": "gcc' "$art1/inputs.json"

# A busybox initramfs whose /init prints a marker and powers the VM off.
initramfs="$GC_TMP/initramfs"
mkdir -p "$initramfs/bin" "$initramfs/proc" "$initramfs/sys" "$initramfs/dev"
cp /bin/busybox "$initramfs/bin/busybox"
cat >"$initramfs/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
echo "GOLDCAST-INITRAMFS-MARKER release=$(/bin/busybox uname -r)"
/bin/busybox reboot -f
EOF
chmod +x "$initramfs/init"
(cd "$initramfs" && find . | cpio -o -H newc --owner=0:0 2>/dev/null | gzip -9) \
  >"$GC_TMP/initramfs.cpio.gz"

serial="$GC_TMP/serial.log"
gc_log "booting $art1/vmlinuz under QEMU (TCG, no network)"
boot_start=$SECONDS
# -nodefaults: no default NIC, VGA or serial; the one serial port goes to a file.
gc_start_bg - "$GC_TMP/qemu.out" timeout 60 qemu-system-x86_64 -accel tcg -m 256M -nodefaults \
  -nographic -no-reboot -serial "file:$serial" -kernel "$art1/vmlinuz" \
  -initrd "$GC_TMP/initramfs.cpio.gz" -append "console=ttyS0 panic=-1"
qemu_pid=$GC_LAST_PID
gc_wait_exit "$qemu_pid" 90
[ "$GC_EXIT_STATUS" -ne 124 ] || gc_fail_with_file "QEMU did not power off within 60 s" "$serial"
gc_assert_grep "the kernel prints the test patch's boot message" \
  '^goldcast-test: patched kernel booted' "$serial"
gc_assert_grep "the initramfs ran" 'GOLDCAST-INITRAMFS-MARKER release=6\.1\.' "$serial"
gc_assert_grep "the banner carries the recipe's reproducible fields" \
  'Linux version 6\.1\..* \(goldcast@goldcast-build\) .*#1 .*2024' "$serial"
gc_log "booted in $((SECONDS - boot_start)) s"

# --- 2. same inputs from a fresh state: byte-identical vmlinuz -------------------
kernel_build second "$GC_TMP/state2"
art2="$(json_field "$GC_TMP/build-second.json" artifact_dir)"
[ "$(json_field "$GC_TMP/build-second.json" reused)" = False ] ||
  gc_fail "the build in a fresh state must build, not reuse"
sum1="$(sha256sum <"$art1/vmlinuz")"
sum2="$(sha256sum <"$art2/vmlinuz")"
[ "$sum1" = "$sum2" ] ||
  gc_fail "two builds of the same recipe differ: $art1/vmlinuz ($sum1) vs $art2/vmlinuz ($sum2)"
cmp -s "$art1/config" "$art2/config" || gc_fail "the resolved configs of the two builds differ"

# --- 3. unchanged inputs in the same state: the stored artifact, no make --------
start=$SECONDS
gc_expect_status 0 "kernel build (unchanged)" "$GOLDCAST" --state "$state1" kernel build \
  --recipe "$recipe" --cache "$kcache"
noop_seconds=$((SECONDS - start))
gc_assert_grep "an unchanged build says so" 'kernel migration-6\.1@1 is up to date \(inputs unchanged\)' "$GC_OUT"
[ "$noop_seconds" -le 15 ] || gc_fail "the up-to-date build took ${noop_seconds}s (want seconds)"
if grep -q 'compile done\|unpack done' "$GC_ERR"; then
  gc_fail_with_file "the up-to-date build ran pipeline phases" "$GC_ERR"
fi
gc_expect_status 0 "kernel list" "$GOLDCAST" --state "$state1" kernel list --json
python3 - "$GC_OUT" <<'EOF' || gc_fail_with_file "kernel list must show exactly migration-6.1@1" "$GC_OUT"
import json, sys
kernels = [k["kernel"] for k in json.load(open(sys.argv[1]))]
assert kernels == ["migration-6.1@1"], kernels
EOF

# --- 4. one required option changed: a new version ------------------------------
changed="$GC_TMP/changed.yaml"
sed 's/^    CONFIG_LOG_BUF_SHIFT: 17$/    CONFIG_LOG_BUF_SHIFT: 18/' "$recipe" >"$changed"
grep -q 'CONFIG_LOG_BUF_SHIFT: 18' "$changed" || gc_fail "could not change CONFIG_LOG_BUF_SHIFT in $changed"
kernel_build changed "$state1" "$changed"
[ "$(json_field "$GC_TMP/build-changed.json" kernel)" = "migration-6.1@2" ] ||
  gc_fail_with_file "changing a required option must build migration-6.1@2" "$GC_TMP/build-changed.json"
art3="$(json_field "$GC_TMP/build-changed.json" artifact_dir)"
gc_assert_grep "the new version has the new value" '^CONFIG_LOG_BUF_SHIFT=18$' "$art3/config"
gc_expect_status 0 "kernel show" "$GOLDCAST" --state "$state1" kernel show migration-6.1@2
gc_assert_grep "kernel show prints the required options" 'required: +CONFIG_LOG_BUF_SHIFT=18' "$GC_OUT"
