/*
 * collect_report.c — see collect_report.h.
 */
#include "collect_report.h"

#include <math.h>
#include <stdlib.h>

#include "pdiff.h"

double pd_bits_iou(const uint64_t *a, const uint64_t *b, size_t words) {
    size_t in = 0, un = 0;
    for (size_t i = 0; i < words; i++) {
        in += (size_t)__builtin_popcountll(a[i] & b[i]);
        un += (size_t)__builtin_popcountll(a[i] | b[i]);
    }
    return un ? (double)in / (double)un : 1.0;
}

void pd_bits_mark_wrong(uint64_t *wrong, const int32_t *pred, const int32_t *labels, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (pred[i] != labels[i]) wrong[i / 64] |= 1ull << (i % 64);
}

void pd_collect_report_make(const uint64_t *wrong, size_t words, const double *acc,
                            const float *V, size_t K, size_t D, size_t ntest,
                            pd_collect_report *r) {
    r->K = K;
    r->D = D;
    r->acc_step = ntest ? 100.0 / (double)ntest : NAN;
    r->acc_min = INFINITY;
    r->acc_max = -INFINITY;
    for (size_t k = 0; k < K; k++) {
        r->acc_min = fmin(r->acc_min, acc[k]);
        r->acc_max = fmax(r->acc_max, acc[k]);
    }
    double var = 0;
    float *mean = malloc((D ? D : 1) * sizeof(float)), *sd = malloc((D ? D : 1) * sizeof(float));
    if (mean && sd && K) {
        pd_column_moments(V, K, D, mean, sd);
        for (size_t j = 0; j < D; j++) var += (double)sd[j] * sd[j];
    }
    r->spread_rms = D && mean && sd && K ? sqrt(var / (double)D) : NAN;
    free(mean);
    free(sd);
    double sum = 0;
    size_t pairs = 0;
    for (size_t a = 0; a < K; a++)
        for (size_t b = a + 1; b < K; b++, pairs++)
            sum += pd_bits_iou(wrong + a * words, wrong + b * words, words);
    r->iou_mean = pairs ? sum / (double)pairs : NAN;
    /* a tiny tolerance: accuracies come back from "%.4f" text */
    r->one_model = K > 1 && (r->iou_mean >= 0.99 || r->acc_max - r->acc_min <= r->acc_step + 1e-9);
}

void pd_collect_report_print(const pd_collect_report *r, FILE *to) {
    fprintf(to, "checkpoints: K = %zu, D = %zu; spread per dimension (RMS of sd) %.4g; "
                "test accuracy %.2f–%.2f %% (one test sample = %.3f %%); mean pairwise IoU "
                "of wrong test predictions %.4f\n",
            r->K, r->D, r->spread_rms, r->acc_min, r->acc_max, r->acc_step, r->iou_mean);
    if (r->one_model)
        fprintf(to, "warning: the %zu checkpoints are effectively one model (%s); p-diff has "
                    "no distribution to learn: raise --subset-lr or --every\n",
                r->K, r->iou_mean >= 0.99 ? "their wrong predictions overlap ≥ 99 %"
                                          : "their accuracies span at most one test sample");
}
