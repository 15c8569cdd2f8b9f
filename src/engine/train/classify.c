/*
 * classify.c — training and evaluation of task networks (pdiff_net.h). Batches are copied into one contiguous
 * buffer per step (samples in shuffled order), the tape is reset after
 * each step, and the optimizer runs once per trainable tensor.
 */
#include "pdiff_net.h"

#include "engine/graph/graph.h"
#include "engine/nn/net.h"
#include "engine/train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static pd_val *batch_input(pd_graph *g, const pd_feats *f, const int32_t *idx,
                           size_t nb, int32_t *labels) {
    size_t shp[4] = {nb, f->shape[0], f->shape[1], f->shape[2]};
    pd_val *x = pd_g_new(g, f->ndim + 1, shp, 0);
    for (size_t i = 0; i < nb; i++) {
        memcpy(x->v + i * f->stride, f->x + (size_t)idx[i] * f->stride,
               f->stride * sizeof(float));
        labels[i] = f->y[idx[i]];
    }
    return x;
}

/* in place over a batch x (nb, c, h, w): shift by up to ±4 pixels with zero
 * fill (= random crop of the 4-padded image) and flip half the images */
static void augment_batch(float *x, size_t nb, const size_t *shape, pd_rng *rng) {
    size_t c = shape[0], h = shape[1], w = shape[2], plane = h * w;
    float *tmp = malloc(plane * sizeof(float));
    if (!tmp) return; /* augmentation is optional: skip rather than fail */
    for (size_t i = 0; i < nb; i++) {
        long dy = (long)pd_rng_below(rng, 9) - 4, dx = (long)pd_rng_below(rng, 9) - 4;
        int flip = pd_rng_below(rng, 2) != 0;
        for (size_t ch = 0; ch < c; ch++) {
            float *img = x + (i * c + ch) * plane;
            for (size_t r = 0; r < h; r++)
                for (size_t q = 0; q < w; q++) {
                    long sr = (long)r + dy, sq = (long)(flip ? w - 1 - q : q) + dx;
                    int in = sr >= 0 && sr < (long)h && sq >= 0 && sq < (long)w;
                    tmp[r * w + q] = in ? img[(size_t)sr * w + (size_t)sq] : 0.0f;
                }
            memcpy(img, tmp, plane * sizeof(float));
        }
    }
    free(tmp);
}

pd_status pd_fit_steps(pd_net *net, pd_graph *g, const pd_feats *f,
                       const pd_fit_opts *o, pd_rng *rng, int32_t *order,
                       size_t *cursor, long *step, long steps, double *mean_loss) {
    pd_params *p = &net->params;
    if (f->windows) return pd_fail(PD_ERR_ARG, "training needs features, not pooled windows");
    pd_status st = pd_params_alloc_state(p);
    if (st) return st;
    int32_t *labels = malloc(o->batch * sizeof(int32_t));
    if (!labels) return pd_fail(PD_ERR_NOMEM, "out of memory for a batch");
    double sum = 0.0;
    for (long s = 0; s < steps; s++) {
        if (*cursor + o->batch > f->n) { /* new epoch */
            pd_rng_shuffle(rng, order, f->n);
            *cursor = 0;
        }
        size_t nb = o->batch < f->n ? o->batch : f->n;
        pd_g_reset(g);
        pd_g_set_grad(g, 1);
        pd_val *x = batch_input(g, f, order + *cursor, nb, labels);
        x->head = f->head;
        *cursor += nb;
        if (o->augment && f->from_stage == 0 && f->ndim == 3) augment_batch(x->v, nb, f->shape, rng);
        pd_val *logits = pd_net_forward(net, g, x, o->train_bn, f->from_stage, net->nstages);
        pd_val *loss = pd_g_xent(g, logits, labels);
        if (pd_g_failed(g)) {
            free(labels);
            return pd_fail(PD_ERR_NOMEM, "out of memory in training step %ld", *step);
        }
        if (!isfinite(loss->v[0])) {
            free(labels);
            return pd_fail(PD_ERR_NAN, "loss became %g at training step %ld", loss->v[0], *step);
        }
        sum += loss->v[0];
        pd_params_zero_grad(p);
        pd_g_backward(g, loss);
        pd_sgd sgd = o->sgd;
        if (o->total_steps > 0) sgd.lr = (float)(o->sgd.lr * pd_lr_cosine(*step, o->total_steps));
        for (size_t i = 0; i < p->count; i++) {
            pd_tensor *t = &p->t[i];
            if (!(t->flags & PD_TRAINABLE)) continue;
            pd_sgd_step(&sgd, t->data, t->grad, p->m + t->offset, t->numel, 0);
        }
        (*step)++;
    }
    free(labels);
    if (mean_loss) *mean_loss = steps > 0 ? sum / (double)steps : 0.0;
    return PD_OK;
}

