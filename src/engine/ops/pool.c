/*
 * pool.c — 2-D max pooling (torch.nn.functional.max_pool2d with no padding,
 * dilation 1, floor mode) and global average pooling (adaptive_avg_pool to
 * 1, i.e. the mean over the spatial positions), forward and backward.
 *
 * Max pooling follows PyTorch's tie rule: the first maximum in row-major
 * window order wins, and a NaN wins over any number (the last NaN). The chosen element's
 * flat index into the whole x tensor is kept in `argmax` for backward.
 * Planes (sample, channel) are independent and run in parallel; argmax
 * always points inside its own plane, so backward has no write conflicts.
 */
#include <math.h>

#include "engine/ops/ops.h"

/* below this many output elements a loop runs on one thread */
#define PD_OMP_MIN_WORK 16384

size_t pd_pool2d_hout(const pd_pool2d_shape *s) {
    if (s->stride == 0 || s->h < s->k) return 0;
    return (s->h - s->k) / s->stride + 1;
}

size_t pd_pool2d_wout(const pd_pool2d_shape *s) {
    if (s->stride == 0 || s->w < s->k) return 0;
    return (s->w - s->k) / s->stride + 1;
}

/* PyTorch's rule: a later candidate replaces the best so far only when
 * larger (the first maximum stays) or a NaN (the last NaN wins) */
static inline int wins(float v, float best) { return v > best || v != v; }

/* one candidate of a window, in row-major order */
static inline void take(const float *xp, size_t i, float *bv, size_t *best) {
    const float v = xp[i];
    if (wins(v, *bv)) {
        *bv = v;
        *best = i;
    }
}

/* the 2×2, stride-2 pooling of every CNN here, unrolled: the generic loop
 * below spends most of its time on loop control for 4-element windows */
static void maxpool2x2(float *y, int32_t *argmax, const float *x, const pd_pool2d_shape *s,
                       size_t ho, size_t wo) {
    const size_t planes = s->n * s->c, hw = s->h * s->w, w = s->w;
#pragma omp parallel for schedule(static) if (planes * ho * wo > PD_OMP_MIN_WORK)
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * hw;
        float *yp = y + p * ho * wo;
        int32_t *ap = argmax + p * ho * wo;
        for (size_t oy = 0; oy < ho; oy++) {
            for (size_t ox = 0; ox < wo; ox++) {
                const size_t i0 = 2 * oy * w + 2 * ox;
                size_t best = i0;
                float bv = xp[i0];
                take(xp, i0 + 1, &bv, &best);
                take(xp, i0 + w, &bv, &best);
                take(xp, i0 + w + 1, &bv, &best);
                yp[oy * wo + ox] = bv;
                ap[oy * wo + ox] = (int32_t)(p * hw + best);
            }
        }
    }
}

/* values only (evaluation: no backward, so no argmax to write): the same
 * rule, each window's maximum or its NaN */
static inline float max_or_nan(float m, float v) { return wins(v, m) ? v : m; }

static void maxpool2x2_values(float *y, const float *x, const pd_pool2d_shape *s, size_t ho,
                              size_t wo) {
    const size_t planes = s->n * s->c, hw = s->h * s->w, w = s->w;
#pragma omp parallel for schedule(static) if (planes * ho * wo > PD_OMP_MIN_WORK)
    for (size_t p = 0; p < planes; p++) {
        for (size_t oy = 0; oy < ho; oy++) {
            const float *r0 = x + p * hw + 2 * oy * w, *r1 = r0 + w;
            float *yr = y + (p * ho + oy) * wo;
            for (size_t ox = 0; ox < wo; ox++) {
                float m = r0[2 * ox];
                m = max_or_nan(m, r0[2 * ox + 1]);
                m = max_or_nan(m, r1[2 * ox]);
                yr[ox] = max_or_nan(m, r1[2 * ox + 1]);
            }
        }
    }
}

/* x (n, c, h, w) → y (n, c, ho, wo), argmax (n, c, ho, wo) or NULL
 * (evaluation: values only) */
