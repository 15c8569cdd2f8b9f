/*
 * batch_split.c — see batch_split.h.
 */
#include "model/batch_split.h"

#include <string.h>

pd_batch_split pd_batch_split_of(const pd_data_parallel *dp, size_t B) {
    pd_batch_split s = {0, B, B, NULL};
    if (!dp || dp->size <= 1) return s;
    s.lo = B * (size_t)dp->rank / (size_t)dp->size;
    s.n = B * (size_t)(dp->rank + 1) / (size_t)dp->size - s.lo;
    s.dp = dp;
    return s;
}

int pd_batch_split_active(const pd_batch_split *s) {
    return s && s->dp && s->dp->size > 1;
}

void pd_batch_split_reduce(const pd_batch_split *s, float *grad, size_t n, double *loss,
                           float *scratch) {
    if (!pd_batch_split_active(s)) return;
    const float share = (float)((double)s->n / (double)s->total);
    for (size_t j = 0; j < n; j++) scratch[j] = grad[j] * share;
    scratch[n] = (float)(*loss * (double)share);
    s->dp->sum(s->dp->ctx, scratch, n + 1);
    memcpy(grad, scratch, n * sizeof(float));
    *loss = scratch[n];
}
