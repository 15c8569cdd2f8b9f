/*
 * evaluate.h — SPEC §1 steps 6–7: accuracy of every original and generated
 * model, the paper's original / ensemble / p-diff table, IoU similarity of
 * wrong predictions with noise and fine-tune baselines, and distances in
 * parameter space. Results go to results.json (keys below are a contract:
 * other tools read them) and results.md.
 */
#ifndef PD_EVALUATE_H
#define PD_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/progress.h"
#include "pdiff.h"

typedef struct {
    const char *ckpt_dir;   /* collect output: manifest.json + checkpoints */
    const char *gen_dir;    /* generated.safetensors */
    const char *out_dir;    /* results.json, results.md, figures/ */
    const char *data_dir;   /* NULL: the manifest's */
    const char *model_dir;  /* NULL or the model (its loss log is plotted) */
    size_t eval_train;      /* training samples used to select (default 10000) */
    int baselines;          /* noise-added and fine-tuned nearest originals */
    long finetune_steps;
    uint64_t seed;
    double seconds[3];      /* collect, train, generate wall times (NaN unknown) */
    pd_progress progress;
} pd_eval_opts;

typedef struct { double best, mean, median, worst; size_t n; } pd_stats;

typedef struct {
    pd_stats original;      /* test accuracy of the K originals */
    double ensemble;
    pd_stats pdiff;         /* test accuracy over finite generated models */
    double selected;        /* test acc of the generated model best on train */
    double test_selected;   /* best test acc (selected on test, as authors) */
    size_t nonfinite, below_worst;
    double iou_orig_orig, iou_gen_gen, iou_gen_orig, iou_gen_orig_max;
    double noise_iou_max[3], finetune_iou_max; /* baselines: mean max IoU */
    double noise_acc[3], finetune_acc;          /* baselines: mean test acc */
    double dist_gen_nearest, dist_orig_nearest;  /* mean L2 to nearest original */
    double seconds_eval;
    int figures_ok;             /* figures drawn (else figures_error says why) */
    char figures_error[512];
} pd_eval_result;

/* "12.3", or "n/a" for a wall time that is not known (NaN: a stage run
 * outside this pipeline); returns buf */
const char *pd_eval_secs(char buf[24], double seconds);

void pd_eval_defaults(pd_eval_opts *o);
pd_status pd_eval(const pd_eval_opts *o, pd_eval_result *r);

#endif
