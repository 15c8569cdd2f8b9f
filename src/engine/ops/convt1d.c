/*
 * convt1d.c — transposed 1-D convolution (torch.nn.functional.
 * conv_transpose1d, dilation 1, groups 1), forward and backward.
 *
 * conv_transpose1d is the data-gradient of a conv1d whose input has `cout`
 * channels and length lout, and whose output has `cin` channels and length
 * lin, with the same weight (cin, cout, k) read as that conv's (out, in*k)
 * matrix. So the forward is conv1d's dx path and the backward is conv1d's
 * forward (for dx) plus its dw path:
 *
 *   forward:  X'  (cin, n*lin)     = permute(x)
 *             col (cout*k, n*lin)  = Wᵀ (cout*k, cin) × X'
 *             y   (n, cout, lout)  = b + col2im(col)
 *   backward: col = im2col(dy);  db += Σ dy
 *             dW (cin, cout*k) += X' colᵀ
 *             dX' (cin, n*lin) = W × col;  dx += permute(dX')
 *
 * Tiny channel counts use the direct loops of conv1d instead, with the
 * same role swap (pd_conv1d_algo of the equivalent conv decides).
 * out_pad only lengthens the output; it must be < stride as in PyTorch.
 * Scratch (pd_convt1d_scratch floats): col followed by X', or for the
 * direct loops a repacked weight and their phase buffers.
 */
#include <cblas.h>
#include <string.h>

#include "engine/ops/im2col.h"
#include "engine/ops/ops.h"
#include "engine/ops/conv_dnnl.h"

size_t pd_convt1d_lout(const pd_convt1d_shape *s) {
    if (s->lin == 0) return 0;
    size_t full = (s->lin - 1) * s->stride + s->k + s->out_pad;
    return full > 2 * s->pad ? full - 2 * s->pad : 0;
}

/* the conv1d whose data-gradient this op is: input (n, cout, lout),
 * output (n, cin, lin), weight (cin, cout, k) */
static pd_conv1d_shape convt1d_equiv(const pd_convt1d_shape *s) {
    pd_conv1d_shape c = {s->n, s->cout, s->cin, pd_convt1d_lout(s), s->k,
                         s->stride, s->pad, s->math, s->algo};
    return c;
}

/* oneDNN's deconvolution: when forced (and usable), or in bf16 from 128
 * channels on both sides (bench_model, same runs: the medium autoencoder's
 * 256-channel decoder gains in bf16; the small one's 64→64 at L = 726 and
 * every fp32 shape tried ran faster on pdiff's own algorithms) */
static int convt1d_dnnl(const pd_convt1d_shape *s) {
    if (s->algo == PD_CONV_DNNL) return pd_convt1d_dnnl_usable(s);
    return s->algo == PD_CONV_AUTO && s->math == PD_MATH_BF16 && s->cin >= 128 &&
           s->cout >= 128 && pd_convt1d_dnnl_usable(s);
}

static int convt1d_direct(const pd_convt1d_shape *s) {
    pd_conv1d_shape c = convt1d_equiv(s);
    return pd_conv1d_algo_ours(&c) == PD_CONV_DIRECT;
}

/* per sample from 8 input positions (the equivalent conv's output rows),
 * not 64 as for conv1d: the small autoencoder's decoder at D = 384 (the
 * default run) trains ~10 % faster on the Intel Xeon (400 autoencoder
 * steps 11.6 / 11.5 -> 10.2 / 10.6 s); no denoiser has a transposed
 * convolution, and conv1d's short rows lose on this algorithm */
#define CONVT_SAMPLE_MIN_LIN 8

static int convt1d_sample(const pd_convt1d_shape *s) {
    pd_conv1d_shape c = convt1d_equiv(s);
    const pd_conv_algo a = pd_conv1d_algo_ours(&c);
    return a == PD_CONV_SAMPLE ||
           (s->algo == PD_CONV_AUTO && a != PD_CONV_DIRECT &&
            pd_conv1d_sample_fits(&c, CONVT_SAMPLE_MIN_LIN));
}

/* the im2col geometry of the equivalent conv1d: channels cout, input length
 * lout (this op's output), output length lin (this op's input) */
static pd_col1d_geom convt1d_geom(const pd_convt1d_shape *s) {
    pd_col1d_geom g = {s->n, s->cout, pd_convt1d_lout(s), s->k, s->stride,
                       s->pad, s->lin};
    return g;
}

/* ---- per sample (threads over samples, see im2col.h) --------------------
 * forward:  col_b (cout*k, lin) = Wᵀ x_b;  y_b = b + col2im(col_b)
 * backward: col_b = im2col(dy_b);  dW += x_b col_bᵀ (per worker);
 *           dx_b += W col_b
 * x_b (cin, lin) is already the GEMM's layout: no permutes. */

