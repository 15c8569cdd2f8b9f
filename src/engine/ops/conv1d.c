/*
 * conv1d.c — 1-D convolution (torch.nn.functional.conv1d, dilation 1,
 * groups 1), forward and backward, with four algorithms (pd_conv1d_algo):
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
 * SAMPLE (any stride): threads over samples; per sample
 *   col_b = im2col(x_b) (cin*k, lout) in the worker's scratch and
 *   y_b = W col_b, already y's layout; backward dW += dY_b col_bᵀ and
 *   db += Σ dY_b per worker, dcol_b = Wᵀ dY_b, dx_b += col2im(dcol_b).
 * DIRECT (tiny channel counts): plain loops, no GEMM (im2col.h).
 *
 * SAMPLE calls BLAS inside an OpenMP loop (the OpenMP build of OpenBLAS
 * then runs each call on the calling thread); the other algorithms call
 * BLAS outside OpenMP regions and use OpenMP for permutes and loops.
 */
#include <cblas.h>
#include <string.h>

#include "engine/core/cpu.h"
#include "engine/ops/im2col.h"
#include "engine/ops/ops.h"
#include "engine/ops/vec4.h"
#include "engine/ops/conv_dnnl.h"

/* work (multiply-adds or floats moved) below which a direct loop stays on
 * one thread (see im2col.c) */
#define PD_OMP_MIN_WORK (1u << 18)
/* floats of Xp + Y'' per SHIFT column block: ~4 MB, well inside L3 */
#define PD_SHIFT_BLOCK_FLOATS (1u << 20)

pd_conv_algo pd_conv1d_algo(const pd_conv1d_shape *s) {
    if (s->algo == PD_CONV_DNNL) return pd_conv1d_dnnl_usable(s) ? PD_CONV_DNNL : PD_CONV_IM2COL;
    if (s->algo == PD_CONV_AUTO && pd_conv_dnnl_preferred(s)) return PD_CONV_DNNL;
    return pd_conv1d_algo_ours(s);
}

int pd_conv1d_sample_fits(const pd_conv1d_shape *s, size_t min_lout) {
    return pd_conv1d_lout(s) >= min_lout && s->n >= 2 * pd_sample_slots() &&
           s->cin * s->cout >= 64 && pd_blas_nests_in_openmp();
}

pd_conv_algo pd_conv1d_algo_ours(const pd_conv1d_shape *s) {
    pd_conv_algo a = s->algo == PD_CONV_DNNL ? PD_CONV_IM2COL : s->algo;
    if (a == PD_CONV_AUTO) {
        if (pd_conv1d_sample_fits(s, 64))
            /* long rows (the autoencoder): the per-sample GEMMs are wide
             * enough and their data stays in cache (bench_conv ae 2
             * auto|sample: 64→8 L=726 30.4 → 21.5 ms, convT 64→64
             * L=242→726 39.7 → 29.4 ms, convT 8→8 (direct before)
             * 10.7 → 4.6 ms; at L = 12 it loses 2×) */
            a = PD_CONV_SAMPLE;
        else if (s->cin * s->cout <= 64)
            /* tiny channels on both sides: GEMM packing and permutes
             * would cost more than the arithmetic */
            a = PD_CONV_DIRECT;
        else if (s->cin >= 16 && pd_conv1d_lout(s) > 32)
            a = PD_CONV_SHIFT; /* K = cin per tap is deep enough for GEMM */
        else
            /* short rows (the denoiser at L = 12): SHIFT's gap columns and
             * k shallow GEMMs cost more than building the column matrix
             * (bench_model den_L12_full: 232–240 vs 249–300 ms; at L = 52
             * SHIFT wins the whole step, 269–337 vs 322–346 ms, half) */
            a = PD_CONV_IM2COL;
    }
    if (a == PD_CONV_SHIFT && s->stride != 1) a = PD_CONV_IM2COL;
    return a;
}

/* oneDNN where it is faster than our algorithms: fp32 with 128 or more
 * channels on both sides on the AMD EPYC (bench_conv: 256→256 L = 52
 * fwd+bwd 238–257 vs 216 GFLOP/s, L = 12 243 vs 227; 128→128 L = 52 192
 * vs 165; below 128 channels it was not), from 32 on the Intel Xeon (400
 * DDPM steps of the default run: 19.0 / 19.2 s -> 17.0 / 17.5 s with the
 * 32- and 64-channel layers on oneDNN; 16 gained nothing more); bf16 from
 * 16 channels on both sides (the small autoencoder's 1–8-channel layers
 * ran 168 → 225 ms a step in bf16: their direct loops are memory-bound, so
 * they stay fp32) */
