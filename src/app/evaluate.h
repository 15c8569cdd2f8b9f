/*
 * evaluate.h — docs/method.md §1 steps 6–7 and §6: accuracy of every original and generated
 * model, the paper's original / ensemble / p-diff table, IoU similarity of
 * wrong predictions with noise and fine-tune baselines, and distances in
 * parameter space. Results go to results.json (keys below are a contract:
 * other tools read them) and results.md.
 */
#ifndef PD_EVALUATE_H
#define PD_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "pdiff.h"

typedef struct {
    const char *ckpt_dir;   /* collect output: manifest.json + checkpoints */
    const char *gen_dir;    /* generated.safetensors */
    const char *out_dir;    /* results.json, results.md, figures/ */
    const char *data_dir;   /* NULL: the manifest's */
    const char *model_dir;  /* NULL or the model (its loss log is plotted) */
    size_t eval_train;      /* training samples used to select (default 10000) */
    int baselines;          /* noise-added and fine-tuned nearest originals */
    size_t baseline_n;      /* models per baseline (0: as many as generated;
                             * pdiff's CLI: 20 for whole networks, where one
                             * evaluation is a whole forward pass) */
    long finetune_steps;
    uint64_t seed;
    double seconds[3];      /* collect, train, generate wall times (NaN unknown) */
    pd_progress progress;
} pd_eval_opts;

typedef struct { double best, mean, median, worst; size_t n; } pd_stats;

/* a family of models made from the originals without p-diff, evaluated
 * like the generated ones (see memorization.h) */
#define PD_EVAL_NOISE_AMPS 6 /* 0.005 0.01 0.02 0.05 0.1 0.2 on the nearest original */
#define PD_EVAL_BASELINES (PD_EVAL_NOISE_AMPS + 3) /* + finetune, average, gaussian */
typedef struct {
    char name[24];          /* results.json key: noise_0.01, finetune, average, gaussian */
    double amp;             /* noise amplitude; NaN for the others */
    pd_stats acc;           /* test accuracy */
    double max_iou_mean;    /* mean max IoU of wrong predictions to the originals */
    double nn_l2_median;    /* median L2 to the nearest original */
    size_t below_worst;     /* below the worst original */
    double *max_iou, *test_acc, *nn_l2; /* per model (N), owned by the result */
} pd_eval_baseline;

typedef struct {
    pd_stats original;      /* test accuracy of the K originals */
    double ensemble;
    pd_stats pdiff;         /* test accuracy over finite generated models */
    double selected;        /* test acc of the generated model best on train */
    double test_selected;   /* best test acc (selected on test, as authors) */
    double orig_selected;   /* the same training-set rule applied to the originals:
                             * what selection alone achieves */
    size_t nonfinite, below_worst;
    double iou_orig_orig, iou_gen_gen, iou_gen_orig, iou_gen_orig_max;
    size_t nbase;           /* 0 with --no-baselines */
    pd_eval_baseline base[PD_EVAL_BASELINES];
    double dist_gen_nearest, dist_orig_nearest;  /* mean L2 to nearest original */
    /* memorization (memorization.h): medians of nearest-original L2, the
     * noise baseline's accuracy at p-diff's mean max IoU and p-diff's mean
     * accuracy minus it (pp) */
    double gen_nn_l2_median, orig_nn_l2_median, matched_noise_acc, matched_novelty_gain;
    /* medians of the L2 distance to the originals' element-wise mean:
     * generated vectors that sit at the mean (gen ≪ orig) are averages of
     * the originals, copies sit where the originals do (gen ≈ orig) */
    double gen_mean_l2_median, orig_mean_l2_median;
    int has_ae;             /* model_dir/reconstructed was there */
    pd_ae_diag ae;
    double seconds_eval;
    int figures_ok;             /* figures drawn (else figures_error says why) */
    char figures_error[512];
} pd_eval_result;

/* "12.3", or "n/a" for a wall time that is not known (NaN: a stage run
 * outside this pipeline); returns buf */
const char *pd_eval_secs(char buf[24], double seconds);

void pd_eval_defaults(pd_eval_opts *o);
/* r's per-model baseline arrays are freed by pd_eval_result_free */
pd_status pd_eval(const pd_eval_opts *o, pd_eval_result *r);
void pd_eval_result_free(pd_eval_result *r);

#endif
