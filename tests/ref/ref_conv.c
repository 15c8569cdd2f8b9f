/*
 * ref_conv.c — naive reference linear / conv1d / conv_transpose1d / conv2d,
 * forward and backward (see ref.h). Every output and gradient element is
 * computed straight from its defining sum, in double, with no im2col, no
 * BLAS and no threads, so the optimized kernels can be checked against an
 * independent formulation. Output sizes are recomputed here too.
 */
#include <stddef.h>

#include "ref/ref.h"

/* conv output extent; 0 when the kernel does not fit */
static size_t ref_extent(size_t len, size_t k, size_t stride, size_t pad) {
    if (stride == 0 || len + 2 * pad < k) return 0;
    return (len + 2 * pad - k) / stride + 1;
}

/* output position q / stride if q = p + pad - t lands on one in [0, lout) */
static int ref_tap_out(long p, long t, const size_t pad, size_t stride,
                       size_t lout, size_t *o) {
    long q = p + (long)pad - t;
    if (q < 0 || q % (long)stride != 0) return 0;
    if ((size_t)q / stride >= lout) return 0;
    *o = (size_t)q / stride;
    return 1;
}

/* ---- linear ------------------------------------------------------------- */

/* y[i][o] = b[o] + Σ_j x[i][j] w[o][j] */
void pd_ref_linear_forward(float *y, const float *x, const float *w,
                           const float *b, const pd_linear_shape *s) {
    for (size_t i = 0; i < s->n; i++)
        for (size_t o = 0; o < s->out; o++) {
            double acc = b ? b[o] : 0.0;
            for (size_t j = 0; j < s->in; j++)
                acc += (double)x[i * s->in + j] * w[o * s->in + j];
            y[i * s->out + o] = (float)acc;
        }
}

/* db[o] += Σ_i dy[i][o]; dw[o][j] += Σ_i dy[i][o] x[i][j];
 * dx[i][j] += Σ_o dy[i][o] w[o][j] */
void pd_ref_linear_backward(float *dx, float *dw, float *db, const float *dy,
                            const float *x, const float *w,
                            const pd_linear_shape *s) {
    for (size_t o = 0; o < s->out; o++) {
        if (db) {
            double acc = 0.0;
            for (size_t i = 0; i < s->n; i++) acc += dy[i * s->out + o];
            db[o] += (float)acc;
        }
        for (size_t j = 0; dw && j < s->in; j++) {
            double acc = 0.0;
            for (size_t i = 0; i < s->n; i++)
                acc += (double)dy[i * s->out + o] * x[i * s->in + j];
            dw[o * s->in + j] += (float)acc;
        }
    }
    for (size_t i = 0; dx && i < s->n; i++)
        for (size_t j = 0; j < s->in; j++) {
            double acc = 0.0;
            for (size_t o = 0; o < s->out; o++)
                acc += (double)dy[i * s->out + o] * w[o * s->in + j];
            dx[i * s->in + j] += (float)acc;
        }
}

/* ---- conv1d ------------------------------------------------------------- */

/* y[n][co][l] = b[co] + Σ_ci Σ_t w[co][ci][t] x[n][ci][l*stride + t - pad] */
void pd_ref_conv1d_forward(float *y, const float *x, const float *w,
                           const float *b, const pd_conv1d_shape *s) {
    const size_t lout = ref_extent(s->lin, s->k, s->stride, s->pad);
    for (size_t n = 0; n < s->n; n++)
        for (size_t co = 0; co < s->cout; co++)
            for (size_t l = 0; l < lout; l++) {
                double acc = b ? b[co] : 0.0;
                for (size_t ci = 0; ci < s->cin; ci++)
                    for (size_t t = 0; t < s->k; t++) {
                        long p = (long)(l * s->stride + t) - (long)s->pad;
                        if (p < 0 || p >= (long)s->lin) continue;
                        acc += (double)w[(co * s->cin + ci) * s->k + t] *
                               x[(n * s->cin + ci) * s->lin + (size_t)p];
                    }
                y[(n * s->cout + co) * lout + l] = (float)acc;
            }
}

/* dw[co][ci][t] += Σ_n Σ_l dy[n][co][l] x[n][ci][l*stride + t - pad];
 * dx[n][ci][p] += Σ over (co, t, l) with l*stride + t - pad = p of
 * dy[n][co][l] w[co][ci][t] (gathered per p, not scattered) */
