#!/usr/bin/env python3
"""check_torch_accuracy.py — does a pdiff checkpoint mean the same network
in PyTorch? For each collect directory given: build the module named by
manifest.json "network" (scripts/pdiff_torch.py), load checkpoints with
load_state_dict(strict=True), evaluate test accuracy on the manifest's
dataset and compare with the checkpoint's "test_acc" (and, in subset mode,
base.safetensors with the test_acc of its metadata).

  check_torch_accuracy.py [--data DIR] [--index K] [--tol PP] COLLECT_DIR...
  check_torch_accuracy.py --generated RUN_DIR...   (generated networks:
      RUN/generated/gen_*.safetensors against RUN/results.json, whose
      "generated" list holds pdiff eval's test accuracy of each)

The dataset is read independently of pdiff (gzip + numpy; IDX, or CIFAR
binary batches) and normalised the way src/engine/io/dataset.c does: pixels / 255,
then (x - mean) / std per channel with population statistics over all
training pixels of the channel (E[x²] - mean², sums in double, std ≤ 1e-6
→ centre only), train statistics for both splits. Prediction = argmax of
the logits, first maximum on ties (src/engine/train/classify.c pd_evaluate).
Prints one line per checkpoint; exits 1 if any differs by more than --tol
percentage points (default 0.05).
"""
import argparse
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdiff_torch  # noqa: E402


# ---- dataset (independent of pdiff's C reader) ----------------------------

def _open(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _find(d, name):
    """d/name or d/name.gz, plain preferred (as dataset.c find_idx)."""
    for p in (os.path.join(d, name), os.path.join(d, name + ".gz")):
        if os.path.isfile(p):
            return p
    return None


def read_idx(path):
    """unsigned-byte IDX file → numpy uint8 array with its dims."""
    with _open(path) as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">%dI" % ndim, raw[4:4 + 4 * ndim])
    count = int(np.prod(dims, dtype=np.int64))
    data = np.frombuffer(raw, dtype=np.uint8, count=count, offset=4 + 4 * ndim)
    return data.reshape(dims)


def _cifar(paths, classes):
    nlab = 1 if classes == 10 else 2
    recs = [np.frombuffer(open(p, "rb").read(), dtype=np.uint8).reshape(-1, nlab + 3072)
            for p in paths]
    r = np.concatenate(recs)
    return r[:, nlab:].reshape(-1, 3, 32, 32), r[:, nlab - 1].astype(np.int64)


def load_split(d, train):
    """(uint8 images (n, c, h, w), int64 labels) of one split, found the way
    pdiff's pd_dataset_load looks: IDX, then CIFAR-10, then CIFAR-100."""
    pre = "train" if train else "t10k"
    im = _find(d, pre + "-images-idx3-ubyte")
    lb = _find(d, pre + "-labels-idx1-ubyte")
    if im and lb:
        x = read_idx(im)
        return x.reshape(x.shape[0], 1, x.shape[1], x.shape[2]), read_idx(lb).astype(np.int64)
    for sub in ("", "cifar-10-batches-bin"):
        names = ["data_batch_%d.bin" % i for i in range(1, 6)] if train else ["test_batch.bin"]
        paths = [os.path.join(d, sub, n) for n in names]
        if any(os.path.isfile(p) for p in paths):
            return _cifar(paths, 10)
    for sub in ("", "cifar-100-binary"):
        p = os.path.join(d, sub, "train.bin" if train else "test.bin")
        if os.path.isfile(p):
            return _cifar([p], 100)
    raise FileNotFoundError("%s: no IDX or CIFAR dataset found" % d)


def normalised(train_u8, test_u8):
    """float32 test images normalised with the training set's per-channel
    statistics, computed as pd_dataset_normalize does."""
    n, c = train_u8.shape[:2]
    s = np.zeros(c)
    s2 = np.zeros(c)
    for i in range(0, n, 5000):  # chunks: float64 copies of 60k images are big
        x = train_u8[i:i + 5000].astype(np.float32) / np.float32(255)
        xd = x.astype(np.float64).reshape(x.shape[0], c, -1)
        s += xd.sum(axis=(0, 2))
        s2 += (xd * xd).sum(axis=(0, 2))
    cnt = float(n) * float(np.prod(train_u8.shape[2:]))
    m = s / cnt
    var = s2 / cnt - m * m
    sd = np.where(var > 0, np.sqrt(np.maximum(var, 0)), 0.0)
    mean32 = m.astype(np.float32)
    inv32 = np.where(sd > 1e-6, 1.0 / np.where(sd > 0, sd, 1.0), 1.0).astype(np.float32)
    x = test_u8.astype(np.float32) / np.float32(255)
    x = (x - mean32.reshape(1, c, 1, 1)) * inv32.reshape(1, c, 1, 1)
    return x.astype(np.float32), mean32, 1.0 / inv32


