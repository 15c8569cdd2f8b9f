/*
 * conv2d.c — 2-D convolution (torch.nn.functional.conv2d, square kernel,
 * dilation 1, groups 1), forward and backward: through oneDNN where it has
 * a JIT kernel for the shape (conv_dnnl.h) unless s->algo forces im2col
 * (ops.h); otherwise as batch im2col + one OpenBLAS sgemm, the same scheme
 * as conv1d.c with a 2-D column matrix:
 *
 *   forward:  col (cin*k*k, n*ho*wo) = im2col(x)
 *             Y'  (cout, n*ho*wo)    = W (cout, cin*k*k) × col
 *             y   (n, cout, ho, wo)  = permute(Y') + b
 *   backward: dY' = permute(dy);  db += Σ dY'
 *             dW += dY' colᵀ;  dcol = Wᵀ dY';  dx += col2im(dcol)
 *
 * On one thread (a worker's) the forward runs in chunks of samples whose
 * column matrix fits a core's L2 (COL_CHUNK_FLOATS); otherwise, and in the
 * backward, on the whole batch.
 * Scratch (pd_conv2d_scratch floats): col followed by Y'.
 */
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "engine/ops/conv_dnnl.h"
#include "engine/ops/im2col.h"
#include "engine/ops/ops.h"

/* output extent along one axis of length len */
static size_t conv_extent(size_t len, size_t k, size_t stride, size_t pad) {
    if (stride == 0 || len + 2 * pad < k) return 0;
    return (len + 2 * pad - k) / stride + 1;
}

size_t pd_conv2d_hout(const pd_conv2d_shape *s) {
    return conv_extent(s->h, s->k, s->stride, s->pad);
}

size_t pd_conv2d_wout(const pd_conv2d_shape *s) {
    return conv_extent(s->w, s->k, s->stride, s->pad);
}

size_t pd_conv2d_scratch(const pd_conv2d_shape *s) {
    size_t cols = s->n * pd_conv2d_hout(s) * pd_conv2d_wout(s);
    return s->cin * s->k * s->k * cols + s->cout * cols;
}

static pd_col2d_geom conv2d_geom(const pd_conv2d_shape *s) {
    pd_col2d_geom g = {s->n, s->cin, s->h, s->w, s->k, s->stride, s->pad,
                       pd_conv2d_hout(s), pd_conv2d_wout(s)};
    return g;
}

/* samples per forward GEMM: the column matrix of a chunk stays within
 * about 1 MiB (a core's L2), where the whole batch's (226 MB for
 * ConvNet-3's second layer at batch 1000) went to memory and back, twice:
 * im2col writing it, the GEMM packing it */
#define COL_CHUNK_FLOATS (1u << 18)

static int single_threaded(void) {
#ifdef _OPENMP
    return omp_get_max_threads() == 1;
#else
    return 1;
#endif
}

static int use_dnnl(const pd_conv2d_shape *s) {
    return s->algo == PD_CONV_AUTO || s->algo == PD_CONV_DNNL;
}

/* x (n, cin, h, w), w (cout, cin, k, k), b (cout) or NULL
 * → y (n, cout, ho, wo) */
void pd_conv2d_forward(float *y, const float *x, const float *w, const float *b,
                       const pd_conv2d_shape *s, float *scratch) {
    const pd_col2d_geom whole = conv2d_geom(s);
    const size_t plane = whole.ho * whole.wo;
    const size_t kdim = s->cin * s->k * s->k;
    if (s->n * plane == 0 || s->cout == 0) return;
    if (kdim == 0) {
        pd_fill_bias(y, b, s->n, s->cout, plane);
        return;
    }
    if (use_dnnl(s) && pd_conv2d_dnnl_forward(y, x, w, b, s)) return;
    /* chunks only on one thread (a worker's): with several, each chunk's
     * GEMM is too short to share (measured: 2 threads 1.4 s -> 2.5 s for
     * ConvNet-3 over 10 000 images, 1 thread 2.26 s -> 1.59 s) */
    size_t chunk = s->n;
    if (single_threaded()) {
        chunk = COL_CHUNK_FLOATS / (kdim * plane);
        if (chunk < 1) chunk = 1;
    }
    const size_t in_sample = s->cin * s->h * s->w, out_sample = s->cout * plane;
    for (size_t s0 = 0; s0 < s->n; s0 += chunk) {
        const size_t m = s->n - s0 < chunk ? s->n - s0 : chunk, ncols = m * plane;
        pd_col2d_geom g = whole;
        g.n = m;
        float *col = scratch, *ys = y + s0 * out_sample;
        float *yp = m == 1 ? ys : col + kdim * ncols;
        pd_im2col2d(col, x + s0 * in_sample, &g);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->cout, (int)ncols,
                    (int)kdim, 1.0f, w, (int)kdim, col, (int)ncols, 0.0f, yp, (int)ncols);
        const pd_cm_layout yl = {ncols, 0, plane};
        if (m == 1) {
            if (b) pd_cm_to_ncs(ys, ys, b, 1, s->cout, plane, &yl, 0);
        } else {
            pd_cm_to_ncs(ys, yp, b, m, s->cout, plane, &yl, 0);
        }
    }
}

/* dy (n, cout, ho, wo), x (n, cin, h, w), w (cout, cin, k, k)
 * → dx +=, dw +=, db += (each may be NULL) */
void pd_conv2d_backward(float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, const pd_conv2d_shape *s,
                        float *scratch) {
    const pd_col2d_geom g = conv2d_geom(s);
    const size_t plane = g.ho * g.wo, ncols = s->n * plane;
    const size_t kdim = s->cin * s->k * s->k;
    if (ncols == 0 || s->cout == 0) return;
    if (kdim && use_dnnl(s) && pd_conv2d_dnnl_backward(dx, dw, db, dy, x, w, s)) return;
    if (db) pd_bias_grad_add(db, dy, s->n, s->cout, plane);
    if (kdim == 0 || (!dx && !dw)) return;
    float *col = scratch;
    const float *dyp = dy; /* (cout, n*ho*wo) */
    if (s->n > 1) {
        float *t = col + kdim * ncols;
        const pd_cm_layout yl = {ncols, 0, plane};
        pd_ncs_to_cm(t, dy, s->n, s->cout, plane, &yl);
        dyp = t;
    }
    if (dw) pd_im2col2d(col, x, &g);
    pd_colconv_backward_gemms(dw, col, dyp, w, s->cout, kdim, ncols, dx != NULL);
    if (dx) pd_col2im2d_add(dx, col, &g);
}