/* samples [b0, b0 + nb) of f through the network in eval mode: correct
 * predictions and the batch's summed loss added, predictions into pred
 * (indexed by sample) when given; 0 when the graph ran out of memory */
static int eval_batch(pd_net *net, pd_graph *g, const pd_feats *f, size_t b0, size_t nb,
                      int32_t *labels, size_t *correct, double *lsum, int32_t *pred) {
    pd_g_reset(g);
    pd_g_set_grad(g, 0);
    /* the batch's rows are consecutive: the graph reads them in place
     * (no gradients, so nothing writes to them) instead of a zeroed copy,
     * two passes over the features fewer per model */
    size_t shp[4] = {nb, f->shape[0], f->shape[1], f->shape[2]};
    if (f->windows) { /* (c, 2, h/2, w/2) per sample: pd_g_bn_relu_windows_eval */
        shp[2] = 2 * (f->shape[1] / 2);
        shp[3] = f->shape[2] / 2;
    }
    pd_val *x = pd_g_input(g, (float *)f->x + b0 * f->stride, f->ndim + 1, shp, 0);
    x->windows = f->windows;
    x->head = f->head;
    for (size_t i = 0; i < nb; i++) labels[i] = f->y[b0 + i];
    pd_val *logits = pd_net_forward(net, g, x, 0, f->from_stage, net->nstages);
    pd_val *l = pd_g_xent(g, logits, labels);
    if (pd_g_failed(g)) return 0;
    *lsum += (double)l->v[0] * (double)nb;
    size_t c = logits->shape[1];
    for (size_t i = 0; i < nb; i++) {
        const float *row = logits->v + i * c;
        size_t best = 0;
        for (size_t k = 1; k < c; k++)
            if (row[k] > row[best]) best = k;
        *correct += (int32_t)best == labels[i];
        if (pred) pred[b0 + i] = (int32_t)best;
    }
    return 1;
}

/* Evaluation keeps every activation of a batch until the next one (the
 * arena): ResNet-18 at batch 500 held 19.6 GB. A batch is cut to what fits
 * in ARENA_BUDGET, scaled from one sample's use; small networks keep theirs */
#define ARENA_BUDGET ((size_t)2 << 30)

static size_t batch_in_budget(const pd_graph *g, size_t batch) {
    const size_t per_sample = pd_g_bytes_used(g);
    const size_t fits = ARENA_BUDGET / (per_sample ? per_sample : 1);
    return fits < 1 ? 1 : fits < batch ? fits : batch;
}

/* eval_batch's batch for f, after one sample's trial */
static size_t eval_batch_size(pd_net *net, pd_graph *g, const pd_feats *f, size_t batch) {
    int32_t label;
    size_t correct = 0;
    double lsum = 0.0;
    if (f->n == 0 || batch <= 1 || !eval_batch(net, g, f, 0, 1, &label, &correct, &lsum, NULL))
        return batch; /* an out-of-memory graph fails in the real batch, with its message */
    return batch_in_budget(g, batch);
}

pd_status pd_evaluate(pd_net *net, pd_graph *g, const pd_feats *f, size_t batch,
                      double *acc, double *loss, int32_t *pred) {
    batch = eval_batch_size(net, g, f, batch);
    int32_t *labels = malloc(batch * sizeof(int32_t));
    if (!labels) return pd_fail(PD_ERR_NOMEM, "out of memory for evaluation");
    size_t correct = 0;
    double lsum = 0.0;
    int ok = 1;
    for (size_t b0 = 0; b0 < f->n && ok; b0 += batch) {
        size_t nb = f->n - b0 < batch ? f->n - b0 : batch;
        ok = eval_batch(net, g, f, b0, nb, labels, &correct, &lsum, pred);
    }
    pd_g_set_grad(g, 1);
    free(labels);
    if (!ok) return pd_fail(PD_ERR_NOMEM, "out of memory in evaluation");
    if (acc) *acc = f->n ? 100.0 * (double)correct / (double)f->n : 0.0;
    if (loss) *loss = f->n ? lsum / (double)f->n : 0.0;
    return PD_OK;
}

