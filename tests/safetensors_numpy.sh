#!/usr/bin/env bash
# Cross-checks the safetensors code against an independent numpy parser
# (scripts/st_read_numpy.py): a file written by pdiff is read by numpy, and
# a file written by numpy (F16, BF16, F64, I64, U8 plus numpy's own F32
# conversions) is read by pdiff. Usage: safetensors_numpy.sh <pdiff-cli> <src>
# The test binaries sit next to the CLI. Skips only when numpy is missing.
set -euo pipefail
bin=$(dirname "$1")
src=$2
py=""
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import numpy' 2>/dev/null; then
    py=$cand
    break
  fi
done
if [ -z "$py" ]; then
  echo "skipped: python3-numpy not installed"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PD_ST_EXPORT="$tmp/pdiff.safetensors" "$bin/test_safetensors"
"$py" "$src/scripts/st_read_numpy.py" check "$tmp/pdiff.safetensors"
"$py" "$src/scripts/st_read_numpy.py" make "$tmp/numpy.safetensors"
PD_ST_IMPORT="$tmp/numpy.safetensors" "$bin/test_safetensors"
