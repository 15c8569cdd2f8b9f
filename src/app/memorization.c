/*
 * memorization.c — see memorization.h.
 */
#include "memorization.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

void pd_baseline_average(const float *O, size_t K, size_t D, size_t m, pd_rng *rng,
                         float *out) {
    if (m > K) m = K;
    /* a partial Fisher–Yates over row indices picks m distinct rows */
    size_t *idx = malloc((K ? K : 1) * sizeof(size_t));
    double *sum = calloc(D ? D : 1, sizeof(double));
    if (!idx || !sum) { /* callers size D, K small; degrade to NaN, never crash */
        for (size_t j = 0; j < D; j++) out[j] = NAN;
        free(idx);
        free(sum);
        return;
    }
    for (size_t k = 0; k < K; k++) idx[k] = k;
    for (size_t i = 0; i < m; i++) {
        size_t j = i + pd_rng_below(rng, (uint32_t)(K - i));
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        const float *row = O + idx[i] * D;
        for (size_t d = 0; d < D; d++) sum[d] += row[d];
    }
    for (size_t d = 0; d < D; d++) out[d] = m ? (float)(sum[d] / (double)m) : NAN;
    free(idx);
    free(sum);
}

void pd_baseline_gaussian(const float *mean, const float *sd, size_t D, pd_rng *rng,
                          float *out) {
    for (size_t j = 0; j < D; j++) out[j] = mean[j] + sd[j] * pd_rng_normal(rng);
}

double pd_matched_novelty_acc(const double *iou, const double *acc, size_t n, double x) {
    /* nearest finite points at or below and at or above x */
    double lo_x = -INFINITY, hi_x = INFINITY, lo_s = 0, hi_s = 0;
    size_t lo_n = 0, hi_n = 0, finite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(iou[i]) || !isfinite(acc[i])) continue;
        finite++;
        if (iou[i] <= x) {
            if (iou[i] > lo_x) lo_x = iou[i], lo_s = 0, lo_n = 0;
            if (iou[i] == lo_x) lo_s += acc[i], lo_n++;
        }
        if (iou[i] >= x) {
            if (iou[i] < hi_x) hi_x = iou[i], hi_s = 0, hi_n = 0;
            if (iou[i] == hi_x) hi_s += acc[i], hi_n++;
        }
    }
    if (finite < 2 || !isfinite(x) || !lo_n || !hi_n) return NAN;
    double lo_a = lo_s / (double)lo_n, hi_a = hi_s / (double)hi_n;
    if (hi_x == lo_x) return 0.5 * (lo_a + hi_a);
    return lo_a + (hi_a - lo_a) * (x - lo_x) / (hi_x - lo_x);
}
