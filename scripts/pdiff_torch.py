#!/usr/bin/env python3
"""pdiff_torch.py — the task networks of src/engine/nn/ as torch.nn.Modules, so a
checkpoint written by `pdiff collect` loads with
model.load_state_dict(tensors, strict=True) and runs in PyTorch.

Architectures and state_dict names (must match src/engine/nn/*.c one to one):
  MLP3      fc1 (in→50) relu, fc2 (50→25) relu, fc3 (25→classes)
  ConvNet3  conv1..conv3 (3×3 pad 1, 32 ch, bias) relu maxpool2, fc
  CNN       conv{1,2,3} (3×3 pad 1, no bias) → bn{1,2,3} → relu → maxpool2,
            flatten, fc1 (→128) → bn4 (BatchNorm1d) → relu → fc2
  ResNet18  CIFAR layout: conv1 bn1, layer{1..4}.{0,1}.{conv1,bn1,conv2,bn2,
            shortcut.0,shortcut.1}, global average pool, linear
BatchNorm: eps 1e-5, momentum 0.1; max-pool 2×2 stride 2, floor.

load_safetensors() needs only struct + json + numpy (no safetensors
package). pdiff stores BatchNorm's num_batches_tracked as an F32 scalar;
it is converted to the int64 PyTorch keeps.
"""
import json
import struct

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-5
BN_MOMENTUM = 0.1
CNN_HIDDEN = 128      # cnn.c CNN_HIDDEN
CONVNET3_CH = 32      # convnet3.c CONVNET3_CH