void pd_ref_conv1d_backward(float *dx, float *dw, float *db, const float *dy,
                            const float *x, const float *w,
                            const pd_conv1d_shape *s) {
    const size_t lout = ref_extent(s->lin, s->k, s->stride, s->pad);
    for (size_t co = 0; co < s->cout; co++) {
        if (db) {
            double acc = 0.0;
            for (size_t n = 0; n < s->n; n++)
                for (size_t l = 0; l < lout; l++)
                    acc += dy[(n * s->cout + co) * lout + l];
            db[co] += (float)acc;
        }
        for (size_t ci = 0; dw && ci < s->cin; ci++)
            for (size_t t = 0; t < s->k; t++) {
                double acc = 0.0;
                for (size_t n = 0; n < s->n; n++)
                    for (size_t l = 0; l < lout; l++) {
                        long p = (long)(l * s->stride + t) - (long)s->pad;
                        if (p < 0 || p >= (long)s->lin) continue;
                        acc += (double)dy[(n * s->cout + co) * lout + l] *
                               x[(n * s->cin + ci) * s->lin + (size_t)p];
                    }
                dw[(co * s->cin + ci) * s->k + t] += (float)acc;
            }
    }
    for (size_t n = 0; dx && n < s->n; n++)
        for (size_t ci = 0; ci < s->cin; ci++)
            for (size_t p = 0; p < s->lin; p++) {
                double acc = 0.0;
                for (size_t co = 0; co < s->cout; co++)
                    for (size_t t = 0; t < s->k; t++) {
                        size_t l;
                        if (!ref_tap_out((long)p, (long)t, s->pad, s->stride,
                                         lout, &l))
                            continue;
                        acc += (double)dy[(n * s->cout + co) * lout + l] *
                               w[(co * s->cin + ci) * s->k + t];
                    }
                dx[(n * s->cin + ci) * s->lin + p] += (float)acc;
            }
}

/* ---- conv_transpose1d --------------------------------------------------- */

static size_t ref_convt_lout(const pd_convt1d_shape *s) {
    if (s->lin == 0) return 0;
    size_t full = (s->lin - 1) * s->stride + s->k + s->out_pad;
    return full > 2 * s->pad ? full - 2 * s->pad : 0;
}

/* y[n][co][j] = b[co] + Σ over (ci, t, i) with i*stride + t - pad = j of
 * x[n][ci][i] w[ci][co][t] */
void pd_ref_convt1d_forward(float *y, const float *x, const float *w,
                            const float *b, const pd_convt1d_shape *s) {
    const size_t lout = ref_convt_lout(s);
    for (size_t n = 0; n < s->n; n++)
        for (size_t co = 0; co < s->cout; co++)
            for (size_t j = 0; j < lout; j++) {
                /* y[j] gathers x[i] w[t] over i*stride + t - pad = j */
                double acc = b ? b[co] : 0.0;
                for (size_t ci = 0; ci < s->cin; ci++)
                    for (size_t t = 0; t < s->k; t++) {
                        size_t i;
                        if (!ref_tap_out((long)j, (long)t, s->pad, s->stride,
                                         s->lin, &i))
                            continue;
                        acc += (double)x[(n * s->cin + ci) * s->lin + i] *
                               w[(ci * s->cout + co) * s->k + t];
                    }
                y[(n * s->cout + co) * lout + j] = (float)acc;
            }
}

/* dw[ci][co][t] += Σ_n Σ_i x[n][ci][i] dy[n][co][i*stride + t - pad];
 * dx[n][ci][i] += Σ_co Σ_t dy[n][co][i*stride + t - pad] w[ci][co][t] */
void pd_ref_convt1d_backward(float *dx, float *dw, float *db, const float *dy,
                             const float *x, const float *w,
                             const pd_convt1d_shape *s) {
    const size_t lout = ref_convt_lout(s);
    for (size_t co = 0; db && co < s->cout; co++) {
        double acc = 0.0;
        for (size_t n = 0; n < s->n; n++)
            for (size_t j = 0; j < lout; j++)
                acc += dy[(n * s->cout + co) * lout + j];
        db[co] += (float)acc;
    }
    for (size_t ci = 0; dw && ci < s->cin; ci++)
        for (size_t co = 0; co < s->cout; co++)
            for (size_t t = 0; t < s->k; t++) {
                double acc = 0.0;
                for (size_t n = 0; n < s->n; n++)
                    for (size_t i = 0; i < s->lin; i++) {
                        long j = (long)(i * s->stride + t) - (long)s->pad;
                        if (j < 0 || j >= (long)lout) continue;
                        acc += (double)x[(n * s->cin + ci) * s->lin + i] *
                               dy[(n * s->cout + co) * lout + (size_t)j];
                    }
                dw[(ci * s->cout + co) * s->k + t] += (float)acc;
            }
    for (size_t n = 0; dx && n < s->n; n++)
        for (size_t ci = 0; ci < s->cin; ci++)
            for (size_t i = 0; i < s->lin; i++) {
                double acc = 0.0;
                for (size_t co = 0; co < s->cout; co++)
                    for (size_t t = 0; t < s->k; t++) {
                        long j = (long)(i * s->stride + t) - (long)s->pad;
                        if (j < 0 || j >= (long)lout) continue;
                        acc += (double)dy[(n * s->cout + co) * lout + (size_t)j] *
                               w[(ci * s->cout + co) * s->k + t];
                    }
                dx[(n * s->cin + ci) * s->lin + i] += (float)acc;
            }
}

