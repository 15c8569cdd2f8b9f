/*
 * ref_norm.c — see ref_norm.h. Straight from the definitions in double:
 * mean = Σx / N, var = Σ(x - mean)^2 / N (biased, used to normalise),
 * running variance updated with var N / (N - 1).
 */
#include "ref/ref_norm.h"

#include <math.h>

/* element (i, ch, j) of a (n, c, sp) tensor */
static size_t at(const pd_norm_shape *s, size_t i, size_t ch, size_t j) {
    return (i * s->c + ch) * s->sp + j;
}

void pd_ref_batchnorm_train(float *y, float *mean, float *rstd,
                            float *running_mean, float *running_var,
                            const float *x, const float *gamma,
                            const float *beta, float momentum,
                            const pd_norm_shape *s) {
    const double cnt = (double)(s->n * s->sp);
    for (size_t ch = 0; ch < s->c; ch++) {
        /* statistics of channel ch over all samples and positions */
        double sum = 0.0, sq = 0.0;
        for (size_t i = 0; i < s->n; i++)
            for (size_t j = 0; j < s->sp; j++) sum += x[at(s, i, ch, j)];
        double mu = sum / cnt;
        for (size_t i = 0; i < s->n; i++)
            for (size_t j = 0; j < s->sp; j++) {
                double d = x[at(s, i, ch, j)] - mu;
                sq += d * d;
            }
        double var = sq / cnt;
        double rs = 1.0 / sqrt(var + s->eps);
        /* normalise, then the per-channel affine map (identity if NULL) */
        double g = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;
        for (size_t i = 0; i < s->n; i++)
            for (size_t j = 0; j < s->sp; j++) {
                size_t e = at(s, i, ch, j);
                y[e] = (float)((x[e] - mu) * rs * g + b);
            }
        if (mean) mean[ch] = (float)mu;
        if (rstd) rstd[ch] = (float)rs;
        /* PyTorch: running = (1 - m) running + m stat, unbiased variance;
         * a single value per channel keeps the biased one (0) */
        double unbiased = cnt > 1.0 ? sq / (cnt - 1.0) : var;
        if (running_mean)
            running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mu);
        if (running_var)
            running_var[ch] =
                (float)((1.0 - momentum) * running_var[ch] + momentum * unbiased);
    }
}

void pd_ref_batchnorm_eval(float *y, const float *x, const float *gamma,
                           const float *beta, const float *running_mean,
                           const float *running_var, const pd_norm_shape *s) {
    for (size_t i = 0; i < s->n; i++)
        for (size_t ch = 0; ch < s->c; ch++)
            for (size_t j = 0; j < s->sp; j++) {
                size_t e = at(s, i, ch, j);
                double g = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;
                y[e] = (float)(((double)x[e] - running_mean[ch]) /
                                   sqrt((double)running_var[ch] + s->eps) * g +
                               b);
            }
}

void pd_ref_groupnorm(float *y, float *mean, float *rstd, const float *x,
                      const float *gamma, const float *beta, size_t groups,
                      const pd_norm_shape *s) {
    const size_t cpg = s->c / groups;
    const double cnt = (double)(cpg * s->sp);
    for (size_t i = 0; i < s->n; i++)
        for (size_t g = 0; g < groups; g++) {
            /* statistics of sample i over channels g*cpg .. (g+1)*cpg - 1 */
            double sum = 0.0, sq = 0.0;
            for (size_t ch = g * cpg; ch < (g + 1) * cpg; ch++)
                for (size_t j = 0; j < s->sp; j++) sum += x[at(s, i, ch, j)];
            double mu = sum / cnt;
            for (size_t ch = g * cpg; ch < (g + 1) * cpg; ch++)
                for (size_t j = 0; j < s->sp; j++) {
                    double d = x[at(s, i, ch, j)] - mu;
                    sq += d * d;
                }
            double rs = 1.0 / sqrt(sq / cnt + s->eps);
            if (mean) mean[i * groups + g] = (float)mu;
            if (rstd) rstd[i * groups + g] = (float)rs;
            for (size_t ch = g * cpg; ch < (g + 1) * cpg; ch++)
                for (size_t j = 0; j < s->sp; j++) {
                    size_t e = at(s, i, ch, j);
                    /* the affine parameters are per channel, not per group */
                    double gm = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;
                    y[e] = (float)((x[e] - mu) * rs * gm + b);
                }
        }
}
