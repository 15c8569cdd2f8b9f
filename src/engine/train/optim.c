/*
 * optim.c — see optim.h. Each optimizer is one flat loop over a range.
 */
#include "engine/train/optim.h"

#include <math.h>

void pd_sgd_step(const pd_sgd *o, float *data, const float *grad, float *buf,
                 size_t n, int first) {
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + o->weight_decay * data[i];
        if (o->momentum != 0.0f) {
            buf[i] = first ? g : o->momentum * buf[i] + (1.0f - o->dampening) * g;
            g = o->nesterov ? g + o->momentum * buf[i] : buf[i];
        }
        data[i] -= o->lr * g;
    }
}

void pd_adamw_step(const pd_adamw *o, float *data, const float *grad, float *m,
                   float *v, size_t n, long t) {
    double bc1 = 1.0 - pow(o->beta1, (double)t);
    double bc2 = 1.0 - pow(o->beta2, (double)t);
    /* PyTorch: step_size = lr / bc1; denom = sqrt(v) / sqrt(bc2) + eps */
    float step_size = (float)(o->lr / bc1);
    float sqrt_bc2 = (float)sqrt(bc2);
    float decay = 1.0f - o->lr * o->weight_decay;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        data[i] *= decay;
        m[i] = o->beta1 * m[i] + (1.0f - o->beta1) * g;
        v[i] = o->beta2 * v[i] + (1.0f - o->beta2) * g * g;
        float denom = sqrtf(v[i]) / sqrt_bc2 + o->eps;
        data[i] -= step_size * m[i] / denom;
    }
}

double pd_lr_cosine(long step, long total) {
    if (total <= 0) return 1.0;
    if (step >= total) return 0.0;
    return 0.5 * (1.0 + cos(3.141592653589793 * (double)step / (double)total));
}

double pd_lr_multistep(long step, const long *milestones, int count, double gamma) {
    double f = 1.0;
    for (int i = 0; i < count; i++)
        if (step >= milestones[i]) f *= gamma;
    return f;
}

float pd_ema_decay(float decay, long step) {
    float warm = (float)(1.0 + (double)step) / (float)(10.0 + (double)step);
    return warm < decay ? warm : decay;
}

void pd_ema_update(float *ema, const float *p, size_t n, float decay, long step) {
    float d = pd_ema_decay(decay, step);
    for (size_t i = 0; i < n; i++) ema[i] = d * ema[i] + (1.0f - d) * p[i];
}