int pd_conv_dnnl_preferred(const pd_conv1d_shape *s) {
    const size_t min_ch = s->math == PD_MATH_BF16 ? 16 : pd_cpu_is_intel() ? 32 : 128;
    return s->cin >= min_ch && s->cout >= min_ch && pd_conv1d_dnnl_usable(s);
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
    if (dw) pd_im2col1d(col, x, &g);
    pd_colconv_backward_gemms(dw, col, dyp, w, s->cout, kdim, ncols, dx != NULL);
    if (dx) pd_col2im1d_add(dx, col, &g);
}

/* ---- SAMPLE ------------------------------------------------------------- */

/* scratch: per worker a column matrix (cin*k, lout), then per worker a
 * partial dW (cout, cin*k) and a partial db (cout) */
static size_t sample_scratch(const pd_conv1d_shape *s) {
    const size_t kdim = s->cin * s->k;
    return pd_sample_slots() * (kdim * pd_conv1d_lout(s) + s->cout * kdim + s->cout);
}

static void sample_forward(float *y, const float *x, const float *w,
                           const float *b, const pd_conv1d_shape *s,
                           float *scratch) {
    const size_t lout = pd_conv1d_lout(s), kdim = s->cin * s->k;
    const pd_col1d_geom g1 = {1, s->cin, s->lin, s->k, s->stride, s->pad, lout};
#pragma omp parallel for schedule(static) num_threads((int)pd_sample_slots())
    for (size_t bi = 0; bi < s->n; bi++) {
        float *col = scratch + pd_sample_slot() * kdim * lout;
        float *yb = y + bi * s->cout * lout;
        pd_im2col1d(col, x + bi * s->cin * s->lin, &g1);
        pd_fill_bias(yb, b, 1, s->cout, lout);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->cout,
                    (int)lout, (int)kdim, 1.0f, w, (int)kdim, col, (int)lout,
                    1.0f, yb, (int)lout);
    }
}

/* db is summed here too, while each dy_b is in cache */
static void sample_backward(float *dx, float *dw, float *db, const float *dy,
                            const float *x, const float *w,
                            const pd_conv1d_shape *s, float *scratch) {
    const size_t lout = pd_conv1d_lout(s), kdim = s->cin * s->k;
    const size_t slots = pd_sample_slots();
    const pd_col1d_geom g1 = {1, s->cin, s->lin, s->k, s->stride, s->pad, lout};
    float *parts = scratch + slots * kdim * lout;
    float *dbparts = parts + slots * s->cout * kdim;
    if (dw) memset(parts, 0, slots * s->cout * kdim * sizeof(float));
    if (db) memset(dbparts, 0, slots * s->cout * sizeof(float));
#pragma omp parallel for schedule(static) num_threads((int)slots)
    for (size_t bi = 0; bi < s->n; bi++) {
        const size_t slot = pd_sample_slot();
        float *col = scratch + slot * kdim * lout;
        const float *dyb = dy + bi * s->cout * lout;
        if (db) pd_bias_grad_add(dbparts + slot * s->cout, dyb, 1, s->cout, lout);
        if (dw) {
            pd_im2col1d(col, x + bi * s->cin * s->lin, &g1);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->cout,
                        (int)kdim, (int)lout, 1.0f, dyb, (int)lout, col, (int)lout,
                        1.0f, parts + slot * s->cout * kdim, (int)kdim);
        }
        if (dx) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kdim,
                        (int)lout, (int)s->cout, 1.0f, w, (int)kdim, dyb,
                        (int)lout, 0.0f, col, (int)lout);
            pd_col2im1d_add(dx + bi * s->cin * s->lin, col, &g1);
        }
    }
    if (dw) pd_sum_partials(dw, parts, slots, s->cout * kdim);
    if (db) pd_sum_partials(db, dbparts, slots, s->cout);
}

/* ---- DIRECT ------------------------------------------------------------- */

/* outputs are produced in chunks of CHUNK positions (4 registers) */
#define CHUNK 16

/* the l in [*lo, *hi) ⊆ [0, count) with 0 <= l*stride + base < lin */
static void valid_range(long base, size_t stride, size_t lin, size_t count,
                        size_t *lo, size_t *hi) {
    long st = (long)stride, a = 0, b;
    if (base < 0) a = (-base + st - 1) / st;
    b = (long)lin - 1 - base < 0 ? 0 : ((long)lin - 1 - base) / st + 1;
    if (b > (long)count) b = (long)count;
    if (a > b) a = b;
    *lo = (size_t)a;
    *hi = (size_t)b;
}

