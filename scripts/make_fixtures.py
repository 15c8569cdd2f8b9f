#!/usr/bin/env python3
"""make_fixtures.py — golden values of single ops and optimizer steps from
PyTorch 1.13 (Debian python3-torch), for tests/test_fixtures.c.

Every case is one file tests/fixtures/ops_<case>.bin in the format read by
tu_fixture (tests/testutil.h): "PDFX", u32 version 1, u32 count, then per
array u32 name length, name bytes, u32 ndim, u32 dims[ndim], float32 data,
all little-endian. Each file holds
  meta         the shape parameters as floats (layout listed per case below)
  inputs       x, w, b, gamma, beta, running stats, labels (as floats), ...
  outputs      y (and the updated running stats, loss, parameters)
  gradients    dy, a random upstream gradient, and dx, dw, db (or dgamma,
               dbeta) from autograd of sum(y * dy)

Inputs are drawn in float32 from a seeded generator; the reference is then
computed in float64 from exactly those float32 values and rounded once, so
it is independent of any float32 summation order.

Run: /usr/bin/python3 scripts/make_fixtures.py [outdir]
"""
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

D = torch.float64


def write_fixture(path, arrays):
    with open(path, "wb") as f:
        f.write(b"PDFX")
        f.write(struct.pack("<II", 1, len(arrays)))
        for name, a in arrays:
            if isinstance(a, torch.Tensor):
                a = a.detach().cpu().numpy()
            a = np.ascontiguousarray(np.asarray(a, dtype="<f4"))
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)) + nb)
            f.write(struct.pack("<I", a.ndim))
            f.write(struct.pack("<%dI" % a.ndim, *a.shape))
            f.write(a.tobytes())


def rnd(gen, *shape, lo=-1.0, hi=1.0):
    """float32 uniform values in [lo, hi), returned as float64 leaves"""
    x = torch.rand(*shape, generator=gen, dtype=torch.float32) * (hi - lo) + lo
    return x.to(D).requires_grad_(True)


def grads(y, dy, *leaves):
    """autograd of sum(y * dy) with respect to each leaf"""
    return torch.autograd.grad(y, leaves, grad_outputs=dy)


def conv1d_case(gen, n, cin, cout, lin, k, stride, pad):
    # meta: [n, cin, cout, lin, k, stride, pad]
    x, w, b = rnd(gen, n, cin, lin), rnd(gen, cout, cin, k), rnd(gen, cout)
    y = F.conv1d(x, w, b, stride=stride, padding=pad)
    dy = rnd(gen, *y.shape).detach()
    dx, dw, db = grads(y, dy, x, w, b)
    return [("meta", [n, cin, cout, lin, k, stride, pad]), ("x", x),
            ("w", w), ("b", b), ("y", y), ("dy", dy), ("dx", dx),
            ("dw", dw), ("db", db)]


def convt1d_case(gen, n, cin, cout, lin, k, stride, pad, out_pad):
    # meta: [n, cin, cout, lin, k, stride, pad, out_pad]; w (cin, cout, k)
    x, w, b = rnd(gen, n, cin, lin), rnd(gen, cin, cout, k), rnd(gen, cout)
    y = F.conv_transpose1d(x, w, b, stride=stride, padding=pad,
                           output_padding=out_pad)
    dy = rnd(gen, *y.shape).detach()
    dx, dw, db = grads(y, dy, x, w, b)
    return [("meta", [n, cin, cout, lin, k, stride, pad, out_pad]),
            ("x", x), ("w", w), ("b", b), ("y", y), ("dy", dy), ("dx", dx),
            ("dw", dw), ("db", db)]


def conv2d_case(gen, n, cin, cout, h, wd, k, stride, pad):
    # meta: [n, cin, cout, h, w, k, stride, pad]
    x, w = rnd(gen, n, cin, h, wd), rnd(gen, cout, cin, k, k)
    b = rnd(gen, cout)
    y = F.conv2d(x, w, b, stride=stride, padding=pad)
    dy = rnd(gen, *y.shape).detach()
    dx, dw, db = grads(y, dy, x, w, b)
    return [("meta", [n, cin, cout, h, wd, k, stride, pad]), ("x", x),
            ("w", w), ("b", b), ("y", y), ("dy", dy), ("dx", dx),
            ("dw", dw), ("db", db)]


def batchnorm_case(gen, training, n, c, h, wd, eps=1e-5, momentum=0.1):
    # meta: [n, c, h, w, eps, momentum]; BatchNorm2d semantics.
    # rm0/rv0 are the running stats before, rm/rv after (train only).
    x = rnd(gen, n, c, h, wd, lo=-2.0, hi=3.0)
    gamma, beta = rnd(gen, c, lo=0.5, hi=1.5), rnd(gen, c)
    rm0 = rnd(gen, c, lo=-0.5, hi=0.5).detach()
    rv0 = rnd(gen, c, lo=0.5, hi=2.0).detach()
    rm, rv = rm0.clone(), rv0.clone()
    y = F.batch_norm(x, rm, rv, gamma, beta, training=training,
                     momentum=momentum, eps=eps)
    dy = rnd(gen, *y.shape).detach()
    dx, dg, dbt = grads(y, dy, x, gamma, beta)
    out = [("meta", [n, c, h, wd, eps, momentum]), ("x", x),
           ("gamma", gamma), ("beta", beta), ("rm0", rm0), ("rv0", rv0),
           ("y", y)]
    if training:
        out += [("rm", rm), ("rv", rv)]
    return out + [("dy", dy), ("dx", dx), ("dgamma", dg), ("dbeta", dbt)]


