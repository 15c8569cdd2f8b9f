/*
 * conv1d.c — 1-D convolution (torch.nn.functional.conv1d, dilation 1,
 * groups 1), forward and backward, with three algorithms (pd_conv1d_algo):
 *
 * SHIFT (stride 1): x is copied once into a zero-padded channel-major
 *   matrix Xp (cin, n*S + pad), each sample occupying S = max(lin + pad,
 *   lout) columns; then output column j = b*S + l is
 *     Y''[:, j] = Σ_t W_t (cout, cin) × Xp[:, j + t],
 *   i.e. k GEMMs on shifted views of the same Xp (no k-times larger
 *   column matrix). The gap columns between samples are computed and
 *   dropped. Backward: dW_t += dY'' Xp_tᵀ and dXp[:, j + t] += W_tᵀ dY''.
 *   The GEMMs run over blocks of columns so that each block of Xp stays in
 *   cache across the k taps.
 * IM2COL (any stride): col (cin*k, n*lout) = im2col(x); Y' = W col;
 *   backward dW += dY' colᵀ, dcol = Wᵀ dY', dx += col2im(dcol).
 * DIRECT (tiny channel counts): plain loops, no GEMM (im2col.h).
 *
 * BLAS is only ever called outside OpenMP regions; the permutes and direct
 * loops use OpenMP.
 */
#include <cblas.h>
#include <string.h>

#include "ops/im2col.h"
#include "ops/ops.h"

/* work (multiply-adds) below which a direct loop stays on one thread */
#define PD_OMP_MIN_WORK 32768
/* floats of Xp + Y'' per SHIFT column block: ~4 MB, well inside L3 */
#define PD_SHIFT_BLOCK_FLOATS (1u << 20)

static pd_conv_algo forced_algo = PD_CONV_AUTO;

void pd_conv1d_force_algo(pd_conv_algo a) { forced_algo = a; }

pd_conv_algo pd_conv1d_algo(const pd_conv1d_shape *s) {
    pd_conv_algo a = forced_algo;
    if (a == PD_CONV_AUTO) {
        /* few multiply-adds per output, or tiny channels on both sides:
         * GEMM packing and permutes would cost more than the arithmetic */
        if (s->cin * s->k <= 32 || (s->cin <= 8 && s->cout <= 8))
            a = PD_CONV_DIRECT;
        else
            a = PD_CONV_SHIFT;
    }
    if (a == PD_CONV_SHIFT && s->stride != 1) a = PD_CONV_IM2COL;
    return a;
}

size_t pd_conv1d_lout(const pd_conv1d_shape *s) {
    if (s->stride == 0 || s->lin + 2 * s->pad < s->k) return 0;
    return (s->lin + 2 * s->pad - s->k) / s->stride + 1;
}

/* ---- SHIFT geometry ----------------------------------------------------- */

typedef struct {
    size_t lout;
    size_t step;  /* S: columns per sample in Xp and Y'' */
    size_t xcols; /* leading dimension of Xp: pad + n*S */
    size_t ycols; /* leading dimension of Y'': n*S */
    size_t ncols; /* GEMM columns: up to the last valid output */
    size_t block; /* GEMM columns per cache block */
} shift_geom;

static shift_geom shift_geometry(const pd_conv1d_shape *s) {
    shift_geom g;
    g.lout = pd_conv1d_lout(s);
    /* the zero gap between samples (>= pad) serves as the right padding of
     * one sample and the left padding of the next */
    g.step = s->lin + s->pad > g.lout ? s->lin + s->pad : g.lout;
    g.xcols = s->pad + s->n * g.step;
    g.ycols = s->n * g.step;
    g.ncols = g.lout ? (s->n - 1) * g.step + g.lout : 0;
    size_t b = PD_SHIFT_BLOCK_FLOATS / (s->cin + s->cout);
    b = b < 512 ? 512 : b / 16 * 16;
    g.block = g.ncols < b + b / 2 ? g.ncols : b;
    return g;
}

size_t pd_conv1d_scratch(const pd_conv1d_shape *s) {
    size_t lout = pd_conv1d_lout(s);
    switch (pd_conv1d_algo(s)) {
    case PD_CONV_SHIFT: {
        shift_geom g = shift_geometry(s);
        return s->cin * g.xcols + s->cout * g.ycols + 2 * s->k * s->cout * s->cin;
    }
    case PD_CONV_IM2COL:
        return (s->cin * s->k + s->cout) * s->n * lout;
    default:
        return 0;
    }
}