/* one output row of pd_direct_gather; in points at sample b, wr at o */
static void gather_row(float *restrict out, const float *restrict in,
                       const float *restrict wr, float bias,
                       const pd_direct_geom *g, int accumulate) {
    const size_t k = g->k, st = g->stride, lin = g->lin, nin = g->nin;
    for (size_t l0 = 0; l0 < g->lout; l0 += CHUNK) {
        const size_t cnt = g->lout - l0 < CHUNK ? g->lout - l0 : CHUNK;
        const long p0 = (long)(l0 * st) + g->off;
        const long plast = (long)((l0 + cnt - 1) * st + k - 1) + g->off;
        if (cnt == CHUNK && st == 1 && p0 >= 0 && plast < (long)lin) {
            /* interior, unit stride: every tap reads 16 contiguous inputs */
            v4f a0, a1, a2, a3;
            a0 = a1 = a2 = a3 = (v4f){bias, bias, bias, bias};
            if (accumulate) {
                a0 += load4(out + l0);
                a1 += load4(out + l0 + 4);
                a2 += load4(out + l0 + 8);
                a3 += load4(out + l0 + 12);
            }
            for (size_t i = 0; i < nin; i++) {
                const float *src = in + i * lin + p0;
                for (size_t t = 0; t < k; t++) {
                    const float wv = wr[i * k + t];
                    a0 += wv * load4(src + t);
                    a1 += wv * load4(src + t + 4);
                    a2 += wv * load4(src + t + 8);
                    a3 += wv * load4(src + t + 12);
                }
            }
            store4(out + l0, a0);
            store4(out + l0 + 4, a1);
            store4(out + l0 + 8, a2);
            store4(out + l0 + 12, a3);
            continue;
        }
        /* edges, tails and strides > 1: per-tap valid ranges */
        float acc[CHUNK];
        for (size_t j = 0; j < cnt; j++)
            acc[j] = bias + (accumulate ? out[l0 + j] : 0.0f);
        for (size_t t = 0; t < k; t++) {
            size_t lo, hi;
            valid_range(p0 + (long)t, st, lin, cnt, &lo, &hi);
            for (size_t i = 0; i < nin; i++) {
                const float wv = wr[i * k + t];
                const float *src = in + i * lin;
                for (size_t j = lo; j < hi; j++)
                    acc[j] += wv * src[(size_t)(p0 + (long)(j * st + t))];
            }
        }
        memcpy(out + l0, acc, cnt * sizeof(float));
    }
}

/* gather at unit stride (or any stride, slowly): the row kernel above */
static void gather_rows(float *out, const float *in, const float *wr,
                        const float *bias, const pd_direct_geom *g,
                        int accumulate) {
    const size_t rows = g->n * g->nout;
#pragma omp parallel for schedule(static) \
    if (rows * g->lout * (g->nin * g->k + 1) > PD_OMP_MIN_WORK)
    for (size_t r = 0; r < rows; r++) {
        const size_t b = r / g->nout, o = r % g->nout;
        gather_row(out + r * g->lout, in + b * g->nin * g->lin,
                   wr + o * g->nin * g->k, bias ? bias[o] : 0.0f, g,
                   accumulate);
    }
}

/* Σ a[j] b[j], j < len, in registers (8 lanes), summed in double */
static double dot(const float *restrict a, const float *restrict b, size_t len) {
    size_t j = 0;
    double acc = 0.0;
    if (len >= 8) {
        v4f s0 = {0, 0, 0, 0}, s1 = s0;
        for (; j + 8 <= len; j += 8) {
            s0 += load4(a + j) * load4(b + j);
            s1 += load4(a + j + 4) * load4(b + j + 4);
        }
        for (int q = 0; q < 4; q++) acc += (double)s0[q] + (double)s1[q];
    }
    for (; j < len; j++) acc += (double)a[j] * b[j];
    return acc;
}

/* correlation at unit stride: dwr[o][i][t] += Σ_b Σ_l a[b][o][l] in[b][i][l + t + off].
 * The (o, i, t) sums are split into chunks of at most CORR_ACC; a chunk
 * walks the samples once, so each sample's rows are read from cache for
 * all of its pairs instead of once per pair. */
