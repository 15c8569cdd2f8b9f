/*
 * evaluate.c — see evaluate.h. Every model shares the frozen network of
 * the first checkpoint; only the subset differs, so the frozen prefix's
 * activations are computed once and each model runs the tail only.
 * Wrong predictions are kept as bitsets, making the IoU of two models a
 * popcount over 10 000 / 64 words.
 */
#include "evaluate.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pdiff_io.h"
#include "pdiff_net.h"
#include "feature_cache.h"
#include "figures.h"
#include "generate.h"
#include "collect_report.h"
#include "dist.h"
#include "manifest.h"
#include "pdiff.h"
#include "memorization.h"
#include "test_records.h"

/* samples per forward pass in eval (128 gave the same numbers and the same
 * time for the default run) */
#define EVAL_BATCH 1000

void pd_eval_defaults(pd_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->eval_train = 10000;
    o->baselines = 1;
    o->finetune_steps = 20;
    for (int i = 0; i < 3; i++) o->seconds[i] = NAN;
}

/* one evaluated model */
typedef struct {
    double train_acc, test_acc, max_iou;
    uint64_t *wrong; /* bitset over test samples, NULL if not finite */
} model_eval;

/* what one worker evaluates with: its own network (the frozen part of the
 * first checkpoint), graph and scratch; the features are shared */
typedef struct {
    pd_net net;
    pd_graph *g;
    pd_feats test, train; /* train: what the fine-tune baseline trains on */
    pd_feats train_eval;  /* train to evaluate on (pooled windows where possible) */
    int32_t *pred;  /* test predictions of the baselines (PD_EVAL_BASELINES × test n) */
    size_t words;
    float *tmp;     /* the baselines' vectors (PD_EVAL_BASELINES × D) */
    int32_t *order; /* the fine-tune baseline's sample order */
} evaluator;

/* the network of the first checkpoint and the worker's buffers */
static pd_status evaluator_open(evaluator *e, const pd_manifest *m, const char *ckpt_dir,
                                size_t test_n, size_t train_n) {
    memset(e, 0, sizeof *e);
    pd_status st = pd_net_create(&e->net, &m->net, (const char *const *)m->params, m->nparams);
    if (st) return st;
    const size_t D = pd_params_selected_size(&e->net.params);
    if (D != m->D)
        return pd_fail(PD_ERR_SHAPE, "%s: subset size %zu does not match D = %zu", ckpt_dir, D,
                       m->D);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ckpt_dir, m->files[0]);
    if ((st = pd_params_load(&e->net.params, path, 0))) return st;
    e->g = pd_graph_new();
    e->pred = malloc(PD_EVAL_BASELINES * test_n * sizeof(int32_t) + 1);
    e->tmp = malloc(PD_EVAL_BASELINES * D * sizeof(float) + 1);
    e->order = malloc(train_n * sizeof(int32_t) + 1);
    if (!e->g || !e->pred || !e->tmp || !e->order) return pd_fail(PD_ERR_NOMEM, "out of memory");
    e->words = (test_n + 63) / 64;
    return PD_OK;
}

static void evaluator_close(evaluator *e) {
    free(e->pred);
    free(e->tmp);
    free(e->order);
    pd_graph_free(e->g);
    if (e->net.params.data) pd_net_free(&e->net);
    memset(e, 0, sizeof *e);
}

static int finite_vec(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* with_train: also the training-set accuracy (selection needs it; the
 * baselines do not, which halves their cost). known_wrong: the test
 * samples this vector gets wrong, as collect recorded them
 * (test_records.h), instead of a pass over the test set; NULL: evaluate */
static pd_status eval_vector(evaluator *e, const float *vec, int with_train,
                             const uint64_t *known_wrong, model_eval *out) {
    size_t D = pd_params_selected_size(&e->net.params);
    memset(out, 0, sizeof *out);
    out->max_iou = NAN;
    if (!finite_vec(vec, D)) {
        out->train_acc = out->test_acc = NAN;
        return PD_OK;
    }
    pd_params_scatter(&e->net.params, vec);
    pd_status st = PD_OK;
    if (!known_wrong)
        st = pd_evaluate(&e->net, e->g, &e->test, EVAL_BATCH, &out->test_acc, NULL, e->pred);
    out->train_acc = NAN;
    if (!st && with_train)
        st = pd_evaluate(&e->net, e->g, &e->train_eval, EVAL_BATCH, &out->train_acc, NULL, NULL);
    if (st) return st;
    out->wrong = calloc(e->words, sizeof(uint64_t));
    if (!out->wrong) return pd_fail(PD_ERR_NOMEM, "out of memory");
    if (known_wrong) {
        size_t wrong = 0;
        for (size_t i = 0; i < e->words; i++) {
            out->wrong[i] = known_wrong[i];
            wrong += (size_t)__builtin_popcountll(known_wrong[i]);
        }
        /* pd_evaluate's formula, so the number is the same to the bit */
        const size_t n = e->test.n;
        out->test_acc = n ? 100.0 * (double)(n - wrong) / (double)n : 0.0;
        return PD_OK;
    }
    pd_bits_mark_wrong(out->wrong, e->pred, e->test.y, e->test.n);
    return PD_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* best / mean / median / worst over the finite values */
static pd_stats stats(const double *v, size_t n) {
    pd_stats s = {NAN, NAN, NAN, NAN, 0};
    double *c = malloc((n ? n : 1) * sizeof(double));
    if (!c) return s;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            c[s.n++] = v[i];
            sum += v[i];
        }
    if (s.n) {
        qsort(c, s.n, sizeof(double), cmp_double);
        s.worst = c[0];
        s.best = c[s.n - 1];
        s.mean = sum / (double)s.n;
        s.median = s.n % 2 ? c[s.n / 2] : 0.5 * (c[s.n / 2 - 1] + c[s.n / 2]);
    }
    free(c);
    return s;
}

/* max IoU of one model's wrong set to any original */
static double max_iou_to(const model_eval *m, const model_eval *orig, size_t K, size_t words, size_t skip) {
    double best = NAN;
    if (!m->wrong) return best;
    for (size_t k = 0; k < K; k++) {
        if (k == skip || !orig[k].wrong) continue;
        double x = pd_bits_iou(m->wrong, orig[k].wrong, words);
        if (!(x <= best)) best = x;
    }
    return best;
}

static double mean_pair_iou(const model_eval *a, size_t na, const model_eval *b, size_t nb,
                            int same, size_t words) {
    double sum = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < na; i++)
        for (size_t j = same ? i + 1 : 0; j < nb; j++)
            if (a[i].wrong && b[j].wrong) {
                sum += pd_bits_iou(a[i].wrong, b[j].wrong, words);
                cnt++;
            }
    return cnt ? sum / (double)cnt : NAN;
}

