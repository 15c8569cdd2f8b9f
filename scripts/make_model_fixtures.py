#!/usr/bin/env python3
"""make_model_fixtures.py — golden fixtures for tests/test_ae.c and
tests/test_denoiser.c from the independent PyTorch models of
pdiff_model_torch.py.

Each tests/fixtures/model_*.bin holds (format of tu_fixture in
tests/testutil.h: "PDFX", u32 version 1, u32 count, then per array u32 name
length, name, u32 ndim, u32 dims, float32 data, little-endian):
  cfg            AE: [D, fold, k, c0..c3, d0..d3, norm, groups, fc, vae]
                 (norm: 0 instance, 1 batch, 2 group, 3 none — pd_norm_kind)
                 denoiser: [L, T, c0..c3]
  w.<name>       every parameter/buffer under its state_dict name
  AE:  x (B, D), z = encode(x) (eval), zin (B, c, l), y = decode(zin),
       for batch norm also z_train / y_train (training mode, batch stats),
       the running stats after those passes (r.<name>), then the eval pair;
       target (B, D) and the gradients of mean((dec(enc(x)) − target)²):
       gx w.r.t. x, g.<name> w.r.t. each parameter (zeros where unused)
  den: x (B, 1, L), t (B, as floats), out (B, 1, L), target (B, 1, L),
       gradients of mean((out − target)²): gx, g.<name>
The models hold float32 weights but run in float64, so the references are
the exact function of the stored values (the C side's float32 error is what
the tests bound). Run: python3 scripts/make_model_fixtures.py [outdir]
"""
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdiff_model_torch as pm  # noqa: E402

NORMS = {"instance": 0, "batch": 1, "group": 2, "none": 3}


def write_fixture(path, arrays):
    """arrays: (name, array-like) pairs, written as little-endian float32"""
    with open(path, "wb") as f:
        f.write(b"PDFX")
        f.write(struct.pack("<II", 1, len(arrays)))
        for name, a in arrays:
            a = np.ascontiguousarray(np.asarray(a, dtype="<f4"))
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)) + nb)
            f.write(struct.pack("<I", a.ndim))
            f.write(struct.pack("<%dI" % a.ndim, *a.shape))
            f.write(a.tobytes())


def randomize(module, gen, scale=1.0):
    """seeded weights: PyTorch's default init spread wider by `scale`, so
    signals through the small test models stay far from zero"""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen) * 2 - 1)
            p.mul_(scale / max(1.0, p.shape[1] if p.dim() > 1 else 1) ** 0.5)


def ae_fixture(path, seed, B, **cfg_kw):
    gen = torch.Generator().manual_seed(seed)
    cfg = pm.ae_config(**cfg_kw)
    m = pm.AE(cfg)
    randomize(m, gen, 2.0)
    m.double()  # float32 weights, float64 arithmetic: the reference is exact
    c = cfg
    head = [c["D"], c["fold"], c["k"], *c["enc"], *c["dec"], NORMS[c["norm"]],
            c["groups"], int(c["fc"]), int(c["vae"])]
    arrays = [("cfg", np.array(head, dtype=np.float32))]
    arrays += [("w." + k, v.clone().numpy()) for k, v in pm.state_dict_flat(m).items()]
    x = (torch.randn(B, c["D"], generator=gen) * 0.5).double()
    zin = (torch.rand(B, m.latent_c, m.latent_l, generator=gen) * 2 - 1).double()
    arrays += [("x", x), ("zin", zin)]
    with torch.no_grad():
        if c["norm"] == "batch":
            m.train()
            arrays += [("z_train", m.encode(x)), ("y_train", m.decode(zin))]
            arrays += [("r." + k, v.clone().numpy()) for k, v in pm.state_dict_flat(m).items()
                       if "running" in k]
        m.eval()
        arrays += [("z", m.encode(x)), ("y", m.decode(zin))]
    # gradients of mean((dec(enc(x)) - target)^2) w.r.t. every parameter and
    # x; batch norm in training mode (batch statistics), the rest in eval
    m.train(c["norm"] == "batch")
    target = (torch.rand(B, c["D"], generator=gen) * 2 - 1).double()
    xg = x.clone().requires_grad_(True)
    torch.nn.functional.mse_loss(m.decode(m.encode(xg)), target).backward()
    arrays += [("target", target), ("gx", xg.grad)]
    for k, p in m.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        arrays.append(("g." + k, g.clone()))
    write_fixture(path, [(n, a.numpy() if torch.is_tensor(a) else a) for n, a in arrays])


