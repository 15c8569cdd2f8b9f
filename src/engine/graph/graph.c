/*
 * graph.c — the tape (see graph.h). One node per op call; backward is one
 * switch over the node kinds, each case calling the op's backward kernel.
 * Memory comes from a chunked arena that pd_g_reset rewinds.
 */
#include "engine/graph/graph.h"
#include "engine/ops/conv_dnnl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum node_kind {
    N_LINEAR, N_CONV1D, N_CONVT1D, N_CONV2D, N_MAXPOOL, N_GAP, N_BN_TRAIN,
    N_BN_EVAL, N_GN, N_ACT, N_CLAMP, N_ADD, N_SCALE_ADD, N_ADD_ROWS,
    N_EMBEDDING, N_RESIZE, N_REPARAM, N_KL, N_MSE, N_XENT, N_SUM2, N_CHUNK_LINEAR,
    N_BN_RELU_POOL, N_SLICE
};

typedef struct {
    enum node_kind kind;
    pd_val *out, *in[3];
    union {
        pd_linear_shape lin;
        pd_chunk_linear_shape chl;
        pd_conv1d_shape c1;
        pd_convt1d_shape ct;
        pd_conv2d_shape c2;
        pd_pool2d_shape pool;
        pd_norm_shape norm;
    } s;
    size_t groups, n;
    pd_act act;
    float a, b; /* alpha / lo,hi / scale / weights */
    const float *cf; /* saved float pointer (target, eps, running mean) */
    const float *cf2;
    const int32_t *ci; /* saved labels / indices / argmax */
    float *saved1, *saved2; /* mean/rstd or probs */
} node;

typedef struct chunk {
    char *mem;
    size_t size, used;
} chunk;

struct pd_graph {
    chunk *chunks;
    size_t nchunks, cur;
    node *nodes;
    size_t nnodes, capnodes;
    int grad, failed;
    pd_math math;
    pd_conv_algo conv_algo;
};

#define CHUNK_MIN ((size_t)64 << 20)

pd_graph *pd_graph_new(void) {
    pd_graph *g = calloc(1, sizeof *g);
    if (g) g->grad = 1;
    return g;
}

pd_graph *pd_g_new_like(const pd_graph *g) {
    pd_graph *n = pd_graph_new();
    if (n) {
        n->grad = g->grad;
        n->math = g->math;
        n->conv_algo = g->conv_algo;
    }
    return n;
}

void pd_graph_free(pd_graph *g) {
    if (!g) return;
    for (size_t i = 0; i < g->nchunks; i++) pd_free(g->chunks[i].mem);
    free(g->chunks);
    free(g->nodes);
    free(g);
}

void pd_g_reset(pd_graph *g) {
    for (size_t i = 0; i < g->nchunks; i++) g->chunks[i].used = 0;
    g->cur = 0;
    g->nnodes = 0;
    g->failed = 0;
}

size_t pd_g_bytes_used(const pd_graph *g) {
    size_t used = 0;
    for (size_t i = 0; i < g->nchunks; i++) used += g->chunks[i].used;
    return used;
}

void pd_g_set_grad(pd_graph *g, int enabled) { g->grad = enabled; }
void pd_g_set_math(pd_graph *g, pd_math math) { g->math = math; }
void pd_g_set_conv_algo(pd_graph *g, pd_conv_algo a) { g->conv_algo = a; }
int pd_g_failed(const pd_graph *g) { return g->failed; }

/* Uninitialised arena memory. Debug and sanitizer builds
 * (PDIFF_ARENA_POISON) fill it with NaN (all bits set) so that a kernel
 * reading memory it did not write shows up in the tests' comparisons
 * instead of silently seeing zeros. */
static void *arena_take(pd_graph *g, size_t bytes) {
    bytes = (bytes + 63) / 64 * 64;
    if (bytes == 0) bytes = 64;
    while (g->cur < g->nchunks) {
        chunk *c = &g->chunks[g->cur];
        if (c->size - c->used >= bytes) {
            void *p = c->mem + c->used;
            c->used += bytes;
            return p;
        }
        g->cur++;
    }
    /* new chunk at the end: keeps earlier chunks' order for reuse */
    chunk *cs = realloc(g->chunks, (g->nchunks + 1) * sizeof *cs);
    if (!cs) goto fail;
    g->chunks = cs;
    size_t size = bytes > CHUNK_MIN ? bytes : CHUNK_MIN;
    char *mem = pd_alloc(size);
    if (!mem) goto fail;
    g->chunks[g->nchunks] = (chunk){mem, size, bytes};
    g->cur = g->nchunks++;
    return mem;
fail:
    g->failed = 1;
    return NULL;
}

