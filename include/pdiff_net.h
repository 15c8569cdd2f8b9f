/*
 * pdiff_net.h — the task networks whose parameters p-diff learns: image
 * datasets, networks with PyTorch state_dict names, and their training and
 * evaluation by SGD. What `pdiff collect` and `pdiff eval` are built on;
 * part of libpdiff's public API, beside pdiff.h and pdiff_io.h.
 *
 *   pd_dataset tr, te;
 *   pd_dataset_load(PD_DATA_DIR_DEFAULT, 1, &tr);
 *   pd_dataset_load(PD_DATA_DIR_DEFAULT, 0, &te);
 *   pd_dataset_normalize(&tr, &te);
 *   pd_net_config nc = {.arch = "mlp3", .in_c = 1, .in_h = 28, .in_w = 28,
 *                       .classes = 10};
 *   pd_net net;
 *   pd_net_create(&net, &nc, NULL, 0);       // subset: last two norm layers
 *   pd_rng r; pd_rng_seed(&r, 1, 0);
 *   pd_net_init(&net, &r);
 *   pd_graph *g = pd_graph_new();
 *   pd_feats f = {te.x, te.y, te.n, 3, {1, 28, 28}, 784, 0, 0};
 *   double acc, loss;
 *   pd_evaluate(&net, g, &f, 500, &acc, &loss, NULL);
 *   pd_graph_free(g); pd_net_free(&net);
 */
#ifndef PDIFF_NET_H
#define PDIFF_NET_H

#include <stddef.h>
#include <stdint.h>

#include "pdiff.h"

/* engine types the network API passes through without opening them */
typedef struct pd_graph pd_graph;
typedef struct pd_val pd_val;

/* ---- datasets ----------------------------------------------------------
 * Image classification datasets in memory, loaded from the
 * standard file layouts of MNIST-style IDX sets and CIFAR-10/100.
 *
 * pd_dataset_load(dir, train, &d) looks in dir for, in this order:
 *   IDX (c = 1):   train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz]
 *                  t10k-images-idx3-ubyte[.gz]  + t10k-labels-idx1-ubyte[.gz]
 *   CIFAR-10:      data_batch_1.bin .. data_batch_5.bin / test_batch.bin
 *   CIFAR-100:     train.bin / test.bin (fine labels, 100 classes)
 * (CIFAR files also in the archives' subfolders cifar-10-batches-bin/ and
 * cifar-100-binary/). Pixels become floats in [0, 1], laid out (n, c, h, w).
 *
 *   pd_dataset tr, te;
 *   pd_dataset_load(PD_DATA_DIR_DEFAULT, 1, &tr);   // 60000 x 1 x 28 x 28
 *   pd_dataset_load(PD_DATA_DIR_DEFAULT, 0, &te);   // 10000
 *   pd_dataset_normalize(&tr, &te);                 // train mean/std
 *   ... pd_dataset_free(&tr); pd_dataset_free(&te);
 */
#define PD_DATA_DIR_DEFAULT "/usr/share/datasets/fashion-mnist"

typedef struct {
    size_t n, c, h, w;
    float *x;    /* x (n, c, h, w), pd_alloc'd */
    int32_t *y;  /* y (n) in [0, classes), pd_alloc'd */
    int classes; /* CIFAR: 10 or 100; IDX: max label + 1 */
} pd_dataset;

/* train != 0: the training split, else the test split. */
PD_API pd_status pd_dataset_load(const char *dir, int train, pd_dataset *out);
/* Per-channel mean and (population) std over train; applied to train and,
 * when non-NULL, to test. A constant channel is only centred. */
PD_API pd_status pd_dataset_normalize(pd_dataset *train, pd_dataset *test);
PD_API void pd_dataset_free(pd_dataset *d);

/* ---- networks ----------------------------------------------------------
 * Task networks (the models whose parameters p-diff learns), with
 * PyTorch state_dict names so checkpoints load into the equivalent
 * torch.nn.Module (scripts/pdiff_torch.py defines them).
 *
 * A network is a list of stages; stage s reads the tensors whose names start
 * with one of its prefixes. Running stages [from, to) lets collect cache the
 * output of the frozen prefix and train only the tail.
 */
#define PD_NET_MAX_STAGES 64

typedef struct {
    char arch[32];   /* mlp3 | convnet3 | cnn | resnet */
    size_t in_c, in_h, in_w, classes;
    int width;       /* resnet base width (64 = ResNet-18) */
} pd_net_config;

typedef struct pd_net pd_net;
typedef pd_val *(*pd_stage_fn)(pd_net *net, pd_graph *g, pd_val *x, int stage,
                               int train);
/* the output of stage `stage`'s frozen head for input x (evaluation mode):
 * the part before its first selected tensor that reads only x, shaped as
 * x; NULL when the stage has no such head */
typedef pd_val *(*pd_head_fn)(pd_net *net, pd_graph *g, pd_val *x, int stage);

