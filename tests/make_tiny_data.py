#!/usr/bin/env python3
"""Writes a tiny synthetic IDX dataset (gzip, Fashion-MNIST file names) into
a directory, for the shell tests that drive the CLI end to end.

usage: make_tiny_data.py DIR [--train N] [--test N] [--size S] [--classes C]

Class c is a bright square in quadrant c mod 4 (a shifted bar for c >= 4)
plus uniform noise, so a small network learns it within one epoch. Standard
library only (gzip, struct, random); the output is a pure function of the
arguments (fixed seed), so two calls write identical files.
"""
import argparse
import gzip
import os
import random
import struct


def idx_bytes(dims, payload):
    """IDX: 0 0 type(8 = u8) ndim, big-endian u32 dims, then the bytes."""
    head = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return head + payload


def image(rng, label, size, classes):
    """One size×size u8 image of class `label`."""
    px = [rng.randrange(0, 60) for _ in range(size * size)]
    half = size // 2
    q = label % 4
    r0, c0 = (q // 2) * half, (q % 2) * half
    shift = label // 4  # classes beyond 4: the square moves by one pixel
    for r in range(r0 + 1 + shift, min(r0 + half - 1 + shift, size)):
        for c in range(c0 + 1, c0 + half - 1):
            px[r * size + c] = min(255, 160 + rng.randrange(0, 96))
    return bytes(px)


def write(path, data):
    # mtime=0: identical bytes on every call
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--train", type=int, default=512)
    ap.add_argument("--test", type=int, default=256)
    ap.add_argument("--size", type=int, default=12)
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    rng = random.Random(a.seed)
    for split, n in (("train", a.train), ("t10k", a.test)):
        labels = bytes(i % a.classes for i in range(n))
        imgs = b"".join(image(rng, y, a.size, a.classes) for y in labels)
        write(os.path.join(a.dir, split + "-images-idx3-ubyte.gz"),
              idx_bytes([n, a.size, a.size], imgs))
        write(os.path.join(a.dir, split + "-labels-idx1-ubyte.gz"), idx_bytes([n], labels))


if __name__ == "__main__":
    main()
