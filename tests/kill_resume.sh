#!/usr/bin/env bash
# kill_resume.sh — an interrupted pdiff resumes to the same bytes.
#
# Runs collect, train, generate and the whole `run` pipeline on tiny
# synthetic data, first uninterrupted into A, then into B with `kill -9`
# after random delays (several kills per stage, at different points of
# the run), re-running each command until it completes. Every checkpoint,
# the model files, the training log, the generated models and
# generated.safetensors must then be byte-identical between A and B
# (cmp), and no *.tmp.* file may remain.
#
# Usage: kill_resume.sh <pdiff-cli> <source-dir>. KILL_SEED=N repeats one
# sequence of delays (default: the process id); the seed is printed.
set -u
CLI=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDIFF_THREADS=2 OMP_NUM_THREADS=2
SEED=${KILL_SEED:-$$}
RANDOM=$SEED
KILLS=${KILLS_PER_STAGE:-3}
echo "kill seed $SEED, up to $KILLS kills per stage"

python3 "$SRC/tests/make_tiny_data.py" "$T/data" || exit 1
COLLECT=(--data "$T/data" --net cnn --width 4 --epochs 1 -K 12 --every 2)
# --ckpt-every 40 against the log interval of 50: a resumed run must also
# restore the running loss average of a half-filled log interval
TRAIN=(--ae-steps 300 --ddpm-steps 300 --ckpt-every 40 --den-channels 8,8,8,8)
GEN=(-n 8)

now() { date +%s.%N; }
fail=0

# uninterrupted: "$@" must succeed; prints its wall time in seconds
clean_run() {
  local t0
  t0=$(now)
  if ! "$@" >"$T/out.txt" 2>"$T/err.txt"; then
    echo "FAIL uninterrupted run failed: $*" >&2
    tail -n 5 "$T/err.txt" >&2
    exit 1
  fi
  echo "$(now) - $t0" | bc
}

# killed_run NAME OUTDIR DURATION CMD...: up to $KILLS times start CMD and kill -9
# it after a random delay: 5-90 % of the work still left (estimated as
# DURATION, the uninterrupted time, less the time already run; at least
# 30 % of DURATION, as a resumed run redoes the steps after its last
# checkpoint and reloads its inputs). Then run it to completion. Prints
# where the kills landed, in % of DURATION (cumulative run time). A run
# that completes before its first kill (the machine was faster than during
# the timing run) is started again from scratch: OUTDIR is removed.
killed_run() {
  local name=$1 outdir=$2 dur=$3 dur0=$3
  shift 3
  local k=0 tries=0 points="" spent=0
  while [ "$k" -lt "$KILLS" ] && [ "$tries" -lt $((KILLS * 2)) ]; do
    tries=$((tries + 1))
    local left delay pct=$((5 + RANDOM % 86)) # (in this shell: a $(...) would not advance RANDOM)
    left=$(echo "r = $dur - $spent; m = $dur * 0.3; if (r < m) r = m; r" | bc -l)
    delay=$(echo "scale=3; $left * $pct / 100" | bc -l)
    "$@" >"$T/out.txt" 2>"$T/err.txt" &
    local pid=$!
    sleep "$delay"
    if kill -9 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null
      k=$((k + 1))
      spent=$(echo "$spent + $delay" | bc -l)
      points="$points $(echo "scale=0; 100 * $spent / $dur0" | bc -l)%"
    else
      # it finished before the kill
      wait "$pid"
      local rc=$?
      if [ "$rc" -ne 0 ]; then
        echo "FAIL $name: a resumed run exited $rc" >&2
        tail -n 5 "$T/err.txt" >&2
        fail=1
      fi
      if [ "$k" -gt 0 ]; then break; fi
      rm -rf "$outdir" # no kill landed yet: start over, with shorter delays
      dur=$(echo "$dur * 0.5" | bc -l)
    fi
  done
  if ! "$@" >"$T/out.txt" 2>"$T/err.txt"; then
    echo "FAIL $name: the final resumed run failed" >&2
    tail -n 5 "$T/err.txt" >&2
    fail=1
  fi
  echo "$name: killed $k times, after${points:- (none)} of the uninterrupted ${dur0}s"
}

