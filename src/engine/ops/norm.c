/*
 * norm.c — batch norm and group norm (instance norm = group norm with one
 * channel per group), forward and backward, over x (n, c, sp).
 *
 * Semantics follow torch.nn.functional.batch_norm / group_norm:
 *   y = (x - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(var + eps),
 * with var the biased variance of the normalised set. Batch norm's training
 * forward also updates the running statistics the PyTorch way:
 *   running = (1 - momentum) running + momentum stat,
 * the variance entering that update being the unbiased one (n*sp - 1).
 *
 * Means and variances take two passes (mean, then the centred sum of
 * squares), each summed in float lanes over short blocks and in double
 * across blocks (row_sums). Each parallel iteration owns one channel (batch
 * norm, group-norm dgamma/dbeta) or one (sample, group) block (group norm),
 * so every sum runs in a fixed order: results are bit-identical whatever the
 * thread count. Tiny tensors stay serial through the OpenMP `if` clause.
 */
#include "engine/ops/ops.h"

#include <math.h>

#include "engine/ops/vec4.h"

#include <immintrin.h>

/* below this many elements a kernel runs on one thread */
enum { NORM_PAR_MIN = 1 << 15 };

/* ---- row sums ---------------------------------------------------------------
 * Sums over a contiguous row run in 16 float lanes (GCC/Clang vector
 * extension) within blocks of SUM_BLOCK elements, and the blocks' partial
 * sums are added in double: several times faster than a scalar double
 * loop, as accurate for rows of any length, and in a fixed order. */

#define SUM_BLOCK 256

/* LeakyReLU with slope 1 is the identity, exactly (x * 1 == x) */
static inline v4f lrelu4(v4f x, v4f slope) {
    const v4i pos = x > (v4f){0, 0, 0, 0}; /* lanes of all ones where x > 0 */
    return (v4f)(((v4i)x & pos) | ((v4i)(x * slope) & ~pos));
}

static inline float lrelu1(float x, float slope) { return x > 0.0f ? x : x * slope; }

/* lrelu'(x): 1 where x > 0, else slope */
static inline v4f lrelu_grad4(v4f x, v4f slope) {
    const v4i pos = x > (v4f){0, 0, 0, 0};
    const v4f one = {1, 1, 1, 1};
    return (v4f)(((v4i)one & pos) | ((v4i)slope & ~pos));
}

/* y[j] = (lrelu(x[j]) - mu) * a + b. Written with vectors: GCC will not
 * if-convert the activation's branch (x * slope might trap) */
static void row_normalize(float *y, const float *x, size_t n, float slope, float mu,
                          float a, float b) {
    const v4f sl = {slope, slope, slope, slope}, m = {mu, mu, mu, mu};
    const v4f av = {a, a, a, a}, bv = {b, b, b, b};
    size_t j = 0;
    for (; j + 4 <= n; j += 4) store4(y + j, (lrelu4(load4(x + j), sl) - m) * av + bv);
    for (; j < n; j++) y[j] = (lrelu1(x[j], slope) - mu) * a + b;
}

/* dx[j] += lrelu'(x[j]) rs (dy[j] gm - ga - ah gb), ah = (lrelu(x[j]) - mu) rs */
static void row_grad_input(float *dx, const float *dy, const float *x, size_t n,
                           float slope, float mu, float rs, float gm, float ga,
                           float gb) {
    const v4f sl = {slope, slope, slope, slope}, m = {mu, mu, mu, mu};
    const v4f r = {rs, rs, rs, rs}, g = {gm, gm, gm, gm};
    const v4f a = {ga, ga, ga, ga}, b = {gb, gb, gb, gb};
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const v4f xv = load4(x + j);
        const v4f ah = (lrelu4(xv, sl) - m) * r;
        const v4f da = r * (load4(dy + j) * g - a - ah * b);
        store4(dx + j, load4(dx + j) + da * lrelu_grad4(xv, sl));
    }
    for (; j < n; j++) {
        const float ah = (lrelu1(x[j], slope) - mu) * rs;
        const float da = rs * (dy[j] * gm - ga - ah * gb);
        dx[j] += x[j] > 0.0f ? da : da * slope;
    }
}

