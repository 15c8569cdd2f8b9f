/*
 * im2col.h — helpers shared by the convolution kernels (conv1d,
 * conv_transpose1d, conv2d); internal to src/ops.
 *
 *  - im2col / col2im over a whole batch (1-D and 2-D). Column matrices hold
 *    one row per (input channel, kernel tap) and one column per (sample,
 *    output position), so a convolution is one sgemm:
 *      Y' (cout, n*lout) = W (cout, cin*k) × col (cin*k, n*lout).
 *  - permutes between the PyTorch layout (n, c, sp) and a "channel-major"
 *    layout (c, ...) in which all samples of a channel share one row,
 *    optionally with zero gaps between samples (pd_cm_layout).
 *  - direct (GEMM-free) 1-D convolution loops for tiny channel counts, and
 *    the rule that picks a conv1d algorithm.
 *
 * The loops are parallelised with OpenMP over independent (channel, sample)
 * pairs. The GEMM helpers (pd_colconv_backward_gemms) call BLAS, from
 * outside OpenMP regions; conv1d's SAMPLE algorithm calls BLAS inside one
 * (see threads.c).
 */
#ifndef PD_IM2COL_H
#define PD_IM2COL_H

#include <stddef.h>

#include "engine/core/threads.h"
#include "engine/ops/ops.h"

/* Geometry of a 1-D im2col: x (n, c, lin) seen through a kernel of k taps
 * with stride and zero padding `pad`, giving lout output positions. */
typedef struct { size_t n, c, lin, k, stride, pad, lout; } pd_col1d_geom;

/* Geometry of a 2-D im2col: x (n, c, h, w), square kernel k, output
 * (ho, wo). */
typedef struct { size_t n, c, h, w, k, stride, pad, ho, wo; } pd_col2d_geom;

/* x (n, c, lin) → col (c*k, n*lout):
 * col[ci*k + t][b*lout + l] = x[b][ci][l*stride + t - pad] (0 outside). */
void pd_im2col1d(float *col, const float *x, const pd_col1d_geom *g);
/* the adjoint: x (n, c, lin) += scatter of col (c*k, n*lout) */
void pd_col2im1d_add(float *x, const float *col, const pd_col1d_geom *g);

/* x (n, c, h, w) → col (c*k*k, n*ho*wo):
 * col[(ci*k + ky)*k + kx][(b*ho + oy)*wo + ox]
 *   = x[b][ci][oy*stride + ky - pad][ox*stride + kx - pad] (0 outside). */
void pd_im2col2d(float *col, const float *x, const pd_col2d_geom *g);

/* The two GEMMs of a column-matrix convolution's backward, shared by conv1d
 * and conv2d: dw (cout, kdim) += dyp (cout, ncols) · colᵀ when dw is given
 * (col must then hold im2col(x)); then, when dcol is set,
 * col = wᵀ (kdim, cout) · dyp, the column gradient for col2im. */
void pd_colconv_backward_gemms(float *dw, float *col, const float *dyp, const float *w,
                               size_t cout, size_t kdim, size_t ncols, int dcol);
/* the adjoint: x (n, c, h, w) += scatter of col (c*k*k, n*ho*wo) */
void pd_col2im2d_add(float *x, const float *col, const pd_col2d_geom *g);

/* Channel-major layout of n samples of sp values per channel: row ci of a
 * matrix with leading dimension ld holds sample b's values at columns
 * front + b*step + s (s < sp); step >= sp. The dense layout is
 * {n*sp, 0, sp}; the padded one of the stride-1 conv1d leaves zero gaps. */
typedef struct { size_t ld, front, step; } pd_cm_layout;

/* a (c, ld) → y (n, c, sp): y[b][ci][s] = a[ci][front + b*step + s]
 * (+ bias[ci] if bias is not NULL); accumulate != 0 adds into y. */
void pd_cm_to_ncs(float *y, const float *a, const float *bias, size_t n,
                  size_t c, size_t sp, const pd_cm_layout *lay,
                  int accumulate);
/* x (n, c, sp) → a (c, ld), the inverse permute; every column of a that
 * holds no sample value (front, gaps, tail up to ld) is set to 0. */
void pd_ncs_to_cm(float *a, const float *x, size_t n, size_t c, size_t sp,
                  const pd_cm_layout *lay);

/* The output positions l in [*lo, *hi) of a conv whose tap t reads input
 * position l*stride + t - pad inside [0, lin); every other l of [0, lout)
 * reads padding. */
