/*
 * ref.h — naive reference kernels, used only by tests and benches to check
 * the optimized ones in src/ops. Same signatures and semantics as ops.h
 * (outputs first, backward adds, NULL gradients skipped) minus the scratch
 * buffers. Each is a direct nested loop over the defining sum with double
 * accumulation: slow and obviously right.
 */
#ifndef PD_OPS_REF_H
#define PD_OPS_REF_H

#include "engine/ops/ops.h"

/* ---- linear: x (n, in), w (out, in), b (out) → y (n, out) --------------- */
void pd_ref_linear_forward(float *y, const float *x, const float *w,
                           const float *b, const pd_linear_shape *s);
void pd_ref_linear_backward(float *dx, float *dw, float *db, const float *dy,
                            const float *x, const float *w,
                            const pd_linear_shape *s);

/* ---- conv1d: x (n, cin, lin), w (cout, cin, k) → y (n, cout, lout) ------ */
void pd_ref_conv1d_forward(float *y, const float *x, const float *w,
                           const float *b, const pd_conv1d_shape *s);
void pd_ref_conv1d_backward(float *dx, float *dw, float *db, const float *dy,
                            const float *x, const float *w,
                            const pd_conv1d_shape *s);

/* ---- conv_transpose1d: x (n, cin, lin), w (cin, cout, k) → y (n, cout, lout) */
void pd_ref_convt1d_forward(float *y, const float *x, const float *w,
                            const float *b, const pd_convt1d_shape *s);
void pd_ref_convt1d_backward(float *dx, float *dw, float *db, const float *dy,
                             const float *x, const float *w,
                             const pd_convt1d_shape *s);

/* ---- conv2d: x (n, cin, h, w), w (cout, cin, k, k) → y (n, cout, ho, wo) */
void pd_ref_conv2d_forward(float *y, const float *x, const float *w,
                           const float *b, const pd_conv2d_shape *s);
void pd_ref_conv2d_backward(float *dx, float *dw, float *db, const float *dy,
                            const float *x, const float *w,
                            const pd_conv2d_shape *s);

#endif