# compare DIR_A DIR_B: every file of A equal in B, nothing extra in B
compare() {
  local a=$1 b=$2 n=0 f
  while IFS= read -r f; do
    n=$((n + 1))
    if [ ! -e "$b/$f" ]; then
      echo "FAIL missing after resume: $b/$f" >&2
      fail=1
    elif ! cmp -s "$a/$f" "$b/$f"; then
      echo "FAIL differs after resume: $f ($(cmp "$a/$f" "$b/$f" 2>&1 | head -n 1))" >&2
      fail=1
    fi
  done < <(cd "$a" && find . -type f | sort)
  while IFS= read -r f; do
    if [ ! -e "$a/$f" ]; then
      echo "FAIL extra file after resume: $b/$f" >&2
      fail=1
    fi
  done < <(cd "$b" && find . -type f | sort)
  echo "compared $n files under ${a#"$T"/}"
}

# ---- A: uninterrupted -------------------------------------------------------
A=$T/A
B=$T/B
d_collect=$(clean_run "$CLI" collect "${COLLECT[@]}" --out "$A/c")
d_train=$(clean_run "$CLI" train "$A/c" "${TRAIN[@]}")
d_gen=$(clean_run "$CLI" generate "$A/c" "${GEN[@]}")
d_run=$(clean_run "$CLI" run "${COLLECT[@]}" "${TRAIN[@]}" "${GEN[@]}" --no-baselines --out "$A/run")
echo "uninterrupted: collect ${d_collect}s, train ${d_train}s, generate ${d_gen}s, run ${d_run}s"

# ---- B: killed and resumed ------------------------------------------------------
killed_run collect "$B/c" "$d_collect" "$CLI" collect "${COLLECT[@]}" --out "$B/c"
killed_run train "$B/c/model" "$d_train" "$CLI" train "$B/c" "${TRAIN[@]}"
killed_run generate "$B/c/generated" "$d_gen" "$CLI" generate "$B/c" "${GEN[@]}"
KILLS=$((KILLS + 2))
killed_run run "$B/run" "$d_run" "$CLI" run "${COLLECT[@]}" "${TRAIN[@]}" "${GEN[@]}" --no-baselines --out "$B/run"

# ---- compare ------------------------------------------------------------------
check_all() {
  compare "$A/c" "$B/c"
  for sub in collect model generated; do
    compare "$A/run/$sub" "$B/run/$sub"
  done
  local tmps
  tmps=$(find "$T" -name '*.tmp.*')
  if [ -n "$tmps" ]; then
    echo "FAIL temp files left: $tmps" >&2
    fail=1
  fi
}
check_all

# ---- the two leftovers of a kill, made deterministic ------------------------
# a temp file whose writer is gone (pid 99999999 > pid_max) is swept when a
# stage starts again, and log lines appended after the newest state file
# (a kill between the log append and the state rename) are cut back
echo "re-running every stage on B with stale temp files and an extra log line"
for f in "$B/c/ckpt_003.safetensors" "$B/c/model/ae_state.safetensors" \
  "$B/c/model/reconstructed/generated.safetensors" "$B/c/generated/gen_000.safetensors" \
  "$B/run/results.json"; do
  echo partial >"$f.tmp.99999999"
done
echo '{"stage":"ddpm","step":300,"loss":0}' >>"$B/c/model/train_log.jsonl"
for cmd in "collect ${COLLECT[*]} --out $B/c" "train $B/c ${TRAIN[*]}" "generate $B/c ${GEN[*]}" \
  "run ${COLLECT[*]} ${TRAIN[*]} ${GEN[*]} --no-baselines --out $B/run"; do
  # shellcheck disable=SC2086
  if ! "$CLI" $cmd >"$T/out.txt" 2>"$T/err.txt"; then
    echo "FAIL re-run of a completed stage failed: pdiff $cmd" >&2
    tail -n 5 "$T/err.txt" >&2
    fail=1
  fi
done
check_all

if [ "$fail" -ne 0 ]; then
  echo "kill_resume: FAILED (kill seed $SEED)" >&2
  exit 1
fi
echo "kill_resume: all outputs byte-identical"
