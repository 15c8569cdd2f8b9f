#!/usr/bin/env bash
# mpi.sh — pdiff under `mpirun -np 2` on loopback gives the one-process
# results (docs/mpi.md), on tiny synthetic data, one thread per rank:
#   collect --mode seeds    every checkpoint and manifest.json byte-identical
#   collect --mode full     byte-identical (rank 0 makes the trajectory)
#   train                   mpirun -np 1 byte-identical to no mpirun; -np 2
#                           and 3 (data-parallel) within 1e-5 of one
#                           process, the measured differences printed;
#                           one process with --batch-threads 2 and 3
#                           byte-identical to -np 2 and 3; 2 processes of
#                           2 threads as ranks within 1e-5 too
#   generate, eval          byte-identical (results.json without timings)
#   run                     completes; a rank killed during training stops
#                           the job with a non-zero exit, and running again
#                           resumes to the bytes of an uninterrupted -np 2 run
#   an error on the ranks   a message naming the rank, a non-zero exit
# Skipped (77) when pdiff was built without MPI or mpirun is missing.
# Usage: mpi.sh <pdiff-cli> <source-dir>.
set -euo pipefail
cli=$1
src=$2
"$cli" --version | grep -q '; MPI)' || { echo "skipped: pdiff built without MPI (-DPDIFF_MPI=ON)"; exit 77; }
command -v mpirun >/dev/null || { echo "skipped: mpirun not installed (openmpi-bin)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PDIFF_THREADS=1 OMP_NUM_THREADS=1
/usr/bin/python3 -c "import numpy" 2>/dev/null || { echo "skipped: Debian python3-numpy missing"; exit 77; }
mpi() { mpirun --allow-run-as-root --oversubscribe -np "$1" -x PDIFF_THREADS -x OMP_NUM_THREADS "${@:2}"; }
fail() { echo "FAIL: $*"; exit 1; }
same_dir() { # every file of $1 is in $2 with the same bytes
  local f
  for f in "$1"/*; do
    [ -f "$f" ] || continue
    cmp -s "$f" "$2/$(basename "$f")" || fail "$2/$(basename "$f") differs from $f"
  done
}

python3 "$src/tests/make_tiny_data.py" "$tmp/data" >/dev/null
C=(--data "$tmp/data" --net mlp3 --epochs 1 --seed 5)
M=(--ae-steps 40 --ddpm-steps 40 -T 20 --den-channels 4,4,4,4 --seed 2)

# collect, seeds mode: rank r trains seeds r, r + 2, ...
"$cli" collect "${C[@]}" --mode seeds -K 5 --out "$tmp/s1" >/dev/null 2>&1
mpi 2 "$cli" collect "${C[@]}" --mode seeds -K 5 --out "$tmp/s2" >/dev/null 2>&1
same_dir "$tmp/s1" "$tmp/s2"
echo "collect --mode seeds: 5 checkpoints + manifest.json identical (-np 2)"
# collect, full mode
"$cli" collect "${C[@]}" --mode full -K 4 --every 2 --out "$tmp/f1" >/dev/null 2>&1
mpi 2 "$cli" collect "${C[@]}" --mode full -K 4 --every 2 --out "$tmp/f2" >/dev/null 2>&1
same_dir "$tmp/f1" "$tmp/f2"
echo "collect --mode full: identical (-np 2)"

# train: one process, -np 1, -np 2
"$cli" train "$tmp/s1" "${M[@]}" --out "$tmp/m1" >/dev/null 2>&1
mpi 1 "$cli" train "$tmp/s1" "${M[@]}" --out "$tmp/m1b" >/dev/null 2>&1
same_dir "$tmp/m1" "$tmp/m1b"
echo "train -np 1: every model file identical to no mpirun"
# -np 2 and -np 3 (uneven shares of the batch of 5, and of the gradient);
# "2x2": two processes of two threads as ranks each (ranks 0..3, the
# threads' sum, then the processes')
mpi 2 "$cli" train "$tmp/s1" "${M[@]}" --out "$tmp/m2" >/dev/null 2>&1
mpi 3 "$cli" train "$tmp/s1" "${M[@]}" --out "$tmp/m3" >/dev/null 2>&1
PDIFF_THREADS=2 mpi 2 "$cli" train "$tmp/s1" "${M[@]}" --batch-threads 2 --out "$tmp/m2x2" \
  >/dev/null 2>&1 || fail "train with 2 processes x 2 threads"
cmp -s "$tmp/m2/ae.safetensors" "$tmp/m2x2/ae.safetensors" &&
  fail "2 processes x 2 threads trained exactly as 2 x 1: the threads did not split the batch"
for np in 2 3 2x2; do
/usr/bin/python3 - "$tmp/m1" "$tmp/m$np" "$np" "$src/python/pdiff/safetensors.py" <<'PY'
import importlib.util, sys
import numpy as np
# the Python package's own numpy reader, without loading libpdiff
spec = importlib.util.spec_from_file_location("st", sys.argv[4])
st = importlib.util.module_from_spec(spec)
spec.loader.exec_module(st)
worst = 0.0
for f in ("ae", "den", "den_ema", "latents"):
    a = st.read_safetensors(f"{sys.argv[1]}/{f}.safetensors")[0]
    b = st.read_safetensors(f"{sys.argv[2]}/{f}.safetensors")[0]
    assert a.keys() == b.keys(), f
    d = max(float(np.abs(a[k].astype(np.float64) - b[k]).max()) for k in a if a[k].size)
    print(f"train -np {sys.argv[3]} vs one process: {f}: max |difference| {d:.2e}")
    worst = max(worst, d)
assert worst <= 1e-5, f"data-parallel training differs by {worst:g} (> 1e-5)"
PY
done

# threads as ranks: one process with --batch-threads 2 and 3 gives the
# bytes of -np 2 and -np 3 with one thread each (the same rows, the same
# ordered sum)
for np in 2 3; do
  PDIFF_THREADS=$np "$cli" train "$tmp/s1" "${M[@]}" --batch-threads $np --out "$tmp/t$np" >/dev/null 2>&1
  same_dir "$tmp/m$np" "$tmp/t$np"
  echo "train --batch-threads $np in one process: every model file identical to -np $np"
done

# generate and eval: the same files
"$cli" generate "$tmp/s1" --model "$tmp/m1" -n 6 --seed 3 --out "$tmp/g1" >/dev/null 2>&1
mpi 2 "$cli" generate "$tmp/s1" --model "$tmp/m1" -n 6 --seed 3 --out "$tmp/g2" >/dev/null 2>&1
same_dir "$tmp/g1" "$tmp/g2"
echo "generate -np 2: identical"
"$cli" eval "$tmp/s1" --generated "$tmp/g1" --seed 4 --out "$tmp/e1" >/dev/null 2>&1
mpi 2 "$cli" eval "$tmp/s1" --generated "$tmp/g1" --seed 4 --out "$tmp/e2" >/dev/null 2>&1
strip() { grep -v '"seconds\|"collect":\|"train":\|"generate":\|"eval":' "$1"; }
diff <(strip "$tmp/e1/results.json") <(strip "$tmp/e2/results.json") ||
  fail "eval -np 2 results.json differs"
diff <(grep -v -i -E 'wall|seconds|, eval [0-9.]+' "$tmp/e1/results.md") <(grep -v -i -E 'wall|seconds|, eval [0-9.]+' "$tmp/e2/results.md") ||
  fail "eval -np 2 results.md differs"
echo "eval -np 2: results identical (originals, generated, baselines)"

# run under mpirun, a rank killed during training, then resumed
R=(--data "$tmp/data" --net mlp3 --mode seeds -K 4 --epochs 1 --ae-steps 1500 --ddpm-steps 300
   --ckpt-every 50 -T 20 --den-channels 4,4,4,4 -n 4 --no-baselines --seed 6)
mpi 2 "$cli" run "${R[@]}" --out "$tmp/ra" >/dev/null 2>&1 || fail "mpirun -np 2 pdiff run failed"
mpi 2 "$cli" run "${R[@]}" --out "$tmp/rb" >"$tmp/kill.out" 2>&1 &
job=$!
for _ in $(seq 600); do [ -f "$tmp/rb/model/ae_state.safetensors" ] && break; sleep 0.05; done
[ -f "$tmp/rb/model/ae_state.safetensors" ] || fail "no training state appeared"
# the ranks are the processes of the pdiff binary (not mpirun) running
# into rb; kill -9 one of them
ranks=""
bin=$(readlink -f "$cli")
for p in $(pgrep -f "run .*$tmp/rb" || true); do
  [ "$(readlink -f "/proc/$p/exe" 2>/dev/null)" = "$bin" ] && ranks="$ranks $p"
done
[ "$(echo $ranks | wc -w)" = 2 ] || fail "expected 2 rank processes, found:$ranks"
kill -9 "$(echo $ranks | tr ' ' '\n' | tail -1)"
if wait "$job"; then fail "the job went on after a rank was killed"; fi
[ -f "$tmp/rb/model/den_ema.safetensors" ] && fail "the killed run finished training"
echo "a rank killed during training stopped the job (exit non-zero)"
mpi 2 "$cli" run "${R[@]}" --out "$tmp/rb" >/dev/null 2>&1 || fail "the resumed run failed"
for d in collect model generated; do same_dir "$tmp/ra/$d" "$tmp/rb/$d"; done
echo "resumed under mpirun -np 2: collect, model and generated identical to an uninterrupted run"

# an error stops every rank, naming one
if mpi 2 "$cli" eval "$tmp/missing" --generated "$tmp/g1" >"$tmp/err.txt" 2>&1; then
  fail "eval of a missing directory succeeded"
fi
grep -q 'pdiff: rank [01] of 2: .*missing/manifest.json' "$tmp/err.txt" ||
  { cat "$tmp/err.txt"; fail "no error naming the rank and the file"; }
echo "an error: $(grep -m1 'pdiff: rank' "$tmp/err.txt")"