void pd_maxpool2d_forward(float *y, int32_t *argmax, const float *x,
                          const pd_pool2d_shape *s) {
    const size_t ho = pd_pool2d_hout(s), wo = pd_pool2d_wout(s);
    const size_t planes = s->n * s->c, hw = s->h * s->w;
    if (ho == 0 || wo == 0 || s->k == 0) return;
    if (s->k == 2 && s->stride == 2) {
        if (argmax) maxpool2x2(y, argmax, x, s, ho, wo);
        else maxpool2x2_values(y, x, s, ho, wo);
        return;
    }
#pragma omp parallel for schedule(static) if (planes * ho * wo > PD_OMP_MIN_WORK)
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * hw;
        for (size_t oy = 0; oy < ho; oy++) {
            for (size_t ox = 0; ox < wo; ox++) {
                size_t y0 = oy * s->stride, x0 = ox * s->stride;
                size_t best = y0 * s->w + x0;
                float bv = xp[best];
                for (size_t ky = 0; ky < s->k; ky++) {
                    for (size_t kx = 0; kx < s->k; kx++) {
                        size_t i = (y0 + ky) * s->w + x0 + kx;
                        take(xp, i, &bv, &best);
                    }
                }
                size_t o = (p * ho + oy) * wo + ox;
                y[o] = bv;
                if (argmax) argmax[o] = (int32_t)(p * hw + best);
            }
        }
    }
}

/* dy (n, c, ho, wo), argmax from forward → dx (n, c, h, w) += */
void pd_maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax,
                           const pd_pool2d_shape *s) {
    const size_t per = pd_pool2d_hout(s) * pd_pool2d_wout(s);
    const size_t planes = s->n * s->c;
    if (dx == NULL || per == 0) return;
#pragma omp parallel for schedule(static) if (planes * per > PD_OMP_MIN_WORK)
    for (size_t p = 0; p < planes; p++) {
        for (size_t o = p * per; o < (p + 1) * per; o++)
            dx[argmax[o]] += dy[o];
    }
}

/* x (n, c, sp) → y (n, c): the mean of each row of sp values */
void pd_gap_forward(float *y, const float *x, size_t n, size_t c, size_t sp) {
    const size_t rows = n * c;
    if (sp == 0) return;
#pragma omp parallel for schedule(static) if (rows * sp > PD_OMP_MIN_WORK)
    for (size_t r = 0; r < rows; r++) {
        double acc = 0.0;
        for (size_t i = 0; i < sp; i++) acc += x[r * sp + i];
        y[r] = (float)(acc / (double)sp);
    }
}

/* dy (n, c) → dx (n, c, sp) += dy / sp broadcast */
void pd_gap_backward(float *dx, const float *dy, size_t n, size_t c, size_t sp) {
    const size_t rows = n * c;
    if (dx == NULL || sp == 0) return;
#pragma omp parallel for schedule(static) if (rows * sp > PD_OMP_MIN_WORK)
    for (size_t r = 0; r < rows; r++) {
        float g = dy[r] / (float)sp;
        for (size_t i = 0; i < sp; i++) dx[r * sp + i] += g;
    }
}

/* a channel's scale γ/√(rv + ε) as pd_batchnorm_forward_eval computes it */
static float bn_eval_scale(const float *gamma, const float *running_var, float eps, size_t ch) {
    const double rs = 1.0 / sqrt((double)running_var[ch] + (double)eps);
    return (float)rs * (gamma ? gamma[ch] : 1.0f);
}

/* the extreme of a 2 x 2 window (rising: max, else min), compared in the
 * general loop's order (row by row), so the same bits */
static inline float window_extreme(const float *r0, const float *r1, int rising) {
    float e = r0[0];
    if (rising) {
        e = r0[1] > e ? r0[1] : e;
        e = r1[0] > e ? r1[0] : e;
        e = r1[1] > e ? r1[1] : e;
    } else {
        e = r0[1] < e ? r0[1] : e;
        e = r1[0] < e ? r1[0] : e;
        e = r1[1] < e ? r1[1] : e;
    }
    return e;
}

