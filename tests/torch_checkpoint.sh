#!/usr/bin/env bash
# pdiff checkpoints are PyTorch state_dicts: for each task network (cnn and
# resnet in subset mode, mlp3 and convnet3 in seeds mode) collect a few
# checkpoints on a tiny synthetic IDX dataset, load every one into the
# torch.nn.Module of scripts/pdiff_torch.py with strict=True, and require
# PyTorch's test accuracy to equal the one pdiff recorded (within 0.05 pp,
# i.e. the same predictions on all 200 test images).
# Usage: torch_checkpoint.sh <pdiff-cli> <source-dir>.
# Skipped (exit 77, CTest SKIP_RETURN_CODE) only when /usr/bin/python3
# cannot import torch; CI installs python3-torch (.ci/run).
set -euo pipefail
cli=$1
src=$2
py=/usr/bin/python3
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
  echo "skipped: python3-torch not installed"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 600 train / 200 test 28×28 images, 10 classes: class k lights a 7×7 cell
# of a 4×3 grid (plus a dimmer mirrored copy, noise and jitter), learnable
"$py" - "$tmp" <<'EOF'
import gzip, struct, sys
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(7)
def split(n, pre):
    y = np.arange(n) % 10
    rng.shuffle(y)
    x = rng.integers(0, 150, size=(n, 28, 28)).astype(np.int32)
    for i, k in enumerate(y):
        # half the images also hold a weaker decoy of another class, so
        # many test images sit near a decision boundary: any difference in
        # the computed function is likely to change predictions
        decoy = (k + rng.integers(1, 10)) % 10
        for cls, amp in ((k, 1.0), (decoy, rng.uniform(0.6, 1.0) * (i % 2))):
            r, c = 7 * (cls // 4) + rng.integers(0, 3), 7 * (cls % 4) + rng.integers(0, 3)
            x[i, r:r + 7, c:c + 7] += int(80 * amp)
            x[i, 27 - r - 5:27 - r, c:c + 5] += int(35 * amp)
    x = np.clip(x, 0, 255).astype(np.uint8)
    with gzip.open("%s/%s-images-idx3-ubyte.gz" % (out, pre), "wb") as f:
        f.write(struct.pack(">HBBIII", 0, 8, 3, n, 28, 28) + x.tobytes())
    with gzip.open("%s/%s-labels-idx1-ubyte.gz" % (out, pre), "wb") as f:
        f.write(struct.pack(">HBBI", 0, 8, 1, n) + y.astype(np.uint8).tobytes())
split(600, "train")
split(200, "t10k")
EOF

export PDIFF_THREADS=${PDIFF_THREADS:-2} OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
common=(--data "$tmp" --epochs 1 --batch 32)
"$cli" collect "${common[@]}" --net cnn --width 4 -K 3 --every 2 --out "$tmp/cnn" >/dev/null
"$cli" collect "${common[@]}" --net mlp3 --mode seeds -K 2 --out "$tmp/mlp3" >/dev/null
"$cli" collect "${common[@]}" --net convnet3 --mode seeds -K 1 --out "$tmp/convnet3" >/dev/null
"$cli" collect "${common[@]}" --net resnet --width 4 -K 2 --out "$tmp/resnet" >/dev/null

"$py" "$src/scripts/check_torch_accuracy.py" "$tmp/cnn" "$tmp/mlp3" "$tmp/convnet3" "$tmp/resnet"

# the checker must be able to fail: mlp3's first network learned the data
# (> 20 %), and with fc3 replaced by "always class 0" (exactly 10 %) the
# check has to report a mismatch
cp -r "$tmp/mlp3" "$tmp/broken"
"$py" - "$tmp/broken" <<'EOF'
import json, struct, sys
import numpy as np
d = sys.argv[1]
acc = json.load(open(d + "/manifest.json"))["checkpoints"][0]["test_acc"]
if not acc > 20:
    sys.exit("mlp3 test accuracy %.2f%%: the synthetic data was not learned" % acc)
p = d + "/ckpt_000.safetensors"
raw = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
for name in ("fc3.weight", "fc3.bias"):
    b, e = hdr[name]["data_offsets"]
    v = np.zeros((e - b) // 4, dtype="<f4")
    if name == "fc3.bias":
        v[0] = 1.0
    raw[8 + n + b:8 + n + e] = v.tobytes()
open(p, "wb").write(bytes(raw))
EOF
if "$py" "$src/scripts/check_torch_accuracy.py" --index 0 "$tmp/broken" >"$tmp/broken.log" 2>&1; then
  cat "$tmp/broken.log"
  echo "FAIL: a checkpoint that always predicts class 0 was not caught"
  exit 1
fi
grep -q '^FAIL' "$tmp/broken.log"
echo "ok: torch reproduces pdiff's test accuracy for cnn, mlp3, convnet3, resnet"