static void add_stats(cJSON *o, const char *key, pd_stats s) {
    cJSON *x = cJSON_AddObjectToObject(o, key);
    cJSON_AddNumberToObject(x, "best", s.best);
    cJSON_AddNumberToObject(x, "mean", s.mean);
    cJSON_AddNumberToObject(x, "median", s.median);
    cJSON_AddNumberToObject(x, "worst", s.worst);
    cJSON_AddNumberToObject(x, "count", (double)s.n);
}

const char *pd_eval_secs(char buf[24], double seconds) {
    if (isfinite(seconds))
        snprintf(buf, 24, "%.1f", seconds);
    else
        snprintf(buf, 24, "n/a");
    return buf;
}

static pd_status write_results(const pd_eval_opts *o, const pd_eval_result *r,
                               const model_eval *orig, size_t K, const model_eval *gen,
                               size_t N, const double *gen_dist) {
    char path[4096];
    cJSON *root = cJSON_CreateObject();
    add_stats(root, "original", r->original);
    cJSON_AddNumberToObject(cJSON_GetObjectItem(root, "original"), "selected", r->orig_selected);
    cJSON_AddNumberToObject(root, "ensemble", r->ensemble);
    cJSON *p = cJSON_AddObjectToObject(root, "pdiff");
    cJSON_AddNumberToObject(p, "selected", r->selected);
    cJSON_AddNumberToObject(p, "best", r->pdiff.best);
    cJSON_AddNumberToObject(p, "mean", r->pdiff.mean);
    cJSON_AddNumberToObject(p, "median", r->pdiff.median);
    cJSON_AddNumberToObject(p, "worst", r->pdiff.worst);
    cJSON_AddNumberToObject(p, "test_selected", r->test_selected);
    cJSON_AddNumberToObject(p, "count", (double)r->pdiff.n);
    cJSON_AddNumberToObject(p, "nonfinite", (double)r->nonfinite);
    cJSON_AddNumberToObject(p, "below_worst_original", (double)r->below_worst);
    cJSON *s = cJSON_AddObjectToObject(root, "similarity");
    cJSON_AddNumberToObject(s, "orig_orig", r->iou_orig_orig);
    cJSON_AddNumberToObject(s, "gen_gen", r->iou_gen_gen);
    cJSON_AddNumberToObject(s, "gen_orig", r->iou_gen_orig);
    cJSON_AddNumberToObject(s, "gen_orig_max", r->iou_gen_orig_max);
    /* kept for readers of earlier results: each baseline's mean max IoU and accuracy */
    cJSON *b = cJSON_AddObjectToObject(s, "baselines");
    for (size_t i = 0; i < r->nbase; i++) {
        cJSON *x = cJSON_AddObjectToObject(b, r->base[i].name);
        cJSON_AddNumberToObject(x, "max_iou_mean", r->base[i].max_iou_mean);
        cJSON_AddNumberToObject(x, "acc_mean", r->base[i].acc.mean);
    }
    cJSON *bl = cJSON_AddObjectToObject(root, "baselines");
    for (size_t i = 0; i < r->nbase; i++) {
        const pd_eval_baseline *x = &r->base[i];
        cJSON *y = cJSON_AddObjectToObject(bl, x->name);
        if (isfinite(x->amp)) cJSON_AddNumberToObject(y, "amplitude", x->amp);
        add_stats(y, "test_acc", x->acc);
        cJSON_AddNumberToObject(y, "max_iou_mean", x->max_iou_mean);
        cJSON_AddNumberToObject(y, "nn_l2_median", x->nn_l2_median);
        cJSON_AddNumberToObject(y, "below_worst_original", (double)x->below_worst);
    }
    cJSON *mz = cJSON_AddObjectToObject(root, "memorization");
    cJSON_AddNumberToObject(mz, "gen_nn_l2_median", r->gen_nn_l2_median);
    cJSON_AddNumberToObject(mz, "orig_nn_l2_median", r->orig_nn_l2_median);
    cJSON_AddNumberToObject(mz, "gen_mean_l2_median", r->gen_mean_l2_median);
    cJSON_AddNumberToObject(mz, "orig_mean_l2_median", r->orig_mean_l2_median);
    cJSON_AddNumberToObject(mz, "gen_max_iou_mean", r->iou_gen_orig_max);
    cJSON_AddNumberToObject(mz, "matched_noise_acc", r->matched_noise_acc);
    cJSON_AddNumberToObject(mz, "matched_novelty_gain", r->matched_novelty_gain);
    if (r->has_ae) {
        char *aj = pd_ae_diag_json(&r->ae);
        cJSON *ae = aj ? cJSON_Parse(aj) : NULL;
        free(aj);
        if (ae) cJSON_AddItemToObject(root, "autoencoder", ae);
    }
    cJSON *d = cJSON_AddObjectToObject(root, "distance");
    cJSON_AddNumberToObject(d, "gen_to_nearest_original", r->dist_gen_nearest);
    cJSON_AddNumberToObject(d, "original_to_nearest_original", r->dist_orig_nearest);
    cJSON *sec = cJSON_AddObjectToObject(root, "seconds");
    const char *names[3] = {"collect", "train", "generate"};
    for (int i = 0; i < 3; i++) cJSON_AddNumberToObject(sec, names[i], o->seconds[i]);
    cJSON_AddNumberToObject(sec, "eval", r->seconds_eval);
    cJSON *ja = cJSON_AddArrayToObject(root, "generated");
    for (size_t i = 0; i < N; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "train_acc", gen[i].train_acc);
        cJSON_AddNumberToObject(x, "test_acc", gen[i].test_acc);
        cJSON_AddNumberToObject(x, "max_iou_to_original", gen[i].max_iou);
        cJSON_AddNumberToObject(x, "distance_to_nearest_original", gen_dist[i]);
        cJSON_AddItemToArray(ja, x);
    }
    cJSON *jo = cJSON_AddArrayToObject(root, "originals");
    for (size_t k = 0; k < K; k++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "train_acc", orig[k].train_acc);
        cJSON_AddNumberToObject(x, "test_acc", orig[k].test_acc);
        cJSON_AddNumberToObject(x, "max_iou_to_other_original", orig[k].max_iou);
        cJSON_AddItemToArray(jo, x);
    }
    char *text = cJSON_Print(root); /* cJSON prints NaN as null */
    cJSON_Delete(root);
    if (!text) return pd_fail(PD_ERR_NOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/results.json", o->out_dir);
    pd_status st = pd_write_file_atomic(path, text, strlen(text));
    free(text);
    if (st) return st;

    char md[16384], t[3][24];
    size_t n = 0;
#define MD(...) n += (size_t)snprintf(md + n, n < sizeof md ? sizeof md - n : 0, __VA_ARGS__)
    MD("# p-diff results\n\nTest accuracy (%%) on %s.\n\n"
       "| | best | mean | median | worst |\n|---|---|---|---|---|\n"
       "| original (K = %zu) | %.2f | %.2f | %.2f | %.2f |\n"
       "| p-diff (N = %zu finite) | %.2f | %.2f | %.2f | %.2f |\n\n",
       o->data_dir ? o->data_dir : "the manifest's dataset", K, r->original.best,
       r->original.mean, r->original.median, r->original.worst, r->pdiff.n, r->pdiff.best,
       r->pdiff.mean, r->pdiff.median, r->pdiff.worst);
    MD("| method | accuracy |\n|---|---|\n"
       "| original (best) | %.2f |\n"
       "| original selected on the training set (the same rule as p-diff's) | %.2f |\n"
       "| ensemble (mean subset) | %.2f |\n"
       "| p-diff (selected on training set) | %.2f |\n"
       "| p-diff (selected on test set, as the authors' code) | %.2f |\n\n"
       "Generated models below the worst original: %zu of %zu; non-finite: %zu.\n\n",
       r->original.best, r->orig_selected, r->ensemble, r->selected, r->test_selected,
       r->below_worst, N, r->nonfinite);
    if (r->has_ae)
        MD("## Autoencoder\n\nReconstruction RMSE %.4g per dimension against a spread of "
           "%.4g among the originals: ratio %.3f (above 1: the checkpoints are not resolved). "
           "Nearest to its own original: %.3f (an isotropic error of that size would give "
           "%.3f; originals whose nearest other original is farther than their "
           "reconstruction error: %.3f). Correlation of reconstructed with original "
           "deviations: %.3f.\n\n",
           r->ae.recon_rmse, r->ae.spread_rms, r->ae.recon_ratio, r->ae.nn_identity,
           r->ae.nn_identity_iso, r->ae.nn_resolvable, r->ae.dev_corr);
    MD("## Similarity (IoU of wrong test predictions)\n\n"
       "| pair | mean IoU |\n|---|---|\n| original–original | %.4f |\n"
       "| generated–generated | %.4f |\n| generated–original | %.4f |\n"
       "| generated: max IoU to any original | %.4f |\n\n",
       r->iou_orig_orig, r->iou_gen_gen, r->iou_gen_orig, r->iou_gen_orig_max);
    MD("## Against the memorization baselines\n\n");
    if (!r->nbase) {
        MD("Baselines not computed (--no-baselines).\n\n");
    } else {
        MD("| models (N = %zu each) | mean acc | median | worst | below worst original "
           "| mean max IoU | median L2 to nearest original |\n|---|---|---|---|---|---|---|\n"
           "| p-diff | %.2f | %.2f | %.2f | %zu | %.4f | %.4g |\n",
           N, r->pdiff.mean, r->pdiff.median, r->pdiff.worst, r->below_worst,
           r->iou_gen_orig_max, r->gen_nn_l2_median);
        for (size_t i = 0; i < r->nbase; i++) {
            const pd_eval_baseline *x = &r->base[i];
            MD("| %s | %.2f | %.2f | %.2f | %zu | %.4f | %.4g |\n", x->name, x->acc.mean,
               x->acc.median, x->acc.worst, x->below_worst, x->max_iou_mean, x->nn_l2_median);
        }
        MD("\nnoise_A: the nearest original of each generated model plus N(0, A²) noise; "
           "finetune: that original after %ld SGD steps; average: the mean of %d random "
           "originals; gaussian: each coordinate drawn from the originals' mean and "
           "standard deviation.\n\nAt p-diff's novelty (mean max IoU %.4f) the noise "
           "baseline reaches %.2f %% (interpolated); p-diff's mean %.2f %%: matched-novelty "
           "gain %+.2f pp.\n\n",
           o->finetune_steps, PD_AVERAGE_OF, r->iou_gen_orig_max, r->matched_noise_acc,
           r->pdiff.mean, r->matched_novelty_gain);
    }
    MD("## Parameter space\n\nL2 distance to the nearest original: generated mean %.4g, "
       "median %.4g; originals (to another original) mean %.4g, median %.4g. To the "
       "originals' mean (median): generated %.4g, originals %.4g.\n\n"
       "## Wall time (s)\n\ncollect %s, train %s, generate %s, eval %.1f\n",
       r->dist_gen_nearest, r->gen_nn_l2_median, r->dist_orig_nearest, r->orig_nn_l2_median,
       r->gen_mean_l2_median, r->orig_mean_l2_median, pd_eval_secs(t[0], o->seconds[0]), pd_eval_secs(t[1], o->seconds[1]),
       pd_eval_secs(t[2], o->seconds[2]), r->seconds_eval);
#undef MD
    snprintf(path, sizeof path, "%s/results.md", o->out_dir);
    return pd_write_file_atomic(path, md, (size_t)n < sizeof md ? (size_t)n : sizeof md - 1);
}

