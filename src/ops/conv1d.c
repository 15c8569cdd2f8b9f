/*
 * conv1d.c — 1-D convolution (torch.nn.functional.conv1d, dilation 1,
 * groups 1), forward and backward, as im2col + one OpenBLAS sgemm over the
 * whole batch.
 *
 *   forward:  col (cin*k, n*lout) = im2col(x)
 *             Y'  (cout, n*lout)  = W (cout, cin*k) × col
 *             y   (n, cout, lout) = permute(Y') + b
 *   backward: dY' = permute(dy);  db += Σ dY'
 *             dW += dY' colᵀ      (col rebuilt from x)
 *             dcol = Wᵀ dY';  dx += col2im(dcol)
 *
 * Scratch (pd_conv1d_scratch floats): col followed by Y'. With n = 1 the
 * GEMM layout is already the PyTorch one and the permutes are skipped.
 * BLAS is only ever called outside OpenMP regions.
 */
#include <cblas.h>
#include <string.h>

#include "ops/im2col.h"
#include "ops/ops.h"

size_t pd_conv1d_lout(const pd_conv1d_shape *s) {
    if (s->stride == 0 || s->lin + 2 * s->pad < s->k) return 0;
    return (s->lin + 2 * s->pad - s->k) / s->stride + 1;
}

size_t pd_conv1d_scratch(const pd_conv1d_shape *s) {
    size_t cols = s->n * pd_conv1d_lout(s);
    return s->cin * s->k * cols + s->cout * cols;
}

static pd_col1d_geom conv1d_geom(const pd_conv1d_shape *s) {
    pd_col1d_geom g = {s->n, s->cin, s->lin, s->k, s->stride, s->pad,
                       pd_conv1d_lout(s)};
    return g;
}

/* x (n, cin, lin), w (cout, cin, k), b (cout) or NULL → y (n, cout, lout) */
void pd_conv1d_forward(float *y, const float *x, const float *w, const float *b,
                       const pd_conv1d_shape *s, float *scratch) {
    const pd_col1d_geom g = conv1d_geom(s);
    const size_t ncols = s->n * g.lout, kdim = s->cin * s->k;
    if (ncols == 0 || s->cout == 0) return;
    if (kdim == 0) { /* no input channels: the output is the bias */
        pd_fill_bias(y, b, s->n, s->cout, g.lout);
        return;
    }
    float *col = scratch;                  /* (cin*k, n*lout) */
    float *yp = s->n == 1 ? y : col + kdim * ncols; /* (cout, n*lout) */
    pd_im2col1d(col, x, &g);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->cout,
                (int)ncols, (int)kdim, 1.0f, w, (int)kdim, col, (int)ncols,
                0.0f, yp, (int)ncols);
    if (s->n == 1) {
        if (b) pd_cm_to_ncs(y, y, b, 1, s->cout, g.lout, 0);
    } else {
        pd_cm_to_ncs(y, yp, b, s->n, s->cout, g.lout, 0);
    }
}

/* dy (n, cout, lout), x (n, cin, lin), w (cout, cin, k)
 * → dx (n, cin, lin) +=, dw (cout, cin, k) +=, db (cout) += (each may be NULL) */
void pd_conv1d_backward(float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, const pd_conv1d_shape *s,
                        float *scratch) {
    const pd_col1d_geom g = conv1d_geom(s);
    const size_t ncols = s->n * g.lout, kdim = s->cin * s->k;
    if (ncols == 0 || s->cout == 0) return;
    if (db) pd_bias_grad_add(db, dy, s->n, s->cout, g.lout);
    if (kdim == 0 || (!dx && !dw)) return;
    float *col = scratch;
    const float *dyp = dy; /* (cout, n*lout) */
    if (s->n > 1) {
        float *t = col + kdim * ncols;
        pd_ncs_to_cm(t, dy, s->n, s->cout, g.lout);
        dyp = t;
    }
    if (dw) {
        pd_im2col1d(col, x, &g);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->cout,
                    (int)kdim, (int)ncols, 1.0f, dyp, (int)ncols, col,
                    (int)ncols, 1.0f, dw, (int)kdim);
    }
    if (dx) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kdim,
                    (int)ncols, (int)s->cout, 1.0f, w, (int)kdim, dyp,
                    (int)ncols, 0.0f, col, (int)ncols);
        pd_col2im1d_add(dx, col, &g);
    }
}
