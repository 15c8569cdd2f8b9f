/*
 * convnet3.c — ConvNet-3 of the paper's entire-parameter experiments
 * (Table 3): three 3×3 convolutions of 32 channels, each with ReLU and 2×2
 * max-pooling, then one linear layer. Names conv1..conv3, fc.
 * PyTorch equivalent: scripts/pdiff_torch.py, class ConvNet3.
 */
#include "engine/nn/net.h"

#define CONVNET3_CH 32

static pd_val *convnet3_stage(pd_net *net, pd_graph *g, pd_val *x, int stage, int train) {
    static const char *const conv[] = {"conv1", "conv2", "conv3"};
    (void)train;
    if (stage < 3) return pd_nn_conv2d_relu_pool(net, g, x, conv[stage], 1, 1);
    size_t shp[2] = {x->shape[0], x->numel / x->shape[0]};
    return pd_nn_linear(net, g, pd_g_view(g, x, 2, shp), "fc");
}

pd_status pd_arch_convnet3(pd_net *net) {
    pd_status st = pd_nn_add_conv2d(net, "conv1", net->cfg.in_c, CONVNET3_CH, 3, 1);
    if (!st) st = pd_nn_add_conv2d(net, "conv2", CONVNET3_CH, CONVNET3_CH, 3, 1);
    if (!st) st = pd_nn_add_conv2d(net, "conv3", CONVNET3_CH, CONVNET3_CH, 3, 1);
    size_t h = net->cfg.in_h / 8, w = net->cfg.in_w / 8;
    if (!st) st = pd_nn_add_linear(net, "fc", CONVNET3_CH * h * w, net->cfg.classes);
    pd_nn_stage(net, "conv1.");
    pd_nn_stage(net, "conv2.");
    pd_nn_stage(net, "conv3.");
    pd_nn_stage(net, "fc.");
    net->stage = convnet3_stage;
    return st;
}