/* w (cout, cin, k) → wr (k, cout, cin): one (cout, cin) matrix per tap */
static void repack_taps(float *wr, const float *w, const pd_conv1d_shape *s) {
    for (size_t co = 0; co < s->cout; co++)
        for (size_t ci = 0; ci < s->cin; ci++)
            for (size_t t = 0; t < s->k; t++)
                wr[(t * s->cout + co) * s->cin + ci] =
                    w[(co * s->cin + ci) * s->k + t];
}

static void shift_forward(float *y, const float *x, const float *w,
                          const float *b, const pd_conv1d_shape *s,
                          float *scratch) {
    const shift_geom g = shift_geometry(s);
    const size_t cin = s->cin, cout = s->cout;
    float *xp = scratch;             /* (cin, xcols) */
    float *yp = xp + cin * g.xcols;  /* (cout, ycols) */
    float *wr = yp + cout * g.ycols; /* (k, cout, cin) */
    const pd_cm_layout xl = {g.xcols, s->pad, g.step};
    const pd_cm_layout yl = {g.ycols, 0, g.step};
    pd_ncs_to_cm(xp, x, s->n, cin, s->lin, &xl);
    repack_taps(wr, w, s);
    for (size_t c0 = 0; c0 < g.ncols; c0 += g.block) {
        size_t nb = g.ncols - c0 < g.block ? g.ncols - c0 : g.block;
        for (size_t t = 0; t < s->k; t++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cout,
                        (int)nb, (int)cin, 1.0f, wr + t * cout * cin, (int)cin,
                        xp + c0 + t, (int)g.xcols, t ? 1.0f : 0.0f, yp + c0,
                        (int)g.ycols);
    }
    pd_cm_to_ncs(y, yp, b, s->n, cout, g.lout, &yl, 0);
}

static void shift_backward(float *dx, float *dw, const float *dy,
                           const float *x, const float *w,
                           const pd_conv1d_shape *s, float *scratch) {
    const shift_geom g = shift_geometry(s);
    const size_t cin = s->cin, cout = s->cout, k = s->k;
    float *xp = scratch;             /* Xp, later dXp: (cin, xcols) */
    float *yp = xp + cin * g.xcols;  /* dY'': (cout, ycols) */
    float *wr = yp + cout * g.ycols; /* (k, cout, cin) */
    float *dwr = wr + k * cout * cin;
    const pd_cm_layout xl = {g.xcols, s->pad, g.step};
    const pd_cm_layout yl = {g.ycols, 0, g.step};
    /* gap columns of dY'' are zero, so the garbage outputs get no gradient */
    pd_ncs_to_cm(yp, dy, s->n, cout, g.lout, &yl);
    if (dw) {
        pd_ncs_to_cm(xp, x, s->n, cin, s->lin, &xl);
        memset(dwr, 0, k * cout * cin * sizeof(float));
        for (size_t c0 = 0; c0 < g.ncols; c0 += g.block) {
            size_t nb = g.ncols - c0 < g.block ? g.ncols - c0 : g.block;
            for (size_t t = 0; t < k; t++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cout,
                            (int)cin, (int)nb, 1.0f, yp + c0, (int)g.ycols,
                            xp + c0 + t, (int)g.xcols, 1.0f,
                            dwr + t * cout * cin, (int)cin);
        }
        for (size_t co = 0; co < cout; co++)
            for (size_t ci = 0; ci < cin; ci++)
                for (size_t t = 0; t < k; t++)
                    dw[(co * cin + ci) * k + t] += dwr[(t * cout + co) * cin + ci];
    }
    if (dx) {
        repack_taps(wr, w, s);
        for (size_t c0 = 0; c0 < g.ncols; c0 += g.block) {
            size_t nb = g.ncols - c0 < g.block ? g.ncols - c0 : g.block;
            /* clear the dXp columns this block reaches first: [c0 + k - 1,
             * c0 + nb + k - 1), or from 0 for the first block (earlier
             * blocks already accumulated into the k - 1 columns before) */
            size_t z0 = c0 ? c0 + k - 1 : 0, z1 = c0 + nb + k - 1;
            for (size_t ci = 0; ci < cin; ci++)
                memset(xp + ci * g.xcols + z0, 0, (z1 - z0) * sizeof(float));
            for (size_t t = 0; t < k; t++)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cin,
                            (int)nb, (int)cout, 1.0f, wr + t * cout * cin,
                            (int)cin, yp + c0, (int)g.ycols, 1.0f, xp + c0 + t,
                            (int)g.xcols);
        }
        pd_cm_to_ncs(dx, xp, NULL, s->n, cin, s->lin, &xl, 1);
    }
}

