/*
 * im2col.h — layout helpers shared by the GEMM convolutions (conv1d,
 * conv_transpose1d, conv2d): im2col / col2im over a whole batch, and the
 * permutes between the PyTorch layout (n, c, sp) and the GEMM layout
 * (c, n*sp) in which all samples of a channel sit in one row.
 *
 * Column matrices hold one row per (input channel, kernel tap) and one
 * column per (sample, output position), so a convolution is one sgemm:
 *   Y' (cout, n*lout) = W (cout, cin*k) × col (cin*k, n*lout).
 * All loops are parallelised with OpenMP over independent (channel, sample)
 * pairs; none of these helpers calls BLAS.
 */
#ifndef PD_IM2COL_H
#define PD_IM2COL_H

#include <stddef.h>

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
/* the adjoint: x (n, c, h, w) += scatter of col (c*k*k, n*ho*wo) */
void pd_col2im2d_add(float *x, const float *col, const pd_col2d_geom *g);

/* a (c, n*sp) → y (n, c, sp): y[b][ci][s] = a[ci][b*sp + s] (+ bias[ci] if
 * bias is not NULL). accumulate != 0 adds into y instead of overwriting. */
void pd_cm_to_ncs(float *y, const float *a, const float *bias, size_t n,
                  size_t c, size_t sp, int accumulate);
/* x (n, c, sp) → a (c, n*sp), the inverse permute */
void pd_ncs_to_cm(float *a, const float *x, size_t n, size_t c, size_t sp);

/* y (n, c, sp) = bias[ci] broadcast (0 where bias is NULL) */
void pd_fill_bias(float *y, const float *bias, size_t n, size_t c, size_t sp);
/* db (c) += sum over samples and positions of dy (n, c, sp) */
void pd_bias_grad_add(float *db, const float *dy, size_t n, size_t c,
                      size_t sp);

#endif
