/*
 * collect.h — stage 1 of p-diff (docs/method.md §1): the training data.
 *
 * subset mode: train a network from scratch, freeze all but the selected
 *   tensors (default: the last two normalization layers), continue SGD on
 *   the subset and save K snapshots. BatchNorm running statistics are
 *   frozen during this phase (BN in eval mode), which makes the frozen
 *   prefix's activations constant: they are computed once and only the tail
 *   runs per step. (The authors keep updating running stats; frozen is the
 *   cleaner choice: every snapshot is then a pure function of its subset.)
 * seeds mode: K networks trained from K seeds; every parameter is kept.
 *
 * Output: DIR/ckpt_NNN.safetensors (complete networks, metadata with
 * accuracies), DIR/base.safetensors (subset mode), DIR/manifest.json
 * (with the report of collect_report.h).
 * Re-running continues where an interrupted run stopped.
 */
#ifndef PD_COLLECT_H
#define PD_COLLECT_H

#include <stdint.h>

#include "pdiff.h"
#include "pdiff_net.h"
#include "collect_report.h"

/* subset: train a network, then only the selected tensors, K snapshots;
 * full: train a network, then all its parameters, K snapshots (the
 * authors' code for entire networks); seeds: K networks from K seeds (the
 * paper's Table 3). In subset and full mode BatchNorm runs in evaluation
 * mode after the base training: every snapshot shares the base network's
 * running statistics, which stay out of the vector. */
typedef enum { PD_COLLECT_SUBSET, PD_COLLECT_SEEDS, PD_COLLECT_FULL } pd_collect_mode;
/* the snapshot learning rate of full mode when none is given: mlp3 on
 * Fashion-MNIST, K = 200 every 10 steps, 0.05 / 0.01 / 0.002 gave test
 * accuracies 83.6–87.2 / 86.9–88.2 / 87.6–88.2 % (base 87.8 %) and mean
 * wrong-prediction IoU 0.53 / 0.69 / 0.86: 0.05 leaves the trained network
 * behind, 0.01 stays at its accuracy with snapshots that differ (README) */
#define PD_COLLECT_FULL_LR 0.01f
/* "subset" | "seeds" | "full"; parse returns -1 for another name */
const char *pd_collect_mode_name(pd_collect_mode m);
int pd_collect_mode_parse(const char *name);

typedef struct {
    const char *data_dir;   /* dataset directory */
    const char *out_dir;
    pd_net_config net;      /* arch + width; input shape filled from data */
    const char *const *patterns; /* --params globs (subset mode) */
    size_t npatterns;
    pd_collect_mode mode;
    size_t K;
    int epochs;             /* base training epochs (per network in seeds mode) */
    size_t batch;
    float lr, momentum, weight_decay;
    float subset_lr;        /* SGD lr while collecting the subset */
    long every;             /* subset steps between snapshots */
    size_t eval_train;      /* training samples used for train accuracy */
    int augment;            /* random crop + flip while training the base
                             * network(s); never in the subset phase, whose
                             * cached prefix needs fixed inputs */
    uint64_t seed;
    pd_progress progress;
} pd_collect_opts;

void pd_collect_defaults(pd_collect_opts *o);
/* report (may be NULL): how different the K checkpoints are
 * (collect_report.h); also written to manifest.json "report" */
pd_status pd_collect(const pd_collect_opts *o, pd_collect_report *report);

#endif
