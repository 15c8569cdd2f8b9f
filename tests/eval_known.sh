#!/usr/bin/env bash
# eval_known.sh — pdiff eval end to end against answers known in advance.
#
# "Generated" models that are the originals themselves, and "reconstructions"
# that are the originals too: the autoencoder diagnostics must say ratio 0,
# identity 1, correlation 1; the memorization figures must say distance 0
# to the nearest original and max IoU 1; p-diff's statistics must equal the
# originals'; every baseline must be there with N models; and the collect
# report must be in the manifest; collect's record of the originals' test
# predictions is used and changes nothing; and 1, 2 or 3 workers give the
# same results. Standard library Python only.
#
# Usage: eval_known.sh <pdiff-cli> <source-dir>
set -u
CLI=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDIFF_THREADS=2 OMP_NUM_THREADS=2
die() { echo "FAIL $*" >&2; exit 1; }

python3 "$SRC/tests/make_tiny_data.py" "$T/data" --train 256 --test 128 || die "make_tiny_data.py"
"$CLI" collect --data "$T/data" --net cnn --width 4 --epochs 1 -K 6 --every 2 --out "$T/c" \
  >"$T/collect.out" 2>"$T/log" || { cat "$T/log" >&2; die "collect"; }
grep -q "mean pairwise IoU of wrong test predictions" "$T/collect.out" ||
  die "collect printed no report: $(cat "$T/collect.out")"

# the originals' subset matrix, written as generated models and as the
# model's reconstructions
python3 - "$T" <<'EOF' || die "writing the matrices"
import json, os, struct, sys
T = sys.argv[1]
man = json.load(open(os.path.join(T, "c", "manifest.json")))
def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]: 8 + n + v["data_offsets"][1]]
            for k, v in h.items() if k != "__metadata__"}
rows = []
for c in man["checkpoints"]:
    t = tensors(os.path.join(T, "c", c["file"]))
    rows.append(b"".join(t[n] for n in man["params"]))
K, D = len(rows), man["D"]
hdr = json.dumps({"vectors": {"dtype": "F32", "shape": [K, D], "data_offsets": [0, K * D * 4]}})
hdr += " " * (-len(hdr) % 8)
blob = struct.pack("<Q", len(hdr)) + hdr.encode() + b"".join(rows)
for d in ("gen", "model/reconstructed"):
    os.makedirs(os.path.join(T, d), exist_ok=True)
    open(os.path.join(T, d, "generated.safetensors"), "wb").write(blob)
EOF
"$CLI" eval "$T/c" --generated "$T/gen" --model "$T/model" --out "$T/ev" >"$T/eval.out" 2>"$T/log" ||
  { cat "$T/log" >&2; die "eval"; }

python3 - "$T" <<'EOF' || { cat "$T/eval.out" >&2; die "results.json does not hold the known answers"; }
import json, math, os, sys
T = sys.argv[1]
r = json.load(open(os.path.join(T, "ev", "results.json")))
rep = json.load(open(os.path.join(T, "c", "manifest.json")))["report"]
bad = []
def want(name, ok):
    if not ok: bad.append(name)
a, m, p, o = r["autoencoder"], r["memorization"], r["pdiff"], r["original"]
want("recon_ratio 0", a["recon_ratio"] == 0)
want("nn_identity 1", a["nn_identity"] == 1)
want("nn_resolvable 1", a["nn_resolvable"] == 1)
want("dev_corr 1", abs(a["dev_corr"] - 1) < 1e-9)
want("spread > 0", a["spread_rms"] > 0)
want("gen_nn_l2_median 0", m["gen_nn_l2_median"] == 0)
want("orig_nn_l2_median > 0", m["orig_nn_l2_median"] > 0)
want("gen_mean_l2_median = orig_mean_l2_median > 0",
     m["gen_mean_l2_median"] == m["orig_mean_l2_median"] > 0)
want("gen max IoU 1", m["gen_max_iou_mean"] == 1)
for k in ("best", "mean", "median", "worst"):
    want("pdiff %s = original %s" % (k, k), abs(p[k] - o[k]) < 1e-9)
want("none below the worst", p["below_worst_original"] == 0)
# the same models, the same selection rule
want("original selected = p-diff selected", abs(o["selected"] - p["selected"]) < 1e-9)
names = ["noise_0.005", "noise_0.01", "noise_0.02", "noise_0.05", "noise_0.1", "noise_0.2",
         "finetune", "average", "gaussian"]
for n in names:
    b = r["baselines"].get(n)
    want("baseline " + n, b is not None and b["test_acc"]["count"] == 6)
# the mean of 16 draws out of 6 originals is the mean of all 6: the ensemble
want("average = ensemble", abs(r["baselines"]["average"]["test_acc"]["mean"] - r["ensemble"]) < 1e-9)
g = m["matched_novelty_gain"]
want("gain null or finite", g is None or math.isfinite(g))
want("collect report", rep["wrong_iou_mean"] <= 1 and rep["test_acc_min"] <= rep["test_acc_max"])
if bad:
    print("wrong: " + ", ".join(bad), file=sys.stderr)
    sys.exit(1)
EOF
test -s "$T/ev/figures/memorization.tsv" || die "no memorization figure data"

# collect's record of the originals' wrong test predictions
# (test_records.h): eval uses it (a record with one bit flipped changes the
# originals' numbers), and without it evaluates to the same results
strip() { grep -v '"seconds\|"eval":' "$1"; }
rec="$T/c/test_records.safetensors"
test -s "$rec" || die "collect wrote no test_records.safetensors"
mv "$rec" "$T/rec.keep"
"$CLI" eval "$T/c" --generated "$T/gen" --model "$T/model" --out "$T/ev_norec" >/dev/null 2>"$T/log" ||
  { cat "$T/log" >&2; die "eval without the record"; }
diff <(strip "$T/ev/results.json") <(strip "$T/ev_norec/results.json") >&2 ||
  die "eval without collect's record differs from eval with it"
python3 - "$T/rec.keep" "$rec" <<'PY' || die "flipping a bit of the record"
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
o = 8 + n + h["wrong16"]["data_offsets"][0]
v = struct.unpack("<f", b[o:o + 4])[0]
b[o:o + 4] = struct.pack("<f", float(int(v) ^ 1))  # sample 0 of checkpoint 0
open(sys.argv[2], "wb").write(b)
PY
"$CLI" eval "$T/c" --generated "$T/gen" --model "$T/model" --out "$T/ev_flip" >/dev/null 2>"$T/log" ||
  { cat "$T/log" >&2; die "eval with a flipped record"; }
diff <(strip "$T/ev/results.json") <(strip "$T/ev_flip/results.json") >/dev/null &&
  die "eval ignored collect's record (a flipped bit changed nothing)"
mv "$T/rec.keep" "$rec"

# models are dealt to workers, one thread each: 1, 2 and 3 workers give the
# same numbers (results.json without its timings)
for n in 1 3; do
  "$CLI" eval "$T/c" --generated "$T/gen" --model "$T/model" --out "$T/ev$n" --threads $n \
    >/dev/null 2>"$T/log" || { cat "$T/log" >&2; die "eval --threads $n"; }
  diff <(strip "$T/ev/results.json") <(strip "$T/ev$n/results.json") >&2 ||
    die "eval with $n worker(s) differs from 2"
done
echo "eval_known: all known answers hold"