static inline double lanes(v4f a, v4f b, v4f c, v4f d) {
    v4f s = (a + b) + (c + d);
    return ((double)s[0] + (double)s[1]) + ((double)s[2] + (double)s[3]);
}

/* With a = lrelu(x) (slope 1: a = x), over one row of n values:
 *   dy == NULL: *s1 = Σ a,  *s2 = Σ (a − mu)²
 *   otherwise:  *s1 = Σ dy, *s2 = Σ dy (a − mu)
 * s2 may be NULL (a mean pass): then only s1 is summed.                 */
static inline void sums4(const float *x, const float *dy, size_t j, v4f m, v4f sl,
                         v4f *s, v4f *q) {
    const v4f a = lrelu4(load4(x + j), sl);
    const v4f u = dy ? load4(dy + j) : a;
    *s += u;
    if (q) {
        const v4f d = a - m;
        *q += (dy ? u : d) * d;
    }
}

static void row_sums(const float *x, const float *dy, size_t n, float mu, float slope,
                     double *s1, double *s2) {
    double t1 = 0.0, t2 = 0.0;
    size_t j = 0;
    const v4f m = {mu, mu, mu, mu}, sl = {slope, slope, slope, slope};
    const v4f z = {0, 0, 0, 0};
    while (j + 16 <= n) {
        const size_t end = n - j > SUM_BLOCK ? j + SUM_BLOCK : n;
        v4f a0 = z, a1 = z, a2 = z, a3 = z, q0 = z, q1 = z, q2 = z, q3 = z;
        const int sq = s2 != NULL;
        for (; j + 16 <= end; j += 16) {
            sums4(x, dy, j, m, sl, &a0, sq ? &q0 : NULL);
            sums4(x, dy, j + 4, m, sl, &a1, sq ? &q1 : NULL);
            sums4(x, dy, j + 8, m, sl, &a2, sq ? &q2 : NULL);
            sums4(x, dy, j + 12, m, sl, &a3, sq ? &q3 : NULL);
        }
        t1 += lanes(a0, a1, a2, a3);
        t2 += lanes(q0, q1, q2, q3);
    }
    if (j + 4 <= n) { /* short rows (the denoiser's L = 12) and tails */
        v4f a0 = z, q0 = z;
        for (; j + 4 <= n; j += 4) sums4(x, dy, j, m, sl, &a0, s2 ? &q0 : NULL);
        t1 += lanes(a0, z, z, z);
        t2 += lanes(q0, z, z, z);
    }
    for (; j < n; j++) {
        const double a = lrelu1(x[j], slope), u = dy ? dy[j] : a;
        t1 += u;
        t2 += (dy ? u : a - mu) * (a - mu);
    }
    *s1 = t1;
    if (s2) *s2 = t2;
}

/* ---- batch norm ---------------------------------------------------------- */

/* Mean and biased variance of channel ch of x (n, c, sp), in double. */
static void channel_moments(double *mean, double *var, const float *x,
                            size_t ch, const pd_norm_shape *s) {
    const size_t count = s->n * s->sp;
    double sum = 0.0, part, sd, sq = 0.0;
    for (size_t i = 0; i < s->n; i++) {
        row_sums(x + (i * s->c + ch) * s->sp, NULL, s->sp, 0.0f, 1.0f, &part, NULL);
        sum += part;
    }
    const double mu = sum / (double)count;
    for (size_t i = 0; i < s->n; i++) {
        row_sums(x + (i * s->c + ch) * s->sp, NULL, s->sp, (float)mu, 1.0f, &part, &sd);
        sq += sd;
    }
    *mean = mu;
    *var = sq / (double)count;
}