/* medians of each row's L2 distance to the originals' element-wise mean */
static pd_status distances_to_mean(const float *O, size_t K, const float *G, size_t N,
                                   size_t D, pd_eval_result *r) {
    r->gen_mean_l2_median = r->orig_mean_l2_median = NAN;
    if (K == 0) return PD_OK;
    float *mean = malloc(D * sizeof(float) + 1), *sd = malloc(D * sizeof(float) + 1);
    double *d = malloc((K > N ? K : N) * sizeof(double) + 1);
    if (!mean || !sd || !d) {
        free(mean), free(sd), free(d);
        return pd_fail(PD_ERR_NOMEM, "out of memory");
    }
    pd_column_moments(O, K, D, mean, sd);
    for (int which = 0; which < 2; which++) {
        const float *X = which ? G : O;
        size_t n = which ? N : K;
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (size_t j = 0; j < D; j++) {
                double e = (double)X[i * D + j] - mean[j];
                s += e * e;
            }
            d[i] = sqrt(s); /* non-finite rows are left out, as everywhere */
        }
        if (n) (which ? &r->gen_mean_l2_median : &r->orig_mean_l2_median)[0] = stats(d, n).median;
    }
    free(mean), free(sd), free(d);
    return PD_OK;
}

static const double noise_amps[PD_EVAL_NOISE_AMPS] = {0.005, 0.01, 0.02, 0.05, 0.1, 0.2};

