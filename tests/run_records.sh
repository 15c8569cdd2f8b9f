#!/usr/bin/env bash
# run_records.sh — what a run records about itself is what it used: the
# default cnn's manifest.json names its width (16, not 0), and the run's
# config.json does not claim "D": 0 in its model section (D is the data's,
# recorded by the manifest). A tiny `pdiff run` with default network
# options on synthetic data. Usage: run_records.sh <pdiff-cli> <source-dir>.
set -euo pipefail
cli=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PDIFF_THREADS=2
python3 "$src/tests/make_tiny_data.py" "$tmp/data" >/dev/null
"$cli" run --data "$tmp/data" --epochs 1 -K 4 --every 1 --ae-steps 5 --ddpm-steps 5 \
  --den-channels 4,4,4,4 -T 10 -n 2 --no-baselines --out "$tmp/run" >/dev/null 2>"$tmp/err" ||
  { tail -3 "$tmp/err"; exit 1; }
python3 - "$tmp/run" <<'PY'
import json, sys
run = sys.argv[1]
m = json.load(open(run + "/collect/manifest.json"))
assert m["network"]["arch"] == "cnn", m["network"]
assert m["network"]["width"] == 16, "manifest width %r, expected 16" % m["network"]["width"]
c = json.load(open(run + "/config.json"))
assert "D" not in c["model"], "run config.json model section has D = %r" % c["model"]["D"]
mc = json.load(open(run + "/model/config.json"))
assert mc["D"] == m["D"] > 0, (mc["D"], m["D"])
print("manifest width 16; run config without D; model config D = %d" % mc["D"])
PY