/* y = (x - mu) * a + b on channel ch of x (n, c, sp) */
static void channel_affine(float *y, const float *x, size_t ch, float mu,
                           float a, float b, const pd_norm_shape *s) {
    for (size_t i = 0; i < s->n; i++) {
        const size_t off = (i * s->c + ch) * s->sp;
        for (size_t j = 0; j < s->sp; j++) y[off + j] = (x[off + j] - mu) * a + b;
    }
}

/* channel ch's batch statistics: *mu, *rs = 1 / sqrt(var + eps), stored
 * in mean/rstd and folded into the running statistics when given */
static void channel_stats_train(double *mu, double *rs, float *mean, float *rstd,
                                float *running_mean, float *running_var, const float *x,
                                size_t ch, float momentum, const pd_norm_shape *s) {
    const size_t count = s->n * s->sp;
    const double m = momentum;
    double var;
    channel_moments(mu, &var, x, ch, s);
    *rs = 1.0 / sqrt(var + (double)s->eps);
    if (mean) mean[ch] = (float)*mu;
    if (rstd) rstd[ch] = (float)*rs;
    if (running_mean) running_mean[ch] = (float)((1.0 - m) * running_mean[ch] + m * *mu);
    if (running_var) {
        double unbiased = count > 1 ? var * (double)count / (double)(count - 1) : var;
        running_var[ch] = (float)((1.0 - m) * running_var[ch] + m * unbiased);
    }
}

/* x, y (n, c, sp); mean, rstd (c) or NULL; running_mean/var (c) or NULL;
 * gamma, beta (c) or NULL. With n*sp == 1 the running variance receives
 * the biased variance (0): PyTorch refuses that case, we stay finite.
 * y == NULL: the statistics only (pd_batchnorm_stats_train). */
void pd_batchnorm_forward_train(float *y, float *mean, float *rstd,
                                float *running_mean, float *running_var,
                                const float *x, const float *gamma,
                                const float *beta, float momentum,
                                const pd_norm_shape *s) {
    const size_t count = s->n * s->sp;
    if (count == 0) return;
    const int par = count * s->c >= NORM_PAR_MIN && s->c > 1;
    (void)par;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
    for (size_t ch = 0; ch < s->c; ch++) {
        double mu, rs;
        channel_stats_train(&mu, &rs, mean, rstd, running_mean, running_var, x, ch, momentum, s);
        if (!y) continue;
        float g = gamma ? gamma[ch] : 1.0f;
        float b = beta ? beta[ch] : 0.0f;
        channel_affine(y, x, ch, (float)mu, (float)rs * g, b, s);
    }
}

void pd_batchnorm_stats_train(float *mean, float *rstd, float *running_mean,
                              float *running_var, const float *x, float momentum,
                              const pd_norm_shape *s) {
    pd_batchnorm_forward_train(NULL, mean, rstd, running_mean, running_var, x, NULL, NULL,
                               momentum, s);
}

/* channels of the row-by-row BatchNorm1d path (scales on the stack) */
#define BN_ROW_CHANNELS 4096

/* x, y (n, c, sp); running_mean/var (c); gamma, beta (c) or NULL */
void pd_batchnorm_forward_eval(float *y, const float *x, const float *gamma,
                               const float *beta, const float *running_mean,
                               const float *running_var, const pd_norm_shape *s) {
    const int par = s->n * s->c * s->sp >= NORM_PAR_MIN && s->c > 1;
    (void)par;
    if (s->sp == 1 && s->c <= BN_ROW_CHANNELS) {
        /* BatchNorm1d (n, c): row by row, contiguous, instead of channel by
         * channel with a stride of c (eval: 11 % of it in bn4); the same
         * arithmetic per value */
        float a[BN_ROW_CHANNELS], b[BN_ROW_CHANNELS];
        for (size_t ch = 0; ch < s->c; ch++) {
            double rs = 1.0 / sqrt((double)running_var[ch] + (double)s->eps);
            a[ch] = (float)rs * (gamma ? gamma[ch] : 1.0f);
            b[ch] = beta ? beta[ch] : 0.0f;
        }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par && s->n > 1)
#endif
        for (size_t i = 0; i < s->n; i++)
            for (size_t ch = 0; ch < s->c; ch++)
                y[i * s->c + ch] = (x[i * s->c + ch] - running_mean[ch]) * a[ch] + b[ch];
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
    for (size_t ch = 0; ch < s->c; ch++) {
        double rs = 1.0 / sqrt((double)running_var[ch] + (double)s->eps);
        float g = gamma ? gamma[ch] : 1.0f;
        float b = beta ? beta[ch] : 0.0f;
        channel_affine(y, x, ch, running_mean[ch], (float)rs * g, b, s);
    }
}