#define CORR_ACC 256
static void corr_unit(float *dwr, const float *a, const float *in,
                      const pd_direct_geom *g) {
    const size_t nin = g->nin, nout = g->nout, k = g->k;
    const size_t sums = nout * nin * k;
    size_t nchunk = (sums + CORR_ACC - 1) / CORR_ACC;
    if (nchunk < 8) nchunk = sums < 8 ? sums : 8; /* enough to share out */
#pragma omp parallel for schedule(static) \
    if (g->n * g->lout * sums > PD_OMP_MIN_WORK)
    for (size_t c = 0; c < nchunk; c++) {
        const size_t s0 = sums * c / nchunk, s1 = sums * (c + 1) / nchunk;
        double acc[CORR_ACC] = {0};
        for (size_t b = 0; b < g->n; b++) {
            for (size_t q = s0; q < s1; q++) { /* q = (o*nin + i)*k + t */
                const size_t t = q % k, i = q / k % nin, o = q / k / nin;
                const float *ar = a + (b * nout + o) * g->lout;
                const float *xr = in + (b * nin + i) * g->lin;
                size_t lo, hi;
                const long base = (long)t + g->off;
                valid_range(base, 1, g->lin, g->lout, &lo, &hi);
                if (hi > lo)
                    acc[q - s0] +=
                        dot(ar + lo, xr + (size_t)((long)lo + base), hi - lo);
            }
        }
        for (size_t q = s0; q < s1; q++) dwr[q] += (float)acc[q - s0];
    }
}

/* ---- strides > 1 by phase splitting ----------------------------------------
 * With t = q·s + r, input position l·s + t + off = (l + q)·s + (r + off), so
 * splitting each input row into its s phases ph_r[m] = in[m·s + r + off]
 * turns a stride-s conv over nin channels and k taps into a unit-stride one
 * over nin·s channels and kq = ceil(k / s) taps. */

static size_t taps_per_phase(const pd_direct_geom *g) {
    return (g->k + g->stride - 1) / g->stride;
}

/* ph (n, c*s, lph): ph[b][i*s + r][m] = in[b][i][m*s + r + off] or 0 */
static void phase_split(float *ph, const float *in, size_t n, size_t c,
                        size_t lin, size_t s, long off, size_t lph) {
#pragma omp parallel for schedule(static) if (n * c * s * lph > PD_OMP_MIN_WORK)
    for (size_t row = 0; row < n * c; row++) {
        const float *src = in + row * lin;
        for (size_t r = 0; r < s; r++) {
            float *dst = ph + (row * s + r) * lph;
            size_t lo, hi;
            valid_range((long)r + off, s, lin, lph, &lo, &hi);
            const long base = (long)r + off;
            for (size_t m = 0; m < lo; m++) dst[m] = 0.0f;
            for (size_t m = lo; m < hi; m++)
                dst[m] = src[(size_t)(base + (long)(m * s))];
            for (size_t m = hi; m < lph; m++) dst[m] = 0.0f;
        }
    }
}

/* the adjoint: out[b][o][m*s + r + off] += ph[b][o*s + r][m] where inside */
static void phase_merge_add(float *out, const float *ph, size_t n, size_t c,
                            size_t lout, size_t s, long off, size_t lph) {
#pragma omp parallel for schedule(static) if (n * c * s * lph > PD_OMP_MIN_WORK)
    for (size_t row = 0; row < n * c; row++) {
        float *dst = out + row * lout;
        for (size_t r = 0; r < s; r++) {
            const float *src = ph + (row * s + r) * lph;
            size_t lo, hi;
            valid_range((long)r + off, s, lout, lph, &lo, &hi);
            const long base = (long)r + off;
            for (size_t m = lo; m < hi; m++)
                dst[(size_t)(base + (long)(m * s))] += src[m];
        }
    }
}

size_t pd_direct_scratch(const pd_direct_geom *g) {
    const size_t s = g->stride, kq = taps_per_phase(g);
    const size_t wsz = g->nout * g->nin * s * kq;
    if (s == 1) return g->nout * g->nin * g->k; /* flipped weights */
    size_t in_side = g->n * g->nin * s * (g->lout + kq - 1) + wsz;
    size_t out_side = g->n * g->nout * s * (g->lin + kq - 1) + wsz;
    return in_side > out_side ? in_side : out_side;
}

