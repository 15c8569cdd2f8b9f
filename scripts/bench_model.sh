#!/usr/bin/env bash
# bench_model.sh — runs bench/bench_model.c (pdiff, fp32 and bf16 mixed
# precision) and scripts/bench_model_torch.py (PyTorch, fp32 and bf16
# autocast) on the same cases and prints the timings and the speed-ups of
# pdiff (torch ms / pdiff ms; > 1: pdiff faster): pdiff fp32 vs torch fp32,
# pdiff bf16 vs torch fp32, pdiff bf16 vs torch bf16.
#
# Usage: scripts/bench_model.sh [build-dir=build] [threads=2] [--quick] [rounds=3]
# The machine's speed drifts by ±15 % over tens of seconds (a shared VM),
# so the two sides alternate case by case: each round runs one case in
# pdiff, then the same case in PyTorch; the table gives each side's median
# over the rounds and the median of the per-round ratios.
# Both sides run with the same OpenMP environment; OMP_WAIT_POLICY defaults
# to PASSIVE (on a shared or busy machine, spinning OpenMP threads of either
# side steal the cores they wait for; set it to ACTIVE on a quiet machine).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
threads=${2:-2}
quick=${3:-}
rounds=${4:-3}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export OMP_NUM_THREADS=$threads PDIFF_THREADS=$threads
# the OpenBLAS kernels the pdiff tool chooses for this CPU (src/engine/core/cpu.c:
# OpenBLAS 0.3.21 falls back to SSE3 kernels on CPU models it does not know)
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -x "$build/pdiff" ]; then
  core=$("$build/pdiff" --version | sed -n 's/.*OpenBLAS kernels: \([A-Za-z0-9]*\).*/\1/p')
  [ -n "$core" ] && export OPENBLAS_CORETYPE=$core
fi

py=""
for cand in "${PYTHON:-}" python3 /usr/bin/python3; do
  if [ -n "$cand" ] && "$cand" -c "import torch" 2>/dev/null; then py=$cand; break; fi
done
[ -n "$py" ] || { echo "bench_model.sh: no python3 with torch found (set PYTHON)" >&2; exit 1; }
[ -x "$build/bench_model" ] || { echo "bench_model.sh: build $build/bench_model first" >&2; exit 1; }

cases="ae_small ae_medium den_L12_full den_L12_half den_L52_full den_L52_half sample_ddpm sample_ddim"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for r in $(seq "$rounds"); do
  for c in $cases; do
    "$build/bench_model" "$threads" $quick --only "$c" | grep -v '^#' |
      sed "s/^/pdiff $r /" | tee -a "$log" >&2
    "$py" "$here/bench_model_torch.py" "$threads" $quick --only "$c" | grep -v '^#' |
      sed "s/^/torch $r /" | tee -a "$log" >&2
    "$build/bench_model" "$threads" $quick --bf16 --only "$c" | grep -v '^#' |
      sed "s/^/pdiff_bf16 $r /" | tee -a "$log" >&2
    "$py" "$here/bench_model_torch.py" "$threads" $quick --bf16 --only "$c" | grep -v '^#' |
      sed "s/^/torch_bf16 $r /" | tee -a "$log" >&2
  done
done

echo "# threads=$threads OMP_WAIT_POLICY=$OMP_WAIT_POLICY $(uname -m) $(nproc) cores, $rounds rounds"
"$py" - "$log" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    side, rnd, case, ms = line.split()[:4]
    t.setdefault(case, {}).setdefault(side, {})[rnd] = float(ms)
def ratio(v, num, den):
    """median over rounds of v[num] / v[den] (> 1: den is faster)"""
    a, b = v.get(num, {}), v.get(den, {})
    rs = [a[r] / b[r] for r in b if r in a]
    return statistics.median(rs) if rs else float("nan")


def med(v, side):
    x = v.get(side, {})
    return statistics.median(x.values()) if x else float("nan")


print("%-26s %9s %9s %9s %9s | %10s %10s %10s" % (
    "case", "pdiff", "pdiff bf16", "torch", "torch bf16",
    "fp32/fp32", "bf16/fp32", "bf16/bf16"))
for case, v in t.items():
    print("%-26s %9.1f %9.1f %9.1f %9.1f | %9.2fx %9.2fx %9.2fx" % (
        case, med(v, "pdiff"), med(v, "pdiff_bf16"), med(v, "torch"), med(v, "torch_bf16"),
        ratio(v, "torch", "pdiff"), ratio(v, "torch", "pdiff_bf16"),
        ratio(v, "torch_bf16", "pdiff_bf16")))
print("(ms: medians over rounds; ratios: medians of per-round torch ms / pdiff ms)")
PY
