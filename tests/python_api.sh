#!/usr/bin/env bash
# python_api.sh — the Python package (python/pdiff) over the libpdiff.so of
# this build, with pytest: python/tests/test_model.py, and with PyTorch
# python/tests/test_torch_roundtrip.py. Skipped (exit 77, CTest
# SKIP_RETURN_CODE) when Debian's python3-pytest or python3-numpy is
# missing; CI installs them (scripts/setup.sh), and python3-torch.
# Usage: python_api.sh <pdiff-cli> <source-dir>.
set -euo pipefail
cli=$1
src=$(cd "$2" && pwd)
py=/usr/bin/python3
if ! "$py" -c 'import pytest, numpy' 2>/dev/null; then
  echo "skipped: python3-pytest or python3-numpy not installed"
  exit 77
fi
export PDIFF_LIBRARY
PDIFF_LIBRARY=$(cd "$(dirname "$cli")" && pwd)/libpdiff.so.0
export PYTHONPATH=$src/python PDIFF_THREADS=${PDIFF_THREADS:-2}
tests=("$src/python/tests/test_model.py")
build=$(dirname "$cli")
source "$src/tests/sanitizer_env.bash"
if sanitized_build "$build"; then
  # an instrumented libpdiff in an uninstrumented python: the sanitizer
  # runtimes must be loaded first; Python's own allocations are not ours to
  # leak-check, and PyTorch is left out of this build's run
  export LD_PRELOAD="$SANITIZER_PRELOAD"
  export ASAN_OPTIONS=detect_leaks=0
  echo "note: sanitizer build, the PyTorch round trip runs in the plain build only"
elif "$py" -c 'import torch' 2>/dev/null; then
  tests+=("$src/python/tests/test_torch_roundtrip.py")
elif [ "${PDIFF_WITH_TORCH:-0}" = 1 ]; then
  echo "FAIL: PDIFF_WITH_TORCH=1 but python3-torch cannot be imported"; exit 1
else
  echo "note: python3-torch missing, the PyTorch round trip is not run"
fi
cd "$(mktemp -d)"
exec "$py" -m pytest -q -p no:cacheprovider "${tests[@]}"
