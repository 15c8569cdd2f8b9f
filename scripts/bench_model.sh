#!/usr/bin/env bash
# bench_model.sh — runs bench/bench_model.c (pdiff) and
# scripts/bench_model_torch.py (PyTorch) on the same cases and prints both
# timings and the speed-up of pdiff (torch ms / pdiff ms; > 1: pdiff faster).
#
# Usage: scripts/bench_model.sh [build-dir=build] [threads=2] [--quick]
# Both sides run with the same OpenMP environment; OMP_WAIT_POLICY defaults
# to PASSIVE (on a shared or busy machine, spinning OpenMP threads of either
# side steal the cores they wait for; set it to ACTIVE on a quiet machine).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
threads=${2:-2}
quick=${3:-}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export OMP_NUM_THREADS=$threads PDIFF_THREADS=$threads

py=""
for cand in "${PYTHON:-}" python3 /usr/bin/python3; do
  if [ -n "$cand" ] && "$cand" -c "import torch" 2>/dev/null; then py=$cand; break; fi
done
[ -n "$py" ] || { echo "bench_model.sh: no python3 with torch found (set PYTHON)" >&2; exit 1; }
[ -x "$build/bench_model" ] || { echo "bench_model.sh: build $build/bench_model first" >&2; exit 1; }

c_out=$(mktemp)
t_out=$(mktemp)
trap 'rm -f "$c_out" "$t_out"' EXIT
echo "running pdiff ($build/bench_model $threads $quick) ..." >&2
"$build/bench_model" "$threads" $quick | tee "$c_out" >&2
echo "running torch ($py bench_model_torch.py $threads $quick) ..." >&2
"$py" "$here/bench_model_torch.py" "$threads" $quick | tee "$t_out" >&2

echo "# threads=$threads OMP_WAIT_POLICY=$OMP_WAIT_POLICY $(uname -m) $(nproc) cores"
awk 'FNR == NR { if ($1 !~ /^#/) c[$1] = $2; next }
     $1 !~ /^#/ && ($1 in c) {
       if (!hdr++) printf "%-28s %12s %12s %9s\n", "case", "pdiff ms", "torch ms", "speed-up"
       printf "%-28s %12.1f %12.1f %8.2fx\n", $1, c[$1], $2, $2 / c[$1] }' "$c_out" "$t_out"
