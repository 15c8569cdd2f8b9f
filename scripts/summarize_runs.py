#!/usr/bin/env python3
"""Markdown tables of one or more `pdiff run` directories, from their
results.json and collect/manifest.json (standard library only):

    python3 scripts/summarize_runs.py runs/seed1 runs/seed2 ...

Columns: the claim (selected vs original best, medians, models below the
worst original), the autoencoder diagnostics, the collect report and the
memorization figures; then a table like the paper's Table 3 (D, original
/ ensemble / p-diff, wall time of each stage) with the distances to the
originals' mean that tell averages from copies.
"""
import json
import os
import sys


def load(run):
    with open(os.path.join(run, "results.json")) as f:
        r = json.load(f)
    man = os.path.join(run, "collect", "manifest.json")
    rep = {}
    if os.path.exists(man):
        with open(man) as f:
            rep = json.load(f).get("report", {})
    return r, rep


def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def main(runs):
    rows = [(os.path.basename(os.path.normpath(d)),) + load(d) for d in runs]
    print("| run | original best / median / worst | original selected (train) | "
          "p-diff selected (train) | selected − best | "
          "p-diff median | median − orig. median | below worst (of N) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r, _ in rows:
        o, p = r["original"], r["pdiff"]
        # the training-set rule applied to the originals (older results.json
        # lack original.selected: recomputed from the per-model list)
        osel = o.get("selected")
        if osel is None:
            osel = max(r["originals"], key=lambda x: x["train_acc"])["test_acc"]
        print(f"| {name} | {o['best']:.2f} / {o['median']:.2f} / {o['worst']:.2f} | {osel:.2f} | "
              f"{p['selected']:.2f} | {p['selected'] - o['best']:+.2f} | {p['median']:.2f} | "
              f"{p['median'] - o['median']:+.2f} | {p['below_worst_original']:.0f} of {p['count'] + p['nonfinite']:.0f} |")
    print()
    print("| run | recon_ratio | dev_corr | nn_identity (iso / resolvable) | collect IoU | "
          "gen max IoU | gen NN L2 median | orig NN L2 median | matched-novelty gain (pp) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r, rep in rows:
        a = r.get("autoencoder", {})
        m = r.get("memorization", {})
        print(f"| {name} | {fmt(a.get('recon_ratio'), '.3f')} | {fmt(a.get('dev_corr'), '.3f')} | "
              f"{fmt(a.get('nn_identity'), '.3f')} ({fmt(a.get('nn_identity_iso'), '.3f')} / "
              f"{fmt(a.get('nn_resolvable'), '.3f')}) | {fmt(rep.get('wrong_iou_mean'), '.4f')} | "
              f"{fmt(m.get('gen_max_iou_mean'), '.4f')} | {fmt(m.get('gen_nn_l2_median'), '.4g')} | "
              f"{fmt(m.get('orig_nn_l2_median'), '.4g')} | {fmt(m.get('matched_novelty_gain'), '+.2f')} |")
    print()
    names = [n for n in rows[0][1].get("baselines", {})]
    if names:
        print("| run | p-diff mean acc / max IoU | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        for name, r, _ in rows:
            b = r["baselines"]
            cells = [f"{b[n]['test_acc']['mean']:.2f} / {b[n]['max_iou_mean']:.3f}" for n in names]
            print(f"| {name} | {r['pdiff']['mean']:.2f} / {r['similarity']['gen_orig_max']:.3f} | "
                  + " | ".join(cells) + " |")


    print()
    print("| run | D | original best / mean / median | ensemble | p-diff selected / best / mean / median "
          "| L2 to originals' mean: generated / originals (median) | wall s: collect / train / generate / eval |")
    print("|---|---|---|---|---|---|---|")
    for name, r, rep in rows:
        o, p, m, t = r["original"], r["pdiff"], r.get("memorization", {}), r.get("seconds", {})
        D = rep.get("D")
        if D is None:
            with open(os.path.join(runs[[x[0] for x in rows].index(name)], "collect",
                                   "manifest.json")) as f:
                D = json.load(f).get("D")
        secs = " / ".join(fmt(t.get(k), ".0f") for k in ("collect", "train", "generate", "eval"))
        print(f"| {name} | {D} | {o['best']:.2f} / {o['mean']:.2f} / {o['median']:.2f} | "
              f"{r['ensemble']:.2f} | {p['selected']:.2f} / {p['best']:.2f} / {p['mean']:.2f} / "
              f"{p['median']:.2f} | {fmt(m.get('gen_mean_l2_median'), '.4g')} / "
              f"{fmt(m.get('orig_mean_l2_median'), '.4g')} | {secs} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