void pd_eval_result_free(pd_eval_result *r) {
    for (size_t b = 0; b < PD_EVAL_BASELINES; b++) {
        free(r->base[b].max_iou);
        free(r->base[b].test_acc);
        free(r->base[b].nn_l2);
        r->base[b].max_iou = r->base[b].test_acc = r->base[b].nn_l2 = NULL;
    }
    r->nbase = 0;
}

/* under mpirun each rank evaluated the models it owns (dist.h); afterwards
 * every rank holds all of them */
static pd_status merge_evals(model_eval *m, size_t n, size_t words) {
    if (pd_dist_size() == 1 || n == 0) return PD_OK;
    double *acc = calloc(2 * n, sizeof(double));
    unsigned char *finite = calloc(n, 1);
    uint64_t *bits = calloc(n * words + 1, sizeof(uint64_t));
    pd_status st = acc && finite && bits ? PD_OK : pd_fail(PD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !st; i++) {
        if (!pd_dist_owns(i)) continue;
        acc[2 * i] = m[i].train_acc;
        acc[2 * i + 1] = m[i].test_acc;
        finite[i] = m[i].wrong != NULL;
        if (m[i].wrong) memcpy(bits + i * words, m[i].wrong, words * sizeof(uint64_t));
    }
    if (!st) {
        pd_dist_merge_double(acc, 2 * n);
        pd_dist_merge_or_u8(finite, n);
        pd_dist_merge_or_u64(bits, n * words);
    }
    for (size_t i = 0; i < n && !st; i++) {
        m[i].train_acc = acc[2 * i];
        m[i].test_acc = acc[2 * i + 1];
        if (!finite[i] || m[i].wrong) continue;
        m[i].wrong = malloc(words * sizeof(uint64_t));
        if (!m[i].wrong) st = pd_fail(PD_ERR_NOMEM, "out of memory");
        else memcpy(m[i].wrong, bits + i * words, words * sizeof(uint64_t));
    }
    free(acc);
    free(finite);
    free(bits);
    return st;
}

/* evaluates baseline vector vec as model i of baseline b */
/* ---- dealing models to workers ------------------------------------------
 * Model i is this rank's when pd_dist_owns(i) (dist.h), and then worker
 * (i / ranks) mod W's: every model is evaluated alone on one thread, so
 * its numbers do not depend on how many workers there are. */

typedef struct eval_job eval_job;
typedef pd_status (*item_fn)(evaluator *e, size_t i, eval_job *job);

struct eval_job {
    const pd_eval_opts *o;
    pd_eval_result *r;
    const float *O, *G, *mean, *sd;
    size_t K, N, D;
    model_eval *orig, *gen;
    evaluator *ev; /* one per worker */
    int W;
    const uint64_t *recorded; /* collect's wrong test predictions (K × words) or NULL */
    /* the pass under way */
    item_fn fn;
    size_t n;
    long done, total, per_item; /* progress: items before this pass, all, per item */
    _Atomic long count;
    _Atomic int stop;
};

static pd_status deal_worker(int w, void *ctx) {
    eval_job *j = ctx;
    const size_t R = (size_t)pd_dist_size();
    pd_status st = PD_OK;
    for (size_t i = 0; i < j->n && !st && !j->stop; i++) {
        if (!pd_dist_owns(i) || (int)((i / R) % (size_t)j->W) != w) continue;
        if ((st = j->fn(&j->ev[w], i, j))) j->stop = 1;
        long c = ++j->count;
        if (w == 0) pd_report(&j->o->progress, "eval", j->done + c * j->per_item, j->total, NULL);
    }
    return st;
}

