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
 * §3b): n × T × in × out multiply-adds, linear in the vector length. Each
 * chunk is three small GEMMs on strided views (chunk t of every row is
 * the block at column t·in, leading dimension T·in), threads over chunks
 * with a single-threaded BLAS call each where OpenBLAS allows BLAS inside
 * OpenMP (threads.h), else one chunk after the other. Every output and
 * gradient element belongs to one chunk, so the results do not depend on
 * the thread count.
 */
#include <cblas.h>
#include <string.h>

#include "engine/core/threads.h"
#include "engine/ops/ops.h"

#define CHUNK_OMP_MIN_WORK (1u << 16) /* multiply-adds below which one thread runs */

static int threaded(const pd_chunk_linear_shape *s) {
    return s->n * s->chunks * s->in * s->out > CHUNK_OMP_MIN_WORK && pd_blas_nests_in_openmp();
}

void pd_chunk_linear_forward(float *y, const float *x, const float *w, const float *b,
                             const pd_chunk_linear_shape *s) {
    const size_t n = s->n, T = s->chunks, in = s->in, out = s->out;
    if (n == 0 || T == 0 || out == 0) return;
#pragma omp parallel for schedule(static) if (threaded(s))
    for (size_t t = 0; t < T; t++) {
        float *yt = y + t * out;
        for (size_t i = 0; i < n; i++) /* the bias rows, for the GEMM to add onto */
            if (b) memcpy(yt + i * T * out, b + t * out, out * sizeof(float));
            else memset(yt + i * T * out, 0, out * sizeof(float));
        if (in == 0) continue;
        /* Y_t (n, out) += X_t (n, in) × W_tᵀ (in, out) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f,
                    x + t * in, (int)(T * in), w + t * out * in, (int)in, 1.0f, yt,
                    (int)(T * out));
    }
}

void pd_chunk_linear_backward(float *dx, float *dw, float *db, const float *dy,
                              const float *x, const float *w,
                              const pd_chunk_linear_shape *s) {
    const size_t n = s->n, T = s->chunks, in = s->in, out = s->out;
    if (n == 0 || T == 0 || out == 0 || in == 0) return;
#pragma omp parallel for schedule(static) if (threaded(s))
    for (size_t t = 0; t < T; t++) {
        const float *dyt = dy + t * out;
        /* dX_t (n, in) += dY_t (n, out) × W_t (out, in) */
        if (dx)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out,
                        1.0f, dyt, (int)(T * out), w + t * out * in, (int)in, 1.0f, dx + t * in,
                        (int)(T * in));
        /* dW_t (out, in) += dY_tᵀ (out, n) × X_t (n, in) */
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0f,
                        dyt, (int)(T * out), x + t * in, (int)(T * in), 1.0f,
                        dw + t * out * in, (int)in);
        if (db)
            for (size_t i = 0; i < n; i++)
                for (size_t o = 0; o < out; o++) db[t * out + o] += dyt[i * T * out + o];
    }
}