def instnorm_case(gen, n, c, length, eps=1e-5):
    # meta: [n, c, l, eps]; F.instance_norm without affine or running stats
    x = rnd(gen, n, c, length, lo=-2.0, hi=3.0)
    y = F.instance_norm(x, eps=eps)
    dy = rnd(gen, *y.shape).detach()
    (dx,) = grads(y, dy, x)
    return [("meta", [n, c, length, eps]), ("x", x), ("y", y), ("dy", dy),
            ("dx", dx)]


def groupnorm_case(gen, n, c, length, groups, eps=1e-5):
    # meta: [n, c, l, groups, eps]; F.group_norm with affine
    x = rnd(gen, n, c, length, lo=-2.0, hi=3.0)
    gamma, beta = rnd(gen, c, lo=0.5, hi=1.5), rnd(gen, c)
    y = F.group_norm(x, groups, gamma, beta, eps=eps)
    dy = rnd(gen, *y.shape).detach()
    dx, dg, dbt = grads(y, dy, x, gamma, beta)
    return [("meta", [n, c, length, groups, eps]), ("x", x),
            ("gamma", gamma), ("beta", beta), ("y", y), ("dy", dy),
            ("dx", dx), ("dgamma", dg), ("dbeta", dbt)]


def xent_case(gen, n, c, scale):
    # meta: [n, c, scale]; loss = mean cross-entropy, dlogits = scale dloss
    logits = rnd(gen, n, c, lo=-3.0, hi=3.0)
    labels = torch.randint(0, c, (n,), generator=gen)
    loss = F.cross_entropy(logits, labels, reduction="mean")
    (dl,) = torch.autograd.grad(loss * scale, (logits,))
    return [("meta", [n, c, scale]), ("logits", logits),
            ("labels", labels.to(torch.float32)), ("probs",
            torch.softmax(logits, dim=1)), ("loss", [loss.item()]),
            ("dlogits", dl)]


def sgd_case(gen, size, steps, lr, momentum, wd):
    # meta: [size, steps, lr, momentum, dampening 0, weight_decay, nesterov 0]
    p = rnd(gen, size)
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum, weight_decay=wd)
    out = [("meta", [size, steps, lr, momentum, 0.0, wd, 0.0]),
           ("p0", p.detach().clone())]
    for t in range(1, steps + 1):
        g = rnd(gen, size).detach()
        p.grad = g.clone()
        opt.step()
        out += [("g%d" % t, g), ("p%d" % t, p.detach().clone())]
    return out


def adamw_case(gen, size, steps, lr, betas, eps, wd):
    # meta: [size, steps, lr, beta1, beta2, eps, weight_decay]
    p = rnd(gen, size)
    opt = torch.optim.AdamW([p], lr=lr, betas=betas, eps=eps, weight_decay=wd)
    out = [("meta", [size, steps, lr, betas[0], betas[1], eps, wd]),
           ("p0", p.detach().clone())]
    for t in range(1, steps + 1):
        g = rnd(gen, size).detach()
        p.grad = g.clone()
        opt.step()
        out += [("g%d" % t, g), ("p%d" % t, p.detach().clone())]
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "tests", "fixtures")
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(20240611)
    gen = torch.Generator().manual_seed(20240611)
    cases = {
        "conv1d_s1p1": conv1d_case(gen, 2, 3, 4, 9, 3, 1, 1),
        "conv1d_s2k5": conv1d_case(gen, 2, 3, 4, 13, 5, 2, 0),
        "convt1d_s2p1": convt1d_case(gen, 2, 3, 4, 7, 3, 2, 1, 1),
        "convt1d_s3": convt1d_case(gen, 2, 3, 4, 5, 4, 3, 0, 0),
        "conv2d_k3s1p1": conv2d_case(gen, 2, 3, 4, 7, 5, 3, 1, 1),
        "conv2d_k3s2p1": conv2d_case(gen, 2, 3, 4, 7, 6, 3, 2, 1),
        "conv2d_k1s2": conv2d_case(gen, 2, 3, 4, 7, 5, 1, 2, 0),
        "bn_train": batchnorm_case(gen, True, 3, 4, 3, 5),
        "bn_eval": batchnorm_case(gen, False, 3, 4, 3, 5),
        "instnorm": instnorm_case(gen, 3, 4, 11),
        "groupnorm": groupnorm_case(gen, 2, 6, 7, 2),
        "xent": xent_case(gen, 7, 5, 1.7),
        "sgd": sgd_case(gen, 23, 2, 0.1, 0.9, 1e-2),
        "adamw": adamw_case(gen, 23, 3, 1e-2, (0.9, 0.999), 1e-8, 1e-2),
    }
    total = 0
    for name, arrays in cases.items():
        path = os.path.join(outdir, "ops_%s.bin" % name)
        write_fixture(path, arrays)
        total += os.path.getsize(path)
    print("wrote %d fixtures, %d bytes" % (len(cases), total))


if __name__ == "__main__":
    main()
