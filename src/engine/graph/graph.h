/*
 * graph.h — a small tape for reverse-mode differentiation over the kernels
 * of ops.h. Each pd_g_* call runs an op's forward at once, allocates its
 * output from the graph's arena and records a node; pd_g_backward walks the
 * nodes in reverse and calls each op's backward. pd_g_reset forgets the
 * tape and recycles the arena, so a training step allocates nothing after
 * the first.
 *
 * A value carries a gradient buffer only when something upstream needs
 * one (a trainable parameter, or an input marked requires_grad), so frozen
 * prefixes and evaluation passes cost forward work only.
 */
#ifndef PD_GRAPH_H
#define PD_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "engine/ops/ops.h"
#include "pdiff_net.h"

struct pd_val {
    float *v;          /* values */
    float *g;          /* gradient, NULL when no gradient flows here */
    int ndim;
    size_t shape[4];
    size_t numel;
    /* shape (n, c, 2 ho, wo) holding pd_pool2x2_windows of an (n, c, h, w)
     * tensor (laid out (n, 2, c, ho, wo)); read only by pd_nn_bn_relu_pool
     * in evaluation (pd_feats_pool_windows) */
    int windows;
    /* shape (n, 2c, ...): the entry stage's frozen head output, then its
     * input (pd_net.stage_head, pd_compute_features) */
    int head;
};

/* pd_graph_new / pd_graph_free are public (pdiff_net.h) */
/* an empty graph with g's settings (gradients, math, conv algorithm): a
 * worker's own, beside g */
pd_graph *pd_g_new_like(const pd_graph *g);
/* drop the tape and reuse the arena */
void pd_g_reset(pd_graph *g);
/* 0: no tape, no gradients (evaluation); 1: record (default) */
void pd_g_set_grad(pd_graph *g, int enabled);
/* arithmetic used by the convolutions (PD_MATH_F32 now) */
void pd_g_set_math(pd_graph *g, pd_math math);
/* the conv1d / conv_transpose1d algorithm of this graph's nodes
 * (PD_CONV_AUTO, the default: by shape; tests and benchmarks force one) */
void pd_g_set_conv_algo(pd_graph *g, pd_conv_algo a);
/* arena memory valid until the next reset, uninitialised (NaN-filled in
 * Debug and sanitizer builds); NULL on failure. */
void *pd_g_alloc(pd_graph *g, size_t bytes);
/* arena bytes taken since the last reset */
size_t pd_g_bytes_used(const pd_graph *g);
/* the same, zeroed */
void *pd_g_alloc_zero(pd_graph *g, size_t bytes);
/* non-zero once any allocation failed; ops then return dummy values and
 * the caller must check this before trusting results */
int pd_g_failed(const pd_graph *g);

/* wrap caller memory (not copied). requires_grad allocates a gradient. */
pd_val *pd_g_input(pd_graph *g, float *data, int ndim, const size_t *shape,
                   int requires_grad);
/* a new arena tensor, zeroed */
pd_val *pd_g_new(pd_graph *g, int ndim, const size_t *shape, int requires_grad);
/* a parameter: gradient = t->grad when the tensor is trainable and the
 * graph records gradients */
pd_val *pd_g_param(pd_graph *g, pd_tensor *t);
/* same memory, new shape (same numel) */
pd_val *pd_g_view(pd_graph *g, pd_val *x, int ndim, const size_t *shape);

/* ---- ops (shapes as in ops.h) ------------------------------------------ */
pd_val *pd_g_linear(pd_graph *g, pd_val *x, pd_val *w, pd_val *b);
/* x (n, T, in) or (n, T·in), w (T, out, in), b (T, out) → (n, T, out) */
pd_val *pd_g_chunk_linear(pd_graph *g, pd_val *x, pd_val *w, pd_val *b);
pd_val *pd_g_conv1d(pd_graph *g, pd_val *x, pd_val *w, pd_val *b,
                    size_t stride, size_t pad);
pd_val *pd_g_convt1d(pd_graph *g, pd_val *x, pd_val *w, pd_val *b,
                     size_t stride, size_t pad, size_t out_pad);
pd_val *pd_g_conv2d(pd_graph *g, pd_val *x, pd_val *w, pd_val *b,
                    size_t stride, size_t pad);