/* fn for every model i < n on the workers; progress counts per_item each */
static pd_status deal(eval_job *j, size_t n, item_fn fn, long per_item) {
    j->fn = fn;
    j->n = n;
    j->per_item = per_item;
    j->count = 0;
    j->stop = 0;
    pd_status st = pd_run_workers(j->W, deal_worker, j);
    j->done += (long)n * per_item;
    pd_report(&j->o->progress, "eval", j->done, j->total, NULL);
    return st;
}

/* one baseline model evaluated alone (eval_vector; for a non-finite vector
 * no forward pass, NaN accuracy) */
static pd_status eval_baseline(evaluator *e, const float *vec, const float *O,
                               const model_eval *orig, size_t K, size_t D,
                               pd_eval_baseline *b, size_t i) {
    model_eval me;
    pd_status st = eval_vector(e, vec, 0, NULL, &me);
    if (st) return st;
    b->test_acc[i] = me.test_acc;
    b->max_iou[i] = max_iou_to(&me, orig, K, e->words, (size_t)-1);
    pd_nearest_l2(vec, 1, O, K, D, 0, &b->nn_l2[i]);
    free(me.wrong);
    return PD_OK;
}

/* evaluates the baselines' vectors (vec: PD_EVAL_BASELINES × D, those with
 * made[b] set) on the test set in one pass over it (pd_evaluate_each):
 * the finite ones are moved to the front first */
static pd_status eval_baselines(evaluator *e, float *vec, const int *made, eval_job *j,
                                size_t i) {
    const size_t D = j->D, K = j->K, n = e->test.n;
    size_t which[PD_EVAL_BASELINES], m = 0;
    pd_status st = PD_OK;
    for (size_t b = 0; b < PD_EVAL_BASELINES && !st; b++) {
        if (!made[b]) continue;
        const float *v = vec + b * D;
        pd_eval_baseline *base = &j->r->base[b];
        if (!finite_vec(v, D)) {
            st = eval_baseline(e, v, j->O, j->orig, K, D, base, i);
            continue;
        }
        pd_nearest_l2(v, 1, j->O, K, D, 0, &base->nn_l2[i]);
        if (m != b) memmove(vec + m * D, v, D * sizeof(float));
        which[m++] = b;
    }
    double acc[PD_EVAL_BASELINES];
    if (!st && m) st = pd_evaluate_each(&e->net, e->g, &e->test, EVAL_BATCH, vec, m, acc, e->pred);
    for (size_t k = 0; k < m && !st; k++) {
        model_eval me = {NAN, acc[k], NAN, calloc(e->words, sizeof(uint64_t))};
        if (!me.wrong) return pd_fail(PD_ERR_NOMEM, "out of memory");
        pd_bits_mark_wrong(me.wrong, e->pred + k * n, e->test.y, n);
        pd_eval_baseline *base = &j->r->base[which[k]];
        base->test_acc[i] = me.test_acc;
        base->max_iou[i] = max_iou_to(&me, j->orig, K, e->words, (size_t)-1);
        free(me.wrong);
    }
    return st;
}

static pd_status item_original(evaluator *e, size_t k, eval_job *j) {
    return eval_vector(e, j->O + k * j->D, 1, j->recorded ? j->recorded + k * e->words : NULL,
                       &j->orig[k]);
}

static pd_status item_generated(evaluator *e, size_t i, eval_job *j) {
    return eval_vector(e, j->G + i * j->D, 1, NULL, &j->gen[i]);
}

/* the baselines of model i (memorization.h): its generated model's nearest
 * original plus noise at each amplitude and fine-tuned, a mean of 16
 * random originals, a per-coordinate Gaussian draw. Model i draws from
 * streams of its own, (i + 1) << 8 | 30..32, so that models can go to any
 * rank or worker */
static pd_status item_baselines(evaluator *e, size_t i, eval_job *j) {
    const size_t D = j->D, K = j->K, FT = PD_EVAL_NOISE_AMPS, AVG = FT + 1, GAUSS = FT + 2;
    const float *O = j->O;
    float *vec = e->tmp; /* baseline b's vector at b × D */
    int made[PD_EVAL_BASELINES] = {0};
    pd_rng rng;
    pd_status st = PD_OK;
    pd_net_set_trainable(&e->net, 1);
    if ((st = pd_params_alloc_state(&e->net.params))) return st;
    if (finite_vec(j->G + i * D, D)) {
        pd_rng_seed(&rng, j->o->seed, ((uint64_t)(i + 1) << 8) | 30);
        double dd;
        size_t k = pd_nearest_row(j->G + i * D, O, K, D, (size_t)-1, &dd);
        for (int a = 0; a < PD_EVAL_NOISE_AMPS; a++) {
            for (size_t c = 0; c < D; c++)
                vec[a * D + c] = O[k * D + c] + (float)noise_amps[a] * pd_rng_normal(&rng);
            made[a] = 1;
        }
        /* a short fine-tune of the nearest original's subset */
        pd_params_scatter(&e->net.params, O + k * D);
        memset(e->net.params.m, 0, e->net.params.total * sizeof(float));
        for (size_t c = 0; c < e->train.n; c++) e->order[c] = (int32_t)c;
        size_t cursor = e->train.n; /* forces a shuffle */
        long step = 0;
        pd_fit_opts fo = {{0.01f, 0.9f, 0.0f, 5e-4f, 0}, 128, 0, 0, 0};
        st = pd_fit_steps(&e->net, e->g, &e->train, &fo, &rng, e->order, &cursor, &step,
                          j->o->finetune_steps, NULL);
        if (st) return st;
        pd_params_gather(&e->net.params, vec + FT * D);
        made[FT] = 1;
    }
    pd_rng_seed(&rng, j->o->seed, ((uint64_t)(i + 1) << 8) | 31);
    pd_baseline_average(O, K, D, PD_AVERAGE_OF, &rng, vec + AVG * D);
    pd_rng_seed(&rng, j->o->seed, ((uint64_t)(i + 1) << 8) | 32);
    pd_baseline_gaussian(j->mean, j->sd, D, &rng, vec + GAUSS * D);
    made[AVG] = made[GAUSS] = 1;
    return eval_baselines(e, vec, made, j, i);
}

