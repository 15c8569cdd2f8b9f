/*
 * matrix_stats.h — statistics of a K × D matrix of parameter vectors (one
 * row per checkpoint) that several stages need: per-column moments and
 * nearest-row distances. Everything accumulates in double.
 */
#ifndef PD_MATRIX_STATS_H
#define PD_MATRIX_STATS_H

#include <stddef.h>

/* mean (D), sd (D) of the columns of O (K × D), population sd */
void pd_column_moments(const float *O, size_t K, size_t D, float *mean, float *sd);

/* index of the row of O (K × D) nearest to x (D) in L2, skipping row
 * `skip` (pass (size_t)-1 to skip none); *dist its distance (INFINITY when
 * no row is left) */
size_t pd_nearest_row(const float *x, const float *O, size_t K, size_t D, size_t skip,
                      double *dist);
/* L2 distance of each row of X (N × D) to its nearest row of O (K × D);
 * skip_self: X is O and a row's own index is skipped (K ≥ 2).
 * Non-finite rows of X get NaN. */
void pd_nearest_l2(const float *X, size_t N, const float *O, size_t K, size_t D,
                   int skip_self, double *out);

#endif
