#!/usr/bin/env bash
# layering.sh — the app layer (src/app) and the CLI (tools/) are built on
# the public headers only. The build enforces it twice: their include path
# has include/ and src/app but not src/, and pdiff_on_shared (the same CLI
# linked against libpdiff.so, which exports only the public functions)
# would not link otherwise. This test checks that both still hold: no
# engine or model header is named in their sources, and the CLI on the
# shared library runs a real command.
# Usage: layering.sh <pdiff-cli> <source-dir>.
set -euo pipefail
cli=$1
src=$2
build=$(dirname "$cli")
bad=$(grep -nE '#include "(engine|model)/' "$src"/src/app/*.[ch] "$src"/tools/*.[ch] || true)
if [ -n "$bad" ]; then echo "FAIL: the app or the CLI includes an internal header:"; echo "$bad"; exit 1; fi
shared=$build/pdiff_on_shared
[ -x "$shared" ] || { echo "FAIL: $shared was not built"; exit 1; }
ldd "$shared" | grep -q 'libpdiff.so.0' || { echo "FAIL: $shared does not load libpdiff.so.0"; exit 1; }
"$shared" --version
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# a whole tiny run through the app layer (collect, train, generate, eval)
# by both CLIs: the same generated parameters, bit for bit
export PDIFF_THREADS=2
python3 "$src/tests/make_tiny_data.py" "$tmp/data" >/dev/null
for which in static shared; do
  exe=$cli; [ $which = shared ] && exe=$shared
  "$exe" run --data "$tmp/data" --net mlp3 --epochs 1 -K 4 --every 1 --ae-steps 5 \
    --ddpm-steps 5 --den-channels 4,4,4,4 -T 10 -n 2 --no-baselines --out "$tmp/$which" \
    >/dev/null 2>"$tmp/err" || { tail -3 "$tmp/err"; exit 1; }
done
ls "$tmp/static/generated" >/dev/null
for f in "$tmp"/static/generated/*.safetensors; do
  cmp "$f" "$tmp/shared/generated/$(basename "$f")" || { echo "FAIL: $(basename "$f") differs"; exit 1; }
done
echo "pdiff_on_shared: a run through the app layer gives the static CLI's bits"