/* one plane of pd_bn_relu_maxpool_eval with 2 x 2 windows, stride 2 (the
 * general loop took ~38 ns a 7 x 7 plane, this one 21-26) */
static void bn_relu_pool2x2_plane(float *yp, const float *xp, size_t ho, size_t wo, size_t w,
                                  int rising, float mu, float a, float b) {
    for (size_t oy = 0; oy < ho; oy++) {
        const float *r0 = xp + 2 * oy * w, *r1 = r0 + w;
        float *out = yp + oy * wo;
        for (size_t ox = 0; ox < wo; ox++) {
            const float t = (window_extreme(r0 + 2 * ox, r1 + 2 * ox, rising) - mu) * a + b;
            out[ox] = t < 0.0f ? 0.0f : t;
        }
    }
}

void pd_pool2x2_windows(float *w2, const float *x, size_t n, size_t c, size_t h, size_t w) {
    const size_t ho = h / 2, wo = w / 2, plane = ho * wo;
#pragma omp parallel for schedule(static) if (n * c * plane > PD_OMP_MIN_WORK)
    for (size_t p = 0; p < n * c; p++) {
        const size_t i = p / c, ch = p % c;
        const float *xp = x + p * h * w;
        float *hi = w2 + (2 * i * c + ch) * plane, *lo = hi + c * plane;
        for (size_t oy = 0; oy < ho; oy++) {
            const float *r0 = xp + 2 * oy * w, *r1 = r0 + w;
            for (size_t ox = 0; ox < wo; ox++) {
                hi[oy * wo + ox] = window_extreme(r0 + 2 * ox, r1 + 2 * ox, 1);
                lo[oy * wo + ox] = window_extreme(r0 + 2 * ox, r1 + 2 * ox, 0);
            }
        }
    }
}

/* channels whose scales are computed once per call rather than once per
 * (sample, channel) plane (eval runs this over 7 x 7 planes of 20 000
 * samples for every model) */
#define BN_SCALES_ON_STACK 4096

/* Inference only. f(v) = relu((v − rm)·a + b), a = γ/√(rv + ε), is the
 * same arithmetic as pd_batchnorm_forward_eval then ReLU, and it is
 * monotonic in v even after float rounding: rising for a ≥ 0, falling for
 * a < 0. So a window's maximum of f is f of the window's max (a ≥ 0) or
 * min (a < 0), and each input is read once instead of passing through two
 * intermediate tensors. */
void pd_bn_relu_maxpool_eval(float *y, const float *x, const float *gamma,
                             const float *beta, const float *running_mean,
                             const float *running_var, float eps,
                             const pd_pool2d_shape *s) {
    const size_t ho = pd_pool2d_hout(s), wo = pd_pool2d_wout(s);
    const size_t planes = s->n * s->c, hw = s->h * s->w;
    if (ho == 0 || wo == 0 || s->k == 0) return;
    float scales[BN_SCALES_ON_STACK];
    const int kept = s->c <= BN_SCALES_ON_STACK;
    for (size_t ch = 0; kept && ch < s->c; ch++)
        scales[ch] = bn_eval_scale(gamma, running_var, eps, ch);
#pragma omp parallel for schedule(static) if (planes * ho * wo > PD_OMP_MIN_WORK)
    for (size_t i = 0; i < s->n; i++) {
        for (size_t ch = 0; ch < s->c; ch++) {
            const float a = kept ? scales[ch] : bn_eval_scale(gamma, running_var, eps, ch);
            const float b = beta ? beta[ch] : 0.0f, mu = running_mean[ch];
            const int rising = a >= 0.0f;
            const size_t p = i * s->c + ch;
            const float *xp = x + p * hw;
            float *yp = y + p * ho * wo;
            if (s->k == 2 && s->stride == 2) { /* the CNNs' pools, unrolled */
                bn_relu_pool2x2_plane(yp, xp, ho, wo, s->w, rising, mu, a, b);
                continue;
            }
            for (size_t oy = 0; oy < ho; oy++) {
                for (size_t ox = 0; ox < wo; ox++) {
                    const float *win = xp + oy * s->stride * s->w + ox * s->stride;
                    float e = win[0];
                    for (size_t ky = 0; ky < s->k; ky++)
                        for (size_t kx = 0; kx < s->k; kx++) {
                            const float v = win[ky * s->w + kx];
                            if (rising ? v > e : v < e) e = v;
                        }
                    const float t = (e - mu) * a + b;
                    yp[oy * wo + ox] = t < 0.0f ? 0.0f : t;
                }
            }
        }
    }
}