pd_val *pd_g_maxpool2d(pd_graph *g, pd_val *x, size_t k, size_t stride);
/* max_pool2d(relu(conv2d)) in one oneDNN pass when the graph records no
 * gradients (evaluation) and oneDNN runs the shape; otherwise the three ops */
pd_val *pd_g_conv2d_relu_maxpool(pd_graph *g, pd_val *x, pd_val *w, pd_val *b, size_t stride,
                                 size_t pad, size_t k, size_t pool_stride);
/* max_pool2d(relu(batch_norm in eval mode)) fused, when the graph records
 * no gradients (evaluation); with gradients on, the three ops */
pd_val *pd_g_bn_relu_maxpool_eval(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                                  const float *running_mean, const float *running_var,
                                  float eps, size_t k, size_t stride);
/* max_pool2d(relu(batch_norm in training mode)), 2 x 2, stride 2, fused:
 * batch statistics (running statistics updated), then one pass that never
 * writes the normalised or activated tensor; backward likewise. The same
 * forward values as the three ops, to the bit */
pd_val *pd_g_bn_relu_maxpool_train(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                                   float *running_mean, float *running_var, float momentum,
                                   float eps);
/* the same op entered with pooled windows (x->windows): y (n, c, ho, wo) */
pd_val *pd_g_bn_relu_windows_eval(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                                  const float *running_mean, const float *running_var,
                                  float eps);
pd_val *pd_g_gap(pd_graph *g, pd_val *x); /* (n, c, ...) → (n, c) */
/* batch norm over (n, c, rest...). train: batch statistics, running stats
 * updated (momentum); eval: running statistics. gamma/beta may be NULL. */
pd_val *pd_g_batchnorm(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                       float *running_mean, float *running_var, int train,
                       float momentum, float eps);
/* group norm over (n, c, rest...); groups = c is instance norm */
pd_val *pd_g_groupnorm(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                       size_t groups, float eps);
/* group norm of LeakyReLU(x) (slope), fused: the activation is not stored */
pd_val *pd_g_lrelu_groupnorm(pd_graph *g, pd_val *x, pd_val *gamma, pd_val *beta,
                             size_t groups, float slope, float eps);
pd_val *pd_g_act(pd_graph *g, pd_val *x, pd_act act, float alpha);
pd_val *pd_g_clamp(pd_graph *g, pd_val *x, float lo, float hi);
pd_val *pd_g_add(pd_graph *g, pd_val *a, pd_val *b);
/* channels [c0, c0 + c) of x (n, C, ...) */
pd_val *pd_g_slice_channels(pd_graph *g, pd_val *x, size_t c0, size_t c);
/* y = x * scale + noise (noise: constant, may be NULL) — noise augmentation */
pd_val *pd_g_scale_add(pd_graph *g, pd_val *x, float scale, const float *noise);
/* x (n, c, l) + e (n, l) broadcast over channels — time embedding */
pd_val *pd_g_add_rows(pd_graph *g, pd_val *x, pd_val *e);
pd_val *pd_g_embedding(pd_graph *g, pd_val *table, const int32_t *idx, size_t n);
/* last-dim zero padding (n, c, l) → (n, c, l2 >= l), and crop to l2 <= l */
pd_val *pd_g_resize_last(pd_graph *g, pd_val *x, size_t l2);
/* VAE: z = mu + exp(logvar / 2) eps */
pd_val *pd_g_reparam(pd_graph *g, pd_val *mu, pd_val *logvar, const float *eps);
/* VAE KL term: mean over all elements of -0.5 (1 + lv - mu^2 - exp(lv)) */
pd_val *pd_g_kl(pd_graph *g, pd_val *mu, pd_val *logvar);
/* scalar losses */
pd_val *pd_g_mse(pd_graph *g, pd_val *x, const float *target);
pd_val *pd_g_xent(pd_graph *g, pd_val *logits, const int32_t *labels);
/* a * w_a + b * w_b for scalars (loss mixing) */
pd_val *pd_g_sum2(pd_graph *g, pd_val *a, float wa, pd_val *b, float wb);

/* seed d(loss) = 1 and run the tape backwards */
void pd_g_backward(pd_graph *g, pd_val *loss);

#endif