def _bn2d(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class MLP3(nn.Module):
    """mlp3.c: in → 50 → 25 → classes with ReLU."""

    def __init__(self, in_c, in_h, in_w, classes):
        super().__init__()
        self.fc1 = nn.Linear(in_c * in_h * in_w, 50)
        self.fc2 = nn.Linear(50, 25)
        self.fc3 = nn.Linear(25, classes)

    def forward(self, x):  # x (N, C, H, W) → (N, classes)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class ConvNet3(nn.Module):
    """convnet3.c: three conv3×3(32)-ReLU-maxpool blocks, then fc."""

    def __init__(self, in_c, in_h, in_w, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_c, CONVNET3_CH, 3, padding=1)
        self.conv2 = nn.Conv2d(CONVNET3_CH, CONVNET3_CH, 3, padding=1)
        self.conv3 = nn.Conv2d(CONVNET3_CH, CONVNET3_CH, 3, padding=1)
        self.fc = nn.Linear(CONVNET3_CH * (in_h // 8) * (in_w // 8), classes)

    def forward(self, x):  # x (N, C, H, W) → (N, classes)
        for conv in (self.conv1, self.conv2, self.conv3):
            x = F.max_pool2d(F.relu(conv(x)), 2, 2)
        return self.fc(torch.flatten(x, 1))


class CNN(nn.Module):
    """cnn.c: conv(no bias)-BN-ReLU-maxpool ×3 (w, 2w, 4w channels),
    fc1 → BatchNorm1d bn4 → ReLU → fc2."""

    def __init__(self, in_c, in_h, in_w, classes, width=16):
        super().__init__()
        w = width if width > 0 else 16
        ch = [in_c, w, 2 * w, 4 * w]
        self.conv1 = nn.Conv2d(ch[0], ch[1], 3, padding=1, bias=False)
        self.bn1 = _bn2d(ch[1])
        self.conv2 = nn.Conv2d(ch[1], ch[2], 3, padding=1, bias=False)
        self.bn2 = _bn2d(ch[2])
        self.conv3 = nn.Conv2d(ch[2], ch[3], 3, padding=1, bias=False)
        self.bn3 = _bn2d(ch[3])
        flat = 4 * w * (in_h // 2 // 2 // 2) * (in_w // 2 // 2 // 2)
        self.fc1 = nn.Linear(flat, CNN_HIDDEN)
        self.bn4 = nn.BatchNorm1d(CNN_HIDDEN, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.fc2 = nn.Linear(CNN_HIDDEN, classes)

    def forward(self, x):  # x (N, C, H, W) → (N, classes)
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2),
                         (self.conv3, self.bn3)):
            x = F.max_pool2d(F.relu(bn(conv(x))), 2, 2)
        x = F.relu(self.bn4(self.fc1(torch.flatten(x, 1))))
        return self.fc2(x)


class BasicBlock(nn.Module):
    """resnet.c block: conv3×3(stride)-BN-ReLU-conv3×3-BN + shortcut, ReLU.
    The shortcut is conv1×1(stride)-BN when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = _bn2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = _bn2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), _bn2d(cout))

    def forward(self, x):  # x (N, cin, H, W) → (N, cout, H/stride, W/stride)
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + self.shortcut(x))


class ResNet18(nn.Module):
    """resnet.c: 3×3 stem (no max-pool), four stages of two BasicBlocks
    (widths w, 2w, 4w, 8w; stride 2 at the first block of stages 2-4),
    global average pool, linear. width 64 is the standard ResNet-18."""

    def __init__(self, in_c, in_h, in_w, classes, width=64):
        super().__init__()
        del in_h, in_w  # global average pooling: any input size
        w = width if width > 0 else 64
        self.conv1 = nn.Conv2d(in_c, w, 3, padding=1, bias=False)
        self.bn1 = _bn2d(w)
        cin = w
        for layer in range(4):
            cout = w << layer
            blocks = []
            for blk in range(2):
                stride = 2 if layer > 0 and blk == 0 else 1
                blocks.append(BasicBlock(cin, cout, stride))
                cin = cout
            setattr(self, "layer%d" % (layer + 1), nn.Sequential(*blocks))
        self.linear = nn.Linear(cin, classes)

    def forward(self, x):  # x (N, C, H, W) → (N, classes)
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build(arch, in_c, in_h, in_w, classes, width=0):
    """the module for a pdiff network config (manifest "network");
    width <= 0 means the architecture's default, as in pdiff."""
    in_c, in_h, in_w, classes, width = (int(v) for v in (in_c, in_h, in_w, classes, width))
    if arch == "mlp3":
        return MLP3(in_c, in_h, in_w, classes)
    if arch == "convnet3":
        return ConvNet3(in_c, in_h, in_w, classes)
    if arch == "cnn":
        return CNN(in_c, in_h, in_w, classes, width)
    if arch == "resnet":
        return ResNet18(in_c, in_h, in_w, classes, width)
    raise ValueError("unknown network '%s' (known: mlp3, convnet3, cnn, resnet)" % arch)


_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8",
           "I32": "<i4", "U8": "u1"}


def load_safetensors(path):
    """(state_dict, metadata) of a safetensors file. Every header field is
    checked before use; float tensors become float32 torch tensors and
    *.num_batches_tracked becomes an int64 scalar (pdiff stores F32)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError("%s: header length %d exceeds the file" % (path, n))
    hdr = json.loads(raw[8:8 + n].decode("utf-8"))
    buf = memoryview(raw)[8 + n:]
    meta = hdr.pop("__metadata__", {}) or {}
    out = {}
    for name, e in hdr.items():
        if e.get("dtype") not in _DTYPES:
            raise ValueError("%s: tensor '%s' has unsupported dtype %r" % (path, name, e.get("dtype")))
        dt = np.dtype(_DTYPES[e["dtype"]])
        shape = [int(s) for s in e["shape"]]
        b, end = (int(v) for v in e["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= b <= end <= len(buf) or end - b != count * dt.itemsize:
            raise ValueError("%s: tensor '%s' offsets %d..%d do not fit shape %r"
                             % (path, name, b, end, shape))
        a = np.frombuffer(buf[b:end], dtype=dt).reshape(shape)
        if name.endswith("num_batches_tracked"):
            t = torch.tensor(int(round(float(a.reshape(-1)[0]))), dtype=torch.long)
        elif dt.kind == "f":
            t = torch.from_numpy(a.astype(np.float32))
        else:
            t = torch.from_numpy(a.astype(np.int64))
        out[name] = t
    return out, meta


def save_safetensors(path, state_dict, metadata=None):
    """Writes a state_dict as an F32 safetensors file (json + struct + numpy
    only, for machines without the safetensors package)."""
    header, blobs, off = {}, [], 0
    for name, t in state_dict.items():
        a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