/* values of one sample's (c, ho, wo) block whose per-value scale, shift and
 * mean fit on the stack in pd_bn_relu_windows_eval's flat path */
#define WINDOWS_FLAT_MAX 2048

void pd_bn_relu_windows_eval(float *y, const float *w2, const float *gamma,
                             const float *beta, const float *running_mean,
                             const float *running_var, float eps,
                             const pd_pool2d_shape *s) {
    const size_t plane = (s->h / 2) * (s->w / 2), per = s->c * plane;
    if (plane == 0) return;
    float scales[BN_SCALES_ON_STACK];
    const int kept = s->c <= BN_SCALES_ON_STACK;
    for (size_t ch = 0; kept && ch < s->c; ch++)
        scales[ch] = bn_eval_scale(gamma, running_var, eps, ch);
    if (kept && per <= WINDOWS_FLAT_MAX) {
        /* a sample's block as one flat loop over c * plane values (9 per
         * plane is too short a loop): the channel's mean, scale and shift
         * repeated per value, the source picked per value (max where the
         * scale is >= 0); the same arithmetic, so the same bits */
        float mu[WINDOWS_FLAT_MAX], a[WINDOWS_FLAT_MAX], b[WINDOWS_FLAT_MAX];
        int falling = 0;
        for (size_t ch = 0; ch < s->c; ch++) {
            falling |= scales[ch] < 0.0f;
            for (size_t j = 0; j < plane; j++) {
                mu[ch * plane + j] = running_mean[ch];
                a[ch * plane + j] = scales[ch];
                b[ch * plane + j] = beta ? beta[ch] : 0.0f;
            }
        }
#pragma omp parallel for schedule(static) if (s->n * per > PD_OMP_MIN_WORK)
        for (size_t i = 0; i < s->n; i++) {
            const float *hi = w2 + 2 * i * per, *lo = hi + per;
            float *yi = y + i * per;
            if (!falling) {
                for (size_t k = 0; k < per; k++) {
                    const float t = (hi[k] - mu[k]) * a[k] + b[k];
                    yi[k] = t < 0.0f ? 0.0f : t;
                }
            } else {
                for (size_t k = 0; k < per; k++) {
                    const float e = a[k] >= 0.0f ? hi[k] : lo[k];
                    const float t = (e - mu[k]) * a[k] + b[k];
                    yi[k] = t < 0.0f ? 0.0f : t;
                }
            }
        }
        return;
    }
#pragma omp parallel for schedule(static) if (s->n * per > PD_OMP_MIN_WORK)
    for (size_t i = 0; i < s->n; i++) {
        for (size_t ch = 0; ch < s->c; ch++) {
            const float a = kept ? scales[ch] : bn_eval_scale(gamma, running_var, eps, ch);
            const float b = beta ? beta[ch] : 0.0f, mu = running_mean[ch];
            /* the max plane for a rising map (a >= 0), else the min plane */
            const float *e = w2 + ((2 * i + (a >= 0.0f ? 0 : 1)) * s->c + ch) * plane;
            float *yp = y + (i * s->c + ch) * plane;
            for (size_t j = 0; j < plane; j++) {
                const float t = (e[j] - mu) * a + b;
                yp[j] = t < 0.0f ? 0.0f : t;
            }
        }
    }
}

/* ---- BN (training statistics) -> ReLU -> 2 x 2 max-pool, fused ---------- */

