/*
 * mlp3.c — MLP-3 of the paper's entire-parameter experiments (Table 3):
 * in → 50 → 25 → classes with ReLU. Names fc1, fc2, fc3.
 * PyTorch equivalent: scripts/pdiff_torch.py, class MLP3.
 */
#include "engine/nn/net.h"

static pd_val *mlp3_stage(pd_net *net, pd_graph *g, pd_val *x, int stage, int train) {
    (void)train;
    if (stage == 0) {
        size_t shp[2] = {x->shape[0], x->numel / x->shape[0]};
        x = pd_g_view(g, x, 2, shp);
        return pd_g_act(g, pd_nn_linear(net, g, x, "fc1"), PD_ACT_RELU, 0.0f);
    }
    if (stage == 1) return pd_g_act(g, pd_nn_linear(net, g, x, "fc2"), PD_ACT_RELU, 0.0f);
    return pd_nn_linear(net, g, x, "fc3");
}

pd_status pd_arch_mlp3(pd_net *net) {
    size_t in = net->cfg.in_c * net->cfg.in_h * net->cfg.in_w;
    pd_status st = pd_nn_add_linear(net, "fc1", in, 50);
    if (!st) st = pd_nn_add_linear(net, "fc2", 50, 25);
    if (!st) st = pd_nn_add_linear(net, "fc3", 25, net->cfg.classes);
    pd_nn_stage(net, "fc1.");
    pd_nn_stage(net, "fc2.");
    pd_nn_stage(net, "fc3.");
    net->stage = mlp3_stage;
    return st;
}