void pd_direct_gather(float *out, const float *in, const float *wr,
                      const float *bias, const pd_direct_geom *g,
                      int accumulate, float *scratch) {
    const size_t s = g->stride, kq = taps_per_phase(g);
    if (s == 1) {
        gather_rows(out, in, wr, bias, g, accumulate);
        return;
    }
    const size_t lph = g->lout + kq - 1, nin2 = g->nin * s;
    float *ph = scratch;                 /* (n, nin*s, lph) */
    float *w2 = ph + g->n * nin2 * lph;  /* (nout, nin*s, kq) */
    for (size_t o = 0; o < g->nout; o++)
        for (size_t i = 0; i < g->nin; i++)
            for (size_t r = 0; r < s; r++)
                for (size_t q = 0; q < kq; q++)
                    w2[((o * g->nin + i) * s + r) * kq + q] =
                        q * s + r < g->k ? wr[(o * g->nin + i) * g->k + q * s + r]
                                         : 0.0f;
    phase_split(ph, in, g->n, g->nin, g->lin, s, g->off, lph);
    const pd_direct_geom g2 = {g->n, nin2, g->nout, lph, g->lout, kq, 1, 0};
    gather_rows(out, ph, w2, bias, &g2, accumulate);
}

void pd_direct_scatter(float *out, const float *in, const float *wr,
                       const pd_direct_geom *g, float *scratch) {
    const size_t s = g->stride, kq = taps_per_phase(g);
    const size_t nin = g->nin, nout = g->nout;
    if (s == 1) {
        /* out[p] += Σ_t w[t] in[p - t - off]: a gather with flipped taps */
        float *wf = scratch;
        for (size_t o = 0; o < nout; o++)
            for (size_t i = 0; i < nin; i++)
                for (size_t t = 0; t < g->k; t++)
                    wf[(o * nin + i) * g->k + g->k - 1 - t] =
                        wr[(o * nin + i) * g->k + t];
        const pd_direct_geom gf = {g->n, nin, nout, g->lin, g->lout, g->k, 1,
                                   -g->off - (long)(g->k - 1)};
        gather_rows(out, in, wf, NULL, &gf, 1);
        return;
    }
    /* each output phase r is a unit-stride transposed conv with kq taps:
     * outph[o*s + r][m] = Σ_q Σ_i wr[o][i][q*s + r] in[i][m - q] */
    const size_t lph = g->lin + kq - 1;
    float *ph = scratch;                    /* (n, nout*s, lph) */
    float *w3 = ph + g->n * nout * s * lph; /* (nout*s, nin, kq), flipped */
    for (size_t o = 0; o < nout; o++)
        for (size_t r = 0; r < s; r++)
            for (size_t i = 0; i < nin; i++)
                for (size_t q = 0; q < kq; q++)
                    w3[((o * s + r) * nin + i) * kq + kq - 1 - q] =
                        q * s + r < g->k ? wr[(o * nin + i) * g->k + q * s + r]
                                         : 0.0f;
    const pd_direct_geom g3 = {g->n, nin, nout * s, g->lin, lph, kq, 1,
                               -(long)(kq - 1)};
    gather_rows(ph, in, w3, NULL, &g3, 0);
    phase_merge_add(out, ph, g->n, nout, g->lout, s, g->off, lph);
}

void pd_direct_corr(float *dwr, const float *a, const float *in,
                    const pd_direct_geom *g, float *scratch) {
    const size_t s = g->stride, kq = taps_per_phase(g);
    if (s == 1) {
        corr_unit(dwr, a, in, g);
        return;
    }
    const size_t lph = g->lout + kq - 1, nin2 = g->nin * s;
    float *ph = scratch;                 /* (n, nin*s, lph) */
    float *d2 = ph + g->n * nin2 * lph;  /* (nout, nin*s, kq) */
    phase_split(ph, in, g->n, g->nin, g->lin, s, g->off, lph);
    memset(d2, 0, g->nout * nin2 * kq * sizeof(float));
    const pd_direct_geom g2 = {g->n, nin2, g->nout, lph, g->lout, kq, 1, 0};
    corr_unit(d2, a, ph, &g2);
    for (size_t o = 0; o < g->nout; o++)
        for (size_t i = 0; i < g->nin; i++)
            for (size_t r = 0; r < s; r++)
                for (size_t q = 0; q < kq && q * s + r < g->k; q++)
                    dwr[(o * g->nin + i) * g->k + q * s + r] +=
                        d2[((o * g->nin + i) * s + r) * kq + q];
}

/* conv1d as direct loops. Scratch: the transposed weight (cin, cout, k),
 * then the kernels' own scratch. */
