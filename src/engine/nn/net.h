/*
 * net.h — task networks (the models whose parameters p-diff learns), with
 * PyTorch state_dict names so checkpoints load into the equivalent
 * torch.nn.Module (scripts/pdiff_torch.py defines them).
 *
 * A network is a list of stages; stage s reads the tensors whose names start
 * with one of its prefixes. Running stages [from, to) lets collect cache the
 * output of the frozen prefix and train only the tail.
 */
#ifndef PD_NET_H
#define PD_NET_H

#include "engine/graph/graph.h"
#include "pdiff.h"

#define PD_NET_MAX_STAGES 64

typedef struct {
    char arch[32];   /* mlp3 | convnet3 | cnn | resnet */
    size_t in_c, in_h, in_w, classes;
    int width;       /* resnet base width (64 = ResNet-18) */
} pd_net_config;

typedef struct pd_net pd_net;
typedef pd_val *(*pd_stage_fn)(pd_net *net, pd_graph *g, pd_val *x, int stage,
                               int train);

struct pd_net {
    pd_net_config cfg;
    pd_params params;
    int nstages;
    char stage_prefix[PD_NET_MAX_STAGES][64]; /* '|'-separated prefixes */
    pd_stage_fn stage;
    float bn_momentum, bn_eps;
};

/* names of the known architectures, NULL-terminated */
extern const char *const pd_net_archs[];

/* registers tensors and finalizes the buffer; selection = glob patterns
 * (NULL or empty: default subset = last two normalization layers' weight
 * and bias). Unknown patterns are an error naming them. */
pd_status pd_net_create(pd_net *net, const pd_net_config *cfg,
                        const char *const *patterns, size_t npatterns);
void pd_net_free(pd_net *net);
/* PyTorch default initialisation: weights and biases U(±1/sqrt(fan_in)),
 * norm weight 1 / bias 0, running mean 0 / var 1 */
void pd_net_init(pd_net *net, pd_rng *r);
/* run stages [from, to); x is the input of stage `from` */
pd_val *pd_net_forward(pd_net *net, pd_graph *g, pd_val *x, int train, int from,
                       int to);
/* first stage that reads a selected tensor (nstages if none) */
int pd_net_cut_stage(const pd_net *net);
/* mark trainable: all (PD_TRAINABLE on every non-buffer) or only selected */
void pd_net_set_trainable(pd_net *net, int only_selected);

/* helpers for architecture files: layers by state_dict prefix */
pd_val *pd_nn_conv2d(pd_net *net, pd_graph *g, pd_val *x, const char *name,
                     size_t stride, size_t pad);
pd_val *pd_nn_linear(pd_net *net, pd_graph *g, pd_val *x, const char *name);
pd_val *pd_nn_bn(pd_net *net, pd_graph *g, pd_val *x, const char *name, int train);
/* BatchNorm → ReLU → 2×2 max-pool (fused in evaluation, see graph.h) */
pd_val *pd_nn_bn_relu_pool(pd_net *net, pd_graph *g, pd_val *x, const char *name, int train);
/* register helpers (shapes in PyTorch order) */
pd_status pd_nn_add_conv2d(pd_net *net, const char *name, size_t cin,
                           size_t cout, size_t k, int bias);
pd_status pd_nn_add_linear(pd_net *net, const char *name, size_t in, size_t out);
pd_status pd_nn_add_bn(pd_net *net, const char *name, size_t c);
void pd_nn_stage(pd_net *net, const char *prefixes);

/* per-architecture registration (one file each) */
pd_status pd_arch_mlp3(pd_net *net);
pd_status pd_arch_convnet3(pd_net *net);
pd_status pd_arch_cnn(pd_net *net);
pd_status pd_arch_resnet(pd_net *net);

#endif