/* dy, x, dx (n, c, sp); mean, rstd (c) saved by the training forward.
 * With xh = (x - mean) rstd and N = n*sp per channel:
 *   dbeta  += Σ dy,  dgamma += Σ dy xh,
 *   dx     += gamma rstd (dy - Σdy / N - xh Σ(dy xh) / N). */
void pd_batchnorm_backward_train(float *dx, float *dgamma, float *dbeta,
                                 const float *dy, const float *x,
                                 const float *mean, const float *rstd,
                                 const float *gamma, const pd_norm_shape *s) {
    const size_t count = s->n * s->sp;
    if (count == 0) return;
    const int par = count * s->c >= NORM_PAR_MIN && s->c > 1;
    (void)par;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
    for (size_t ch = 0; ch < s->c; ch++) {
        const float mu = mean[ch], rs = rstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (size_t i = 0; i < s->n; i++) {
            const size_t off = (i * s->c + ch) * s->sp;
            double a, b;
            row_sums(x + off, dy + off, s->sp, mu, 1.0f, &a, &b);
            sdy += a;
            sdyx += b;
        }
        sdyx *= rs; /* Σ dy xh */
        if (dbeta) dbeta[ch] += (float)sdy;
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (!dx) continue;
        const float k = (gamma ? gamma[ch] : 1.0f) * rs;
        const float a = (float)(sdy / (double)count);
        const float b = (float)(sdyx / (double)count);
        for (size_t i = 0; i < s->n; i++) {
            const size_t off = (i * s->c + ch) * s->sp;
            for (size_t j = 0; j < s->sp; j++) {
                float xh = (x[off + j] - mu) * rs;
                dx[off + j] += k * (dy[off + j] - a - xh * b);
            }
        }
    }
}

/* Eval mode is the fixed affine map y = (x - rm) / sqrt(rv + eps) gamma + beta,
 * so dx += dy gamma rstd, dgamma += Σ dy (x - rm) rstd, dbeta += Σ dy. */
void pd_batchnorm_backward_eval(float *dx, float *dgamma, float *dbeta,
                                const float *dy, const float *x,
                                const float *gamma, const float *running_mean,
                                const float *running_var, const pd_norm_shape *s) {
    const int par = s->n * s->c * s->sp >= NORM_PAR_MIN && s->c > 1;
    (void)par;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
    for (size_t ch = 0; ch < s->c; ch++) {
        const float rs = (float)(1.0 / sqrt((double)running_var[ch] + (double)s->eps));
        const float mu = running_mean[ch];
        const float k = (gamma ? gamma[ch] : 1.0f) * rs;
        double sdy = 0.0, sdyx = 0.0;
        for (size_t i = 0; i < s->n; i++) {
            const size_t off = (i * s->c + ch) * s->sp;
            double a, b;
            row_sums(x + off, dy + off, s->sp, mu, 1.0f, &a, &b);
            sdy += a;
            sdyx += b * rs;
            if (dx)
                for (size_t j = 0; j < s->sp; j++) dx[off + j] += k * dy[off + j];
        }
        if (dbeta) dbeta[ch] += (float)sdy;
        if (dgamma) dgamma[ch] += (float)sdyx;
    }
}

