/*
 * optim.h — optimizers, learning-rate schedules and EMA over flat ranges of
 * a pd_params buffer (the optimizer is one flat loop over the range).
 * Semantics follow torch.optim.SGD and torch.optim.AdamW (PyTorch 1.13).
 */
#ifndef PD_OPTIM_H
#define PD_OPTIM_H

#include <stddef.h>

#include "pdiff_net.h"

/* pd_sgd (torch.optim.SGD's settings) is public: pdiff_net.h */
/* one step over floats [begin, end) of data/grad; buf: momentum buffer of
 * the same range (caller zeroes it before the first step); `first` = 1 on
 * the first step. */
void pd_sgd_step(const pd_sgd *o, float *data, const float *grad, float *buf,
                 size_t n, int first);

/* torch.optim.AdamW: p *= 1 - lr wd; m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) */
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} pd_adamw;
/* step t counts from 1 */
void pd_adamw_step(const pd_adamw *o, float *data, const float *grad, float *m,
                   float *v, size_t n, long t);

/* learning-rate schedules: the factor applied to the base lr at `step` */
/* cosine from 1 to 0 over `total` steps (CosineAnnealingLR, eta_min 0) */
double pd_lr_cosine(long step, long total);
/* multiply by gamma at each milestone passed (MultiStepLR) */
double pd_lr_multistep(long step, const long *milestones, int count, double gamma);

/* EMA of weights: ema = d ema + (1 - d) p, with warm-up
 * d = min(decay, (1 + step) / (10 + step)) so early averages are not
 * dominated by the random initialisation. */
void pd_ema_update(float *ema, const float *p, size_t n, float decay, long step);
float pd_ema_decay(float decay, long step);

#endif
