/*
 * ops.h — fp32 kernels of pdiff: forward and backward of every op family.
 *
 * Conventions (kept by every kernel here):
 *  - outputs first, then const inputs, then a shape struct; the caller owns
 *    all memory, including scratch buffers whose size a *_scratch() call says.
 *  - layouts follow PyTorch: NCL for 1-D, NCHW for 2-D, (out, in) for linear
 *    weights, (Cout, Cin, K) for conv1d, (Cin, Cout, K) for conv_transpose1d.
 *  - backward ADDS into every gradient it is given (dx, dw, db); a NULL
 *    gradient pointer means "not needed" and is skipped.
 *  - counts are size_t. Constants (eps, momentum, slope) are arguments.
 *  - `math` selects the arithmetic: PD_MATH_F32, or PD_MATH_BF16 (bf16
 *    inputs and weights, fp32 accumulation and outputs), which conv1d runs
 *    through oneDNN where the CPU and the build allow (conv_dnnl.h) and
 *    every other kernel runs as fp32.
 */
#ifndef PD_OPS_H
#define PD_OPS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PD_MATH_F32 = 0, PD_MATH_BF16 = 1 } pd_math;

/* ---- linear: y = x W^T + b (torch.nn.functional.linear) ---------------- */
typedef struct { size_t n, in, out; } pd_linear_shape;
/* x (n, in), w (out, in), b (out) or NULL → y (n, out) */
void pd_linear_forward(float *y, const float *x, const float *w, const float *b,
                       const pd_linear_shape *s);
void pd_linear_backward(float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, const pd_linear_shape *s);

/* how conv1d and conv_transpose1d compute (im2col.h explains each):
 * PD_CONV_AUTO (0, what a zeroed field gives) chooses by shape; any other
 * value forces that algorithm for this call (tests and benchmarks; SHIFT
 * falls back to IM2COL where it does not apply) */
typedef enum {
    PD_CONV_AUTO = 0,
    PD_CONV_DIRECT,
    PD_CONV_SHIFT,
    PD_CONV_IM2COL,
    PD_CONV_SAMPLE,
    PD_CONV_DNNL /* oneDNN (conv_dnnl.h); IM2COL where it has no kernel */
} pd_conv_algo;

/* ---- chunk linear: a linear map per chunk (chunk_linear.c) -------------- */
typedef struct { size_t n, chunks, in, out; } pd_chunk_linear_shape;
/* x (n, chunks, in), w (chunks, out, in), b (chunks, out) or NULL → y (n, chunks, out) */
void pd_chunk_linear_forward(float *y, const float *x, const float *w, const float *b,
                             const pd_chunk_linear_shape *s);
void pd_chunk_linear_backward(float *dx, float *dw, float *db, const float *dy,
                              const float *x, const float *w,
                              const pd_chunk_linear_shape *s);

/* ---- conv1d (torch.nn.functional.conv1d, dilation 1, groups 1) ---------- */
typedef struct {
    size_t n, cin, cout, lin, k, stride, pad;
    pd_math math;
    pd_conv_algo algo;
} pd_conv1d_shape;
size_t pd_conv1d_lout(const pd_conv1d_shape *s); /* (lin + 2 pad - k)/stride + 1 */
size_t pd_conv1d_scratch(const pd_conv1d_shape *s); /* floats of scratch */
/* x (n, cin, lin), w (cout, cin, k), b (cout) or NULL → y (n, cout, lout) */
void pd_conv1d_forward(float *y, const float *x, const float *w, const float *b,
                       const pd_conv1d_shape *s, float *scratch);
void pd_conv1d_backward(float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, const pd_conv1d_shape *s,
                        float *scratch);

/* ---- conv_transpose1d (torch.nn.functional.conv_transpose1d) ----------- */
typedef struct {
    size_t n, cin, cout, lin, k, stride, pad, out_pad;
    pd_math math;
    pd_conv_algo algo; /* as pd_conv1d_shape's */
} pd_convt1d_shape;
/* lout = (lin - 1) stride - 2 pad + k + out_pad */
size_t pd_convt1d_lout(const pd_convt1d_shape *s);
size_t pd_convt1d_scratch(const pd_convt1d_shape *s);
/* x (n, cin, lin), w (cin, cout, k), b (cout) or NULL → y (n, cout, lout) */
void pd_convt1d_forward(float *y, const float *x, const float *w, const float *b,
                        const pd_convt1d_shape *s, float *scratch);
void pd_convt1d_backward(float *dx, float *dw, float *db, const float *dy,
                         const float *x, const float *w,
                         const pd_convt1d_shape *s, float *scratch);

/* ---- conv2d (torch.nn.functional.conv2d, square kernel, groups 1) ------- */
/* algo: PD_CONV_AUTO (the default) and PD_CONV_DNNL run oneDNN where it has
 * a JIT kernel for the shape (measured 2x faster per ConvNet-3 and default
 * CNN training step than im2col + sgemm), else im2col + sgemm; any other
 * value forces im2col + sgemm */