/* ---- group norm ---------------------------------------------------------- */

/* ---- short rows: instance norm with sp <= SHORT_SP --------------------------
 * The denoiser normalises every (sample, channel) row of L = 10-12 values
 * on its own. Per row, the general path runs three passes, each a few
 * vector steps plus a scalar tail, so the per-row overhead outweighs the
 * arithmetic (perf: 14-20 % of a DDPM step). Here 16 consecutive rows are
 * transposed into a (sp, 16) tile, one row per vector lane, and the sums,
 * the normalisation and the gradient run across rows. Each tile is
 * independent, so the results do not depend on the thread count. */

#define SHORT_SP 16
#define TILE_ROWS 16

/* 16-float vectors: one AVX-512 register, or four SSE ones in the portable
 * build. The helpers are static, so the ABI note GCC gives for passing
 * them by value does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v16f __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64)));
typedef double v16d __attribute__((vector_size(128)));

static inline v16f splat16(float a) {
    return (v16f){a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a};
}

static inline v16d splat16d(double a) {
    return (v16d){a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a};
}

static inline v16f lrelu16(v16f x, v16f slope) {
    const v16i pos = x > splat16(0.0f);
    return (v16f)(((v16i)x & pos) | ((v16i)(x * slope) & ~pos));
}

/* t[j] lane r = rows r of x (rows of sp values from row r0); lanes past
 * `rows` are zero */
static inline __attribute__((always_inline)) void tile_load(v16f *t, const float *x, size_t rows, size_t sp) {
    float *tf = (float *)t;
    for (size_t j = 0; j < sp; j++) t[j] = splat16(0.0f);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < sp; j++) tf[j * TILE_ROWS + r] = x[r * sp + j];
}

/* row r of the rows back from lane r of t[j]: y = t, or y += t when add */
static inline __attribute__((always_inline)) void tile_store(float *y, const v16f *t,
                                                             size_t rows, size_t sp, int add) {
    const float *tf = (const float *)t;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < sp; j++)
            y[r * sp + j] = add ? y[r * sp + j] + tf[j * TILE_ROWS + r] : tf[j * TILE_ROWS + r];
}

/* tile_load and tile_store with AVX-512 gathers and scatters (one
 * instruction per column instead of 16 scalar moves; perf: the scalar
 * transposes were most of the short-row kernels). Called only where the
 * CPU has AVX-512 (short_rows_all) */
__attribute__((target("avx512f"))) static void tile_gather(v16f *t, const float *x,
                                                           size_t rows, size_t sp) {
    const __m512i idx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)sp));
    const __mmask16 m = rows >= TILE_ROWS ? (__mmask16)0xFFFF : (__mmask16)((1u << rows) - 1);
    for (size_t j = 0; j < sp; j++)
        t[j] = (v16f)_mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, x + j, 4);
}

__attribute__((target("avx512f"))) static void tile_scatter(float *y, const v16f *t,
                                                            size_t rows, size_t sp, int add) {
    const __m512i idx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)sp));
    const __mmask16 m = rows >= TILE_ROWS ? (__mmask16)0xFFFF : (__mmask16)((1u << rows) - 1);
    for (size_t j = 0; j < sp; j++) {
        __m512 v = (__m512)t[j];
        if (add)
            v = _mm512_add_ps(v, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, y + j, 4));
        _mm512_mask_i32scatter_ps(y + j, m, idx, v, 4);
    }
}

/* per-lane mean and 1 / sqrt(var + eps) of a = lrelu(t) over sp rows of
 * the tile; a is left in t. The sums are in double: at sp = 2-6 the
 * normalised values nearly cancel, and float sums move the gradients
 * beyond PyTorch's (tests/test_denoiser.c, L = 6). */
