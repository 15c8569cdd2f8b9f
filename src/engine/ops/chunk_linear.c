/*
 * chunk_linear.c — a linear map of its own for every chunk of a vector
 * (block-diagonal linear layer), forward and backward:
 *
 *   x (n, T, in), w (T, out, in), b (T, out) → y (n, T, out)
 *   y[i, t, o]   = Σ_j w[t, o, j] x[i, t, j] + b[t, o]
 *   dx[i, t, j] += Σ_o dy[i, t, o] w[t, o, j]
 *   dw[t, o, j] += Σ_i dy[i, t, o] x[i, t, j]
 *   db[t, o]    += Σ_i dy[i, t, o]
 *
 * The whole-network autoencoder's per-chunk projections (docs/method.md
 * §3b): n × T × in × out multiply-adds, linear in the vector length. in
 * and out are small (a chunk of 64–256 values to a code of 2–8, or back),
 * too small for a GEMM per chunk to pay, so these are plain loops over
 * contiguous rows that the compiler vectorises, threads over chunks: each
 * chunk's outputs and gradients belong to one thread, so the results do
 * not depend on the thread count.
 */
#include <string.h>

#include "engine/ops/ops.h"

#define CHUNK_OMP_MIN_WORK (1u << 16) /* multiply-adds below which one thread runs */

void pd_chunk_linear_forward(float *y, const float *x, const float *w, const float *b,
                             const pd_chunk_linear_shape *s) {
    const size_t n = s->n, T = s->chunks, in = s->in, out = s->out;
#pragma omp parallel for schedule(static) if (n * T * in * out > CHUNK_OMP_MIN_WORK)
    for (size_t t = 0; t < T; t++) {
        const float *wt = w + t * out * in;
        for (size_t i = 0; i < n; i++) {
            const float *xi = x + (i * T + t) * in;
            float *yi = y + (i * T + t) * out;
            for (size_t o = 0; o < out; o++) {
                const float *wo = wt + o * in;
                float acc = 0.0f;
                for (size_t j = 0; j < in; j++) acc += wo[j] * xi[j];
                yi[o] = acc + (b ? b[t * out + o] : 0.0f);
            }
        }
    }
}

void pd_chunk_linear_backward(float *dx, float *dw, float *db, const float *dy,
                              const float *x, const float *w,
                              const pd_chunk_linear_shape *s) {
    const size_t n = s->n, T = s->chunks, in = s->in, out = s->out;
#pragma omp parallel for schedule(static) if (n * T * in * out > CHUNK_OMP_MIN_WORK)
    for (size_t t = 0; t < T; t++) {
        const float *wt = w + t * out * in;
        float *dwt = dw ? dw + t * out * in : NULL;
        for (size_t i = 0; i < n; i++) {
            const float *dyi = dy + (i * T + t) * out;
            const float *xi = x + (i * T + t) * in;
            float *dxi = dx ? dx + (i * T + t) * in : NULL;
            for (size_t o = 0; o < out; o++) {
                const float g = dyi[o];
                if (dxi)
                    for (size_t j = 0; j < in; j++) dxi[j] += g * wt[o * in + j];
                if (dwt)
                    for (size_t j = 0; j < in; j++) dwt[o * in + j] += g * xi[j];
                if (db) db[t * out + o] += g;
            }
        }
    }
}
