/*
 * net.h — the engine side of the task networks (pd_net and its public
 * functions are in include/pdiff_net.h): running stages on a graph, the
 * layer helpers the architecture files are written with, and the
 * architectures themselves.
 */
#ifndef PD_NET_H
#define PD_NET_H

#include "engine/graph/graph.h"
#include "pdiff_net.h"

/* run stages [from, to); x is the input of stage `from` */
pd_val *pd_net_forward(pd_net *net, pd_graph *g, pd_val *x, int train, int from,
                       int to);
/* helpers for architecture files: layers by state_dict prefix */
pd_val *pd_nn_conv2d(pd_net *net, pd_graph *g, pd_val *x, const char *name,
                     size_t stride, size_t pad);
pd_val *pd_nn_linear(pd_net *net, pd_graph *g, pd_val *x, const char *name);
pd_val *pd_nn_bn(pd_net *net, pd_graph *g, pd_val *x, const char *name, int train);
/* max_pool2d(relu(conv2d(x)), 2, 2): one fused pass in evaluation */
pd_val *pd_nn_conv2d_relu_pool(pd_net *net, pd_graph *g, pd_val *x, const char *name,
                               size_t stride, size_t pad);
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
