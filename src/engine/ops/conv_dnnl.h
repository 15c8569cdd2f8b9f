/*
 * conv_dnnl.h — conv1d, conv_transpose1d and conv2d (ops.h's shapes and
 * conventions) through oneDNN,
 * in the arithmetic of the shape's `math`: PD_MATH_F32, or PD_MATH_BF16
 * (inputs and weights rounded to bf16, fp32 accumulation, fp32 outputs and
 * gradients). conv1d.c and convt1d.c call it as the algorithm PD_CONV_DNNL;
 * conv2d.c wherever it has a kernel (PD_CONV_AUTO).
 *
 * Built with oneDNN (CMake finds Debian's libdnnl-dev) or not: without it
 * every function says "no" and the other algorithms run. With it, a shape
 * is usable when oneDNN has a JIT kernel for it on this CPU (its reference
 * kernels are slower than ours): so a CPU without bf16 instructions, or
 * without AVX-512, may run bf16 shapes in fp32 instead — never fails.
 * PDIFF_DNNL=0 in the environment turns oneDNN off (then bf16 is fp32).
 */
#ifndef PD_CONV_DNNL_H
#define PD_CONV_DNNL_H

#include "engine/ops/ops.h"

/* 1 when built with oneDNN and its CPU engine starts */
int pd_dnnl_available(void);
/* can oneDNN run this shape (in s->math) with a JIT kernel? (the first
 * call per shape builds its primitives) */
int pd_conv1d_dnnl_usable(const pd_conv1d_shape *s);
/* y = conv1d(x, w) + b; returns 0 (and leaves y undefined) when unusable */
int pd_conv1d_dnnl_forward(float *y, const float *x, const float *w, const float *b,
                           const pd_conv1d_shape *s);
/* dx +=, dw +=, db += (each may be NULL); 0 when unusable */
int pd_conv1d_dnnl_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const pd_conv1d_shape *s);
/* the same for conv_transpose1d (oneDNN's deconvolution; weights (cin,
 * cout, k) as PyTorch keeps them) */
int pd_convt1d_dnnl_usable(const pd_convt1d_shape *s);
int pd_convt1d_dnnl_forward(float *y, const float *x, const float *w, const float *b,
                            const pd_convt1d_shape *s);
int pd_convt1d_dnnl_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w, const pd_convt1d_shape *s);

/* conv2d (ops.h's shape, fp32 or bf16 as s->math) the same way: training
 * plans, forward and backward */
int pd_conv2d_dnnl_forward(float *y, const float *x, const float *w, const float *b,
                           const pd_conv2d_shape *s);
int pd_conv2d_dnnl_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const pd_conv2d_shape *s);
/* inference: y = max_pool2d(relu(conv2d(x, w) + b), k, stride) in one
 * pass (ReLU fused into the convolution, oneDNN's layouts in between),
 * y (n, cout, ho', wo') plain; in chunks of samples. Returns 0 (y
 * undefined) when oneDNN cannot run it with JIT kernels. */
int pd_conv2d_relu_maxpool_dnnl(float *y, const float *x, const float *w, const float *b,
                                const pd_conv2d_shape *s, size_t k, size_t stride);

#endif