/* ---- conv2d ------------------------------------------------------------- */

/* x[n][ci][iy][ix] with (iy, ix) = (oy, ox) * stride + (ky, kx) - pad, or
 * 0 when that falls in the padding; *ok says which */
static float ref_x2d(const float *x, const pd_conv2d_shape *s, size_t n,
                     size_t ci, size_t oy, size_t ox, size_t ky, size_t kx,
                     int *ok) {
    long iy = (long)(oy * s->stride + ky) - (long)s->pad;
    long ix = (long)(ox * s->stride + kx) - (long)s->pad;
    *ok = iy >= 0 && iy < (long)s->h && ix >= 0 && ix < (long)s->w;
    if (!*ok) return 0.0f;
    return x[((n * s->cin + ci) * s->h + (size_t)iy) * s->w + (size_t)ix];
}

/* y[n][co][oy][ox] = b[co] + Σ_ci Σ_ky Σ_kx w[co][ci][ky][kx] ·
 *                    x[n][ci][oy*stride + ky - pad][ox*stride + kx - pad] */
void pd_ref_conv2d_forward(float *y, const float *x, const float *w,
                           const float *b, const pd_conv2d_shape *s) {
    const size_t ho = ref_extent(s->h, s->k, s->stride, s->pad);
    const size_t wo = ref_extent(s->w, s->k, s->stride, s->pad);
    const size_t kk = s->k * s->k;
    for (size_t n = 0; n < s->n; n++)
        for (size_t co = 0; co < s->cout; co++)
            for (size_t oy = 0; oy < ho; oy++)
                for (size_t ox = 0; ox < wo; ox++) {
                    double acc = b ? b[co] : 0.0;
                    for (size_t ci = 0; ci < s->cin; ci++)
                        for (size_t ky = 0; ky < s->k; ky++)
                            for (size_t kx = 0; kx < s->k; kx++) {
                                int ok;
                                float v = ref_x2d(x, s, n, ci, oy, ox, ky, kx,
                                                  &ok);
                                acc += (double)v *
                                       w[(co * s->cin + ci) * kk + ky * s->k + kx];
                            }
                    y[((n * s->cout + co) * ho + oy) * wo + ox] = (float)acc;
                }
}

/* the 2-D analogues of conv1d's sums, each gradient element gathered */
void pd_ref_conv2d_backward(float *dx, float *dw, float *db, const float *dy,
                            const float *x, const float *w,
                            const pd_conv2d_shape *s) {
    const size_t ho = ref_extent(s->h, s->k, s->stride, s->pad);
    const size_t wo = ref_extent(s->w, s->k, s->stride, s->pad);
    const size_t kk = s->k * s->k, plane = ho * wo;
    for (size_t co = 0; co < s->cout; co++) {
        if (db) {
            double acc = 0.0;
            for (size_t n = 0; n < s->n; n++)
                for (size_t o = 0; o < plane; o++)
                    acc += dy[(n * s->cout + co) * plane + o];
            db[co] += (float)acc;
        }
        for (size_t ci = 0; dw && ci < s->cin; ci++)
            for (size_t ky = 0; ky < s->k; ky++)
                for (size_t kx = 0; kx < s->k; kx++) {
                    double acc = 0.0;
                    for (size_t n = 0; n < s->n; n++)
                        for (size_t oy = 0; oy < ho; oy++)
                            for (size_t ox = 0; ox < wo; ox++) {
                                int ok;
                                float v = ref_x2d(x, s, n, ci, oy, ox, ky, kx,
                                                  &ok);
                                acc += (double)v *
                                       dy[((n * s->cout + co) * ho + oy) * wo + ox];
                            }
                    dw[(co * s->cin + ci) * kk + ky * s->k + kx] += (float)acc;
                }
    }
    for (size_t n = 0; dx && n < s->n; n++)
        for (size_t ci = 0; ci < s->cin; ci++)
            for (size_t iy = 0; iy < s->h; iy++)
                for (size_t ix = 0; ix < s->w; ix++) {
                    double acc = 0.0;
                    for (size_t co = 0; co < s->cout; co++)
                        for (size_t ky = 0; ky < s->k; ky++)
                            for (size_t kx = 0; kx < s->k; kx++) {
                                size_t oy, ox;
                                if (!ref_tap_out((long)iy, (long)ky, s->pad,
                                                 s->stride, ho, &oy) ||
                                    !ref_tap_out((long)ix, (long)kx, s->pad,
                                                 s->stride, wo, &ox))
                                    continue;
                                acc += (double)dy[((n * s->cout + co) * ho + oy) *
                                                      wo + ox] *
                                       w[(co * s->cin + ci) * kk + ky * s->k + kx];
                            }
                    dx[((n * s->cin + ci) * s->h + iy) * s->w + ix] += (float)acc;
                }
}