void *pd_g_alloc(pd_graph *g, size_t bytes) {
    void *p = arena_take(g, bytes);
#ifdef PDIFF_ARENA_POISON
    if (p) memset(p, 0xff, bytes);
#endif
    return p;
}

void *pd_g_alloc_zero(pd_graph *g, size_t bytes) {
    void *p = arena_take(g, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

/* A failed allocation must not crash the caller: ops fall back to this
 * scratch value, and the caller checks pd_g_failed. */
static float dummy_store[64];
static pd_val dummy_val = {dummy_store, NULL, 1, {1, 1, 1, 1}, 1, 0, 0};

static pd_val *make_val(pd_graph *g, int ndim, const size_t *shape, int grad) {
    pd_val *x = pd_g_alloc_zero(g, sizeof *x);
    if (!x) return NULL;
    x->ndim = ndim;
    x->numel = 1;
    for (int i = 0; i < ndim; i++) {
        x->shape[i] = shape[i];
        x->numel *= shape[i];
    }
    for (int i = ndim; i < 4; i++) x->shape[i] = 1;
    /* the op writes every value; gradients accumulate, so start at zero */
    x->v = pd_g_alloc(g, x->numel * sizeof(float));
    if (grad && g->grad) x->g = pd_g_alloc_zero(g, x->numel * sizeof(float));
    if (!x->v || (grad && g->grad && !x->g)) return NULL;
    return x;
}

static node *push(pd_graph *g, enum node_kind kind, pd_val *out, pd_val *a,
                  pd_val *b, pd_val *c) {
    if (!g->grad || !out->g) return NULL; /* nothing to differentiate */
    if (g->nnodes == g->capnodes) {
        size_t cap = g->capnodes ? 2 * g->capnodes : 256;
        node *n = realloc(g->nodes, cap * sizeof *n);
        if (!n) {
            g->failed = 1;
            return NULL;
        }
        g->nodes = n;
        g->capnodes = cap;
    }
    node *n = &g->nodes[g->nnodes++];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->out = out;
    n->in[0] = a;
    n->in[1] = b;
    n->in[2] = c;
    return n;
}

static int needs_grad(const pd_val *a, const pd_val *b, const pd_val *c) {
    return (a && a->g) || (b && b->g) || (c && c->g);
}

#define OUT(g, nd, shp, a, b, c)                                               \
    pd_val *y = make_val((g), (nd), (shp), needs_grad((a), (b), (c)));         \
    if (!y) {                                                                  \
        (g)->failed = 1;                                                       \
        return &dummy_val;                                                     \
    }

/* optional operands (bias, affine) may be NULL */
static float *GRAD(const pd_val *t) { return t ? t->g : NULL; }
static float *VAL(const pd_val *t) { return t ? t->v : NULL; }

pd_val *pd_g_input(pd_graph *g, float *data, int ndim, const size_t *shape,
                   int requires_grad) {
    pd_val *x = pd_g_alloc_zero(g, sizeof *x);
    if (!x) return &dummy_val;
    x->v = data;
    x->ndim = ndim;
    x->numel = 1;
    for (int i = 0; i < ndim; i++) {
        x->shape[i] = shape[i];
        x->numel *= shape[i];
    }
    for (int i = ndim; i < 4; i++) x->shape[i] = 1;
    if (requires_grad && g->grad) {
        x->g = pd_g_alloc_zero(g, x->numel * sizeof(float));
        if (!x->g) return &dummy_val;
    }
    return x;
}

pd_val *pd_g_new(pd_graph *g, int ndim, const size_t *shape, int requires_grad) {
    pd_val *x = make_val(g, ndim, shape, requires_grad);
    if (!x) {
        g->failed = 1;
        return &dummy_val;
    }
    memset(x->v, 0, x->numel * sizeof(float));
    return x;
}

pd_val *pd_g_param(pd_graph *g, pd_tensor *t) {
    pd_val *x = pd_g_input(g, t->data, t->ndim, t->shape, 0);
    if (x != &dummy_val && g->grad && (t->flags & PD_TRAINABLE)) x->g = t->grad;
    return x;
}

pd_val *pd_g_view(pd_graph *g, pd_val *x, int ndim, const size_t *shape) {
    pd_val *y = pd_g_alloc_zero(g, sizeof *y);
    if (!y) return &dummy_val;
    *y = *x;
    y->ndim = ndim;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        y->shape[i] = shape[i];
        numel *= shape[i];
    }
    for (int i = ndim; i < 4; i++) y->shape[i] = 1;
    if (numel != x->numel) {
        g->failed = 1;
        return &dummy_val;
    }
    return y;
}

/* product of dims from index `from` on */
static size_t tail_size(const pd_val *x, int from) {
    size_t s = 1;
    for (int i = from; i < x->ndim; i++) s *= x->shape[i];
    return s;
}

pd_val *pd_g_linear(pd_graph *g, pd_val *x, pd_val *w, pd_val *b) {
    pd_linear_shape s = {x->shape[0], tail_size(x, 1), w->shape[0]};
    size_t shp[2] = {s.n, s.out};
    OUT(g, 2, shp, x, w, b);
    pd_linear_forward(y->v, x->v, w->v, VAL(b), &s);
    node *n = push(g, N_LINEAR, y, x, w, b);
    if (n) n->s.lin = s;
    return y;
}

pd_val *pd_g_chunk_linear(pd_graph *g, pd_val *x, pd_val *w, pd_val *b) {
    pd_chunk_linear_shape s = {x->shape[0], w->shape[0], w->shape[2], w->shape[1]};
    if (w->ndim != 3 || x->numel != s.n * s.chunks * s.in || (b && b->numel != s.chunks * s.out)) {
        g->failed = 1;
        return &dummy_val;
    }
    size_t shp[3] = {s.n, s.chunks, s.out};
    OUT(g, 3, shp, x, w, b);
    pd_chunk_linear_forward(y->v, x->v, w->v, VAL(b), &s);
    node *n = push(g, N_CHUNK_LINEAR, y, x, w, b);
    if (n) n->s.chl = s;
    return y;
}

pd_val *pd_g_conv1d(pd_graph *g, pd_val *x, pd_val *w, pd_val *b,
                    size_t stride, size_t pad) {
    pd_conv1d_shape s = {x->shape[0], x->shape[1], w->shape[0], x->shape[2],
                         w->shape[2], stride, pad, g->math, g->conv_algo};
    size_t shp[3] = {s.n, s.cout, pd_conv1d_lout(&s)};
    OUT(g, 3, shp, x, w, b);
    float *scratch = pd_g_alloc(g, pd_conv1d_scratch(&s) * sizeof(float));
    if (!scratch) return &dummy_val;
    pd_conv1d_forward(y->v, x->v, w->v, VAL(b), &s, scratch);
    node *n = push(g, N_CONV1D, y, x, w, b);
    if (n) n->s.c1 = s;
    return y;
}

pd_val *pd_g_convt1d(pd_graph *g, pd_val *x, pd_val *w, pd_val *b,
                     size_t stride, size_t pad, size_t out_pad) {
    pd_convt1d_shape s = {x->shape[0], x->shape[1], w->shape[1], x->shape[2],
                          w->shape[2], stride, pad, out_pad, g->math, g->conv_algo};
    size_t shp[3] = {s.n, s.cout, pd_convt1d_lout(&s)};
    OUT(g, 3, shp, x, w, b);
    float *scratch = pd_g_alloc(g, pd_convt1d_scratch(&s) * sizeof(float));
    if (!scratch) return &dummy_val;
    pd_convt1d_forward(y->v, x->v, w->v, VAL(b), &s, scratch);
    node *n = push(g, N_CONVT1D, y, x, w, b);
    if (n) n->s.ct = s;
    return y;
}

pd_val *pd_g_conv2d(pd_graph *g, pd_val *x, pd_val *w, pd_val *b,
                    size_t stride, size_t pad) {
    pd_conv2d_shape s = {x->shape[0], x->shape[1], w->shape[0], x->shape[2],
                         x->shape[3], w->shape[2], stride, pad, g->math, g->conv_algo};
    size_t shp[4] = {s.n, s.cout, pd_conv2d_hout(&s), pd_conv2d_wout(&s)};
    OUT(g, 4, shp, x, w, b);
    float *scratch = pd_g_alloc(g, pd_conv2d_scratch(&s) * sizeof(float));
    if (!scratch) return &dummy_val;
    pd_conv2d_forward(y->v, x->v, w->v, VAL(b), &s, scratch);
    node *n = push(g, N_CONV2D, y, x, w, b);
    if (n) n->s.c2 = s;
    return y;
}

pd_val *pd_g_conv2d_relu_maxpool(pd_graph *g, pd_val *x, pd_val *w, pd_val *b, size_t stride,
                                 size_t pad, size_t k, size_t pool_stride) {
    pd_conv2d_shape s = {x->shape[0], x->shape[1], w->shape[0], x->shape[2],
                         x->shape[3], w->shape[2], stride, pad, g->math, g->conv_algo};
    pd_pool2d_shape p = {s.n, s.cout, pd_conv2d_hout(&s), pd_conv2d_wout(&s), k, pool_stride};
    if (!g->grad && !g->failed && p.h >= k && p.w >= k &&
        (s.algo == PD_CONV_AUTO || s.algo == PD_CONV_DNNL)) {
        size_t shp[4] = {s.n, s.cout, pd_pool2d_hout(&p), pd_pool2d_wout(&p)};
        OUT(g, 4, shp, x, w, b);
        if (pd_conv2d_relu_maxpool_dnnl(y->v, x->v, w->v, VAL(b), &s, k, pool_stride)) return y;
    }
    /* with gradients, or where oneDNN has no kernel: the three ops */
    pd_val *h = pd_g_act(g, pd_g_conv2d(g, x, w, b, stride, pad), PD_ACT_RELU, 0.0f);
    return pd_g_maxpool2d(g, h, k, pool_stride);
}

pd_val *pd_g_maxpool2d(pd_graph *g, pd_val *x, size_t k, size_t stride) {
    pd_pool2d_shape s = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], k, stride};
    size_t shp[4] = {s.n, s.c, pd_pool2d_hout(&s), pd_pool2d_wout(&s)};
    OUT(g, 4, shp, x, NULL, NULL);
    if (!g->grad) { /* no tape: the values, without an argmax for backward */
        pd_maxpool2d_forward(y->v, NULL, x->v, &s);
        return y;
    }
    int32_t *argmax = pd_g_alloc(g, y->numel * sizeof(int32_t));
    if (!argmax) return &dummy_val;
    pd_maxpool2d_forward(y->v, argmax, x->v, &s);
    node *n = push(g, N_MAXPOOL, y, x, NULL, NULL);
    if (n) {
        n->s.pool = s;
        n->ci = argmax;
    }
    return y;
}