struct pd_net {
    pd_net_config cfg;
    pd_params params;
    int nstages;
    char stage_prefix[PD_NET_MAX_STAGES][64]; /* '|'-separated prefixes */
    pd_stage_fn stage;
    float bn_momentum, bn_eps;
    /* bit s: stage s begins BatchNorm -> ReLU -> 2x2 max-pool (stride 2) on
     * its input, so evaluation may enter it with pooled windows */
    uint64_t window_stages;
    /* NULL, or the frozen heads pd_compute_features caches (a residual
     * block's first convolution when only its norms train); a stage entered
     * with x->head set takes them instead of computing them */
    pd_head_fn stage_head;
};

/* names of the known architectures, NULL-terminated */
PD_API extern const char *const pd_net_archs[];

/* registers tensors and finalizes the buffer; selection = glob patterns
 * (NULL or empty: default subset = last two normalization layers' weight
 * and bias). Unknown patterns are an error naming them. */
PD_API pd_status pd_net_create(pd_net *net, const pd_net_config *cfg,
                               const char *const *patterns, size_t npatterns);
PD_API void pd_net_free(pd_net *net);
/* PyTorch default initialisation: weights and biases U(±1/sqrt(fan_in)),
 * norm weight 1 / bias 0, running mean 0 / var 1 */
PD_API void pd_net_init(pd_net *net, pd_rng *r);
/* first stage that reads a selected tensor (nstages if none) */
PD_API int pd_net_cut_stage(const pd_net *net);
/* mark trainable: all (PD_TRAINABLE on every non-buffer) or only selected */
PD_API void pd_net_set_trainable(pd_net *net, int only_selected);

/* A graph is the workspace a network runs in (its tape and arena; the
 * engine's autodiff, src/engine/graph/graph.h). Make one per thread of
 * work and reuse it: a step allocates nothing after the first. */
PD_API pd_graph *pd_graph_new(void);
PD_API void pd_graph_free(pd_graph *g);

/* ---- training ----------------------------------------------------------
 * Training and evaluation of task networks on labelled
 * samples. Samples are "features": the input of some stage of the network
 * (images for stage 0, cached frozen-prefix activations for a later stage),
 * so collect can train and evaluate only the tail.
 */
/* initialise by field name ({.x = ..., .stride = ...}): fields are added
 * at the end as evaluation learns new forms */
typedef struct {
    const float *x;       /* (n, shape...) */
    const int32_t *y;     /* (n) labels */
    size_t n;
    int ndim;             /* dims per sample */
    size_t shape[3];
    size_t stride;        /* floats per sample */
    int from_stage;       /* stage these features enter */
    int windows;          /* 1: pooled windows (pd_feats_pool_windows), eval only */
    int head;             /* 1: per sample, the entry stage's frozen head output then its
                           * input (shape[0] = 2 c; pd_net.stage_head) */
} pd_feats;

/* torch.optim.SGD: g += wd p; buf = momentum buf + (1 - dampening) g
 * (buf = g on the first step); p -= lr buf (nesterov: g + momentum buf). */
typedef struct {
    float lr, momentum, dampening, weight_decay;
    int nesterov;
} pd_sgd;

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
PD_API pd_status pd_fit_steps(pd_net *net, pd_graph *g, const pd_feats *f,
                              const pd_fit_opts *o, pd_rng *rng, int32_t *order,
                              size_t *cursor, long *step, long steps, double *mean_loss);

/* eval-mode forward over all samples: accuracy in percent, mean loss, and
 * predictions (n, may be NULL) */
PD_API pd_status pd_evaluate(pd_net *net, pd_graph *g, const pd_feats *f, size_t batch,
                             double *acc, double *loss, int32_t *pred);
/* pd_evaluate of m subset vectors (m × pd_params_selected_size, each
 * scattered into net in turn; left holding the last): accuracies acc[m],
 * predictions pred (m × n, may be NULL). The same numbers as m calls of
 * pd_evaluate with the same batch, in one pass over the samples. */
PD_API pd_status pd_evaluate_each(pd_net *net, pd_graph *g, const pd_feats *f, size_t batch,
                                  const float *vecs, size_t m, double *acc, int32_t *pred);

/* eval-mode outputs of stages [0, to) for every sample of `f` (which must
 * enter at stage 0): *out is malloc'd (n × per-sample size), *feat
 * describes it. Where stage `to` has a frozen head (pd_net.stage_head),
 * its output is cached too (feat->head) */
PD_API pd_status pd_compute_features(pd_net *net, pd_graph *g, const pd_feats *f,
                                     int to, size_t batch, float **out, pd_feats *feat);

/* For evaluation only. When stage f->from_stage of net begins BatchNorm ->
 * ReLU -> 2x2 max-pool (net->window_stages), replaces the features (n, c,
 * h, w) by each 2x2 window's max and min, (n, 2, c, h/2, w/2): BN then
 * ReLU is monotonic per channel, so a model's pooled value is f(max) or
 * f(min) of the window; pd_evaluate and pd_evaluate_each give the same
 * numbers, bit for bit, reading 9 instead of 49 values a 7 x 7 plane (the
 * max half only, where the scale is positive). *out is malloc'd and
 * *pooled describes it; for other stages *out = NULL and *pooled = *f. */
PD_API pd_status pd_feats_pool_windows(const pd_net *net, const pd_feats *f, float **out,
                                       pd_feats *pooled);

#endif