/* ---- IM2COL ------------------------------------------------------------- */

static void im2col_forward(float *y, const float *x, const float *w,
                           const float *b, const pd_conv1d_shape *s,
                           float *scratch) {
    const pd_col1d_geom g = {s->n, s->cin, s->lin, s->k, s->stride, s->pad,
                             pd_conv1d_lout(s)};
    const size_t ncols = s->n * g.lout, kdim = s->cin * s->k;
    float *col = scratch;            /* (cin*k, n*lout) */
    float *yp = col + kdim * ncols;  /* (cout, n*lout) */
    const pd_cm_layout yl = {ncols, 0, g.lout};
    pd_im2col1d(col, x, &g);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->cout,
                (int)ncols, (int)kdim, 1.0f, w, (int)kdim, col, (int)ncols,
                0.0f, yp, (int)ncols);
    pd_cm_to_ncs(y, yp, b, s->n, s->cout, g.lout, &yl, 0);
}

static void im2col_backward(float *dx, float *dw, const float *dy,
                            const float *x, const float *w,
                            const pd_conv1d_shape *s, float *scratch) {
    const pd_col1d_geom g = {s->n, s->cin, s->lin, s->k, s->stride, s->pad,
                             pd_conv1d_lout(s)};
    const size_t ncols = s->n * g.lout, kdim = s->cin * s->k;
    float *col = scratch;
    float *dyp = col + kdim * ncols; /* (cout, n*lout) */
    const pd_cm_layout yl = {ncols, 0, g.lout};
    pd_ncs_to_cm(dyp, dy, s->n, s->cout, g.lout, &yl);
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

/* ---- DIRECT ------------------------------------------------------------- */

void pd_conv1d_direct_fwd(float *y, const float *x, const float *w,
                          const float *b, const pd_conv1d_shape *s,
                          size_t lout, int accumulate) {
    const size_t n = s->n, cin = s->cin, cout = s->cout, k = s->k;
    const size_t st = s->stride, lin = s->lin;
#pragma omp parallel for collapse(2) schedule(static) \
    if (n * cout * lout * (cin * k + 1) > PD_OMP_MIN_WORK)
    for (size_t bi = 0; bi < n; bi++) {
        for (size_t co = 0; co < cout; co++) {
            float *yr = y + (bi * cout + co) * lout; /* y[bi][co][:] */
            const float bv = b ? b[co] : 0.0f;
            if (accumulate) {
                if (b) for (size_t l = 0; l < lout; l++) yr[l] += bv;
            } else {
                for (size_t l = 0; l < lout; l++) yr[l] = bv;
            }
            for (size_t ci = 0; ci < cin; ci++) {
                const float *xr = x + (bi * cin + ci) * lin;
                for (size_t t = 0; t < k; t++) {
                    const float wv = w[(co * cin + ci) * k + t];
                    size_t lo, hi;
                    pd_tap_range(t, lin, st, s->pad, lout, &lo, &hi);
                    if (hi <= lo) continue;
                    const float *xs = xr + lo * st + t - s->pad;
                    float *ys = yr + lo;
                    if (st == 1) {
                        for (size_t l = 0; l < hi - lo; l++) ys[l] += wv * xs[l];
                    } else {
                        for (size_t l = 0; l < hi - lo; l++)
                            ys[l] += wv * xs[l * st];
                    }
                }
            }
        }
    }
}

void pd_conv1d_direct_dx(float *dx, const float *dy, const float *w,
                         const pd_conv1d_shape *s, size_t lout) {
    const size_t n = s->n, cin = s->cin, cout = s->cout, k = s->k;
    const size_t st = s->stride, lin = s->lin;
#pragma omp parallel for collapse(2) schedule(static) \
    if (n * cin * lout * cout * k > PD_OMP_MIN_WORK)
    for (size_t bi = 0; bi < n; bi++) {
        for (size_t ci = 0; ci < cin; ci++) {
            float *dxr = dx + (bi * cin + ci) * lin; /* dx[bi][ci][:] */
            for (size_t co = 0; co < cout; co++) {
                const float *dyr = dy + (bi * cout + co) * lout;
                for (size_t t = 0; t < k; t++) {
                    const float wv = w[(co * cin + ci) * k + t];
                    size_t lo, hi;
                    pd_tap_range(t, lin, st, s->pad, lout, &lo, &hi);
                    if (hi <= lo) continue;
                    float *ds = dxr + lo * st + t - s->pad;
                    const float *gs = dyr + lo;
                    if (st == 1) {
                        for (size_t l = 0; l < hi - lo; l++) ds[l] += wv * gs[l];
                    } else {
                        for (size_t l = 0; l < hi - lo; l++)
                            ds[l * st] += wv * gs[l];
                    }
                }
            }
        }
    }
}

/* Σ a[i] b[i*stride], i < len, with 8 partial sums so that the compiler
 * can vectorise the stride-1 case without reassociating a single sum */
static double dot_strided(const float *a, const float *b, size_t len,
                          size_t stride) {
    float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    if (stride == 1) {
        for (; i + 8 <= len; i += 8)
            for (size_t j = 0; j < 8; j++) part[j] += a[i + j] * b[i + j];
    }
    double acc = 0.0;
    for (; i < len; i++) acc += (double)a[i] * b[i * stride];
    for (size_t j = 0; j < 8; j++) acc += part[j];
    return acc;
}

void pd_conv1d_direct_dw(float *dw, const float *dy, const float *x,
                         const pd_conv1d_shape *s, size_t lout) {
    const size_t n = s->n, cin = s->cin, cout = s->cout, k = s->k;
    const size_t st = s->stride, lin = s->lin;
    /* one (co, ci) pair per iteration: its k weights see every sample;
     * taps go in groups of 16 so the sums fit a local array */
#pragma omp parallel for collapse(2) schedule(static) \
    if (n * cin * lout * cout * k > PD_OMP_MIN_WORK)
    for (size_t co = 0; co < cout; co++) {
        for (size_t ci = 0; ci < cin; ci++) {
            for (size_t t0 = 0; t0 < k; t0 += 16) {
                const size_t t1 = k - t0 < 16 ? k : t0 + 16;
                double acc[16] = {0};
                for (size_t bi = 0; bi < n; bi++) {
                    const float *dyr = dy + (bi * cout + co) * lout;
                    const float *xr = x + (bi * cin + ci) * lin;
                    for (size_t t = t0; t < t1; t++) {
                        size_t lo, hi;
                        pd_tap_range(t, lin, st, s->pad, lout, &lo, &hi);
                        if (hi <= lo) continue;
                        acc[t - t0] += dot_strided(
                            dyr + lo, xr + lo * st + t - s->pad, hi - lo, st);
                    }
                }
                for (size_t t = t0; t < t1; t++)
                    dw[(co * cin + ci) * k + t] += (float)acc[t - t0];
            }
        }
    }
}

/* ---- entry points ------------------------------------------------------- */

/* x (n, cin, lin), w (cout, cin, k), b (cout) or NULL → y (n, cout, lout) */
void pd_conv1d_forward(float *y, const float *x, const float *w, const float *b,
                       const pd_conv1d_shape *s, float *scratch) {
    const size_t lout = pd_conv1d_lout(s);
    if (s->n == 0 || lout == 0 || s->cout == 0) return;
    if (s->cin == 0) {
        pd_fill_bias(y, b, s->n, s->cout, lout);
        return;
    }
    switch (pd_conv1d_algo(s)) {
    case PD_CONV_SHIFT:
        shift_forward(y, x, w, b, s, scratch);
        break;
    case PD_CONV_IM2COL:
        im2col_forward(y, x, w, b, s, scratch);
        break;
    default:
        pd_conv1d_direct_fwd(y, x, w, b, s, lout, 0);
        break;
    }
}

/* dy (n, cout, lout), x (n, cin, lin), w (cout, cin, k)
 * → dx (n, cin, lin) +=, dw (cout, cin, k) +=, db (cout) += (each may be NULL) */
void pd_conv1d_backward(float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, const pd_conv1d_shape *s,
                        float *scratch) {
    const size_t lout = pd_conv1d_lout(s);
    if (s->n == 0 || lout == 0 || s->cout == 0) return;
    if (db) pd_bias_grad_add(db, dy, s->n, s->cout, lout);
    if (s->cin == 0 || (!dx && !dw)) return;
    switch (pd_conv1d_algo(s)) {
    case PD_CONV_SHIFT:
        shift_backward(dx, dw, dy, x, w, s, scratch);
        break;
    case PD_CONV_IM2COL:
        im2col_backward(dx, dw, dy, x, w, s, scratch);
        break;
    default:
        if (dw) pd_conv1d_direct_dw(dw, dy, x, s, lout);
        if (dx) pd_conv1d_direct_dx(dx, dy, w, s, lout);
        break;
    }
}
