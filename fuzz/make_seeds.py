#!/usr/bin/env python3
"""Writes the small seed corpora of the fuzz harnesses into fuzz/corpus/
(standard library only; rerun to regenerate)."""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(sub, name, data):
    d = os.path.join(HERE, "corpus", sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def st(tensors, meta=None):
    hdr, buf = {}, b""
    if meta:
        hdr["__metadata__"] = meta
    for name, dt, shape, data in tensors:
        hdr[name] = {"dtype": dt, "shape": shape,
                     "data_offsets": [len(buf), len(buf) + len(data)]}
        buf += data
    text = json.dumps(hdr, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + buf


put("safetensors", "empty", st([]))
put("safetensors", "f32", st([("a", "F32", [2, 3], struct.pack("<6f", *range(6))),
                              ("s", "F32", [], struct.pack("<f", 1.5))],
                             {"format": "pt"}))
put("safetensors", "mixed", st([("h", "F16", [2], b"\x00\x3c\x00\xc0"),
                                ("b", "BF16", [1], b"\x80\x3f"),
                                ("d", "F64", [1], struct.pack("<d", 0.25)),
                                ("n", "I64", [], struct.pack("<q", 7)),
                                ("u", "U8", [3], b"\x01\x02\x03"),
                                ("z", "F32", [0, 4], b"")]))


def idx(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


img = idx([2, 3, 3], bytes(range(18)))
put("idx", "images", img)
put("idx", "labels", idx([4], b"\x00\x01\x02\x09"))
put("idx", "images.gz", gzip.compress(img, mtime=0))
put("idx", "two-members.gz", gzip.compress(img[:7], mtime=0) + gzip.compress(img[7:], mtime=0))

pix = bytes((k * 5) & 255 for k in range(3072))
put("cifar", "c10", b"\x00" + b"\x03" + pix)
put("cifar", "c100", b"\x01" + b"\x04\x2a" + pix)