def chunk_fixture(path, seed, B, D, chunk, code, hidden, latent):
    """the whole-network autoencoder: forward and gradients, as ae_fixture"""
    gen = torch.Generator().manual_seed(seed)
    m = pm.ChunkAE(D, chunk, code, hidden, latent)
    randomize(m, gen, 2.0)
    m.double()
    arrays = [("chunk_cfg", np.array([D, chunk, code, hidden, latent], dtype=np.float32))]
    arrays += [("w." + k, v.clone().numpy()) for k, v in m.state_dict().items()]
    x = (torch.randn(B, D, generator=gen) * 0.5).double()
    zin = (torch.rand(B, 1, latent, generator=gen) * 2 - 1).double()
    with torch.no_grad():
        arrays += [("x", x), ("zin", zin), ("z", m.encode(x)), ("y", m.decode(zin))]
    target = (torch.rand(B, D, generator=gen) * 2 - 1).double()
    xg = x.clone().requires_grad_(True)
    torch.nn.functional.mse_loss(m.decode(m.encode(xg)), target).backward()
    arrays += [("target", target), ("gx", xg.grad)]
    arrays += [("g." + k, p.grad.clone()) for k, p in m.named_parameters()]
    write_fixture(path, [(n, a.numpy() if torch.is_tensor(a) else a) for n, a in arrays])


def den_fixture(path, seed, B, L, T, ch):
    gen = torch.Generator().manual_seed(seed)
    m = pm.Denoiser(L, T, ch)
    randomize(m, gen, 2.0)
    with torch.no_grad():
        m.time_encode.weight.copy_(torch.randn(T, L, generator=gen))
    m.double()
    arrays = [("cfg", np.array([L, T, *ch], dtype=np.float32))]
    arrays += [("w." + k, v.clone().numpy()) for k, v in m.state_dict().items()]
    x = torch.randn(B, 1, L, generator=gen).double()
    t = torch.randint(0, T, (B,), generator=gen)
    t[0], t[1] = 0, T - 1  # distinct timesteps: catches "sample 0's t for all"
    with torch.no_grad():
        out = m(x, t)
    arrays += [("x", x.numpy()), ("t", t.float().numpy()), ("out", out.numpy())]
    target = torch.randn(B, 1, L, generator=gen).double()
    xg = x.clone().requires_grad_(True)
    torch.nn.functional.mse_loss(m(xg, t), target).backward()
    arrays += [("target", target.numpy()), ("gx", xg.grad.numpy())]
    arrays += [("g." + k, p.grad.clone().numpy()) for k, p in m.named_parameters()]
    write_fixture(path, arrays)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    ae_fixture(os.path.join(out, "model_ae.bin"), 1, 3, D=40, fold=2, k=3,
               enc=[2, 3, 3, 2], dec=[2, 4, 4, 3])
    ae_fixture(os.path.join(out, "model_ae_k4.bin"), 2, 1, D=1000, fold=4, k=4,
               enc=[3, 2, 4, 3], dec=[3, 5, 4, 2])
    ae_fixture(os.path.join(out, "model_ae_bn.bin"), 3, 4, D=40, fold=2, k=3,
               enc=[2, 3, 3, 2], dec=[2, 4, 4, 3], norm="batch")
    ae_fixture(os.path.join(out, "model_ae_gn_fc.bin"), 4, 3, D=24, fold=2, k=3,
               enc=[4, 4, 4, 2], dec=[2, 6, 4, 4], norm="group", groups=2, fc=True)
    ae_fixture(os.path.join(out, "model_ae_gn_vae.bin"), 5, 3, D=40, fold=2, k=3,
               enc=[4, 4, 6, 2], dec=[2, 6, 4, 4], norm="group", groups=4, vae=True)
    chunk_fixture(os.path.join(out, "model_ae_chunk.bin"), 8, 3, D=45, chunk=8, code=3,
                  hidden=10, latent=4)
    den_fixture(os.path.join(out, "model_den.bin"), 6, 4, 6, 10, (4, 6, 8, 10))
    den_fixture(os.path.join(out, "model_den_l12.bin"), 7, 3, 12, 20, (6, 8, 12, 16))
    for f in sorted(os.listdir(out)):
        if f.startswith("model_"):
            print(f, os.path.getsize(os.path.join(out, f)), "bytes")


if __name__ == "__main__":
    main()
