/*
 * classify.h — training and evaluation of task networks on labelled
 * samples. Samples are "features": the input of some stage of the network
 * (images for stage 0, cached frozen-prefix activations for a later stage),
 * so collect can train and evaluate only the tail.
 */
#ifndef PD_CLASSIFY_H
#define PD_CLASSIFY_H

#include "engine/graph/graph.h"
#include "engine/nn/net.h"
#include "engine/train/optim.h"

typedef struct {
    const float *x;       /* (n, shape...) */
    const int32_t *y;     /* (n) labels */
    size_t n;
    int ndim;             /* dims per sample */
    size_t shape[3];
    size_t stride;        /* floats per sample */
    int from_stage;       /* stage these features enter */
} pd_feats;

/* SGD on the trainable tensors (PD_TRAINABLE) of net, shuffled per epoch
 * with rng; lr follows `lr_at(step)` factor of o->lr when given (else a
 * constant). Momentum buffers live in net->params.m (allocated here,
 * zeroed when *step == 0). train_bn: BN layers use batch statistics. */
typedef struct {
    pd_sgd sgd;
    size_t batch;
    long total_steps;     /* for the cosine schedule; 0 = constant lr */
    int train_bn;
    int augment;          /* images only: random crop (zero padding 4) and
                           * horizontal flip, as for CIFAR */
} pd_fit_opts;

/* runs `steps` SGD steps starting at *step (advanced); draws batches from
 * the permutation `order` (n entries) at *cursor, reshuffling when used up.
 * Returns PD_ERR_NAN naming the step if the loss becomes non-finite. */
pd_status pd_fit_steps(pd_net *net, pd_graph *g, const pd_feats *f,
                       const pd_fit_opts *o, pd_rng *rng, int32_t *order,
                       size_t *cursor, long *step, long steps, double *mean_loss);

/* eval-mode forward over all samples: accuracy in percent, mean loss, and
 * predictions (n, may be NULL) */
pd_status pd_evaluate(pd_net *net, pd_graph *g, const pd_feats *f, size_t batch,
                      double *acc, double *loss, int32_t *pred);

/* eval-mode outputs of stages [0, to) for every sample of `f` (which must
 * enter at stage 0): *out is malloc'd (n × per-sample size), *feat
 * describes it */
pd_status pd_compute_features(pd_net *net, pd_graph *g, const pd_feats *f,
                              int to, size_t batch, float **out, pd_feats *feat);

#endif