pd_val *pd_g_bn_relu_maxpool_eval(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                                  const float *running_mean, const float *running_var,
                                  float eps, size_t k, size_t stride) {
    if (g->grad) { /* the fused kernel has no backward: the three ops */
        pd_val *h = pd_g_batchnorm(g, x, gamma, beta, (float *)running_mean,
                                   (float *)running_var, 0, 0.0f, eps);
        return pd_g_maxpool2d(g, pd_g_act(g, h, PD_ACT_RELU, 0.0f), k, stride);
    }
    pd_pool2d_shape s = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], k, stride};
    size_t shp[4] = {s.n, s.c, pd_pool2d_hout(&s), pd_pool2d_wout(&s)};
    OUT(g, 4, shp, x, gamma, beta);
    pd_bn_relu_maxpool_eval(y->v, x->v, VAL(gamma), VAL(beta), running_mean, running_var,
                            eps, &s);
    return y;
}

pd_val *pd_g_bn_relu_maxpool_train(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                                   float *running_mean, float *running_var, float momentum,
                                   float eps) {
    if (x->ndim != 4 || x->shape[2] < 2 || x->shape[3] < 2) { /* the three ops */
        pd_val *h = pd_g_batchnorm(g, x, gamma, beta, running_mean, running_var, 1, momentum,
                                   eps);
        return pd_g_maxpool2d(g, pd_g_act(g, h, PD_ACT_RELU, 0.0f), 2, 2);
    }
    pd_pool2d_shape s = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], 2, 2};
    pd_norm_shape ns = {s.n, s.c, s.h * s.w, eps};
    size_t shp[4] = {s.n, s.c, pd_pool2d_hout(&s), pd_pool2d_wout(&s)};
    OUT(g, 4, shp, x, gamma, beta);
    float *mean = pd_g_alloc(g, s.c * sizeof(float));
    float *rstd = pd_g_alloc(g, s.c * sizeof(float));
    int32_t *argmax = pd_g_alloc(g, y->numel * sizeof(int32_t));
    if (!mean || !rstd || !argmax) return &dummy_val;
    pd_batchnorm_stats_train(mean, rstd, running_mean, running_var, x->v, momentum, &ns);
    pd_bn_relu_maxpool_train_forward(y->v, argmax, x->v, mean, rstd, VAL(gamma), VAL(beta), &s);
    node *n = push(g, N_BN_RELU_POOL, y, x, gamma, beta);
    if (n) {
        n->s.pool = s;
        n->ci = argmax;
        n->saved1 = mean;
        n->saved2 = rstd;
    }
    return y;
}

