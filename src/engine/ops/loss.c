/*
 * loss.c — mean squared error and softmax cross-entropy, forward and
 * backward, with PyTorch's reduction='mean' (F.mse_loss, F.cross_entropy).
 *
 * Sums run in double over a fixed number of chunks whose partial sums are
 * then added in chunk order: the result depends only on the input, never
 * on the thread count or on scheduling (no OpenMP reduction, whose combine
 * order is unspecified).
 *
 * Cross-entropy is computed stably: per row, the max logit is subtracted
 * before exponentiating, and the loss is log Σ exp(l - max) - (l_y - max).
 */
#include "engine/ops/ops.h"

#include <math.h>

enum {
    LOSS_CHUNKS = 64,        /* fixed partition of the sums */
    LOSS_PAR_MIN = 1 << 15   /* below this many values: one thread */
};

/* first index of chunk k of LOSS_CHUNKS over n items */
static size_t chunk_lo(size_t k, size_t n) {
    return (size_t)((unsigned long long)n * k / LOSS_CHUNKS);
}

/* x, t (n) → mean((x - t)^2) */
double pd_mse_forward(const float *x, const float *t, size_t n) {
    if (n == 0) return 0.0;
    double part[LOSS_CHUNKS];
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= LOSS_PAR_MIN)
#endif
    for (size_t k = 0; k < LOSS_CHUNKS; k++) {
        /* four running sums, so the loop vectorises (the chunks, and with
         * them the result, do not depend on the thread count) */
        double s[4] = {0.0, 0.0, 0.0, 0.0};
        size_t i = chunk_lo(k, n), end = chunk_lo(k + 1, n);
        for (; i + 4 <= end; i += 4)
            for (size_t q = 0; q < 4; q++) {
                double d = (double)x[i + q] - (double)t[i + q];
                s[q] += d * d;
            }
        for (; i < end; i++) {
            double d = (double)x[i] - (double)t[i];
            s[0] += d * d;
        }
        part[k] = (s[0] + s[1]) + (s[2] + s[3]);
    }
    double sum = 0.0;
    for (size_t k = 0; k < LOSS_CHUNKS; k++) sum += part[k];
    return sum / (double)n;
}

/* dx, x, t (n): dx += scale * 2 (x - t) / n */
void pd_mse_backward(float *dx, const float *x, const float *t, size_t n,
                     float scale) {
    if (!dx || n == 0) return;
    const float k = (float)(2.0 * (double)scale / (double)n);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= LOSS_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) dx[i] += k * (x[i] - t[i]);
}

/* Softmax of one row of c logits into p; returns -log p[label] computed
 * from the shifted logits (finite even when p[label] underflows). */
static double softmax_row(float *p, const float *l, size_t c, size_t label) {
    float mx = l[0];
    for (size_t j = 1; j < c; j++)
        if (l[j] > mx) mx = l[j];
    double z = 0.0;
    for (size_t j = 0; j < c; j++) z += exp((double)l[j] - (double)mx);
    for (size_t j = 0; j < c; j++) p[j] = (float)(exp((double)l[j] - (double)mx) / z);
    return log(z) - ((double)l[label] - (double)mx);
}

/* logits (n, c), labels (n) → probs (n, c); returns the mean loss, NaN
 * when a label lies outside [0, c) (probs are still filled). */
double pd_xent_forward(float *probs, const float *logits, const int32_t *labels,
                       size_t n, size_t c) {
    if (n == 0 || c == 0) return 0.0;
    double part[LOSS_CHUNKS];
    int bad[LOSS_CHUNKS];
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n * c >= LOSS_PAR_MIN)
#endif
    for (size_t k = 0; k < LOSS_CHUNKS; k++) {
        double s = 0.0;
        int b = 0;
        for (size_t i = chunk_lo(k, n); i < chunk_lo(k + 1, n); i++) {
            int32_t y = labels[i];
            int ok = y >= 0 && (size_t)y < c;
            b |= !ok;
            double li = softmax_row(probs + i * c, logits + i * c, c, ok ? (size_t)y : 0);
            if (ok) s += li;
        }
        part[k] = s;
        bad[k] = b;
    }
    double sum = 0.0;
    int any_bad = 0;
    for (size_t k = 0; k < LOSS_CHUNKS; k++) {
        sum += part[k];
        any_bad |= bad[k];
    }
    return any_bad ? NAN : sum / (double)n;
}

/* dlogits, probs (n, c), labels (n):
 * dlogits += scale (probs - onehot(label)) / n; rows with an out-of-range
 * label get no one-hot term. */
void pd_xent_backward(float *dlogits, const float *probs, const int32_t *labels,
                      size_t n, size_t c, float scale) {
    if (!dlogits || n == 0) return;
    const float k = (float)((double)scale / (double)n);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n * c >= LOSS_PAR_MIN)
#endif
    for (size_t i = 0; i < n; i++) {
        float *d = dlogits + i * c;
        const float *p = probs + i * c;
        const int32_t y = labels[i];
        for (size_t j = 0; j < c; j++)
            d[j] += k * (p[j] - (y >= 0 && (size_t)y == j ? 1.0f : 0.0f));
    }
}