static inline __attribute__((always_inline)) void tile_moments(v16f *t, size_t sp, float slope, float eps, v16f *mu,
                         v16f *rs) {
    const v16f sl = splat16(slope);
    v16d sum = splat16d(0.0), sq = splat16d(0.0);
    for (size_t j = 0; j < sp; j++) {
        t[j] = lrelu16(t[j], sl);
        sum += __builtin_convertvector(t[j], v16d);
    }
    const v16d mud = sum / splat16d((double)sp);
    for (size_t j = 0; j < sp; j++) {
        const v16d d = __builtin_convertvector(t[j], v16d) - mud;
        sq += d * d;
    }
    const v16d var = sq / splat16d((double)sp);
    *mu = __builtin_convertvector(mud, v16f);
    for (int r = 0; r < TILE_ROWS; r++) (*rs)[r] = (float)(1.0 / sqrt(var[r] + (double)eps));
}

/* forward over rows [r0, r0 + rows): row b is channel b % c */
PD_CLONES static void short_rows_forward(float *y, float *mean, float *rstd, const float *x,
                               const float *gamma, const float *beta, size_t c,
                               size_t r0, size_t rows, size_t sp, float slope,
                               float eps, int wide) {
    v16f t[SHORT_SP], mu, rs;
    if (wide) tile_gather(t, x + r0 * sp, rows, sp);
    else tile_load(t, x + r0 * sp, rows, sp);
    tile_moments(t, sp, slope, eps, &mu, &rs);
    v16f a = rs, b = splat16(0.0f);
    for (size_t r = 0; r < rows; r++) {
        const size_t ch = (r0 + r) % c;
        if (gamma) a[r] *= gamma[ch];
        if (beta) b[r] = beta[ch];
        if (mean) mean[r0 + r] = mu[r];
        if (rstd) rstd[r0 + r] = rs[r];
    }
    for (size_t j = 0; j < sp; j++) t[j] = (t[j] - mu) * a + b;
    if (wide) tile_scatter(y + r0 * sp, t, rows, sp, 0);
    else tile_store(y + r0 * sp, t, rows, sp, 0);
}

/* dx over rows [r0, r0 + rows) (see pd_lrelu_groupnorm_backward; M = sp) */
PD_CLONES static void short_rows_backward(float *dx, const float *dy, const float *x,
                                const float *mean, const float *rstd,
                                const float *gamma, size_t c, size_t r0, size_t rows,
                                size_t sp, float slope, int wide) {
    v16f xt[SHORT_SP], g[SHORT_SP];
    if (wide) {
        tile_gather(xt, x + r0 * sp, rows, sp);
        tile_gather(g, dy + r0 * sp, rows, sp);
    } else {
        tile_load(xt, x + r0 * sp, rows, sp);
        tile_load(g, dy + r0 * sp, rows, sp);
    }
    v16f mu = splat16(0.0f), rs = splat16(0.0f), gm = splat16(1.0f);
    for (size_t r = 0; r < rows; r++) {
        mu[r] = mean[r0 + r];
        rs[r] = rstd[r0 + r];
        if (gamma) gm[r] = gamma[(r0 + r) % c];
    }
    const v16f sl = splat16(slope), one = splat16(1.0f);
    v16d sg = splat16d(0.0), sgx = splat16d(0.0);
    for (size_t j = 0; j < sp; j++) {
        g[j] *= gm;
        const v16d gd = __builtin_convertvector(g[j], v16d);
        sg += gd;
        sgx += gd * __builtin_convertvector(lrelu16(xt[j], sl) - mu, v16d);
    }
    const v16d spd = splat16d((double)sp);
    const v16f ga = __builtin_convertvector(sg / spd, v16f);
    const v16f gb = __builtin_convertvector(sgx * __builtin_convertvector(rs, v16d) / spd, v16f);
    for (size_t j = 0; j < sp; j++) {
        const v16i pos = xt[j] > splat16(0.0f);
        const v16f dact = (v16f)(((v16i)one & pos) | ((v16i)sl & ~pos));
        const v16f ah = (lrelu16(xt[j], sl) - mu) * rs;
        g[j] = rs * (g[j] - ga - ah * gb) * dact;
    }
    if (wide) tile_scatter(dx + r0 * sp, g, rows, sp, 1);
    else tile_store(dx + r0 * sp, g, rows, sp, 1);
}

