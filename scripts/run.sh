#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs the whole p-diff
# pipeline on Fashion-MNIST (`pdiff run`). Extra arguments go to pdiff run,
# e.g. scripts/run.sh --out runs/mine -K 100.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target pdiff_cli
exec ./build/pdiff run "$@"
