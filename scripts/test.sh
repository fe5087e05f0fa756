#!/usr/bin/env bash
# The test command of README.md and CI (.ci/run): installs the Debian
# packages, builds with ASan/UBSan and -Werror, checks formatting, runs the
# unit tests inside a private network namespace (loopback only), the
# integration tests (each makes its own namespaces), and a short libFuzzer
# run of every parser. Needs root. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)

step() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)"; }

step "install packages"
bash scripts/install-deps.sh

step "check formatting and the dependency order of the folders"
bash scripts/check-format.sh
bash scripts/check-layers.sh

step "check the Vagrantfile (vagrant validate)"
VAGRANT_DEFAULT_PROVIDER=libvirt GOLDCAST_NODES=3 vagrant validate

step "build (ASan/UBSan, -Werror)"
cmake -S . -B build-ci -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGOLDCAST_SANITIZE=ON >/dev/null
ninja -C build-ci -j "$jobs"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

step "unit tests (private network namespace)"
ns="gc-unit-$$"
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" ctest --test-dir build-ci -L unit --output-on-failure -j "$jobs"

step "agent bundle (release build) runs in an empty root"
# The bundle ships the Release agent; ASan cannot run in a root without /proc.
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build-release -j "$jobs" goldcast-agent
bash scripts/bundle-agent.sh build-release/node-agent/goldcast-agent build-release/agent-bundle
bash tests/bundle_check.sh build-release/agent-bundle

step "integration tests (root, network namespaces)"
# VM tests put this Release bundle into initramfs and installed roots.
export GOLDCAST_AGENT_BUNDLE="$root/build-release/agent-bundle"
ctest --test-dir build-ci -L integration --output-on-failure

step "fuzz the parsers (libFuzzer, clang)"
bash scripts/fuzz.sh "${GOLDCAST_FUZZ_SECONDS:-20}"

step "all tests passed"