typedef struct {
    size_t n, cin, cout, h, w, k, stride, pad;
    pd_math math;
    pd_conv_algo algo;
} pd_conv2d_shape;
size_t pd_conv2d_hout(const pd_conv2d_shape *s);
size_t pd_conv2d_wout(const pd_conv2d_shape *s);
size_t pd_conv2d_scratch(const pd_conv2d_shape *s);
/* x (n, cin, h, w), w (cout, cin, k, k), b (cout) or NULL → y (n, cout, ho, wo) */
void pd_conv2d_forward(float *y, const float *x, const float *w, const float *b,
                       const pd_conv2d_shape *s, float *scratch);
void pd_conv2d_backward(float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, const pd_conv2d_shape *s,
                        float *scratch);

/* ---- max-pool 2d (kernel k, stride, no padding, floor mode) ------------- */
typedef struct { size_t n, c, h, w, k, stride; } pd_pool2d_shape;
size_t pd_pool2d_hout(const pd_pool2d_shape *s);
size_t pd_pool2d_wout(const pd_pool2d_shape *s);
/* x (n, c, h, w) → y (n, c, ho, wo); argmax (same size as y) records the
 * flat input index chosen, for backward; NULL in evaluation (values only,
 * the same values). */
void pd_maxpool2d_forward(float *y, int32_t *argmax, const float *x,
                          const pd_pool2d_shape *s);
/* y = max_pool2d(relu(batch_norm_eval(x))) in one pass, for inference (no
 * argmax, no backward); the same values as the three ops for finite x
 * (pool.c says why). gamma, beta may be NULL. */
void pd_bn_relu_maxpool_eval(float *y, const float *x, const float *gamma,
                             const float *beta, const float *running_mean,
                             const float *running_var, float eps,
                             const pd_pool2d_shape *s);
void pd_maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax,
                           const pd_pool2d_shape *s);
/* x (n, c, h, w) -> w2 (n, 2, c, h/2, w/2): each 2x2 window's (stride 2)
 * max, then per sample all channels' min, compared in
 * pd_bn_relu_maxpool_eval's order. Maxima and minima in separate halves of
 * a sample: channels with a positive BN scale read only the max half */
void pd_pool2x2_windows(float *w2, const float *x, size_t n, size_t c, size_t h, size_t w);
/* pd_bn_relu_maxpool_eval with k = stride = 2 from the windows of x
 * (pd_pool2x2_windows; s: x's shape): the same bits, reading the max or
 * the min plane by the sign of the channel's scale */
/* Training: y = max_pool2d(relu(h), 2, 2), h = (x - mean) rstd gamma + beta
 * per channel (mean, rstd from pd_batchnorm_stats_train; gamma, beta may be
 * NULL), without writing h or relu(h); y and argmax bit for bit those of
 * pd_batchnorm_forward_train -> ReLU -> pd_maxpool2d_forward (s: x's shape,
 * k = stride = 2). */
void pd_bn_relu_maxpool_train_forward(float *y, int32_t *argmax, const float *x,
                                      const float *mean, const float *rstd,
                                      const float *gamma, const float *beta,
                                      const pd_pool2d_shape *s);
/* its backward from dy (the pooled outputs' gradient): dx (may be NULL),
 * dgamma, dbeta (may be NULL) accumulate. Gradient reaches h only at each
 * window's argmax where y > 0, so batch norm's sums run over the pooled
 * outputs and dx is one pass. */
void pd_bn_relu_maxpool_train_backward(float *dx, float *dgamma, float *dbeta,
                                       const float *dy, const float *y,
                                       const int32_t *argmax, const float *x,
                                       const float *mean, const float *rstd,
                                       const float *gamma, const pd_pool2d_shape *s);
void pd_bn_relu_windows_eval(float *y, const float *w2, const float *gamma,
                             const float *beta, const float *running_mean,
                             const float *running_var, float eps,
                             const pd_pool2d_shape *s);

/* ---- global average pool: x (n, c, s) → y (n, c) ------------------------ */
void pd_gap_forward(float *y, const float *x, size_t n, size_t c, size_t sp);
void pd_gap_backward(float *dx, const float *dy, size_t n, size_t c, size_t sp);

/* ---- normalization over x (n, c, sp), sp = L or H*W ---------------------
 * batch norm: statistics per channel over (n, sp) — BatchNorm1d/2d.
 * group norm: statistics per (sample, group) over (c/g, sp); instance norm
 *             is group norm with g = c.
 * gamma/beta (c) may be NULL (no affine). mean/rstd are saved for backward:
 * (c) for batch norm, (n, g) for group norm. */
typedef struct { size_t n, c, sp; float eps; } pd_norm_shape;
/* training: batch statistics; updates running_mean/var (may be NULL) with
 * momentum like PyTorch: r = (1-m) r + m stat, variance unbiased (n*sp-1). */