pd_val *pd_g_bn_relu_windows_eval(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                                  const float *running_mean, const float *running_var,
                                  float eps) {
    /* x (n, c, 2 ho, wo): the windows of an (n, c, 2 ho, 2 wo) input */
    pd_pool2d_shape s = {x->shape[0], x->shape[1], x->shape[2], 2 * x->shape[3], 2, 2};
    size_t shp[4] = {s.n, s.c, x->shape[2] / 2, x->shape[3]};
    OUT(g, 4, shp, x, gamma, beta);
    pd_bn_relu_windows_eval(y->v, x->v, VAL(gamma), VAL(beta), running_mean, running_var, eps,
                            &s);
    return y;
}

pd_val *pd_g_gap(pd_graph *g, pd_val *x) {
    size_t shp[2] = {x->shape[0], x->shape[1]};
    OUT(g, 2, shp, x, NULL, NULL);
    pd_gap_forward(y->v, x->v, shp[0], shp[1], tail_size(x, 2));
    push(g, N_GAP, y, x, NULL, NULL);
    return y;
}

pd_val *pd_g_batchnorm(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                       float *running_mean, float *running_var, int train,
                       float momentum, float eps) {
    pd_norm_shape s = {x->shape[0], x->shape[1], tail_size(x, 2), eps};
    OUT(g, x->ndim, x->shape, x, gamma, beta);
    node *n;
    if (train) {
        float *mean = pd_g_alloc(g, s.c * sizeof(float));
        float *rstd = pd_g_alloc(g, s.c * sizeof(float));
        if (!mean || !rstd) return &dummy_val;
        pd_batchnorm_forward_train(y->v, mean, rstd, running_mean, running_var,
                                   x->v, VAL(gamma), VAL(beta), momentum, &s);
        n = push(g, N_BN_TRAIN, y, x, gamma, beta);
        if (n) {
            n->saved1 = mean;
            n->saved2 = rstd;
        }
    } else {
        pd_batchnorm_forward_eval(y->v, x->v, VAL(gamma), VAL(beta), running_mean,
                                  running_var, &s);
        n = push(g, N_BN_EVAL, y, x, gamma, beta);
        if (n) {
            n->cf = running_mean;
            n->cf2 = running_var;
        }
    }
    if (n) n->s.norm = s;
    return y;
}

