#!/usr/bin/env bash
# The whole test suite: installs deps, builds with warnings as errors, runs
# CTest. Usage: scripts/test.sh [--sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dir=build
# the MPI build (docs/mpi.md); tests/mpi.sh runs mpirun -np 2 on loopback
flags=(-DPDIFF_WERROR=ON -DPDIFF_MPI=ON)
if [ "${1:-}" = --sanitize ]; then
  # without MPI: OpenMPI's own allocations would swamp LeakSanitizer
  dir=build-asan
  flags=(-DPDIFF_WERROR=ON -DPDIFF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DPDIFF_MPI=OFF)
fi
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
ctest --output-on-failure -j1