static int short_rows(size_t cpg, size_t sp) { return cpg == 1 && sp <= SHORT_SP; }

/* gathers and scatters for the tiles: -1 not decided yet (the CPU's
 * AVX-512 decides), 0 / 1 set by pd_norm_short_rows_gather (tests) */
static _Atomic int short_rows_gather = -1;

void pd_norm_short_rows_gather(int on) {
    if (on < 0) short_rows_gather = -1; /* back to the CPU's choice */
    else short_rows_gather = on && __builtin_cpu_supports("avx512f");
}

/* every tile of `blocks` rows: forward (dy NULL: out = y, mean and rstd
 * written) or backward (out = dx, accumulated; mean and rstd read) */
static void short_rows_all(float *out, const float *dy, float *mean, float *rstd,
                           const float *x, const float *gamma, const float *beta,
                           size_t blocks, float slope, const pd_norm_shape *s, int par) {
    const size_t tiles = (blocks + TILE_ROWS - 1) / TILE_ROWS;
    if (short_rows_gather < 0) short_rows_gather = __builtin_cpu_supports("avx512f");
    const int wide = short_rows_gather;
    (void)par;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
    for (size_t ti = 0; ti < tiles; ti++) {
        const size_t r0 = ti * TILE_ROWS;
        const size_t rows = blocks - r0 < TILE_ROWS ? blocks - r0 : TILE_ROWS;
        if (dy)
            short_rows_backward(out, dy, x, mean, rstd, gamma, s->c, r0, rows, s->sp, slope,
                                wide);
        else
            short_rows_forward(out, mean, rstd, x, gamma, beta, s->c, r0, rows, s->sp, slope,
                               s->eps, wide);
    }
}

/* x, y (n, c, sp); gamma, beta (c) or NULL; mean, rstd (n, groups) or NULL.
 * groups must divide c; each (sample, group) block is cpg*sp contiguous
 * values, cpg = c / groups. The norm reads a = LeakyReLU(x) with `slope`
 * (1: a = x, plain group norm): the activation is recomputed from x where
 * needed instead of being stored, which saves a full pass over memory in
 * each direction. */