static pd_direct_geom direct_geom(const pd_conv1d_shape *s) {
    pd_direct_geom g = {s->n, s->cin, s->cout, s->lin, pd_conv1d_lout(s),
                        s->k, s->stride, -(long)s->pad};
    return g;
}

/* the same geometry seen from the output side (for dx) */
static pd_direct_geom direct_geom_t(const pd_conv1d_shape *s) {
    pd_direct_geom g = {s->n, s->cout, s->cin, pd_conv1d_lout(s), s->lin,
                        s->k, s->stride, -(long)s->pad};
    return g;
}

static size_t direct_scratch(const pd_conv1d_shape *s) {
    pd_direct_geom g = direct_geom(s), gt = direct_geom_t(s);
    size_t a = pd_direct_scratch(&g), b = pd_direct_scratch(&gt);
    return s->cin * s->cout * s->k + (a > b ? a : b);
}

static void direct_forward(float *y, const float *x, const float *w,
                           const float *b, const pd_conv1d_shape *s,
                           float *scratch) {
    const pd_direct_geom g = direct_geom(s);
    pd_direct_gather(y, x, w, b, &g, 0, scratch);
}

static void direct_backward(float *dx, float *dw, const float *dy,
                            const float *x, const float *w,
                            const pd_conv1d_shape *s, float *scratch) {
    const size_t k = s->k;
    if (dw) {
        const pd_direct_geom g = direct_geom(s);
        pd_direct_corr(dw, dy, x, &g, scratch);
    }
    if (!dx) return;
    /* dx[l*stride + t - pad] += Σ_co w[co][ci][t] dy[co][l]: a scatter with
     * the weight transposed to (cin, cout, k) */
    float *wt = scratch;
    for (size_t co = 0; co < s->cout; co++)
        for (size_t ci = 0; ci < s->cin; ci++)
            for (size_t t = 0; t < k; t++)
                wt[(ci * s->cout + co) * k + t] = w[(co * s->cin + ci) * k + t];
    const pd_direct_geom gt = direct_geom_t(s);
    pd_direct_scatter(dx, dy, wt, &gt, wt + s->cin * s->cout * k);
}

/* ---- entry points ------------------------------------------------------- */

size_t pd_conv1d_scratch(const pd_conv1d_shape *s) {
    size_t lout = pd_conv1d_lout(s);
    switch (pd_conv1d_algo(s)) {
    case PD_CONV_SHIFT: {
        shift_geom g = shift_geometry(s);
        return s->cin * g.xcols + s->cout * g.ycols + 2 * s->k * s->cout * s->cin;
    }
    case PD_CONV_IM2COL:
    case PD_CONV_DNNL: /* oneDNN keeps its own buffers; IM2COL's in case it fails */
        return (s->cin * s->k + s->cout) * s->n * lout;
    case PD_CONV_SAMPLE:
        return sample_scratch(s);
    default:
        return direct_scratch(s);
    }
}

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
    case PD_CONV_DNNL:
        if (!pd_conv1d_dnnl_forward(y, x, w, b, s)) im2col_forward(y, x, w, b, s, scratch);
        break;
    case PD_CONV_SHIFT:
        shift_forward(y, x, w, b, s, scratch);
        break;
    case PD_CONV_IM2COL:
        im2col_forward(y, x, w, b, s, scratch);
        break;
    case PD_CONV_SAMPLE:
        sample_forward(y, x, w, b, s, scratch);
        break;
    default:
        direct_forward(y, x, w, b, s, scratch);
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
    const pd_conv_algo algo = s->cin ? pd_conv1d_algo(s) : PD_CONV_DIRECT;
    if (algo == PD_CONV_SAMPLE) {
        sample_backward(dx, dw, db, dy, x, w, s, scratch);
        return;
    }
    if (algo == PD_CONV_DNNL && pd_conv1d_dnnl_backward(dx, dw, db, dy, x, w, s)) return;
    if (db) pd_bias_grad_add(db, dy, s->n, s->cout, lout);
    if (s->cin == 0 || (!dx && !dw)) return;
    switch (algo) {
    case PD_CONV_SHIFT:
        shift_backward(dx, dw, dy, x, w, s, scratch);
        break;
    case PD_CONV_IM2COL:
    case PD_CONV_DNNL: /* oneDNN failed: nothing was added */
        im2col_backward(dx, dw, dy, x, w, s, scratch);
        break;
    default:
        direct_backward(dx, dw, dy, x, w, s, scratch);
        break;
    }
}