pd_status pd_evaluate_each(pd_net *net, pd_graph *g, const pd_feats *f, size_t batch,
                           const float *vecs, size_t m, double *acc, int32_t *pred) {
    const size_t D = pd_params_selected_size(&net->params);
    if (m > 0) {
        pd_params_scatter(&net->params, vecs);
        batch = eval_batch_size(net, g, f, batch);
    }
    int32_t *labels = malloc(batch * sizeof(int32_t));
    size_t *correct = calloc(m + 1, sizeof(size_t));
    if (!labels || !correct) {
        free(labels);
        free(correct);
        return pd_fail(PD_ERR_NOMEM, "out of memory for evaluation");
    }
    double lsum = 0.0;
    int ok = 1;
    /* batches outside, models inside: a batch of features is read from
     * memory once for all m models instead of m times */
    for (size_t b0 = 0; b0 < f->n && ok; b0 += batch) {
        size_t nb = f->n - b0 < batch ? f->n - b0 : batch;
        for (size_t k = 0; k < m && ok; k++) {
            pd_params_scatter(&net->params, vecs + k * D);
            ok = eval_batch(net, g, f, b0, nb, labels, &correct[k], &lsum,
                            pred ? pred + k * f->n : NULL);
        }
    }
    pd_g_set_grad(g, 1);
    for (size_t k = 0; k < m && ok; k++)
        acc[k] = f->n ? 100.0 * (double)correct[k] / (double)f->n : 0.0;
    free(labels);
    free(correct);
    return ok ? PD_OK : pd_fail(PD_ERR_NOMEM, "out of memory in evaluation");
}

pd_status pd_compute_features(pd_net *net, pd_graph *g, const pd_feats *f,
                              int to, size_t batch, float **out, pd_feats *feat) {
    if (f->windows || f->head || f->from_stage != 0)
        return pd_fail(PD_ERR_ARG, "features: the samples must enter at stage 0");
    int32_t *idx = malloc(batch * sizeof(int32_t));
    int32_t *labels = malloc(batch * sizeof(int32_t));
    float *buf = NULL;
    pd_status st = PD_OK;
    if (!idx || !labels) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory computing features");
        goto done;
    }
    size_t b0 = 0;
    int trial = f->n > 0 && batch > 1; /* one sample first: its arena use sets the batch */
    while (b0 < f->n) {
        size_t nb = trial ? 1 : f->n - b0 < batch ? f->n - b0 : batch;
        for (size_t i = 0; i < nb; i++) idx[i] = (int32_t)(b0 + i);
        pd_g_reset(g);
        pd_g_set_grad(g, 0);
        pd_val *x = batch_input(g, f, idx, nb, labels);
        pd_val *h = pd_net_forward(net, g, x, 0, 0, to);
        /* the next stage's frozen head, cached beside its input: every
         * model evaluated or step trained from these features skips it */
        pd_val *hd = net->stage_head && to < net->nstages ? net->stage_head(net, g, h, to) : NULL;
        if (pd_g_failed(g)) {
            st = pd_fail(PD_ERR_NOMEM, "out of memory computing features");
            goto done;
        }
        if (trial) {
            batch = batch_in_budget(g, batch);
            trial = 0;
            continue;
        }
        const size_t s0 = b0;
        b0 += nb;
        if (hd && hd->numel != h->numel) hd = NULL; /* shaped as its input, or not cached */
        size_t per = h->numel / nb, per_out = hd ? 2 * per : per;
        if (!buf) {
            buf = malloc(f->n * per_out * sizeof(float));
            if (!buf) {
                st = pd_fail(PD_ERR_NOMEM, "out of memory: %zu cached features", f->n * per_out);
                goto done;
            }
            *feat = (pd_feats){.x = buf, .y = f->y, .n = f->n, .ndim = h->ndim - 1,
                               .shape = {h->shape[1], h->shape[2], h->shape[3]},
                               .stride = per_out, .from_stage = to, .head = hd != NULL};
            if (hd) feat->shape[0] *= 2;
        }
        if (!hd) {
            memcpy(buf + s0 * per, h->v, nb * per * sizeof(float));
            continue;
        }
        for (size_t i = 0; i < nb; i++) {
            memcpy(buf + (s0 + i) * per_out, hd->v + i * per, per * sizeof(float));
            memcpy(buf + (s0 + i) * per_out + per, h->v + i * per, per * sizeof(float));
        }
    }
    *out = buf;
    buf = NULL;
done:
    pd_g_set_grad(g, 1);
    free(buf);
    free(idx);
    free(labels);
    return st;
}

pd_status pd_feats_pool_windows(const pd_net *net, const pd_feats *f, float **out,
                                pd_feats *pooled) {
    const pd_feats in = *f; /* pooled may be f */
    const int s = in.from_stage;
    *out = NULL;
    *pooled = in;
    if (in.windows || in.head || in.ndim != 3 || in.shape[1] < 2 || in.shape[2] < 2 || s < 0 ||
        s >= 64 || !((net->window_stages >> s) & 1))
        return PD_OK;
    const size_t c = in.shape[0], h = in.shape[1], w = in.shape[2];
    const size_t per = c * 2 * (h / 2) * (w / 2);
    float *buf = malloc((in.n * per > 0 ? in.n * per : 1) * sizeof(float));
    if (!buf) return pd_fail(PD_ERR_NOMEM, "out of memory: %zu pooled windows", in.n * per);
    pd_pool2x2_windows(buf, in.x, in.n, c, h, w);
    *out = buf;
    pooled->x = buf;
    pooled->stride = per;
    pooled->windows = 1;
    return PD_OK;
}