pd_val *pd_g_lrelu_groupnorm(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                             size_t groups, float slope, float eps) {
    pd_norm_shape s = {x->shape[0], x->shape[1], tail_size(x, 2), eps};
    OUT(g, x->ndim, x->shape, x, gamma, beta);
    float *mean = pd_g_alloc(g, s.n * groups * sizeof(float));
    float *rstd = pd_g_alloc(g, s.n * groups * sizeof(float));
    if (!mean || !rstd) return &dummy_val;
    pd_lrelu_groupnorm_forward(y->v, mean, rstd, x->v, VAL(gamma), VAL(beta), groups,
                               slope, &s);
    node *n = push(g, N_GN, y, x, gamma, beta);
    if (n) {
        n->s.norm = s;
        n->groups = groups;
        n->a = slope;
        n->saved1 = mean;
        n->saved2 = rstd;
    }
    return y;
}

pd_val *pd_g_groupnorm(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                       size_t groups, float eps) {
    return pd_g_lrelu_groupnorm(g, x, gamma, beta, groups, 1.0f, eps);
}

pd_val *pd_g_act(pd_graph *g, pd_val *x, pd_act act, float alpha) {
    OUT(g, x->ndim, x->shape, x, NULL, NULL);
    pd_act_forward(y->v, x->v, x->numel, act, alpha);
    node *n = push(g, N_ACT, y, x, NULL, NULL);
    if (n) {
        n->act = act;
        n->a = alpha;
    }
    return y;
}

