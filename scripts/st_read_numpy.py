#!/usr/bin/env python3
"""Independent safetensors cross-check with numpy only (no safetensors or
torch package): parses the format with struct + json + numpy.frombuffer.

  st_read_numpy.py check FILE  -- FILE was written by pdiff
                                  (test_safetensors with PD_ST_EXPORT): check
                                  layout and the known formula values.
  st_read_numpy.py make FILE   -- write F16/BF16/F64/I64/U8 tensors, each with
                                  an F32 twin "<name>_expect" holding numpy's
                                  own conversion, for pdiff to read back
                                  (test_safetensors with PD_ST_IMPORT).
Exits non-zero with a message on any mismatch.
"""
import json
import struct
import sys

import numpy as np

DT = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "U8": "u1"}


def fail(msg):
    print("st_read_numpy: " + msg, file=sys.stderr)
    sys.exit(1)


def parse(path):
    raw = open(path, "rb").read()
    if len(raw) < 8:
        fail("file too short")
    (n,) = struct.unpack("<Q", raw[:8])
    text = raw[8:8 + n].decode("utf-8")
    hdr = json.loads(text)
    buf = raw[8 + n:]
    return n, text, hdr, buf


def check(path):
    n, text, hdr, buf = parse(path)
    if n % 8 != 0:
        fail("header length %d is not a multiple of 8" % n)
    if text != text.rstrip(" ") + " " * (len(text) - len(text.rstrip(" "))):
        fail("header padding is not spaces")
    meta = hdr.pop("__metadata__", {})
    if meta != {"format": "pt", "producer": 'pdiff-test "v1"'}:
        fail("metadata %r" % meta)
    names = list(hdr.keys())
    want_order = ["layer.a", 'b "quoted"\\', "c", "scalar", "empty"]
    if names != want_order:
        fail("tensor order %r" % names)
    pos = 0
    arrs = {}
    for name in names:
        e = hdr[name]
        if e["dtype"] != "F32":
            fail("%s: dtype %s" % (name, e["dtype"]))
        b, end = e["data_offsets"]
        if b != pos:
            fail("%s: begins at %d, expected %d" % (name, b, pos))
        a = np.frombuffer(buf[b:end], dtype="<f4")
        if a.size != int(np.prod(e["shape"], dtype=np.int64)):
            fail("%s: %d values for shape %r" % (name, a.size, e["shape"]))
        arrs[name] = a.reshape(e["shape"])
        pos = end
    if pos != len(buf):
        fail("tensors cover %d of %d buffer bytes" % (pos, len(buf)))
    i = np.arange(12, dtype=np.float32)
    if not np.array_equal(arrs["layer.a"], (i * np.float32(0.5) - np.float32(3)).reshape(3, 4)):
        fail("layer.a values differ: %r" % arrs["layer.a"])
    want_b = np.sin(np.arange(5, dtype=np.float64)).astype(np.float32)
    if not np.allclose(arrs['b "quoted"\\'], want_b, rtol=1e-6, atol=1e-7):
        fail("b values differ")
    if arrs["c"].shape != (1,) or arrs["c"][0] != 42.0:
        fail("c differs")
    if arrs["scalar"].shape != () or float(arrs["scalar"]) != 7.25:
        fail("scalar differs")
    if arrs["empty"].shape != (0, 3):
        fail("empty shape %r" % (arrs["empty"].shape,))
    print("st_read_numpy: %s ok (%d tensors)" % (path, len(names)))


def make(path):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(24) * 3).astype(np.float32)
    tensors = []  # (name, dtype, shape, bytes)
    f16 = np.concatenate([x[:20], [65504, 6e-8, -0.0, 1e-5]]).astype(np.float16)
    tensors.append(("w.f16", "F16", [4, 6], f16.tobytes()))
    tensors.append(("w.f16_expect", "F32", [4, 6], f16.astype("<f4").tobytes()))
    # bfloat16 = upper 16 bits of float32 (truncation is a valid encoding)
    bits = (x.view(np.uint32) >> 16).astype("<u2")
    tensors.append(("w.bf16", "BF16", [2, 12], bits.tobytes()))
    tensors.append(("w.bf16_expect", "F32", [2, 12],
                    (bits.astype(np.uint32) << 16).view(np.float32).astype("<f4").tobytes()))
    d = np.array([0.1, -2.5e-3, 1.0 / 3.0], dtype="<f8")
    tensors.append(("d", "F64", [3], d.tobytes()))
    tensors.append(("d_expect", "F32", [3], d.astype("<f4").tobytes()))
    n = np.array(1234, dtype="<i8")
    tensors.append(("bn.num_batches_tracked", "I64", [], n.tobytes()))
    tensors.append(("bn.num_batches_tracked_expect", "F32", [], n.astype("<f4").tobytes()))
    u = np.array([0, 1, 200, 255], dtype="u1")
    tensors.append(("u", "U8", [4], u.tobytes()))
    tensors.append(("u_expect", "F32", [4], u.astype("<f4").tobytes()))
    # buffer in reverse-name order, header in name order: offsets matter
    hdr = {"__metadata__": {"writer": "numpy"}}
    buf = b""
    for name, dt, shape, data in sorted(tensors, reverse=True):
        hdr[name] = {"dtype": dt, "shape": shape,
                     "data_offsets": [len(buf), len(buf) + len(data)]}
        buf += data
    hdr = {k: hdr[k] for k in sorted(hdr)}
    text = json.dumps(hdr).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + buf)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "make"):
        fail("usage: st_read_numpy.py check|make FILE")
    (check if sys.argv[1] == "check" else make)(sys.argv[2])
