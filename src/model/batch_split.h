/*
 * batch_split.h — one process's share of a training batch under
 * data-parallel training (pd_data_parallel, pdiff.h): its rows, and the
 * reduction that turns its gradients into the whole batch's.
 *
 * Every process draws the whole batch's random numbers (so the draws are
 * those of one process) and uses its rows of them; the loss is a mean over
 * the rows it saw, so its gradient is scaled by rows / B before the sum.
 */
#ifndef PD_MODEL_BATCH_SPLIT_H
#define PD_MODEL_BATCH_SPLIT_H

#include <stddef.h>

#include "pdiff.h"

typedef struct {
    size_t lo, n, total;        /* rows [lo, lo + n) of a batch of total */
    const pd_data_parallel *dp; /* NULL: one process, all rows */
} pd_batch_split;

/* the rows of this process (all of them without dp or with size 1) */
pd_batch_split pd_batch_split_of(const pd_data_parallel *dp, size_t B);
/* does the batch have more than one process? (s may be NULL) */
int pd_batch_split_active(const pd_batch_split *s);
/* after the backward pass over this process's rows: grad (n floats) and
 * *loss become the whole batch's on every process. scratch: n + 1 floats */
void pd_batch_split_reduce(const pd_batch_split *s, float *grad, size_t n, double *loss,
                           float *scratch);

#endif