pd_val *pd_g_clamp(pd_graph *g, pd_val *x, float lo, float hi) {
    OUT(g, x->ndim, x->shape, x, NULL, NULL);
    pd_clamp_forward(y->v, x->v, x->numel, lo, hi);
    node *n = push(g, N_CLAMP, y, x, NULL, NULL);
    if (n) {
        n->a = lo;
        n->b = hi;
    }
    return y;
}

pd_val *pd_g_add(pd_graph *g, pd_val *a, pd_val *b) {
    if (a->numel != b->numel) {
        g->failed = 1;
        return &dummy_val;
    }
    OUT(g, a->ndim, a->shape, a, b, NULL);
    pd_add_forward(y->v, a->v, b->v, a->numel);
    push(g, N_ADD, y, a, b, NULL);
    return y;
}

pd_val *pd_g_slice_channels(pd_graph *g, pd_val *x, size_t c0, size_t c) {
    if (x->ndim < 2 || c0 + c > x->shape[1]) {
        g->failed = 1;
        return &dummy_val;
    }
    size_t shp[4] = {x->shape[0], c, x->shape[2], x->shape[3]};
    OUT(g, x->ndim, shp, x, NULL, NULL);
    pd_slice_channels_forward(y->v, x->v, x->shape[0], x->shape[1], c0, c, tail_size(x, 2));
    node *n = push(g, N_SLICE, y, x, NULL, NULL);
    if (n) n->n = c0;
    return y;
}

pd_val *pd_g_scale_add(pd_graph *g, pd_val *x, float scale, const float *noise) {
    OUT(g, x->ndim, x->shape, x, NULL, NULL);
    for (size_t i = 0; i < x->numel; i++)
        y->v[i] = x->v[i] * scale + (noise ? noise[i] : 0.0f);
    node *n = push(g, N_SCALE_ADD, y, x, NULL, NULL);
    if (n) n->a = scale;
    return y;
}

pd_val *pd_g_add_rows(pd_graph *g, pd_val *x, pd_val *e) {
    size_t nb = x->shape[0], c = x->shape[1], l = tail_size(x, 2);
    if (e->numel != nb * l) {
        g->failed = 1;
        return &dummy_val;
    }
    OUT(g, x->ndim, x->shape, x, e, NULL);
    for (size_t i = 0; i < nb; i++)
        for (size_t ch = 0; ch < c; ch++)
            for (size_t j = 0; j < l; j++)
                y->v[(i * c + ch) * l + j] = x->v[(i * c + ch) * l + j] + e->v[i * l + j];
    push(g, N_ADD_ROWS, y, x, e, NULL);
    return y;
}

pd_val *pd_g_embedding(pd_graph *g, pd_val *table, const int32_t *idx, size_t n) {
    size_t dim = table->shape[1];
    size_t shp[2] = {n, dim};
    OUT(g, 2, shp, table, NULL, NULL);
    pd_embedding_forward(y->v, table->v, idx, n, dim);
    node *nd = push(g, N_EMBEDDING, y, table, NULL, NULL);
    if (nd) {
        int32_t *copy = pd_g_alloc(g, n * sizeof(int32_t));
        if (copy) memcpy(copy, idx, n * sizeof(int32_t));
        nd->ci = copy;
        nd->n = n;
    }
    return y;
}

pd_val *pd_g_resize_last(pd_graph *g, pd_val *x, size_t l2) {
    size_t rows = x->numel / x->shape[x->ndim - 1], l = x->shape[x->ndim - 1];
    size_t shp[4];
    memcpy(shp, x->shape, sizeof shp);
    shp[x->ndim - 1] = l2;
    OUT(g, x->ndim, shp, x, NULL, NULL);
    size_t keep = l < l2 ? l : l2;
    for (size_t r = 0; r < rows; r++) {
        memcpy(y->v + r * l2, x->v + r * l, keep * sizeof(float));
        memset(y->v + r * l2 + keep, 0, (l2 - keep) * sizeof(float));
    }
    push(g, N_RESIZE, y, x, NULL, NULL);
    return y;
}

