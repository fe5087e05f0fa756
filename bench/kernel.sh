#!/usr/bin/env bash
# Kernel-build benchmark: what goldcast's pipeline (verify, source check,
# patch, config + verification, package, clean-up) costs on top of a plain
# `make` of the same patched tree and the same resolved .config, and what a
# cached no-op build costs. Uses the test recipe (scripts/kernel-source.sh).
#
# Usage: bench/kernel.sh [--goldcast PATH] [--no-ccache] [--jobs N] [--runs N]
#   --goldcast PATH  binary (default build/cli/goldcast under the repo)
#   --no-ccache      compile both without ccache (CCACHE_DISABLE=1): each side
#                    then pays a full cold compile (5-10 min on 2 cores)
#   --jobs N         make -jN for both (default: number of CPUs)
#   --runs N         alternate goldcast and plain make N times each and report
#                    the fastest of each (default 2: the machine is shared, and
#                    the minimum is the least noisy estimate)
# By default both sides compile through ccache with the SAME warm cache
# ($GOLDCAST_CACHE/kernel/ccache, warmed by a first goldcast build if needed),
# so the comparison is fair and a run takes a few minutes. The plain side's
# tree is prepared (copied and patched) outside its timing: only its
# `make olddefconfig` and `make bzImage` are timed. Needs root (apt for
# kernel-source.sh, the overlay mount) and about 2 GB in ${TMPDIR:-/tmp}.
set -euo pipefail

GC_TEST=bench-kernel
source "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

goldcast="$GC_REPO/build/cli/goldcast"
no_ccache=0
jobs="$(nproc)"
runs=2
while [ $# -gt 0 ]; do
  case "$1" in
    --goldcast) goldcast="$2"; shift 2 ;;
    --no-ccache) no_ccache=1; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) gc_fail "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || gc_fail "--jobs wants a positive number, got '$jobs'"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || gc_fail "--runs wants a positive number, got '$runs'"
[ -x "$goldcast" ] || gc_fail "goldcast binary '$goldcast' not found; build it or pass --goldcast"
gc_require_cmds make gcc patch sha256sum python3
goldcast="$(realpath "$goldcast")"

cache="${GOLDCAST_CACHE:-/var/cache/goldcast}"
kcache="$cache/kernel"
GC_TMP="$(mktemp -d "${TMPDIR:-/tmp}/gc-bench-kernel.XXXXXX")"
trap gc_cleanup EXIT
trap 'exit 130' INT TERM
if [ "$no_ccache" = 1 ]; then export CCACHE_DISABLE=1; fi

bash "$GC_REPO/scripts/kernel-source.sh" --no-debian-tree >/dev/null 2>"$GC_TMP/ks.log" ||
  gc_fail_with_file "scripts/kernel-source.sh failed" "$GC_TMP/ks.log"
# shellcheck disable=SC1091
. "$cache/kernel-src/source.env"
recipe="$KS_RECIPE"

