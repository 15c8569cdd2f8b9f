#!/usr/bin/env bash
# The whole test suite: installs deps, builds with warnings as errors, runs
# CTest. Usage: scripts/test.sh [--sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dir=build
flags=(-DPDIFF_WERROR=ON)
if [ "${1:-}" = --sanitize ]; then
  dir=build-asan
  flags+=(-DPDIFF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
ctest --output-on-failure -j1