/* models per baseline: baseline_n (0: as many as generated models) */
static size_t baseline_count(const pd_eval_opts *o, size_t N) {
    return o->baseline_n && o->baseline_n < N ? o->baseline_n : N;
}

static pd_status run_baselines(eval_job *j) {
    const pd_eval_opts *o = j->o;
    pd_eval_result *r = j->r;
    const size_t N = j->N, D = j->D;
    r->nbase = PD_EVAL_BASELINES;
    /* each baseline's models, one per generated model up to baseline_n */
    const size_t NB = baseline_count(o, N);
    for (size_t b = 0; b < PD_EVAL_BASELINES; b++) {
        pd_eval_baseline *x = &r->base[b];
        x->amp = b < PD_EVAL_NOISE_AMPS ? noise_amps[b] : NAN;
        if (b < PD_EVAL_NOISE_AMPS) snprintf(x->name, sizeof x->name, "noise_%g", noise_amps[b]);
        else snprintf(x->name, sizeof x->name, "%s",
                      (const char *[]){"finetune", "average", "gaussian"}[b - PD_EVAL_NOISE_AMPS]);
        x->max_iou = malloc(N * sizeof(double));
        x->test_acc = malloc(N * sizeof(double));
        x->nn_l2 = malloc(N * sizeof(double));
        if (!x->max_iou || !x->test_acc || !x->nn_l2) return pd_fail(PD_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < N; i++) x->max_iou[i] = x->test_acc[i] = x->nn_l2[i] = NAN;
    }
    float *mean = malloc(2 * D * sizeof(float)), *sd = mean ? mean + D : NULL;
    if (!mean) return pd_fail(PD_ERR_NOMEM, "out of memory");
    pd_column_moments(j->O, j->K, D, mean, sd);
    j->mean = mean;
    j->sd = sd;
    pd_status st = deal(j, NB, item_baselines, PD_EVAL_BASELINES);
    free(mean);
    /* every rank's models: the entries a rank does not own are zero there
     * (NaN stays NaN: a skipped non-finite model) */
    for (size_t b = 0; b < PD_EVAL_BASELINES && !st && pd_dist_size() > 1; b++) {
        pd_eval_baseline *x = &r->base[b];
        double *arrays[] = {x->test_acc, x->max_iou, x->nn_l2};
        for (int a = 0; a < 3; a++) {
            for (size_t i = 0; i < NB; i++)
                if (!pd_dist_owns(i)) arrays[a][i] = 0.0;
            pd_dist_merge_double(arrays[a], NB);
        }
    }
    for (size_t b = 0; b < PD_EVAL_BASELINES && !st; b++) {
        pd_eval_baseline *x = &r->base[b];
        x->acc = stats(x->test_acc, N);
        x->max_iou_mean = stats(x->max_iou, N).mean;
        x->nn_l2_median = stats(x->nn_l2, N).median;
        x->below_worst = 0;
        for (size_t i = 0; i < N; i++) x->below_worst += x->test_acc[i] < r->original.worst;
    }
    return st;
}

/* per-model arrays for the figures, and an IoU matrix of the first 20
 * originals and 20 generated models; a missing gnuplot is only reported */
static pd_status draw_figures(const pd_eval_opts *o, pd_eval_result *r, const pd_manifest *m,
                              evaluator *e, const float *O, size_t K, const float *G, size_t N,
                              size_t D, const model_eval *orig, const model_eval *gen,
                              double *accs, const double *orig_nn, const double *gen_nn) {
    double *oacc = accs, *gacc = accs + K; /* accs has K + N + 1 slots */
    double *omax = malloc((K + N + 1) * sizeof(double)), *gmax = omax ? omax + K : NULL;
    size_t ko = K < 20 ? K : 20, kg = N < 20 ? N : 20, ni = ko + kg;
    const model_eval **rows = malloc((ni ? ni : 1) * sizeof *rows);
    float *iou_m = malloc((ni ? ni * ni : 1) * sizeof(float));
    size_t *sizes = malloc(m->nparams * sizeof(size_t));
    pd_status st = PD_OK;
    if (!omax || !rows || !iou_m || !sizes) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < K; k++) {
        oacc[k] = orig[k].test_acc;
        omax[k] = orig[k].max_iou;
    }
    for (size_t i = 0; i < N; i++) {
        gacc[i] = gen[i].test_acc;
        gmax[i] = gen[i].max_iou;
    }
    for (size_t i = 0; i < ni; i++) rows[i] = i < ko ? &orig[i] : &gen[i - ko];
    for (size_t i = 0; i < ni; i++)
        for (size_t j = 0; j < ni; j++)
            iou_m[i * ni + j] = rows[i]->wrong && rows[j]->wrong
                                    ? (float)pd_bits_iou(rows[i]->wrong, rows[j]->wrong, e->words)
                                    : NAN;
    for (size_t t = 0; t < m->nparams; t++) {
        pd_tensor *tt = pd_params_find(&e->net.params, m->params[t]);
        sizes[t] = tt ? tt->numel : 0;
    }
    pd_fig_series series[PD_EVAL_BASELINES];
    char label[PD_EVAL_BASELINES][32]; /* "noise 0.01": gnuplot reads _ as a subscript */
    for (size_t b = 0; b < r->nbase; b++) {
        snprintf(label[b], sizeof label[b], "%s", r->base[b].name);
        for (char *q = label[b]; *q; q++)
            if (*q == '_') *q = ' ';
        series[b] = (pd_fig_series){label[b], r->base[b].max_iou, r->base[b].test_acc, N};
    }
    pd_figures_in fi = {o->out_dir, O, K, G, N, D, oacc, gacc, omax, gmax,
                        series, r->nbase, gen_nn, orig_nn,
                        iou_m, ni, o->model_dir, o->seed, ko, sizes, m->nparams};
    pd_status fs = pd_figures_write(&fi);
    r->figures_ok = fs == PD_OK;
    if (fs) snprintf(r->figures_error, sizeof r->figures_error, "%s", pd_last_error());
