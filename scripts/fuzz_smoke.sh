#!/usr/bin/env bash
# fuzz_smoke.sh — builds the libFuzzer harnesses (fuzz/fuzz_*.c) with clang,
# ASan and UBSan into build-fuzz/ and runs each for a few seconds on a copy
# of its committed corpus (fuzz/corpus/<name>; the repository is not
# modified). Exits non-zero when a harness finds a crash, leak, sanitizer
# report or timeout; the input is left in the printed directory.
#
# Usage: scripts/fuzz_smoke.sh [SECONDS_PER_HARNESS (default 5)] [BUILD_DIR]
# Environment: CC (default clang). Skips (exit 0) when no clang is found.
set -euo pipefail
SECS=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${2:-$ROOT/build-fuzz}
CC=${CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1 || ! "$CC" --version 2>/dev/null | grep -qi clang; then
  echo "fuzz_smoke: skipped, $CC is not clang (libFuzzer needs clang)"
  exit 0
fi

mkdir -p "$BUILD"
CC=$CC cmake -S "$ROOT" -B "$BUILD" -DPDIFF_FUZZ=ON -DPDIFF_SANITIZE=ON \
  -DPDIFF_WERROR=ON >"$BUILD/fuzz_smoke.cmake.log" 2>&1 ||
  { cat "$BUILD/fuzz_smoke.cmake.log"; exit 1; }
names=()
for src in "$ROOT"/fuzz/fuzz_*.c; do
  n=$(basename "$src" .c)
  names+=("${n#fuzz_}")
done
targets=()
for n in "${names[@]}"; do targets+=("fuzz_$n"); done
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}" >"$BUILD/fuzz_smoke.build.log" 2>&1 ||
  { tail -n 30 "$BUILD/fuzz_smoke.build.log"; exit 1; }

WORK=$(mktemp -d)
status=0
printf '%-12s %10s %8s %6s %s\n' harness execs exec/s cov result
for n in "${names[@]}"; do
  mkdir -p "$WORK/$n/corpus" "$WORK/$n/artifacts"
  if [ -d "$ROOT/fuzz/corpus/$n" ]; then cp -r "$ROOT/fuzz/corpus/$n/." "$WORK/$n/corpus/"; fi
  log=$WORK/$n/log
  set +e
  (cd "$WORK/$n" && "$BUILD/fuzz_$n" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$WORK/$n/artifacts/" corpus >"$log" 2>&1)
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc): $(ls "$WORK/$n/artifacts" | head -n 1)"
    status=1
  fi
  printf '%-12s %10s %8s %6s %s\n' "$n" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$result"
  if [ "$rc" -ne 0 ]; then
    grep -E 'ERROR|SUMMARY|==[0-9]+==|#[0-9]+ 0x' "$log" | head -n 20 || true
  fi
done
if [ "$status" -ne 0 ]; then
  echo "fuzz_smoke: FAILED; inputs and logs kept in $WORK"
  echo "(keep a crasher as a regression input: tests/fixtures/crashers/<harness>/)"
else
  rm -rf "$WORK"
fi
exit "$status"