void pd_batchnorm_forward_train(float *y, float *mean, float *rstd,
                                float *running_mean, float *running_var,
                                const float *x, const float *gamma,
                                const float *beta, float momentum,
                                const pd_norm_shape *s);
/* the statistics part of pd_batchnorm_forward_train alone (the same mean,
 * rstd and running-statistics update), for ops that apply them fused */
void pd_batchnorm_stats_train(float *mean, float *rstd, float *running_mean,
                              float *running_var, const float *x, float momentum,
                              const pd_norm_shape *s);
/* eval: running statistics, an affine map per channel */
void pd_batchnorm_forward_eval(float *y, const float *x, const float *gamma,
                               const float *beta, const float *running_mean,
                               const float *running_var, const pd_norm_shape *s);
void pd_batchnorm_backward_train(float *dx, float *dgamma, float *dbeta,
                                 const float *dy, const float *x,
                                 const float *mean, const float *rstd,
                                 const float *gamma, const pd_norm_shape *s);
void pd_batchnorm_backward_eval(float *dx, float *dgamma, float *dbeta,
                                const float *dy, const float *x,
                                const float *gamma, const float *running_mean,
                                const float *running_var, const pd_norm_shape *s);
void pd_groupnorm_forward(float *y, float *mean, float *rstd, const float *x,
                          const float *gamma, const float *beta, size_t groups,
                          const pd_norm_shape *s);
void pd_groupnorm_backward(float *dx, float *dgamma, float *dbeta,
                           const float *dy, const float *x, const float *mean,
                           const float *rstd, const float *gamma, size_t groups,
                           const pd_norm_shape *s);
/* group norm of LeakyReLU(x) with `slope` (slope 1: of x), the activation
 * fused in: nothing but x is stored, and the backward's dx is the gradient
 * with respect to the activation's input x */
/* for tests: the short-row instance norm's tiles through AVX-512 gathers
 * (1, where the CPU has them), scalar moves (0), or as the CPU decides (-1,
 * the default); the same results either way */
void pd_norm_short_rows_gather(int on);
void pd_lrelu_groupnorm_forward(float *y, float *mean, float *rstd, const float *x,
                                const float *gamma, const float *beta, size_t groups,
                                float slope, const pd_norm_shape *s);
void pd_lrelu_groupnorm_backward(float *dx, float *dgamma, float *dbeta,
                                 const float *dy, const float *x, const float *mean,
                                 const float *rstd, const float *gamma, size_t groups,
                                 float slope, const pd_norm_shape *s);

/* ---- elementwise activations over n values ------------------------------
 * backward takes the forward input x (and y where cheaper) and adds
 * dy * f'(x) into dx. */
typedef enum { PD_ACT_RELU, PD_ACT_LEAKY_RELU, PD_ACT_ELU, PD_ACT_SILU,
               PD_ACT_TANH } pd_act;
/* alpha: LeakyReLU negative slope, ELU alpha; ignored otherwise */
void pd_act_forward(float *y, const float *x, size_t n, pd_act act, float alpha);
void pd_act_backward(float *dx, const float *dy, const float *x, const float *y,
                     size_t n, pd_act act, float alpha);

/* ---- clamp to [lo, hi]; gradient passes where lo <= x <= hi ------------- */
void pd_clamp_forward(float *y, const float *x, size_t n, float lo, float hi);
void pd_clamp_backward(float *dx, const float *dy, const float *x, size_t n,
                       float lo, float hi);

/* ---- residual add: y = a + b; backward adds dy into both ---------------- */
void pd_add_forward(float *y, const float *a, const float *b, size_t n);
void pd_add_backward(float *da, float *db, const float *dy, size_t n);
/* channels [c0, c0 + c) of x (n, cx, sp) as y (n, c, sp); backward adds */
void pd_slice_channels_forward(float *y, const float *x, size_t n, size_t cx, size_t c0,
                               size_t c, size_t sp);
void pd_slice_channels_backward(float *dx, const float *dy, size_t n, size_t cx, size_t c0,
                                size_t c, size_t sp);

/* ---- embedding: y[i] = table[idx[i]], table (rows, dim), y (n, dim) ----- */
void pd_embedding_forward(float *y, const float *table, const int32_t *idx,
                          size_t n, size_t dim);
void pd_embedding_backward(float *dtable, const float *dy, const int32_t *idx,
                           size_t n, size_t dim);

/* ---- losses (means over all elements / samples, as PyTorch 'mean') ------ */
/* MSE = mean((x - t)^2); backward adds scale * 2 (x - t) / n into dx */
double pd_mse_forward(const float *x, const float *t, size_t n);
void pd_mse_backward(float *dx, const float *x, const float *t, size_t n,
                     float scale);
/* softmax cross-entropy of logits (n, c) vs labels; returns mean loss.
 * probs (n, c) is filled for backward. */
double pd_xent_forward(float *probs, const float *logits, const int32_t *labels,
                       size_t n, size_t c);
void pd_xent_backward(float *dlogits, const float *probs, const int32_t *labels,
                      size_t n, size_t c, float scale);

#endif
