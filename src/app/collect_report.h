/*
 * collect_report.h — is a collect's training set worth learning? The K
 * checkpoints must differ in what they do, not only in their values: when
 * they all make the same test predictions there is no distribution for
 * p-diff to model (a "generated" model is then one of them, or broken).
 *
 *   spread_rms  RMS over dimensions of each dimension's standard deviation
 *               across the K subset vectors
 *   acc_min/max range of test accuracy (%); acc_step = one test sample (%)
 *   iou_mean    mean IoU of the sets of wrongly predicted test samples over
 *               all pairs of checkpoints (1: identical predictions)
 *   one_model   iou_mean ≥ 0.99 or acc_max − acc_min ≤ acc_step: the K
 *               checkpoints are effectively one model
 */
#ifndef PD_COLLECT_REPORT_H
#define PD_COLLECT_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pdiff.h"

typedef struct {
    size_t K, D;
    double spread_rms, acc_min, acc_max, acc_step, iou_mean;
    int one_model;
} pd_collect_report;

/* IoU |a ∩ b| / |a ∪ b| of two bitsets of `words` 64-bit words (1 when
 * both are empty) */
double pd_bits_iou(const uint64_t *a, const uint64_t *b, size_t words);
/* sets bit i of `wrong` (zeroed by the caller) for each sample i < n whose
 * prediction is not its label */
void pd_bits_mark_wrong(uint64_t *wrong, const int32_t *pred, const int32_t *labels, size_t n);

/* wrong (K × words bitsets of wrong test predictions), acc (K, %), V (K × D
 * subset vectors), ntest test samples */
void pd_collect_report_make(const uint64_t *wrong, size_t words, const double *acc,
                            const float *V, size_t K, size_t D, size_t ntest,
                            pd_collect_report *r);
/* the report as lines, and a warning line when one_model */
void pd_collect_report_print(const pd_collect_report *r, FILE *to);

#endif