now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$1" "$2"; }
less_than() { python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' "$1" "$2"; }

build() {  # build STATE LABEL: goldcast kernel build --json into $GC_TMP/LABEL.json
  local t0 t1
  t0="$(now)"
  "$goldcast" --state "$1" kernel build --recipe "$recipe" --cache "$kcache" --jobs "$jobs" \
    --json >"$GC_TMP/$2.json" 2>"$GC_TMP/$2.err" ||
    gc_fail_with_file "goldcast build ($2) failed" "$GC_TMP/$2.err"
  t1="$(now)"
  elapsed "$t0" "$t1"
}

# 0. Warm-up, only when needed: the pristine tree must be cached (and ccache
#    warm unless --no-ccache) so neither side pays for a first unpack or a
#    cold compile that the other does not.
if [ ! -f "$kcache/sources/$KS_TARBALL_SHA256/COMPLETE" ] ||
  { [ "$no_ccache" = 0 ] && [ ! -d "$kcache/ccache" ]; }; then
  gc_log "warm-up build (cold the first time: minutes)"
  gc_log "warm-up: $(build "$GC_TMP/state-warm" warm) s"
fi

python3 - "$recipe" >"$GC_TMP/patches" <<'EOF'
import re, sys
for m in re.finditer(r"^  - file: (\S+)$", open(sys.argv[1]).read(), re.M):
    print(m.group(1))
EOF
cc="gcc"
if command -v ccache >/dev/null && [ "$no_ccache" = 0 ]; then cc="ccache gcc"; fi

# plain_make RUN ARTIFACT: the same patched tree, the resolved config of
# ARTIFACT, the same reproducible variables, compiler wrapper and cache.
# Prints the seconds of olddefconfig + bzImage; sets same=no on a different image.
plain_make() {
  local plain="$GC_TMP/plain-$1" artifact="$2" t0 t1 p
  mkdir -p "$plain/src" "$plain/out"
  cp -a --reflink=auto "$kcache/sources/$KS_TARBALL_SHA256/tree/." "$plain/src/"
  while read -r p; do patch -Np1 -s -d "$plain/src" -i "$p"; done <"$GC_TMP/patches"
  cp "$artifact/config" "$plain/out/.config"
  t0="$(now)"
  env KBUILD_BUILD_TIMESTAMP='2024-01-01 00:00:00 UTC' KBUILD_BUILD_USER=goldcast \
    KBUILD_BUILD_HOST=goldcast-build KBUILD_BUILD_VERSION=1 SOURCE_DATE_EPOCH=1704067200 \
    CCACHE_DIR="$kcache/ccache" CCACHE_BASEDIR="$plain" \
    sh -c 'make -C "$1" O="$2" ARCH=x86_64 CC="$3" olddefconfig &&
           make -C "$1" O="$2" ARCH=x86_64 CC="$3" -j"$4" bzImage' sh \
    "$plain/src" "$plain/out" "$cc" "$jobs" >"$GC_TMP/plain.log" 2>&1 ||
    gc_fail_with_file "plain make failed" "$GC_TMP/plain.log"
  t1="$(now)"
  cmp -s "$plain/out/arch/x86/boot/bzImage" "$artifact/vmlinuz" || echo no >"$GC_TMP/differs"
  rm -rf "$plain"
  elapsed "$t0" "$t1"
}

# 1 and 2, alternating: goldcast from a fresh state (the whole pipeline,
# nothing reused), then the plain make.
t_goldcast=""
t_plain=""
phases=""
for run in $(seq 1 "$runs"); do
  t="$(build "$GC_TMP/state-$run" "full-$run")"
  gc_log "run $run/$runs: goldcast kernel build $t s"
  artifact="$(gc_json_field "$GC_TMP/full-$run.json" artifact_dir)"
  if [ -z "$t_goldcast" ] || less_than "$t" "$t_goldcast"; then
    t_goldcast="$t"
    phases="$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["phases"]; print(" ".join(f"{k}={v:.1f}" for k,v in p.items()))' "$GC_TMP/full-$run.json")"
  fi
  t="$(plain_make "$run" "$artifact")"
  gc_log "run $run/$runs: plain make $t s"
  if [ -z "$t_plain" ] || less_than "$t" "$t_plain"; then t_plain="$t"; fi
done
same=yes
[ -f "$GC_TMP/differs" ] && same=no

# 3. The cached no-op: unchanged inputs in a state that has the artifact.
t_noop="$(build "$GC_TMP/state-1" noop)"
[ "$(gc_json_field "$GC_TMP/noop.json" reused)" = True ] || gc_fail "the no-op build did not reuse"

mode="warm ccache (both sides)"
[ "$no_ccache" = 1 ] && mode="no ccache (both sides)"
python3 - "$t_goldcast" "$t_plain" "$t_noop" "$mode" "$phases" "$same" "$jobs" "$runs" <<'EOF'
import sys
gc, plain, noop = map(float, sys.argv[1:4])
mode, phases, same, jobs, runs = sys.argv[4:9]
print(f"kernel build benchmark: linux 6.1 tinyconfig + QEMU fragment, -j{jobs}, {mode}, "
      f"fastest of {runs}")
print(f"{'measurement':<44}{'seconds':>10}")
print(f"{'goldcast kernel build (fresh state)':<44}{gc:>10.1f}")
print(f"{'plain make olddefconfig + bzImage':<44}{plain:>10.1f}")
print(f"{'pipeline overhead (goldcast - plain)':<44}{gc - plain:>10.1f}")
print(f"{'goldcast kernel build, inputs unchanged':<44}{noop:>10.3f}")
print(f"ratio goldcast / plain make: {gc / plain:.2f}x;  no-op / plain make: {noop / plain:.3f}x")
print(f"goldcast phases of its fastest run (s): {phases}")
print(f"identical bzImage from both: {same}")
EOF