# ---- evaluation -------------------------------------------------------------

def accuracy(model, x, y, batch=500):
    """percent correct; argmax with the first maximum winning (numpy)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for b in range(0, len(x), batch):
            logits = model(torch.from_numpy(x[b:b + batch])).numpy()
            correct += int((np.argmax(logits, axis=1) == y[b:b + batch]).sum())
    return 100.0 * correct / len(x)


def check_generated(run, data, tol, cache):
    """every generated network of a `pdiff run` directory: strict load,
    PyTorch's accuracy = the one pdiff eval recorded"""
    with open(os.path.join(run, "results.json")) as f:
        gen = json.load(f)["generated"]
    files = sorted(n for n in os.listdir(os.path.join(run, "generated"))
                   if n.startswith("gen_") and n.endswith(".safetensors"))
    if len(files) != len(gen):
        print("FAIL %s: %d generated files, %d in results.json" % (run, len(files), len(gen)))
        return 1
    entries = [{"file": os.path.join("..", "generated", n), "test_acc": g["test_acc"]}
               for n, g in zip(files, gen)]
    return check_dir(os.path.join(run, "collect"), data, None, tol, cache, entries)


def check_dir(cdir, data, index, tol, cache, entries=None):
    with open(os.path.join(cdir, "manifest.json")) as f:
        man = json.load(f)
    net = man["network"]
    d = data or man["dataset"]["dir"]
    if not os.path.isabs(d) and not os.path.isdir(d):
        d = os.path.join(cdir, d)  # relative to the collect directory
    key = os.path.realpath(d)
    if key not in cache:
        tr_x, _ = load_split(d, True)
        te_x, te_y = load_split(d, False)
        x, mean, std = normalised(tr_x, te_x)
        cache[key] = (x, te_y)
        print("dataset %s: %d train, %d test, mean %s std %s"
              % (d, len(tr_x), len(te_x), np.round(mean, 4), np.round(std, 4)))
    x, y = cache[key]
    want = (int(net["in_c"]), int(net["in_h"]), int(net["in_w"]))
    if x.shape[1:] != want:
        raise ValueError("%s: dataset shape %r, network expects %r" % (cdir, x.shape[1:], want))
    model = pdiff_torch.build(net["arch"], net["in_c"], net["in_h"], net["in_w"],
                              net["classes"], net.get("width", 0))
    ckpts = list(entries if entries is not None else man["checkpoints"])
    picks = list(range(len(ckpts))) if index is None else [index]
    if entries is None and index is None and os.path.isfile(os.path.join(cdir, "base.safetensors")):
        # subset mode: the fully trained base network, accuracy in its metadata
        _, meta = pdiff_torch.load_safetensors(os.path.join(cdir, "base.safetensors"))
        if "test_acc" in meta:
            ckpts.append({"file": "base.safetensors", "test_acc": meta["test_acc"]})
            picks.append(len(ckpts) - 1)
    bad = 0
    for k in picks:
        e = ckpts[k]
        sd, meta = pdiff_torch.load_safetensors(os.path.join(cdir, e["file"]))
        model.load_state_dict(sd, strict=True)
        acc = accuracy(model, x, y)
        ref = float(e["test_acc"])
        ok = abs(acc - ref) <= tol
        bad += not ok
        print("%s %s/%s: pdiff %.4f%%  torch %.4f%%  diff %+.4f pp  %s"
              % ("ok  " if ok else "FAIL", cdir, e["file"], ref, acc, acc - ref,
                 net["arch"]))
        if entries is None and "test_acc" in meta and abs(float(meta["test_acc"]) - ref) > 1e-3:
            print("FAIL %s: metadata test_acc %s != manifest %s" % (e["file"], meta["test_acc"], ref))
            bad += 1
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", help="collect output directories (run directories "
                    "with --generated)")
    ap.add_argument("--generated", action="store_true",
                    help="check the generated networks of run directories")
    ap.add_argument("--data", help="dataset directory (default: manifest dataset.dir)")
    ap.add_argument("--index", type=int, help="check only checkpoint K (default: all)")
    ap.add_argument("--tol", type=float, default=0.05, help="tolerance in percentage points")
    a = ap.parse_args()
    torch.manual_seed(0)
    cache = {}
    if a.generated:
        bad = sum(check_generated(d, a.data, a.tol, cache) for d in a.dirs)
    else:
        bad = sum(check_dir(d, a.data, a.index, a.tol, cache) for d in a.dirs)
    if bad:
        print("check_torch_accuracy: %d mismatch(es)" % bad, file=sys.stderr)
        sys.exit(1)
    print("check_torch_accuracy: all checkpoints agree within %.2f pp" % a.tol)


if __name__ == "__main__":
    main()