static void sample_forward(float *y, const float *x, const float *w,
                           const float *b, const pd_convt1d_shape *s,
                           float *scratch) {
    pd_col1d_geom g1 = convt1d_geom(s);
    g1.n = 1;
    const size_t kdim = s->cout * s->k, lout = g1.lin;
#pragma omp parallel for schedule(static) num_threads((int)pd_sample_slots())
    for (size_t bi = 0; bi < s->n; bi++) {
        float *col = scratch + pd_sample_slot() * kdim * s->lin;
        float *yb = y + bi * s->cout * lout;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kdim, (int)s->lin,
                    (int)s->cin, 1.0f, w, (int)kdim, x + bi * s->cin * s->lin,
                    (int)s->lin, 0.0f, col, (int)s->lin);
        pd_fill_bias(yb, b, 1, s->cout, lout);
        pd_col2im1d_add(yb, col, &g1);
    }
}

/* db is summed here too, while each dy_b is in cache */
static void sample_backward(float *dx, float *dw, float *db, const float *dy,
                            const float *x, const float *w,
                            const pd_convt1d_shape *s, float *scratch) {
    pd_col1d_geom g1 = convt1d_geom(s);
    g1.n = 1;
    const size_t kdim = s->cout * s->k, lout = g1.lin, slots = pd_sample_slots();
    float *parts = scratch + slots * kdim * s->lin;
    float *dbparts = parts + slots * s->cin * kdim;
    if (dw) memset(parts, 0, slots * s->cin * kdim * sizeof(float));
    if (db) memset(dbparts, 0, slots * s->cout * sizeof(float));
#pragma omp parallel for schedule(static) num_threads((int)slots)
    for (size_t bi = 0; bi < s->n; bi++) {
        const size_t slot = pd_sample_slot();
        float *col = scratch + slot * kdim * s->lin;
        const float *xb = x + bi * s->cin * s->lin, *dyb = dy + bi * s->cout * lout;
        if (db) pd_bias_grad_add(dbparts + slot * s->cout, dyb, 1, s->cout, lout);
        if (!dw && !dx) continue;
        pd_im2col1d(col, dyb, &g1);
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->cin,
                        (int)kdim, (int)s->lin, 1.0f, xb, (int)s->lin, col,
                        (int)s->lin, 1.0f, parts + slot * s->cin * kdim, (int)kdim);
        if (dx)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->cin,
                        (int)s->lin, (int)kdim, 1.0f, w, (int)kdim, col,
                        (int)s->lin, 1.0f, dx + bi * s->cin * s->lin, (int)s->lin);
    }
    if (dw) pd_sum_partials(dw, parts, slots, s->cin * kdim);
    if (db) pd_sum_partials(db, dbparts, slots, s->cout);
}

/* ---- direct loops (tiny channel counts) --------------------------------- */

/* the direct kernels' geometry from the input side (x → y) and from the
 * output side (dy → dx, dw) */
static pd_direct_geom direct_geom(const pd_convt1d_shape *s) {
    pd_direct_geom g = {s->n, s->cin, s->cout, s->lin, pd_convt1d_lout(s),
                        s->k, s->stride, -(long)s->pad};
    return g;
}

static pd_direct_geom direct_geom_t(const pd_convt1d_shape *s) {
    pd_direct_geom g = {s->n, s->cout, s->cin, pd_convt1d_lout(s), s->lin,
                        s->k, s->stride, -(long)s->pad};
    return g;
}

size_t pd_convt1d_scratch(const pd_convt1d_shape *s) {
    size_t cols = s->n * s->lin;
    if (convt1d_direct(s)) {
        pd_direct_geom g = direct_geom(s), gt = direct_geom_t(s);
        size_t a = pd_direct_scratch(&g), b = pd_direct_scratch(&gt);
        return s->cin * s->cout * s->k + (a > b ? a : b);
    }
    if (convt1d_sample(s)) /* per worker: col, partial dW, partial db */
        return pd_sample_slots() *
               (s->cout * s->k * s->lin + s->cin * s->cout * s->k + s->cout);
    return s->cout * s->k * cols + s->cin * cols;
}

/* y = b + convt(x): every input scatters its k taps */
static void direct_forward(float *y, const float *x, const float *w,
                           const float *b, const pd_convt1d_shape *s,
                           float *scratch) {
    const size_t k = s->k;
    float *wt = scratch; /* the weight as (cout, cin, k) */
    for (size_t ci = 0; ci < s->cin; ci++)
        for (size_t co = 0; co < s->cout; co++)
            for (size_t t = 0; t < k; t++)
                wt[(co * s->cin + ci) * k + t] = w[(ci * s->cout + co) * k + t];
    const pd_direct_geom g = direct_geom(s);
    pd_fill_bias(y, b, s->n, s->cout, g.lout);
    pd_direct_scatter(y, x, wt, &g, wt + s->cin * s->cout * k);
}