done:
    free(omax);
    free(rows);
    free(iou_m);
    free(sizes);
    return st;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

pd_status pd_eval(const pd_eval_opts *o, pd_eval_result *r) {
    double t0 = now_s();
    memset(r, 0, sizeof *r);
    pd_manifest m;
    pd_status st = pd_manifest_read(o->ckpt_dir, &m);
    if (st) return st;
    if (!m.has_net) {
        pd_manifest_free(&m);
        return pd_fail(PD_ERR_ARG, "%s/manifest.json: no network description; eval needs "
                                   "checkpoints from 'pdiff collect'", o->ckpt_dir);
    }
    float *O = NULL, *G = NULL;
    size_t K = m.K, D = m.D, N = 0;
    /* one evaluator per worker (pd_run_workers): each evaluates whole
     * models on one thread, faster than all threads on one model's short
     * rows; ev[0] also does the rest */
    const int W = pd_threads() > 0 ? pd_threads() : 1;
    evaluator *ev = calloc((size_t)W, sizeof *ev), *e = ev;
    uint64_t *recorded = NULL;
    pd_dataset train = {0}, test = {0};
    model_eval *orig = NULL, *gen = NULL;
    double *gen_dist = NULL, *accs = NULL;
    float *tmp = NULL;
    if (!ev) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = pd_manifest_load_vectors(&m, o->ckpt_dir, &O))) goto done;
    if ((st = pd_generated_read(o->gen_dir, D, &G, &N))) goto done;
    const char *data = o->data_dir ? o->data_dir : m.data_dir;
    if ((st = pd_dataset_load(data, 1, &train)) || (st = pd_dataset_load(data, 0, &test)) ||
        (st = pd_dataset_normalize(&train, &test)))
        goto done;
    const size_t train_n = train.n < o->eval_train ? train.n : o->eval_train;
    if ((st = evaluator_open(e, &m, o->ckpt_dir, test.n, train_n))) goto done;
    int cut = pd_net_cut_stage(&e->net);
    pd_feats ftest = pd_images_of(&test), ftrain = pd_images_of(&train);
    ftrain.n = train_n;
    float *cache_test = NULL, *cache_train = NULL, *cache_train_eval = NULL;
    if ((st = pd_cache_features(&e->net, e->g, &ftest, cut, &o->progress, "features (test)",
                                &cache_test, &e->test)))
        goto done;
    st = pd_cache_features(&e->net, e->g, &ftrain, cut, &o->progress, "features (train)",
                           &cache_train, &e->train);
    /* where the first tail stage pools through BN and ReLU, the models
     * are evaluated on the windows' max and min (the same numbers, less
     * data); test features serve only evaluation, so they are replaced */
    float *pooled = NULL;
    if (!st) st = pd_feats_pool_windows(&e->net, &e->test, &pooled, &e->test);
    if (pooled) {
        free(cache_test);
        cache_test = pooled;
    }
    if (!st) st = pd_feats_pool_windows(&e->net, &e->train, &cache_train_eval, &e->train_eval);
    if (st) goto free_cache;

    orig = calloc(K, sizeof *orig);
    gen = calloc(N ? N : 1, sizeof *gen);
    gen_dist = malloc((N ? N : 1) * sizeof(double));
    accs = malloc((K + N + 1) * sizeof(double));
    tmp = malloc(D * sizeof(float));
    if (!orig || !gen || !gen_dist || !accs || !tmp) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto free_cache;
    }
    for (int w = 1; w < W && !st; w++) { /* the same network; the features shared */
        st = evaluator_open(&ev[w], &m, o->ckpt_dir, test.n, train_n);
        ev[w].test = e->test;
        ev[w].train = e->train;
        ev[w].train_eval = e->train_eval;
    }
    if (st) goto free_cache;
    /* collect's record of the originals' test predictions, when it is of
     * exactly these checkpoints and this test set (test_records.h) */
    recorded = malloc(K * e->words * sizeof(uint64_t) + 1);
    if (!recorded) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto free_cache;
    }
    const int have_records =
        pd_test_records_read(o->ckpt_dir, K, e->words, O, D, &ftest, recorded);
    eval_job job = {o, r, O, G, NULL, NULL, K, N, D, orig, gen, ev, W,
                    have_records ? recorded : NULL, NULL, 0, 0,
                    (long)(K + N + 1 + (o->baselines ? PD_EVAL_BASELINES * baseline_count(o, N) : 0)),
                    1, 0, 0};
    /* under mpirun the models are dealt to the ranks too (dist.h) */
    st = deal(&job, K, item_original, 1);
    if (!st) st = deal(&job, N, item_generated, 1);
    if (!st) st = merge_evals(orig, K, e->words);
    if (!st) st = merge_evals(gen, N, e->words);
    if (st) goto free_cache;
    /* ensemble: the element-wise mean of the K originals */
    for (size_t j = 0; j < D; j++) {
        double s = 0;
        for (size_t k = 0; k < K; k++) s += O[k * D + j];
        tmp[j] = (float)(s / (double)K);
    }
    model_eval ens;
    if ((st = eval_vector(e, tmp, 0, NULL, &ens))) goto free_cache;
    free(ens.wrong);
    r->ensemble = ens.test_acc;
    pd_report(&o->progress, "eval", ++job.done, job.total, NULL);

    for (size_t k = 0; k < K; k++) accs[k] = orig[k].test_acc;
    r->original = stats(accs, K);
    for (size_t i = 0; i < N; i++) accs[i] = gen[i].test_acc;
    r->pdiff = stats(accs, N);
    r->selected = r->test_selected = NAN;
    double best_train = -1;
    for (size_t i = 0; i < N; i++) {
        if (!gen[i].wrong) {
            r->nonfinite++;
            continue;
        }
        if (gen[i].train_acc > best_train) {
            best_train = gen[i].train_acc;
            r->selected = gen[i].test_acc;
        }
        if (gen[i].test_acc < r->original.worst) r->below_worst++;
    }
    r->test_selected = r->pdiff.best;
    r->orig_selected = NAN;
    best_train = -1;
    for (size_t k = 0; k < K; k++)
        if (isfinite(orig[k].train_acc) && orig[k].train_acc > best_train) {
            best_train = orig[k].train_acc;
            r->orig_selected = orig[k].test_acc;
        }

    /* similarity */
    r->iou_orig_orig = mean_pair_iou(orig, K, orig, K, 1, e->words);
    r->iou_gen_gen = mean_pair_iou(gen, N, gen, N, 1, e->words);
    r->iou_gen_orig = mean_pair_iou(gen, N, orig, K, 0, e->words);
    for (size_t k = 0; k < K; k++) orig[k].max_iou = max_iou_to(&orig[k], orig, K, e->words, k);
    for (size_t i = 0; i < N; i++) {
        gen[i].max_iou = max_iou_to(&gen[i], orig, K, e->words, (size_t)-1);
        accs[i] = gen[i].max_iou;
    }
    r->iou_gen_orig_max = stats(accs, N).mean;

    /* distances in parameter space: nearest original of each generated
     * vector, nearest other original of each original (memorization.h) */
    double *orig_nn = malloc(K * sizeof(double));
    if (!orig_nn) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto free_cache;
    }
    pd_nearest_l2(O, K, O, K, D, 1, orig_nn);
    pd_nearest_l2(G, N, O, K, D, 0, gen_dist);
    r->dist_orig_nearest = K > 1 ? stats(orig_nn, K).mean : NAN;
    r->orig_nn_l2_median = K > 1 ? stats(orig_nn, K).median : NAN;
    r->dist_gen_nearest = stats(gen_dist, N).mean;
    r->gen_nn_l2_median = stats(gen_dist, N).median;
    if ((st = distances_to_mean(O, K, G, N, D, r))) goto free_cache;
    r->matched_noise_acc = r->matched_novelty_gain = NAN;
    if (o->baselines && N > 0) {
        st = run_baselines(&job);
        if (!st) {
            double iou_pts[PD_EVAL_NOISE_AMPS], acc_pts[PD_EVAL_NOISE_AMPS];
            for (int a = 0; a < PD_EVAL_NOISE_AMPS; a++) {
                iou_pts[a] = r->base[a].max_iou_mean;
                acc_pts[a] = r->base[a].acc.mean;
            }
            r->matched_noise_acc = pd_matched_novelty_acc(iou_pts, acc_pts, PD_EVAL_NOISE_AMPS,
                                                          r->iou_gen_orig_max);
            r->matched_novelty_gain = r->pdiff.mean - r->matched_noise_acc;
        }
    }
    /* the autoencoder alone: its reconstructions of the training vectors */
    if (!st && o->model_dir) {
        char rdir[4096];
        snprintf(rdir, sizeof rdir, "%s/reconstructed", o->model_dir);
        char path[4096];
        snprintf(path, sizeof path, "%s/reconstructed/generated.safetensors", o->model_dir);
        float *R = NULL;
        size_t KR = 0;
        if (pd_file_exists(path)) {
            st = pd_generated_read(rdir, D, &R, &KR);
            if (!st && (KR < 1 || KR > K))
                st = pd_fail(PD_ERR_SHAPE, "%s: %zu reconstructions for %zu originals", path, KR, K);
            if (!st) st = pd_ae_diagnose(O, R, KR, D, o->seed, &r->ae);
            r->has_ae = !st;
            free(R);
        }
    }
    /* rank 0 writes the results; the others wait until they are there */
    int writer = pd_dist_root();
    if (!st && writer) st = pd_mkdir_p(o->out_dir);
    if (!st && writer) pd_atomic_sweep(o->out_dir); /* temp files of a killed run */
    if (!st && writer)
        st = draw_figures(o, r, &m, e, O, K, G, N, D, orig, gen, accs, orig_nn, gen_dist);
    r->seconds_eval = now_s() - t0;
    if (!st && writer) st = write_results(o, r, orig, K, gen, N, gen_dist);
    if (!st) pd_dist_barrier();
    free(orig_nn);
free_cache:
    free(recorded);
    free(cache_test);
    free(cache_train);
    free(cache_train_eval);
done:
    for (size_t k = 0; orig && k < K; k++) free(orig[k].wrong);
    for (size_t i = 0; gen && i < N; i++) free(gen[i].wrong);
    free(orig);
    free(gen);
    free(gen_dist);
    free(accs);
    free(tmp);
    free(O);
    free(G);
    for (int w = 0; ev && w < W; w++) evaluator_close(&ev[w]);
    free(ev);
    pd_dataset_free(&train);
    pd_dataset_free(&test);
    pd_manifest_free(&m);
    if (st) pd_eval_result_free(r);
    return st;
}
