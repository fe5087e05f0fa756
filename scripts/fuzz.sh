#!/usr/bin/env bash
# Builds every tests/fuzz/*_fuzz.cc with clang + libFuzzer and runs each for
# SECONDS (default 45), starting from its corpus in tests/fuzz/corpus/. A crash
# fails the run and leaves the input in build-fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-45}
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOLDCAST_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
mkdir -p build-fuzz/crashes
for source in tests/fuzz/*_fuzz.cc; do
  name=$(basename "$source" .cc)
  ninja -C build-fuzz "$name"
  work=build-fuzz/corpus/$name
  mkdir -p "$work"
  cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s"
  "build-fuzz/tests/fuzz/$name" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix=build-fuzz/crashes/"$name"- -rss_limit_mb=2048 "$work" 2>&1 | tail -n 12
done