pd_val *pd_g_reparam(pd_graph *g, pd_val *mu, pd_val *logvar, const float *eps) {
    OUT(g, mu->ndim, mu->shape, mu, logvar, NULL);
    for (size_t i = 0; i < mu->numel; i++)
        y->v[i] = mu->v[i] + expf(0.5f * logvar->v[i]) * eps[i];
    node *n = push(g, N_REPARAM, y, mu, logvar, NULL);
    if (n) n->cf = eps;
    return y;
}

pd_val *pd_g_kl(pd_graph *g, pd_val *mu, pd_val *logvar) {
    size_t one = 1;
    OUT(g, 1, &one, mu, logvar, NULL);
    double s = 0.0;
    for (size_t i = 0; i < mu->numel; i++)
        s += -0.5 * (1.0 + logvar->v[i] - (double)mu->v[i] * mu->v[i] - exp(logvar->v[i]));
    y->v[0] = (float)(s / (double)mu->numel);
    push(g, N_KL, y, mu, logvar, NULL);
    return y;
}

pd_val *pd_g_mse(pd_graph *g, pd_val *x, const float *target) {
    size_t one = 1;
    OUT(g, 1, &one, x, NULL, NULL);
    y->v[0] = (float)pd_mse_forward(x->v, target, x->numel);
    node *n = push(g, N_MSE, y, x, NULL, NULL);
    if (n) n->cf = target;
    return y;
}

pd_val *pd_g_xent(pd_graph *g, pd_val *logits, const int32_t *labels) {
    size_t one = 1, nb = logits->shape[0], c = logits->shape[1];
    OUT(g, 1, &one, logits, NULL, NULL);
    float *probs = pd_g_alloc(g, nb * c * sizeof(float));
    if (!probs) return &dummy_val;
    y->v[0] = (float)pd_xent_forward(probs, logits->v, labels, nb, c);
    node *n = push(g, N_XENT, y, logits, NULL, NULL);
    if (n) {
        n->saved1 = probs;
        n->ci = labels;
    }
    return y;
}

pd_val *pd_g_sum2(pd_graph *g, pd_val *a, float wa, pd_val *b, float wb) {
    size_t one = 1;
    OUT(g, 1, &one, a, b, NULL);
    y->v[0] = a->v[0] * wa + b->v[0] * wb;
    node *n = push(g, N_SUM2, y, a, b, NULL);
    if (n) {
        n->a = wa;
        n->b = wb;
    }
    return y;
}

