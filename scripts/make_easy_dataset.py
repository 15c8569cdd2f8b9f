#!/usr/bin/env python3
"""An easy IDX dataset cut from Fashion-MNIST, for checking that collect
gives checkpoints that differ in behaviour even when the task is nearly
solved: four well-separated classes (T-shirt/top, trouser, sandal, bag,
relabelled 0-3), 8 000 training and 2 000 test images, the first of each
class in file order (deterministic, no download).

    python3 scripts/make_easy_dataset.py OUT_DIR [SOURCE_DIR]
"""
import gzip
import os
import struct
import sys

import numpy as np

CLASSES = [0, 1, 5, 8]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write_idx(path, arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(header + np.ascontiguousarray(arr, np.uint8).tobytes())
    os.replace(tmp, path)


def cut(images, labels, per_class):
    keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in CLASSES])
    keep.sort()
    relabel = {c: i for i, c in enumerate(CLASSES)}
    return images[keep], np.array([relabel[int(l)] for l in labels[keep]], np.uint8)


def main():
    out = sys.argv[1]
    src = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
    os.makedirs(out, exist_ok=True)
    for split, prefix, per_class in (("train", "train", 2000), ("test", "t10k", 500)):
        x = read_idx(f"{src}/{prefix}-images-idx3-ubyte.gz")
        y = read_idx(f"{src}/{prefix}-labels-idx1-ubyte.gz")
        x, y = cut(x, y, per_class)
        write_idx(f"{out}/{prefix}-images-idx3-ubyte", x)
        write_idx(f"{out}/{prefix}-labels-idx1-ubyte", y)
        print(f"{split}: {len(y)} images of {len(CLASSES)} classes -> {out}")


if __name__ == "__main__":
    main()
