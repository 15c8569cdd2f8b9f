/*
 * ref_norm.h — naive double-precision reference versions of the norms'
 * forward passes (src/engine/ops/norm.c), used by the tests to check the
 * optimised kernels on random shape sweeps. Written for clarity, not
 * speed: every statistic is recomputed in double straight from its
 * definition, one output element at a time.
 */
#ifndef PD_REF_NORM_H
#define PD_REF_NORM_H

#include "engine/ops/ops.h"

/* x, y (n, c, sp); gamma, beta (c) or NULL. Writes batch statistics mean and
 * rstd (c) when non-NULL and updates running_mean/var (c) when non-NULL,
 * as pd_batchnorm_forward_train. */
void pd_ref_batchnorm_train(float *y, float *mean, float *rstd,
                            float *running_mean, float *running_var,
                            const float *x, const float *gamma,
                            const float *beta, float momentum,
                            const pd_norm_shape *s);
/* as pd_batchnorm_forward_eval */
void pd_ref_batchnorm_eval(float *y, const float *x, const float *gamma,
                           const float *beta, const float *running_mean,
                           const float *running_var, const pd_norm_shape *s);
/* as pd_groupnorm_forward; mean, rstd (n, groups) or NULL */
void pd_ref_groupnorm(float *y, float *mean, float *rstd, const float *x,
                      const float *gamma, const float *beta, size_t groups,
                      const pd_norm_shape *s);

#endif