void pd_tap_range(size_t t, size_t lin, size_t stride, size_t pad,
                  size_t lout, size_t *lo, size_t *hi);

/* y (n, c, sp) = bias[ci] broadcast (0 where bias is NULL) */
void pd_fill_bias(float *y, const float *bias, size_t n, size_t c, size_t sp);
/* db (c) += sum over samples and positions of dy (n, c, sp) */
void pd_bias_grad_add(float *db, const float *dy, size_t n, size_t c,
                      size_t sp);

/* ---- conv1d algorithms ---------------------------------------------------
 * DIRECT: nested loops, for tiny channel counts where a GEMM's K or M is too
 *         small to pay for the data movement.
 * SHIFT:  stride 1 only: k GEMMs on shifted views of one zero-padded copy
 *         of x, so no k-times larger column matrix is built.
 * IM2COL: im2col + one GEMM, any stride.
 * SAMPLE: threads over samples, each with its own per-sample column matrix
 *         and single-threaded GEMMs whose results are already in the
 *         (c, l) layout of one sample: nothing batch-sized leaves the cache
 *         between im2col, GEMM and col2im (long rows, few channels). */
/* (pd_conv_algo itself is in ops.h: a field of the shapes) */

/* ---- per-sample parallel loops (SAMPLE) -----------------------------------
 * pd_sample_slots() workers (the thread count) each own a slice of scratch;
 * pd_sample_slot() is the calling worker's index inside the loop. Weight
 * gradients are summed per worker and the partial sums added in worker
 * order, so results depend on the thread count only. */
size_t pd_sample_slots(void);
size_t pd_sample_slot(void);
/* dst (len) += Σ_s parts[s*len ...] for s < slots, in order */
void pd_sum_partials(float *dst, const float *parts, size_t slots, size_t len);

/* the algorithm conv1d uses for s: s->algo, or by shape when that is
 * PD_CONV_AUTO (never AUTO); oneDNN (PD_CONV_DNNL) where it is usable
 * and preferred */
pd_conv_algo pd_conv1d_algo(const pd_conv1d_shape *s);
/* the same among pdiff's own algorithms (what conv_transpose1d, which has
 * no oneDNN path, decides with) */
pd_conv_algo pd_conv1d_algo_ours(const pd_conv1d_shape *s);
/* could AUTO take the per-sample algorithm for s, given output rows of at
 * least min_lout? (enough samples per thread, BLAS callable inside OpenMP) */
int pd_conv1d_sample_fits(const pd_conv1d_shape *s, size_t min_lout);
/* would AUTO choose oneDNN for s? */
int pd_conv_dnnl_preferred(const pd_conv1d_shape *s);

/* ---- direct loops ---------------------------------------------------------
 * Three kernels cover conv1d and conv_transpose1d forward and backward
 * (callers pass the tiny weight tensor as wr (nout, nin, k), repacked as
 * each use needs). `in` (n, nin, lin) reads as zero outside [0, lin); off
 * is the signed input offset of tap 0 (-pad for a plain conv). Strides > 1
 * are turned into unit-stride problems by splitting rows into phases,
 * which needs scratch: pd_direct_scratch(g) floats, for any of the three. */
typedef struct {
    size_t n, nin, nout, lin, lout, k, stride;
    long off;
} pd_direct_geom;

size_t pd_direct_scratch(const pd_direct_geom *g);
/* gather: out (n, nout, lout) = [out +] bias[o] +
 *         Σ_i Σ_t wr[o][i][t] · in[b][i][l·stride + t + off] */
void pd_direct_gather(float *out, const float *in, const float *wr,
                      const float *bias, const pd_direct_geom *g,
                      int accumulate, float *scratch);
/* scatter, the adjoint of a gather with in and out swapped: for l < lin,
 * out[b][o][l·stride + t + off] += Σ_i wr[o][i][t] · in[b][i][l] where the
 * position lies in [0, lout) */
void pd_direct_scatter(float *out, const float *in, const float *wr,
                       const pd_direct_geom *g, float *scratch);
/* correlation: dwr (nout, nin, k) +=
 *   Σ_b Σ_l a[b][o][l] · in[b][i][l·stride + t + off],  a (n, nout, lout) */
void pd_direct_corr(float *dwr, const float *a, const float *in,
                    const pd_direct_geom *g, float *scratch);

#endif
