/*
 * linear.c — fully connected layer y = x Wᵀ + b (torch.nn.functional.linear),
 * forward and backward, each product one OpenBLAS sgemm:
 *
 *   forward:  y (n, out)   = x (n, in) × Wᵀ (in, out) + b
 *   backward: dx (n, in)  += dy (n, out) × W (out, in)
 *             dW (out, in) += dyᵀ (out, n) × x (n, in)
 *             db (out)     += Σ_n dy
 */
#include <cblas.h>

#include "engine/ops/ops.h"

/* x (n, in), w (out, in), b (out) or NULL → y (n, out) */
void pd_linear_forward(float *y, const float *x, const float *w, const float *b,
                       const pd_linear_shape *s) {
    const size_t n = s->n, in = s->in, out = s->out;
    if (n == 0 || out == 0) return;
    /* preload the bias rows so the GEMM can accumulate onto them */
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < out; o++) y[i * out + o] = b ? b[o] : 0.0f;
    if (in == 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out,
                (int)in, 1.0f, x, (int)in, w, (int)in, 1.0f, y, (int)out);
}

/* dy (n, out), x (n, in), w (out, in)
 * → dx (n, in) +=, dw (out, in) +=, db (out) += (each may be NULL) */
void pd_linear_backward(float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, const pd_linear_shape *s) {
    const size_t n = s->n, in = s->in, out = s->out;
    if (n == 0 || out == 0) return;
    if (db) {
        for (size_t o = 0; o < out; o++) {
            double acc = 0.0;
            for (size_t i = 0; i < n; i++) acc += dy[i * out + o];
            db[o] += (float)acc;
        }
    }
    if (in == 0) return;
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in,
                    (int)out, 1.0f, dy, (int)out, w, (int)in, 1.0f, dx,
                    (int)in);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in,
                    (int)n, 1.0f, dy, (int)out, x, (int)in, 1.0f, dw, (int)in);
}
