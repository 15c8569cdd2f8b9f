/*
 * im2col.c — batch im2col / col2im (1-D and 2-D) and the (n, c, sp) ↔
 * channel-major permutes used by the GEMM convolutions; see im2col.h.
 *
 * Every loop nest runs over (channel, sample) pairs in parallel: a pair owns
 * one row of x (or y) and one block of columns in each of its col rows, so
 * the threads never write the same element and col2im needs no atomics.
 * Small problems stay on one thread (the `if` clauses) because waking the
 * OpenMP team costs more than the copy itself.
 */
#include <cblas.h>

#include "engine/ops/im2col.h"

#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "pdiff.h"

/* below this many touched floats (~0.1 ms of copying) a loop runs on one
 * thread: waking the OpenMP team costs microseconds on an idle machine but
 * can cost a scheduler time slice on a busy one */
#define PD_OMP_MIN_WORK (1u << 18)

/* first l with l*stride + t >= pad, and one past the last l with
 * l*stride + t - pad <= lin - 1, both clamped to [0, lout] */
void pd_tap_range(size_t t, size_t lin, size_t stride, size_t pad,
                  size_t lout, size_t *lo, size_t *hi) {
    size_t a = t >= pad ? 0 : (pad - t + stride - 1) / stride;
    size_t b = 0;
    if (lin + pad > t) b = (lin - 1 + pad - t) / stride + 1;
    if (b > lout) b = lout;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* dst[0..lout) = src[l*stride + t - pad] or 0 (one im2col row segment) */
static void gather_row(float *dst, const float *src, size_t t, size_t lin,
                       size_t stride, size_t pad, size_t lout) {
    size_t lo, hi;
    pd_tap_range(t, lin, stride, pad, lout, &lo, &hi);
    if (lo > 0) memset(dst, 0, lo * sizeof(float));
    if (hi > lo) {
        const float *s = src + lo * stride + t - pad;
        if (stride == 1) {
            memcpy(dst + lo, s, (hi - lo) * sizeof(float));
        } else {
            for (size_t l = lo; l < hi; l++) dst[l] = s[(l - lo) * stride];
        }
    }
    if (hi < lout) memset(dst + hi, 0, (lout - hi) * sizeof(float));
}

/* dst[l*stride + t - pad] += src[l] for in-range positions (col2im) */
static void scatter_row(float *dst, const float *src, size_t t, size_t lin,
                        size_t stride, size_t pad, size_t lout) {
    size_t lo, hi;
    pd_tap_range(t, lin, stride, pad, lout, &lo, &hi);
    if (hi <= lo) return;
    float *d = dst + lo * stride + t - pad;
    if (stride == 1) {
        for (size_t l = lo; l < hi; l++) d[l - lo] += src[l];
    } else {
        for (size_t l = lo; l < hi; l++) d[(l - lo) * stride] += src[l];
    }
}

/* x (n, c, lin) → col (c*k, n*lout) */
void pd_im2col1d(float *col, const float *x, const pd_col1d_geom *g) {
    const size_t n = g->n, c = g->c, k = g->k, lin = g->lin, lout = g->lout;
    const size_t ncols = n * lout;
    /* one col row (ci, t) per iteration; its valid range is the same for
     * every sample */
#pragma omp parallel for collapse(2) schedule(static) \
    if (c * k * ncols > PD_OMP_MIN_WORK)
    for (size_t ci = 0; ci < c; ci++) {
        for (size_t t = 0; t < k; t++) {
            size_t lo, hi;
            pd_tap_range(t, lin, g->stride, g->pad, lout, &lo, &hi);
            float *row = col + (ci * k + t) * ncols;
            for (size_t b = 0; b < n; b++) {
                float *dst = row + b * lout;
                for (size_t l = 0; l < lo; l++) dst[l] = 0.0f;
                if (hi > lo) { /* src = &x[b][ci][lo*stride + t - pad] */
                    const float *src =
                        x + (b * c + ci) * lin + lo * g->stride + t - g->pad;
                    if (g->stride == 1) {
                        for (size_t l = lo; l < hi; l++) dst[l] = src[l - lo];
                    } else {
                        for (size_t l = lo; l < hi; l++)
                            dst[l] = src[(l - lo) * g->stride];
                    }
                }
                for (size_t l = hi; l < lout; l++) dst[l] = 0.0f;
            }
        }
    }
}

/* col (c*k, n*lout) → x (n, c, lin) +=; a (ci, b) pair owns x[b][ci] */
void pd_col2im1d_add(float *x, const float *col, const pd_col1d_geom *g) {
    const size_t n = g->n, c = g->c, k = g->k, lout = g->lout;
    const size_t ncols = n * lout;
#pragma omp parallel for collapse(2) schedule(static) \
    if (c * k * ncols > PD_OMP_MIN_WORK)
    for (size_t ci = 0; ci < c; ci++) {
        for (size_t b = 0; b < n; b++) {
            float *xr = x + (b * c + ci) * g->lin;
            for (size_t t = 0; t < k; t++) {
                const float *src = col + (ci * k + t) * ncols + b * lout;
                scatter_row(xr, src, t, g->lin, g->stride, g->pad, lout);
            }
        }
    }
}

/* x (n, c, h, w) → col (c*k*k, n*ho*wo); per kernel row ky only the
 * output rows whose input row exists are copied, the rest are zero */
void pd_im2col2d(float *col, const float *x, const pd_col2d_geom *g) {
    const size_t n = g->n, c = g->c, k = g->k, ho = g->ho, wo = g->wo;
    const size_t plane = ho * wo, ncols = n * plane;
#pragma omp parallel for collapse(2) schedule(static) \
    if (c * k * k * ncols > PD_OMP_MIN_WORK)
    for (size_t ci = 0; ci < c; ci++) {
        for (size_t b = 0; b < n; b++) {
            const float *xp = x + (b * c + ci) * g->h * g->w; /* x[b][ci] */
            for (size_t ky = 0; ky < k; ky++) {
                /* output rows oy whose input row oy*stride+ky-pad exists */
                size_t ylo, yhi;
                pd_tap_range(ky, g->h, g->stride, g->pad, ho, &ylo, &yhi);
                for (size_t kx = 0; kx < k; kx++) {
                    float *dst = col + ((ci * k + ky) * k + kx) * ncols +
                                 b * plane;
                    if (ylo > 0) memset(dst, 0, ylo * wo * sizeof(float));
                    for (size_t oy = ylo; oy < yhi; oy++) {
                        const float *xr =
                            xp + (oy * g->stride + ky - g->pad) * g->w;
                        gather_row(dst + oy * wo, xr, kx, g->w, g->stride,
                                   g->pad, wo);
                    }
                    if (yhi < ho)
                        memset(dst + yhi * wo, 0,
                               (ho - yhi) * wo * sizeof(float));
                }
            }
        }
    }
}

/* col (c*k*k, n*ho*wo) → x (n, c, h, w) +=, the adjoint of the above */
void pd_col2im2d_add(float *x, const float *col, const pd_col2d_geom *g) {
    const size_t n = g->n, c = g->c, k = g->k, ho = g->ho, wo = g->wo;
    const size_t plane = ho * wo, ncols = n * plane;
#pragma omp parallel for collapse(2) schedule(static) \
    if (c * k * k * ncols > PD_OMP_MIN_WORK)
    for (size_t ci = 0; ci < c; ci++) {
        for (size_t b = 0; b < n; b++) {
            float *xp = x + (b * c + ci) * g->h * g->w;
            for (size_t ky = 0; ky < k; ky++) {
                size_t ylo, yhi;
                pd_tap_range(ky, g->h, g->stride, g->pad, ho, &ylo, &yhi);
                for (size_t kx = 0; kx < k; kx++) {
                    const float *src = col + ((ci * k + ky) * k + kx) * ncols +
                                       b * plane;
                    for (size_t oy = ylo; oy < yhi; oy++) {
                        float *xr = xp + (oy * g->stride + ky - g->pad) * g->w;
                        scatter_row(xr, src + oy * wo, kx, g->w, g->stride,
                                    g->pad, wo);
                    }
                }
            }
        }
    }
}

/* a (c, ld) → y (n, c, sp), one contiguous segment per (b, ci) */
void pd_cm_to_ncs(float *y, const float *a, const float *bias, size_t n,
                  size_t c, size_t sp, const pd_cm_layout *lay,
                  int accumulate) {
#pragma omp parallel for collapse(2) schedule(static) \
    if (n * c * sp > PD_OMP_MIN_WORK)
    for (size_t b = 0; b < n; b++) {
        for (size_t ci = 0; ci < c; ci++) {
            float *dst = y + (b * c + ci) * sp;
            const float *src = a + ci * lay->ld + lay->front + b * lay->step;
            const float off = bias ? bias[ci] : 0.0f;
            if (accumulate) {
                for (size_t s = 0; s < sp; s++) dst[s] += src[s] + off;
            } else if (bias) {
                for (size_t s = 0; s < sp; s++) dst[s] = src[s] + off;
            } else {
                memcpy(dst, src, sp * sizeof(float));
            }
        }
    }
}

/* x (n, c, sp) → a (c, ld), zeroing front, gaps and tail */
void pd_ncs_to_cm(float *a, const float *x, size_t n, size_t c, size_t sp,
                  const pd_cm_layout *lay) {
    const size_t gap = lay->step - sp, end = lay->front + n * lay->step;
#pragma omp parallel for collapse(2) schedule(static) \
    if (n * c * sp > PD_OMP_MIN_WORK)
    for (size_t ci = 0; ci < c; ci++) {
        for (size_t b = 0; b < n; b++) {
            float *row = a + ci * lay->ld;
            float *dst = row + lay->front + b * lay->step;
            memcpy(dst, x + (b * c + ci) * sp, sp * sizeof(float));
            if (gap) memset(dst + sp, 0, gap * sizeof(float));
            /* the first and last sample of a row also clear its ends */
            if (b == 0 && lay->front) memset(row, 0, lay->front * sizeof(float));
            if (b == n - 1 && lay->ld > end)
                memset(row + end, 0, (lay->ld - end) * sizeof(float));
        }
    }
}

/* y (n, c, sp) = bias broadcast along sp */
void pd_fill_bias(float *y, const float *bias, size_t n, size_t c, size_t sp) {
#pragma omp parallel for collapse(2) schedule(static) \
    if (n * c * sp > PD_OMP_MIN_WORK)
    for (size_t b = 0; b < n; b++) {
        for (size_t ci = 0; ci < c; ci++) {
            float *dst = y + (b * c + ci) * sp;
            const float v = bias ? bias[ci] : 0.0f;
            for (size_t s = 0; s < sp; s++) dst[s] = v;
        }
    }
}

void pd_bias_grad_add(float *db, const float *dy, size_t n, size_t c,
                      size_t sp) {
    /* one thread per channel; each channel sums its n rows of sp values */
#pragma omp parallel for schedule(static) if (n * c * sp > PD_OMP_MIN_WORK)
    for (size_t ci = 0; ci < c; ci++) {
        double acc = 0.0;
        for (size_t b = 0; b < n; b++) {
            const float *row = dy + (b * c + ci) * sp;
            /* 8 partial sums: a fixed-width inner loop the compiler
             * vectorises at -O2 without reassociating one float sum */
            float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            size_t s = 0;
            for (; s + 8 <= sp; s += 8)
                for (size_t j = 0; j < 8; j++) part[j] += row[s + j];
            for (; s < sp; s++) part[0] += row[s];
            for (size_t j = 0; j < 8; j++) acc += part[j];
        }
        db[ci] += (float)acc;
    }
}

void pd_colconv_backward_gemms(float *dw, float *col, const float *dyp, const float *w,
                               size_t cout, size_t kdim, size_t ncols, int dcol) {
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cout, (int)kdim,
                    (int)ncols, 1.0f, dyp, (int)ncols, col, (int)ncols, 1.0f, dw,
                    (int)kdim);
    if (dcol)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kdim, (int)ncols,
                    (int)cout, 1.0f, w, (int)kdim, dyp, (int)ncols, 0.0f, col,
                    (int)ncols);
}

size_t pd_sample_slots(void) {
#ifdef _OPENMP
    /* this thread's count: 1 inside a worker of pd_run_workers */
    int t = omp_get_max_threads();
#else
    int t = 1;
#endif
    return t < 1 ? 1 : (size_t)t;
}

size_t pd_sample_slot(void) {
#ifdef _OPENMP
    return (size_t)omp_get_thread_num();
#else
    return 0;
#endif
}

void pd_sum_partials(float *dst, const float *parts, size_t slots, size_t len) {
    for (size_t s = 0; s < slots; s++)
        for (size_t i = 0; i < len; i++) dst[i] += parts[s * len + i];
}