void pd_lrelu_groupnorm_forward(float *y, float *mean, float *rstd, const float *x,
                                const float *gamma, const float *beta, size_t groups,
                                float slope, const pd_norm_shape *s) {
    if (groups == 0 || s->c % groups != 0 || s->sp == 0) return;
    const size_t cpg = s->c / groups, count = cpg * s->sp;
    const size_t blocks = s->n * groups;
    const int par = blocks * count >= NORM_PAR_MIN && blocks > 1;
    (void)par;
    if (short_rows(cpg, s->sp)) {
        short_rows_all(y, NULL, mean, rstd, x, gamma, beta, blocks, slope, s, par);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
    for (size_t bi = 0; bi < blocks; bi++) {
        const float *xb = x + bi * count;
        float *yb = y + bi * count;
        double sum, sq;
        row_sums(xb, NULL, count, 0.0f, slope, &sum, NULL);
        const double mu = sum / (double)count;
        row_sums(xb, NULL, count, (float)mu, slope, &sum, &sq);
        const double rs = 1.0 / sqrt(sq / (double)count + (double)s->eps);
        if (mean) mean[bi] = (float)mu;
        if (rstd) rstd[bi] = (float)rs;
        const size_t ch0 = (bi % groups) * cpg;
        for (size_t k = 0; k < cpg; k++) {
            const float a = (float)rs * (gamma ? gamma[ch0 + k] : 1.0f);
            const float b = beta ? beta[ch0 + k] : 0.0f;
            row_normalize(yb + k * s->sp, xb + k * s->sp, s->sp, slope, (float)mu, a, b);
        }
    }
}

void pd_groupnorm_forward(float *y, float *mean, float *rstd, const float *x,
                          const float *gamma, const float *beta, size_t groups,
                          const pd_norm_shape *s) {
    pd_lrelu_groupnorm_forward(y, mean, rstd, x, gamma, beta, groups, 1.0f, s);
}

/* dy, x, dx (n, c, sp); mean, rstd (n, groups) from the forward; gamma (c)
 * or NULL. Per block of M = cpg*sp values, with g = dy gamma and
 * ah = (a - mean) rstd:
 *   da = rstd (g - Σg / M - ah Σ(g ah) / M),  dx += lrelu'(x) da;
 * per channel: dgamma += Σ_{n,sp} dy ah, dbeta += Σ_{n,sp} dy. */
void pd_lrelu_groupnorm_backward(float *dx, float *dgamma, float *dbeta,
                                 const float *dy, const float *x, const float *mean,
                                 const float *rstd, const float *gamma, size_t groups,
                                 float slope, const pd_norm_shape *s) {
    if (groups == 0 || s->c % groups != 0 || s->sp == 0) return;
    const size_t cpg = s->c / groups, count = cpg * s->sp;
    const size_t blocks = s->n * groups;
    const size_t sp = s->sp;
    if (dx && short_rows(cpg, sp)) {
        short_rows_all(dx, dy, (float *)mean, (float *)rstd, x, gamma, NULL, blocks, slope, s,
                       blocks * count >= NORM_PAR_MIN && blocks > 1);
    } else if (dx) {
        const int par = blocks * count >= NORM_PAR_MIN && blocks > 1;
        (void)par;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
        for (size_t bi = 0; bi < blocks; bi++) {
            const size_t off = bi * count, ch0 = (bi % groups) * cpg;
            const float mu = mean[bi], rs = rstd[bi];
            double sg = 0.0, sgx = 0.0; /* Σ dy γ and Σ dy γ (a − μ) */
            for (size_t k = 0; k < cpg; k++) {
                const double gm = gamma ? gamma[ch0 + k] : 1.0;
                double a, b;
                row_sums(x + off + k * sp, dy + off + k * sp, sp, mu, slope, &a, &b);
                sg += gm * a;
                sgx += gm * b;
            }
            const float a = (float)(sg / (double)count);
            const float b = (float)(sgx * rs / (double)count);
            for (size_t k = 0; k < cpg; k++)
                row_grad_input(dx + off + k * sp, dy + off + k * sp, x + off + k * sp, sp,
                               slope, mu, rs, gamma ? gamma[ch0 + k] : 1.0f, a, b);
        }
    }
    if (!dgamma && !dbeta) return;
    const int par = s->n * s->c * sp >= NORM_PAR_MIN && s->c > 1;
    (void)par;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
    for (size_t ch = 0; ch < s->c; ch++) {
        double sdy = 0.0, sdyx = 0.0;
        for (size_t i = 0; i < s->n; i++) {
            const size_t bi = i * groups + ch / cpg;
            const size_t off = (i * s->c + ch) * sp;
            double a, b;
            row_sums(x + off, dy + off, sp, mean[bi], slope, &a, &b);
            sdy += a;
            sdyx += b * rstd[bi];
        }
        if (dbeta) dbeta[ch] += (float)sdy;
        if (dgamma) dgamma[ch] += (float)sdyx;
    }
}

void pd_groupnorm_backward(float *dx, float *dgamma, float *dbeta,
                           const float *dy, const float *x, const float *mean,
                           const float *rstd, const float *gamma, size_t groups,
                           const pd_norm_shape *s) {
    pd_lrelu_groupnorm_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, groups,
                                1.0f, s);
}