static void backward_node(pd_graph *g, node *n) {
    pd_val *y = n->out, *a = n->in[0], *b = n->in[1], *c = n->in[2];
    float *scratch;
    switch (n->kind) {
    case N_LINEAR:
        pd_linear_backward(GRAD(a), GRAD(b), GRAD(c), y->g, a->v, b->v, &n->s.lin);
        break;
    case N_CHUNK_LINEAR:
        pd_chunk_linear_backward(GRAD(a), GRAD(b), GRAD(c), y->g, a->v, b->v, &n->s.chl);
        break;
    case N_CONV1D:
        scratch = pd_g_alloc(g, pd_conv1d_scratch(&n->s.c1) * sizeof(float));
        if (scratch)
            pd_conv1d_backward(GRAD(a), GRAD(b), GRAD(c), y->g, a->v, b->v, &n->s.c1, scratch);
        break;
    case N_CONVT1D:
        scratch = pd_g_alloc(g, pd_convt1d_scratch(&n->s.ct) * sizeof(float));
        if (scratch)
            pd_convt1d_backward(GRAD(a), GRAD(b), GRAD(c), y->g, a->v, b->v, &n->s.ct, scratch);
        break;
    case N_CONV2D:
        scratch = pd_g_alloc(g, pd_conv2d_scratch(&n->s.c2) * sizeof(float));
        if (scratch)
            pd_conv2d_backward(GRAD(a), GRAD(b), GRAD(c), y->g, a->v, b->v, &n->s.c2, scratch);
        break;
    case N_MAXPOOL:
        if (a->g) pd_maxpool2d_backward(a->g, y->g, n->ci, &n->s.pool);
        break;
    case N_GAP:
        if (a->g) pd_gap_backward(a->g, y->g, a->shape[0], a->shape[1], tail_size(a, 2));
        break;
    case N_BN_TRAIN:
        pd_batchnorm_backward_train(GRAD(a), GRAD(b), GRAD(c), y->g, a->v, n->saved1,
                                    n->saved2, VAL(b), &n->s.norm);
        break;
    case N_BN_RELU_POOL:
        pd_bn_relu_maxpool_train_backward(GRAD(a), GRAD(b), GRAD(c), y->g, y->v, n->ci, a->v,
                                          n->saved1, n->saved2, VAL(b), &n->s.pool);
        break;
    case N_BN_EVAL:
        pd_batchnorm_backward_eval(GRAD(a), GRAD(b), GRAD(c), y->g, a->v, VAL(b), n->cf,
                                   n->cf2, &n->s.norm);
        break;
    case N_GN:
        pd_lrelu_groupnorm_backward(GRAD(a), GRAD(b), GRAD(c), y->g, a->v, n->saved1,
                                    n->saved2, VAL(b), n->groups, n->a, &n->s.norm);
        break;
    case N_ACT:
        if (a->g) pd_act_backward(a->g, y->g, a->v, y->v, a->numel, n->act, n->a);
        break;
    case N_CLAMP:
        if (a->g) pd_clamp_backward(a->g, y->g, a->v, a->numel, n->a, n->b);
        break;
    case N_ADD:
        pd_add_backward(GRAD(a), GRAD(b), y->g, y->numel);
        break;
    case N_SLICE:
        if (a->g)
            pd_slice_channels_backward(a->g, y->g, a->shape[0], a->shape[1], n->n, y->shape[1],
                                       tail_size(a, 2));
        break;
    case N_SCALE_ADD:
        if (a->g)
            for (size_t i = 0; i < a->numel; i++) a->g[i] += n->a * y->g[i];
        break;
    case N_ADD_ROWS: {
        size_t nb = a->shape[0], ch = a->shape[1], l = tail_size(a, 2);
        if (a->g)
            for (size_t i = 0; i < a->numel; i++) a->g[i] += y->g[i];
        if (b->g)
            for (size_t i = 0; i < nb; i++)
                for (size_t k = 0; k < ch; k++)
                    for (size_t j = 0; j < l; j++)
                        b->g[i * l + j] += y->g[(i * ch + k) * l + j];
        break;
    }
    case N_EMBEDDING:
        if (a->g && n->ci) pd_embedding_backward(a->g, y->g, n->ci, n->n, a->shape[1]);
        break;
    case N_RESIZE: {
        size_t l = a->shape[a->ndim - 1], l2 = y->shape[y->ndim - 1];
        size_t rows = a->numel / l, keep = l < l2 ? l : l2;
        if (a->g)
            for (size_t r = 0; r < rows; r++)
                for (size_t j = 0; j < keep; j++) a->g[r * l + j] += y->g[r * l2 + j];
        break;
    }
    case N_REPARAM:
        for (size_t i = 0; i < a->numel; i++) {
            float s = expf(0.5f * b->v[i]);
            if (a->g) a->g[i] += y->g[i];
            if (b->g) b->g[i] += y->g[i] * 0.5f * s * n->cf[i];
        }
        break;
    case N_KL: {
        float k = y->g[0] / (float)a->numel;
        for (size_t i = 0; i < a->numel; i++) {
            if (a->g) a->g[i] += k * a->v[i];
            if (b->g) b->g[i] += k * 0.5f * (expf(b->v[i]) - 1.0f);
        }
        break;
    }
    case N_MSE:
        if (a->g) pd_mse_backward(a->g, a->v, n->cf, a->numel, y->g[0]);
        break;
    case N_XENT:
        if (a->g) pd_xent_backward(a->g, n->saved1, n->ci, a->shape[0], a->shape[1], y->g[0]);
        break;
    case N_SUM2:
        if (a->g) a->g[0] += n->a * y->g[0];
        if (b->g) b->g[0] += n->b * y->g[0];
        break;
    }
}

void pd_g_backward(pd_graph *g, pd_val *loss) {
    if (!loss->g) return;
    loss->g[0] = 1.0f;
    for (size_t i = g->nnodes; i-- > 0;) backward_node(g, &g->nodes[i]);
}
