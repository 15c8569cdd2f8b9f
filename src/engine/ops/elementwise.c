/*
 * elementwise.c — residual add and embedding lookup, forward and backward.
 *
 * add:       y = a + b (torch.add); backward adds dy into both inputs.
 * embedding: y[i, :] = table[idx[i], :] (torch.nn.functional.embedding);
 *            backward scatters dy rows into dtable, repeated indices
 *            accumulating in index order (serial, so the sums are
 *            deterministic).
 * channel slice: y = x[:, c0 : c0 + c] (torch.narrow(x, 1, c0, c));
 *            backward adds dy into those channels of dx.
 */
#include "engine/ops/ops.h"

#include <string.h>

/* below this many values a kernel runs on one thread */
enum { EW_PAR_MIN = 1 << 15 };

/* a, b, y (n) */
void pd_add_forward(float *y, const float *a, const float *b, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* da, db, dy (n); da or db may be NULL */
void pd_add_backward(float *da, float *db, const float *dy, size_t n) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) {
        if (da) da[i] += dy[i];
        if (db) db[i] += dy[i];
    }
}

/* table (rows, dim), idx (n) with every idx[i] in [0, rows) → y (n, dim) */
void pd_embedding_forward(float *y, const float *table, const int32_t *idx,
                          size_t n, size_t dim) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n * dim >= EW_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++)
        memcpy(y + i * dim, table + (size_t)idx[i] * dim, dim * sizeof(float));
}

/* dy (n, dim), idx (n) → dtable (rows, dim) += scattered rows of dy */
void pd_embedding_backward(float *dtable, const float *dy, const int32_t *idx,
                           size_t n, size_t dim) {
    if (!dtable) return;
    for (size_t i = 0; i < n; i++) {
        float *row = dtable + (size_t)idx[i] * dim;
        const float *g = dy + i * dim;
        for (size_t j = 0; j < dim; j++) row[j] += g[j];
    }
}

/* x (n, cx, sp), y (n, c, sp): channels [c0, c0 + c) of each sample */
void pd_slice_channels_forward(float *y, const float *x, size_t n, size_t cx, size_t c0,
                               size_t c, size_t sp) {
    for (size_t i = 0; i < n; i++)
        memcpy(y + i * c * sp, x + (i * cx + c0) * sp, c * sp * sizeof(float));
}

void pd_slice_channels_backward(float *dx, const float *dy, size_t n, size_t cx, size_t c0,
                                size_t c, size_t sp) {
    for (size_t i = 0; i < n; i++) {
        float *d = dx + (i * cx + c0) * sp;
        const float *s = dy + i * c * sp;
        for (size_t j = 0; j < c * sp; j++) d[j] += s[j];
    }
}
