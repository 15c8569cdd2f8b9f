/*
 * resnet.c — BatchNorm ResNet-18 in the standard CIFAR layout (3×3 stem, no
 * max-pool; four stages of two BasicBlocks, widths w, 2w, 4w, 8w; global
 * average pool; `linear`). w = 64 is the standard ResNet-18; smaller widths
 * suit a CPU. Names follow the common CIFAR implementation:
 * conv1 bn1 layerX.Y.{conv1,bn1,conv2,bn2,shortcut.0,shortcut.1} linear.
 * PyTorch equivalent: scripts/pdiff_torch.py, class ResNet18.
 */
#include <stdio.h>

#include "engine/nn/net.h"

static size_t block_width(const pd_net *net, int layer) {
    size_t w = net->cfg.width > 0 ? (size_t)net->cfg.width : 64;
    return w << layer;
}

/* a block's first convolution, when it trains nothing and the block keeps
 * its input's shape (no shortcut convolution): the stage's frozen head */
static pd_val *resnet_head(pd_net *net, pd_graph *g, pd_val *x, int stage) {
    if (stage < 1 || stage > 8) return NULL;
    int layer = (stage - 1) / 2, blk = (stage - 1) % 2;
    char a[48];
    snprintf(a, sizeof a, "layer%d.%d.shortcut.0.weight", layer + 1, blk);
    if (pd_params_find(&net->params, a)) return NULL;
    snprintf(a, sizeof a, "layer%d.%d.conv1.weight", layer + 1, blk);
    const pd_tensor *w = pd_params_find(&net->params, a);
    snprintf(a, sizeof a, "layer%d.%d.conv1.bias", layer + 1, blk);
    const pd_tensor *b = pd_params_find(&net->params, a);
    if (!w || (w->flags & PD_SELECTED) || (b && (b->flags & PD_SELECTED))) return NULL;
    snprintf(a, sizeof a, "layer%d.%d.conv1", layer + 1, blk);
    return pd_nn_conv2d(net, g, x, a, 1, 1);
}

static pd_val *resnet_stage(pd_net *net, pd_graph *g, pd_val *x, int stage, int train) {
    char a[48], b[48];
    if (stage == 0) {
        x = pd_nn_bn(net, g, pd_nn_conv2d(net, g, x, "conv1", 1, 1), "bn1", train);
        return pd_g_act(g, x, PD_ACT_RELU, 0.0f);
    }
    if (stage == 9) return pd_nn_linear(net, g, pd_g_gap(g, x), "linear");
    int layer = (stage - 1) / 2, blk = (stage - 1) % 2;
    size_t stride = (layer > 0 && blk == 0) ? 2 : 1;
    pd_val *h;
    if (x->head) { /* conv1's output cached beside the input (resnet_head) */
        const size_t c = x->shape[1] / 2;
        h = pd_g_slice_channels(g, x, 0, c);
        x = pd_g_slice_channels(g, x, c, c);
    } else {
        snprintf(a, sizeof a, "layer%d.%d.conv1", layer + 1, blk);
        h = pd_nn_conv2d(net, g, x, a, stride, 1);
    }
    snprintf(a, sizeof a, "layer%d.%d.bn1", layer + 1, blk);
    h = pd_g_act(g, pd_nn_bn(net, g, h, a, train), PD_ACT_RELU, 0.0f);
    snprintf(a, sizeof a, "layer%d.%d.conv2", layer + 1, blk);
    h = pd_nn_conv2d(net, g, h, a, 1, 1);
    snprintf(a, sizeof a, "layer%d.%d.bn2", layer + 1, blk);
    h = pd_nn_bn(net, g, h, a, train);
    snprintf(a, sizeof a, "layer%d.%d.shortcut.0.weight", layer + 1, blk);
    pd_val *sc = x;
    if (pd_params_find(&net->params, a)) {
        snprintf(a, sizeof a, "layer%d.%d.shortcut.0", layer + 1, blk);
        snprintf(b, sizeof b, "layer%d.%d.shortcut.1", layer + 1, blk);
        sc = pd_nn_bn(net, g, pd_nn_conv2d(net, g, x, a, stride, 0), b, train);
    }
    return pd_g_act(g, pd_g_add(g, h, sc), PD_ACT_RELU, 0.0f);
}

pd_status pd_arch_resnet(pd_net *net) {
    size_t w0 = block_width(net, 0);
    pd_status st = pd_nn_add_conv2d(net, "conv1", net->cfg.in_c, w0, 3, 0);
    if (!st) st = pd_nn_add_bn(net, "bn1", w0);
    pd_nn_stage(net, "conv1.|bn1.");
    size_t cin = w0;
    char name[48], stage[48];
    for (int layer = 0; layer < 4 && !st; layer++) {
        size_t cout = block_width(net, layer);
        for (int blk = 0; blk < 2 && !st; blk++) {
            size_t stride = (layer > 0 && blk == 0) ? 2 : 1;
            snprintf(name, sizeof name, "layer%d.%d.conv1", layer + 1, blk);
            st = pd_nn_add_conv2d(net, name, cin, cout, 3, 0);
            snprintf(name, sizeof name, "layer%d.%d.bn1", layer + 1, blk);
            if (!st) st = pd_nn_add_bn(net, name, cout);
            snprintf(name, sizeof name, "layer%d.%d.conv2", layer + 1, blk);
            if (!st) st = pd_nn_add_conv2d(net, name, cout, cout, 3, 0);
            snprintf(name, sizeof name, "layer%d.%d.bn2", layer + 1, blk);
            if (!st) st = pd_nn_add_bn(net, name, cout);
            if (!st && (stride != 1 || cin != cout)) {
                snprintf(name, sizeof name, "layer%d.%d.shortcut.0", layer + 1, blk);
                st = pd_nn_add_conv2d(net, name, cin, cout, 1, 0);
                snprintf(name, sizeof name, "layer%d.%d.shortcut.1", layer + 1, blk);
                if (!st) st = pd_nn_add_bn(net, name, cout);
            }
            snprintf(stage, sizeof stage, "layer%d.%d.", layer + 1, blk);
            pd_nn_stage(net, stage);
            cin = cout;
        }
    }
    if (!st) st = pd_nn_add_linear(net, "linear", cin, net->cfg.classes);
    pd_nn_stage(net, "linear.");
    net->stage = resnet_stage;
    net->stage_head = resnet_head;
    return st;
}
