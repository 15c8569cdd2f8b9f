/*
 * memorization.h — the measurements and baselines of the memorization
 * critique (Zeng et al. 2025, "Generative Modeling of Weights:
 * Generalization or Memorization?"): do generated parameter vectors do
 * better than simple ways of making new vectors from the originals?
 *
 *   averaging baseline   the element-wise mean of m (16) originals drawn
 *                        without replacement (all K when K < m)
 *   gaussian baseline    each coordinate drawn from N(mean_j, sd_j²) of the
 *                        originals (population standard deviation)
 *   matched novelty      the noise-added baseline at several amplitudes
 *                        traces accuracy against novelty (mean max-IoU of
 *                        wrong predictions to the originals); interpolated
 *                        linearly at p-diff's mean max-IoU it gives the
 *                        accuracy that plain noise reaches at p-diff's
 *                        novelty. p-diff's mean accuracy minus that is the
 *                        gain (pp; > 0: p-diff beats noise at equal novelty).
 */
#ifndef PD_MEMORIZATION_H
#define PD_MEMORIZATION_H

#include <stddef.h>

#include "pdiff.h"

#define PD_AVERAGE_OF 16

/* out (D) ← mean of min(m, K) distinct random rows of O (K × D) */
void pd_baseline_average(const float *O, size_t K, size_t D, size_t m, pd_rng *rng,
                         float *out);
/* out (D) ← mean + sd ⊙ ε, ε ~ N(0, I); mean and sd from pd_column_moments */
void pd_baseline_gaussian(const float *mean, const float *sd, size_t D, pd_rng *rng,
                          float *out);

/* accuracy at novelty x on the curve through (iou[i], acc[i]), i < n (any
 * order; non-finite points ignored): linear interpolation between the two
 * points that bracket x. NaN when x lies outside the points' IoU range or
 * fewer than two points are finite. Equal IoUs average their accuracies. */
double pd_matched_novelty_acc(const double *iou, const double *acc, size_t n, double x);

#endif