void pd_bn_relu_maxpool_train_forward(float *y, int32_t *argmax, const float *x,
                                      const float *mean, const float *rstd,
                                      const float *gamma, const float *beta,
                                      const pd_pool2d_shape *s) {
    const size_t ho = pd_pool2d_hout(s), wo = pd_pool2d_wout(s);
    const size_t planes = s->n * s->c, hw = s->h * s->w, w = s->w;
#pragma omp parallel for schedule(static) if (planes * ho * wo > PD_OMP_MIN_WORK)
    for (size_t p = 0; p < planes; p++) {
        const size_t ch = p % s->c;
        /* pd_batchnorm_forward_train's arithmetic: (x - mean) * (rstd g) + b */
        const float mu = mean[ch], a = rstd[ch] * (gamma ? gamma[ch] : 1.0f);
        const float b = beta ? beta[ch] : 0.0f;
        const float *xp = x + p * hw;
        for (size_t oy = 0; oy < ho; oy++) {
            for (size_t ox = 0; ox < wo; ox++) {
                const size_t i0 = 2 * oy * w + 2 * ox;
                const size_t idx[4] = {i0, i0 + 1, i0 + w, i0 + w + 1};
                float r[4];
                for (int k = 0; k < 4; k++) {
                    const float h = (xp[idx[k]] - mu) * a + b;
                    r[k] = h < 0.0f ? 0.0f : h; /* pd_act_forward's ReLU (NaN passes) */
                }
                size_t best = 0;
                float bv = r[0];
                for (int k = 1; k < 4; k++)
                    if (wins(r[k], bv)) {
                        bv = r[k];
                        best = (size_t)k;
                    }
                y[(p * ho + oy) * wo + ox] = bv;
                argmax[(p * ho + oy) * wo + ox] = (int32_t)(p * hw + idx[best]);
            }
        }
    }
}

void pd_bn_relu_maxpool_train_backward(float *dx, float *dgamma, float *dbeta,
                                       const float *dy, const float *y,
                                       const int32_t *argmax, const float *x,
                                       const float *mean, const float *rstd,
                                       const float *gamma, const pd_pool2d_shape *s) {
    const size_t ho = pd_pool2d_hout(s), wo = pd_pool2d_wout(s), po = ho * wo;
    const size_t hw = s->h * s->w, count = s->n * hw;
    if (count == 0) return;
#pragma omp parallel for schedule(static) if (s->n * s->c * hw > PD_OMP_MIN_WORK && s->c > 1)
    for (size_t ch = 0; ch < s->c; ch++) {
        const float mu = mean[ch], rs = rstd[ch];
        /* h's gradient is dy at the argmax of a window whose ReLU passed
         * (y > 0), zero elsewhere: Σ dh and Σ dh xh over those alone */
        double sdy = 0.0, sdyx = 0.0;
        for (size_t i = 0; i < s->n; i++) {
            const size_t o0 = (i * s->c + ch) * po;
            for (size_t o = o0; o < o0 + po; o++)
                if (y[o] > 0.0f) {
                    sdy += dy[o];
                    sdyx += (double)dy[o] * ((x[argmax[o]] - mu) * rs);
                }
        }
        if (dbeta) dbeta[ch] += (float)sdy;
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (!dx) continue;
        /* dx = g rs (dh - Σdh / N - xh Σ(dh xh) / N) */
        const float k = (gamma ? gamma[ch] : 1.0f) * rs;
        const float ma = (float)(sdy / (double)count), mb = (float)(sdyx / (double)count);
        for (size_t i = 0; i < s->n; i++) {
            const size_t off = (i * s->c + ch) * hw, o0 = (i * s->c + ch) * po;
            for (size_t j = 0; j < hw; j++) {
                const float xh = (x[off + j] - mu) * rs;
                dx[off + j] -= k * (ma + xh * mb);
            }
            for (size_t o = o0; o < o0 + po; o++)
                if (y[o] > 0.0f) dx[argmax[o]] += k * dy[o];
        }
    }
}
