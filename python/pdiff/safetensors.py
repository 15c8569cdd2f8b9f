"""safetensors files and PyTorch state_dicts as numpy, with no package
beyond numpy: read and write the format (8-byte little-endian header
length, a JSON header, the raw little-endian tensor bytes), and move a
subset of a state_dict in and out of the K x D matrices pdiff trains on.

A state_dict here is any mapping of names to arrays: numpy arrays, or
torch tensors (converted with .detach().cpu().numpy(); torch itself is
never imported unless the template holds torch tensors).
"""
import json
import struct

import numpy as np

_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
    "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def read_safetensors(path):
    """{name: ndarray} in header order, and the "__metadata__" dict.
    BF16 tensors come back as float32."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: %d bytes is too short for a safetensors file" % (path, len(raw)))
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError("%s: header length %d is past the end of the file" % (path, n))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    buf = memoryview(raw)[8 + n:]
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        if end > len(buf) or begin > end:
            raise ValueError("%s: tensor %r: data_offsets past the end (truncated?)" % (path, name))
        shape = tuple(e["shape"])
        if e["dtype"] == "BF16":
            u16 = np.frombuffer(buf[begin:end], dtype="<u2").astype(np.uint32) << 16
            arr = u16.view(np.float32)
        elif e["dtype"] in _DTYPES:
            arr = np.frombuffer(buf[begin:end], dtype=_DTYPES[e["dtype"]])
        else:
            raise ValueError("%s: tensor %r: unsupported dtype %r" % (path, name, e["dtype"]))
        out[name] = arr.reshape(shape).copy()
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array} (numpy or torch) in the given order; the header
    is padded with spaces to a multiple of 8, as the reference writer does."""
    arrays = [(k, _to_numpy(v)) for k, v in tensors.items()]
    header, pos = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in arrays:
        if a.dtype not in _NAMES:
            raise ValueError("tensor %r: dtype %s has no safetensors name" % (name, a.dtype))
        nbytes = a.size * a.dtype.itemsize
        header[name] = {"dtype": _NAMES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [pos, pos + nbytes]}
        pos += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = "%s.tmp" % path
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, a in arrays:
            f.write(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())
    import os
    os.replace(tmp, path)


def _to_numpy(x):
    if hasattr(x, "detach"):  # a torch tensor
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _select(state_dict, names):
    missing = [n for n in names if n not in state_dict]
    if missing:
        raise KeyError("state_dict has no tensor %s" % ", ".join(repr(n) for n in missing))
    return names


def state_dict_to_vector(state_dict, names):
    """The tensors `names` of one state_dict, flattened and concatenated in
    that order: one row of the K x D matrix (float32)."""
    _select(state_dict, names)
    return np.concatenate([_to_numpy(state_dict[n]).astype(np.float32).ravel() for n in names])


def state_dicts_to_matrix(state_dicts, names):
    """K state_dicts -> the K x D float32 matrix pdiff.train takes."""
    rows = [state_dict_to_vector(sd, names) for sd in state_dicts]
    if not rows:
        raise ValueError("no state_dicts")
    return np.stack(rows)


def vector_to_state_dict(vector, template, names):
    """A copy of `template` with the tensors `names` replaced by the
    consecutive slices of `vector` (shapes and dtypes from the template).
    Torch tensors in, torch tensors out, ready for load_state_dict."""
    _select(template, names)
    vector = np.asarray(vector, dtype=np.float32).ravel()
    sizes = [_to_numpy(template[n]).size for n in names]
    if sum(sizes) != vector.size:
        raise ValueError("vector has %d values but the tensors %s hold %d" %
                         (vector.size, names, sum(sizes)))
    out = dict(template)
    pos = 0
    for n, size in zip(names, sizes):
        t = template[n]
        piece = vector[pos:pos + size].reshape(_to_numpy(t).shape)
        pos += size
        if hasattr(t, "detach"):
            import torch
            out[n] = torch.from_numpy(piece.copy()).to(dtype=t.dtype, device=t.device)
        else:
            out[n] = piece.astype(np.asarray(t).dtype)
    return out


def tensor_sizes(state_dict, names):
    """The sizes of the tensors `names`, for train(..., tensor_sizes=...)
    (normalize="tensor" needs the boundaries)."""
    _select(state_dict, names)
    return [int(_to_numpy(state_dict[n]).size) for n in names]
