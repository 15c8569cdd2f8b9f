#!/usr/bin/env python3
"""bench_model_torch.py — the PyTorch side of bench/bench_model.c: the same
cases with the models of pdiff_model_torch.py, torch.set_num_threads(n),
printing "name  ms" lines (median per call; whole runs for the samplers).

Usage: bench_model_torch.py [threads=2] [--quick] [--only PREFIX] [--bf16]
(--quick: fewer repetitions, DDPM over 100 steps scaled ×10, labelled;
--only: just the cases whose name starts with PREFIX; --bf16: forward
passes under torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's mixed
precision).
"""
import contextlib
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdiff_model_torch as pm  # noqa: E402


AUTOCAST = contextlib.nullcontext  # --bf16: torch.autocast on the CPU


def timed(fn, reps, warm=2):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def adamw(params):
    return torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                             weight_decay=2e-6)


def bench_ae(preset, reps):
    D, B = 2048, 200
    cfg = pm.ae_config(D=D, **pm.PRESETS[preset])
    m = pm.AE(cfg)
    opt = adamw(m.parameters())
    V = torch.randn(B, D) * 0.1

    def step():
        with AUTOCAST():
            loss = m.loss(V)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert torch.isfinite(loss)

    print("ae_%s_D2048_B200  %.2f" % (preset, timed(step, reps)), flush=True)


def make_den(L, half):
    s = 2 if half else 1
    return pm.Denoiser(L, 1000, (64 // s, 128 // s, 256 // s, 512 // s))


def bench_den(L, half, reps):
    B = 200
    m = make_den(L, half)
    ema = [p.detach().clone() for p in m.parameters()]
    opt = adamw(m.parameters())
    sched = pm.Schedule(1000)
    Z = torch.rand(B, 1, L) * 2 - 1

    def step():
        with AUTOCAST():
            loss = pm.ddpm_loss(m, sched, Z)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, m.parameters()):
                e.mul_(0.9999).add_(p, alpha=1 - 0.9999)
        assert torch.isfinite(loss)

    print("den_L%d_%s_B200  %.2f" % (L, "half" if half else "full", timed(step, reps)),
          flush=True)


def bench_sample(ddim, T):
    N, L = 100, 12
    m = make_den(L, False).eval()
    t0 = time.perf_counter()
    with AUTOCAST():
        if ddim:
            out = pm.ddim_sample(m, pm.Schedule(1000), N, L, 50)
        else:
            out = pm.ddpm_sample(m, pm.Schedule(T), N, L)
    out = out.float()
    ms = (time.perf_counter() - t0) * 1e3 * (1.0 if ddim else 1000.0 / T)
    assert out.abs().max() <= 1.0
    if ddim:
        print("sample_ddim50_N100_L12  %.2f" % ms, flush=True)
    else:
        print("sample_ddpm1000_N100_L12  %.2f%s" %
              (ms, "  (scaled from 100 steps)" if T != 1000 else ""), flush=True)


def main():
    threads, quick, only = 2, False, ""
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--quick":
            quick = True
        elif a == "--only" and args:
            only = args.pop(0)
        elif a == "--bf16":
            global AUTOCAST
            AUTOCAST = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
        else:
            threads = int(a)

    def wanted(name):
        n = min(len(only), len(name))
        return only[:n] == name[:n]

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    reps = 3 if quick else 10
    print("# torch %s bench_model: threads=%d, median ms per call" %
          (torch.__version__, torch.get_num_threads()))
    for preset in ("small", "medium"):
        if wanted("ae_" + preset):
            bench_ae(preset, reps)
    for L in (12, 52):
        for half in (False, True):
            if wanted("den_L%d_%s" % (L, "half" if half else "full")):
                bench_den(L, half, reps)
    if wanted("sample_ddpm"):
        bench_sample(False, 100 if quick else 1000)
    if wanted("sample_ddim"):
        bench_sample(True, 1000)


if __name__ == "__main__":
    main()