/* dx[ci][i] += Σ_t w[ci][co][t] dy[co][i*stride + t - pad] (a plain conv
 * of dy with the weight as stored); dw[ci][co][t] += Σ x[ci][i] dy[co][...] */
static void direct_backward(float *dx, float *dw, const float *dy,
                            const float *x, const float *w,
                            const pd_convt1d_shape *s, float *scratch) {
    const pd_direct_geom gt = direct_geom_t(s);
    if (dw) pd_direct_corr(dw, x, dy, &gt, scratch);
    if (dx) pd_direct_gather(dx, dy, w, NULL, &gt, 1, scratch);
}

/* x (n, cin, lin), w (cin, cout, k), b (cout) or NULL → y (n, cout, lout) */
void pd_convt1d_forward(float *y, const float *x, const float *w, const float *b,
                        const pd_convt1d_shape *s, float *scratch) {
    const pd_col1d_geom g = convt1d_geom(s);
    const size_t ncols = s->n * s->lin, kdim = s->cout * s->k;
    if (g.lin == 0 || s->n == 0 || s->cout == 0) return;
    if (s->cin > 0 && convt1d_dnnl(s) && pd_convt1d_dnnl_forward(y, x, w, b, s)) return;
    if (convt1d_direct(s)) {
        direct_forward(y, x, w, b, s, scratch);
        return;
    }
    if (convt1d_sample(s)) {
        sample_forward(y, x, w, b, s, scratch);
        return;
    }
    pd_fill_bias(y, b, s->n, s->cout, g.lin);
    if (ncols == 0 || s->cin == 0 || kdim == 0) return;
    float *col = scratch; /* (cout*k, n*lin) */
    const float *xp = x;  /* (cin, n*lin) */
    if (s->n > 1) {
        float *t = col + kdim * ncols;
        const pd_cm_layout xl = {ncols, 0, s->lin};
        pd_ncs_to_cm(t, x, s->n, s->cin, s->lin, &xl);
        xp = t;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kdim, (int)ncols,
                (int)s->cin, 1.0f, w, (int)kdim, xp, (int)ncols, 0.0f, col,
                (int)ncols);
    pd_col2im1d_add(y, col, &g);
}

/* dy (n, cout, lout), x (n, cin, lin), w (cin, cout, k)
 * → dx (n, cin, lin) +=, dw (cin, cout, k) +=, db (cout) += (each may be NULL) */
void pd_convt1d_backward(float *dx, float *dw, float *db, const float *dy,
                         const float *x, const float *w,
                         const pd_convt1d_shape *s, float *scratch) {
    const pd_col1d_geom g = convt1d_geom(s);
    const size_t ncols = s->n * s->lin, kdim = s->cout * s->k;
    if (g.lin == 0 || s->n == 0 || s->cout == 0) return;
    if (s->cin > 0 && convt1d_dnnl(s) && pd_convt1d_dnnl_backward(dx, dw, db, dy, x, w, s))
        return;
    if (s->cin > 0 && convt1d_sample(s)) {
        sample_backward(dx, dw, db, dy, x, w, s, scratch);
        return;
    }
    if (db) pd_bias_grad_add(db, dy, s->n, s->cout, g.lin);
    if (ncols == 0 || s->cin == 0 || kdim == 0 || (!dx && !dw)) return;
    if (convt1d_direct(s)) {
        direct_backward(dx, dw, dy, x, w, s, scratch);
        return;
    }
    float *col = scratch;              /* (cout*k, n*lin) */
    float *xp = col + kdim * ncols;    /* (cin, n*lin) */
    const pd_cm_layout xl = {ncols, 0, s->lin};
    pd_im2col1d(col, dy, &g);
    if (dw) {
        const float *xs = x;
        if (s->n > 1) {
            pd_ncs_to_cm(xp, x, s->n, s->cin, s->lin, &xl);
            xs = xp;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->cin,
                    (int)kdim, (int)ncols, 1.0f, xs, (int)ncols, col,
                    (int)ncols, 1.0f, dw, (int)kdim);
    }
    if (dx) {
        /* n = 1: the GEMM layout is dx's own, accumulate in place */
        float *dst = s->n == 1 ? dx : xp;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->cin,
                    (int)ncols, (int)kdim, 1.0f, w, (int)kdim, col, (int)ncols,
                    s->n == 1 ? 1.0f : 0.0f, dst, (int)ncols);
        if (s->n > 1) pd_cm_to_ncs(dx, xp, NULL, s->n, s->cin, s->lin, &xl, 1);
    }
}
