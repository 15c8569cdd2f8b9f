/*
 * matrix_stats.c — statistics of parameter matrices (pdiff.h).
 */
#include "pdiff.h"

#include <math.h>

void pd_column_moments(const float *O, size_t K, size_t D, float *mean, float *sd) {
    for (size_t j = 0; j < D; j++) {
        double s = 0, s2 = 0;
        for (size_t k = 0; k < K; k++) s += O[k * D + j];
        double m = K ? s / (double)K : NAN;
        for (size_t k = 0; k < K; k++) s2 += (O[k * D + j] - m) * (O[k * D + j] - m);
        mean[j] = (float)m;
        sd[j] = K ? (float)sqrt(s2 / (double)K) : NAN;
    }
}

size_t pd_nearest_row(const float *x, const float *O, size_t K, size_t D, size_t skip,
                      double *dist) {
    double best = INFINITY;
    size_t at = 0;
    for (size_t k = 0; k < K; k++) {
        if (k == skip) continue;
        const float *o = O + k * D;
        double s = 0;
        for (size_t j = 0; j < D; j++) s += ((double)x[j] - o[j]) * ((double)x[j] - o[j]);
        if (s < best) {
            best = s;
            at = k;
        }
    }
    *dist = sqrt(best);
    return at;
}

void pd_nearest_l2(const float *X, size_t N, const float *O, size_t K, size_t D,
                   int skip_self, double *out) {
    for (size_t i = 0; i < N; i++) {
        const float *x = X + i * D;
        int finite = 1;
        for (size_t j = 0; j < D && finite; j++) finite = isfinite(x[j]);
        double d = NAN;
        if (finite) pd_nearest_row(x, O, K, D, skip_self ? i : (size_t)-1, &d);
        out[i] = finite && isfinite(d) ? d : NAN;
    }
}
