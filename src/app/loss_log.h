/*
 * loss_log.h — reads the loss curves back from a model's train_log.jsonl
 * (one JSON object a line: {"stage": ..., "step": ..., "loss": ...}), for
 * the loss figure.
 */
#ifndef PD_LOSS_LOG_H
#define PD_LOSS_LOG_H

#include <stddef.h>

#include "pdiff.h"

typedef struct {
    double *step, *loss;
    size_t n, cap;
} pd_loss_curve;

/* curves[i] ← the (step, loss) points of stages[i], in file order. Lines
 * that are not such an object (a cut-off tail), and losses that are not
 * finite and positive (the figure is on a log scale), are skipped. A
 * missing file gives empty curves. */
pd_status pd_loss_log_read(const char *path, const char *const *stages, size_t nstages,
                           pd_loss_curve *curves);
void pd_loss_curve_free(pd_loss_curve *c);

#endif
