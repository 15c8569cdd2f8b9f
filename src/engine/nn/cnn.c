/*
 * cnn.c — the default Fashion-MNIST network: a small BatchNorm CNN whose
 * last two normalization layers (bn3, bn4: 2·(4w + 128) = 384 parameters at
 * w = 16) are the p-diff subset. Three conv-BN-ReLU-maxpool blocks
 * (w, 2w, 4w channels), then fc1 → BatchNorm1d → ReLU → fc2.
 * Chosen because it trains to ≥ 92 % in a few minutes on 2 cores and its
 * tail after bn3 is cheap, so collecting 200 snapshots is fast.
 *
 * PyTorch equivalent: scripts/pdiff_torch.py, class CNN.
 */
#include <stdio.h>

#include "engine/nn/net.h"

#define CNN_HIDDEN 128

static size_t base_width(const pd_net *net) {
    return net->cfg.width > 0 ? (size_t)net->cfg.width : 16;
}

/* spatial size after three 2×2 max-pools */
static size_t pooled(size_t s) { return s / 2 / 2 / 2; }

static pd_val *cnn_stage(pd_net *net, pd_graph *g, pd_val *x, int stage, int train) {
    static const char *const conv[] = {"conv1", "conv2", "conv3"};
    static const char *const bn[] = {"bn1", "bn2", "bn3"};
    if (stage < 6) {
        int blk = stage / 2;
        if (stage % 2 == 0) return pd_nn_conv2d(net, g, x, conv[blk], 1, 1);
        return pd_nn_bn_relu_pool(net, g, x, bn[blk], train);
    }
    if (stage == 6) {
        size_t shp[2] = {x->shape[0], x->numel / x->shape[0]};
        return pd_nn_linear(net, g, pd_g_view(g, x, 2, shp), "fc1");
    }
    if (stage == 7) return pd_g_act(g, pd_nn_bn(net, g, x, "bn4", train), PD_ACT_RELU, 0.0f);
    return pd_nn_linear(net, g, x, "fc2");
}

pd_status pd_arch_cnn(pd_net *net) {
    size_t w = base_width(net), c = net->cfg.in_c;
    size_t ch[4] = {c, w, 2 * w, 4 * w};
    pd_status st = PD_OK;
    char name[16];
    for (int i = 0; i < 3 && !st; i++) {
        snprintf(name, sizeof name, "conv%d", i + 1);
        st = pd_nn_add_conv2d(net, name, ch[i], ch[i + 1], 3, 0);
        snprintf(name, sizeof name, "bn%d", i + 1);
        if (!st) st = pd_nn_add_bn(net, name, ch[i + 1]);
        pd_nn_stage(net, i == 0 ? "conv1." : i == 1 ? "conv2." : "conv3.");
        pd_nn_stage(net, i == 0 ? "bn1." : i == 1 ? "bn2." : "bn3.");
    }
    size_t flat = 4 * w * pooled(net->cfg.in_h) * pooled(net->cfg.in_w);
    if (!st) st = pd_nn_add_linear(net, "fc1", flat, CNN_HIDDEN);
    if (!st) st = pd_nn_add_bn(net, "bn4", CNN_HIDDEN);
    if (!st) st = pd_nn_add_linear(net, "fc2", CNN_HIDDEN, net->cfg.classes);
    pd_nn_stage(net, "fc1.");
    pd_nn_stage(net, "bn4.");
    pd_nn_stage(net, "fc2.");
    net->stage = cnn_stage;
    /* stages 1, 3, 5: bn1..bn3 -> ReLU -> 2x2 pool (pd_nn_bn_relu_pool) */
    net->window_stages = (1u << 1) | (1u << 3) | (1u << 5);
    return st;
}
