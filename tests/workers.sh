#!/usr/bin/env bash
# workers.sh — work dealt to single-thread workers does not depend on how
# many there are: `pdiff collect --mode seeds` trains each network on one
# worker, so 1, 2 and 3 threads give byte-identical checkpoints and
# manifest.json. (Subset and full mode evaluate their snapshots on workers
# too, but the trajectory's own SGD steps use all threads, so their
# checkpoints depend on the thread count as before.) eval's workers:
# tests/eval_known.sh; training's ranks: tests/test_model.c, tests/mpi.sh.
# Usage: workers.sh <pdiff-cli> <source-dir>
set -euo pipefail
cli=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
python3 "$src/tests/make_tiny_data.py" "$tmp/data" >/dev/null
C=(--data "$tmp/data" --net mlp3 --epochs 1 --seed 5 --mode seeds -K 5)
for t in 1 2 3; do
  "$cli" collect "${C[@]}" --threads $t --out "$tmp/s$t" >/dev/null 2>"$tmp/log" ||
    { cat "$tmp/log"; fail "collect --threads $t"; }
done
for t in 2 3; do
  for f in "$tmp/s1"/*; do
    cmp -s "$f" "$tmp/s$t/$(basename "$f")" || fail "--threads $t: $(basename "$f") differs from --threads 1"
  done
done
echo "collect --mode seeds: 5 networks + manifest.json identical at 1, 2 and 3 threads"
