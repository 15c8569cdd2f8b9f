#!/usr/bin/env python3
"""Scaling model of pdiff's data-parallel training (docs/mpi.md).

One training step on R ranks: each rank computes its share of the batch
(compute t/R, t the one-node step time), then the ordered gradient sum
(src/app/dist.c: Alltoallv of segments, sums in rank order, Allgatherv)
moves 2 (R - 1) / R of the 4 (P + 1) gradient bytes in and out of every
rank, in 2 (R - 1) messages. Speed-up S(R) = t / (t / R + comm).

The inputs are measurements of this project's 2-core machine (a node) and
the parameter counts of pdiff's models:
  D = 2 048, the paper's subset (preset small, 1-D CNN): autoencoder step
    100.6 ms (issue 13, bench_model "autoencoder small D=2048"), 39 393
    parameters (runs/seed1/model/ae.safetensors; its convolutions do not
    depend on D); DDPM step 58.9 ms ("denoiser L=12 half"), 598 385
    parameters (den.safetensors).
  D = 100 000 and 10 000 000, whole networks (preset whole): autoencoder
    1.09 ms per 1 000 values a step (README, bench_wholeae: 108.8 ms at
    100 000, 218.8 ms at 200 000, linear), P = 17.03 D + 8 720 (ae_chunk.c:
    per 256-value chunk 4 360 parameters; 706 320 at D = 40 785 as
    measured); DDPM on the 16-value latent as above.
Networks: 10 GbE (1.25 GB/s, 50 us a message) and 100 Gb/s InfiniBand
(12.5 GB/s, 2 us). Run: python3 scripts/scaling_model.py
"""
import math

NETS = {"10 GbE": (1.25e9, 50e-6), "IB 100 Gb/s": (12.5e9, 2e-6)}
DEN = (0.0589, 598385)  # DDPM step seconds, parameters


def whole_params(D):
    return 4360 * math.ceil(D / 256) + 8720


CASES = [
    ("2 048 (subset, small)", [("autoencoder", 0.1006, 39393), ("ddpm", *DEN)]),
    ("100 000 (whole)", [("autoencoder", 1.09e-6 * 1e5, whole_params(1e5)), ("ddpm", *DEN)]),
    ("10 000 000 (whole)", [("autoencoder", 1.09e-6 * 1e7, whole_params(1e7)), ("ddpm", *DEN)]),
]
RANKS = [2, 4, 8, 16, 32, 64]


def comm(P, R, bw, lat):
    return 2 * (R - 1) / R * 4 * (P + 1) / bw + 2 * (R - 1) * lat


def main():
    print("| D | phase | P | net | one node ms | " +
          " | ".join(f"R={r}: comm ms / S" for r in RANKS) +
          " | largest R at ≥ 50 % efficiency (S/R) |")
    print("|---|---|---|---|---|" + "---|" * len(RANKS) + "---|")
    for dname, phases in CASES:
        for phase, t, P in phases:
            for net, (bw, lat) in NETS.items():
                cells, last = [], 1
                for R in RANKS:
                    c = comm(P, R, bw, lat)
                    S = t / (t / R + c)
                    if S / R >= 0.5:
                        last = R
                    cells.append(f"{c * 1e3:.2f} / {S:.1f}")
                print(f"| {dname} | {phase} | {P:,} | {net} | {t * 1e3:.1f} | " +
                      " | ".join(cells) + f" | {last}{'+' if last == RANKS[-1] else ''} |")


if __name__ == "__main__":
    main()
