/*
 * net.c — what all task networks share: creation with a parameter subset,
 * PyTorch-default initialisation, the stage loop, and layer helpers that
 * look tensors up by their state_dict names.
 */
#include "engine/nn/net.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const pd_net_archs[] = {"mlp3", "convnet3", "cnn", "resnet", NULL};

static pd_tensor *need(pd_net *net, const char *prefix, const char *suffix) {
    char name[PD_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    return pd_params_find(&net->params, name);
}

pd_status pd_nn_add_conv2d(pd_net *net, const char *name, size_t cin,
                           size_t cout, size_t k, int bias) {
    char n[PD_NAME_MAX];
    snprintf(n, sizeof n, "%s.weight", name);
    pd_status st = pd_params_add(&net->params, n, 4, (size_t[]){cout, cin, k, k}, PD_TRAINABLE);
    if (st || !bias) return st;
    snprintf(n, sizeof n, "%s.bias", name);
    return pd_params_add(&net->params, n, 1, (size_t[]){cout}, PD_TRAINABLE);
}

pd_status pd_nn_add_linear(pd_net *net, const char *name, size_t in, size_t out) {
    char n[PD_NAME_MAX];
    snprintf(n, sizeof n, "%s.weight", name);
    pd_status st = pd_params_add(&net->params, n, 2, (size_t[]){out, in}, PD_TRAINABLE);
    if (st) return st;
    snprintf(n, sizeof n, "%s.bias", name);
    return pd_params_add(&net->params, n, 1, (size_t[]){out}, PD_TRAINABLE);
}

pd_status pd_nn_add_bn(pd_net *net, const char *name, size_t c) {
    static const char *const parts[] = {"weight", "bias", "running_mean", "running_var"};
    char n[PD_NAME_MAX];
    for (int i = 0; i < 4; i++) {
        snprintf(n, sizeof n, "%s.%s", name, parts[i]);
        pd_status st = pd_params_add(&net->params, n, 1, (size_t[]){c},
                                     i < 2 ? PD_TRAINABLE : PD_BUFFER);
        if (st) return st;
    }
    /* PyTorch keeps an int64 counter; we store it as a float scalar */
    snprintf(n, sizeof n, "%s.num_batches_tracked", name);
    return pd_params_add(&net->params, n, 0, NULL, PD_BUFFER);
}

void pd_nn_stage(pd_net *net, const char *prefixes) {
    if (net->nstages >= PD_NET_MAX_STAGES) return;
    snprintf(net->stage_prefix[net->nstages++], sizeof net->stage_prefix[0], "%s", prefixes);
}

pd_val *pd_nn_conv2d(pd_net *net, pd_graph *g, pd_val *x, const char *name,
                     size_t stride, size_t pad) {
    pd_tensor *w = need(net, name, "weight"), *b = need(net, name, "bias");
    return pd_g_conv2d(g, x, pd_g_param(g, w), b ? pd_g_param(g, b) : NULL, stride, pad);
}

pd_val *pd_nn_conv2d_relu_pool(pd_net *net, pd_graph *g, pd_val *x, const char *name,
                               size_t stride, size_t pad) {
    pd_tensor *w = need(net, name, "weight"), *b = need(net, name, "bias");
    return pd_g_conv2d_relu_maxpool(g, x, pd_g_param(g, w), b ? pd_g_param(g, b) : NULL, stride,
                                    pad, 2, 2);
}

pd_val *pd_nn_linear(pd_net *net, pd_graph *g, pd_val *x, const char *name) {
    pd_tensor *w = need(net, name, "weight"), *b = need(net, name, "bias");
    return pd_g_linear(g, x, pd_g_param(g, w), pd_g_param(g, b));
}

pd_val *pd_nn_bn(pd_net *net, pd_graph *g, pd_val *x, const char *name, int train) {
    pd_tensor *w = need(net, name, "weight"), *b = need(net, name, "bias");
    pd_tensor *rm = need(net, name, "running_mean"), *rv = need(net, name, "running_var");
    if (train) need(net, name, "num_batches_tracked")->data[0] += 1.0f;
    return pd_g_batchnorm(g, x, pd_g_param(g, w), pd_g_param(g, b), rm->data, rv->data,
                          train, net->bn_momentum, net->bn_eps);
}

pd_val *pd_nn_bn_relu_pool(pd_net *net, pd_graph *g, pd_val *x, const char *name, int train) {
    pd_tensor *w = need(net, name, "weight"), *b = need(net, name, "bias");
    pd_tensor *rm = need(net, name, "running_mean"), *rv = need(net, name, "running_var");
    if (train) {
        need(net, name, "num_batches_tracked")->data[0] += 1.0f;
        return pd_g_bn_relu_maxpool_train(g, x, pd_g_param(g, w), pd_g_param(g, b), rm->data,
                                          rv->data, net->bn_momentum, net->bn_eps);
    }
    if (x->windows)
        return pd_g_bn_relu_windows_eval(g, x, pd_g_param(g, w), pd_g_param(g, b), rm->data,
                                         rv->data, net->bn_eps);
    return pd_g_bn_relu_maxpool_eval(g, x, pd_g_param(g, w), pd_g_param(g, b), rm->data,
                                     rv->data, net->bn_eps, 2, 2);
}

static int is_norm_affine(const pd_tensor *t) {
    /* a normalization layer's weight or bias: 1-D, with running stats beside */
    const char *dot = strrchr(t->name, '.');
    return t->ndim == 1 && dot && (!strcmp(dot, ".weight") || !strcmp(dot, ".bias"));
}

static int has_running_mean(const pd_params *p, const pd_tensor *t) {
    char name[PD_NAME_MAX];
    const char *dot = strrchr(t->name, '.');
    snprintf(name, sizeof name, "%.*s.running_mean", (int)(dot - t->name), t->name);
    return pd_params_find(p, name) != NULL;
}

pd_status pd_net_create(pd_net *net, const pd_net_config *cfg,
                        const char *const *patterns, size_t npatterns) {
    memset(net, 0, sizeof *net);
    net->cfg = *cfg;
    /* width 0 asks for the architecture's default: record the one in use
     * (manifest.json said "width": 0 for the default cnn) */
    if (net->cfg.width <= 0)
        net->cfg.width = !strcmp(cfg->arch, "cnn") ? 16 : !strcmp(cfg->arch, "resnet") ? 64 : 0;
    net->bn_momentum = 0.1f;
    net->bn_eps = 1e-5f;
    pd_params_init(&net->params);
    pd_status st;
    if (!strcmp(cfg->arch, "mlp3")) st = pd_arch_mlp3(net);
    else if (!strcmp(cfg->arch, "convnet3")) st = pd_arch_convnet3(net);
    else if (!strcmp(cfg->arch, "cnn")) st = pd_arch_cnn(net);
    else if (!strcmp(cfg->arch, "resnet")) st = pd_arch_resnet(net);
    else return pd_fail(PD_ERR_NOTFOUND, "unknown network '%s' (known: mlp3, convnet3, cnn, resnet)", cfg->arch);
    if (st) return st;

    pd_params *p = &net->params;
    int sel[4096] = {0};
    if (p->count > 4096) return pd_fail(PD_ERR_ARG, "too many tensors in '%s'", cfg->arch);
    if (npatterns == 0) {
        /* default: weight and bias of the last two normalization layers */
        int found = 0;
        for (size_t i = p->count; i-- > 0 && found < 4;) {
            if (is_norm_affine(&p->t[i]) && has_running_mean(p, &p->t[i])) {
                sel[i] = 1;
                found++;
            }
        }
        if (found == 0) /* no normalization layers: the whole network */
            for (size_t i = 0; i < p->count; i++) sel[i] = !(p->t[i].flags & PD_BUFFER);
    }
    for (size_t k = 0; k < npatterns; k++) {
        int hit = 0;
        for (size_t i = 0; i < p->count; i++)
            if (pd_glob_match(patterns[k], p->t[i].name)) {
                sel[i] = 1;
                hit = 1;
            }
        if (!hit)
            return pd_fail(PD_ERR_NOTFOUND, "--params pattern '%s' matches no tensor of %s",
                           patterns[k], cfg->arch);
    }
    return pd_params_finalize(p, sel);
}

void pd_net_free(pd_net *net) { pd_params_free(&net->params); }

void pd_net_init(pd_net *net, pd_rng *r) {
    pd_params *p = &net->params;
    for (size_t i = 0; i < p->count; i++) {
        pd_tensor *t = &p->t[i];
        const char *dot = strrchr(t->name, '.');
        if (t->flags & PD_BUFFER) {
            float v = strcmp(dot, ".running_var") == 0 ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) t->data[j] = v;
        } else if (t->ndim == 1 && has_running_mean(p, t)) {
            float v = strcmp(dot, ".weight") == 0 ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) t->data[j] = v;
        } else {
            /* fan_in of the layer: the weight's numel / out channels */
            char wname[PD_NAME_MAX];
            snprintf(wname, sizeof wname, "%.*s.weight", (int)(dot - t->name), t->name);
            pd_tensor *w = pd_params_find(p, wname);
            size_t fan_in = w && w->ndim > 1 ? w->numel / w->shape[0] : 1;
            float bound = 1.0f / sqrtf((float)fan_in);
            for (size_t j = 0; j < t->numel; j++)
                t->data[j] = bound * (2.0f * pd_rng_uniform(r) - 1.0f);
        }
    }
}

pd_val *pd_net_forward(pd_net *net, pd_graph *g, pd_val *x, int train, int from,
                       int to) {
    for (int s = from; s < to; s++) x = net->stage(net, g, x, s, train);
    return x;
}

static int prefix_hit(const char *prefixes, const char *name) {
    const char *p = prefixes;
    while (*p) {
        size_t len = strcspn(p, "|");
        if (len && strncmp(name, p, len) == 0) return 1;
        p += len;
        if (*p == '|') p++;
    }
    return 0;
}

int pd_net_cut_stage(const pd_net *net) {
    for (int s = 0; s < net->nstages; s++)
        for (size_t i = 0; i < net->params.count; i++)
            if ((net->params.t[i].flags & PD_SELECTED) &&
                prefix_hit(net->stage_prefix[s], net->params.t[i].name))
                return s;
    return net->nstages;
}

void pd_net_set_trainable(pd_net *net, int only_selected) {
    for (size_t i = 0; i < net->params.count; i++) {
        pd_tensor *t = &net->params.t[i];
        if (t->flags & PD_BUFFER) continue;
        if (!only_selected || (t->flags & PD_SELECTED)) t->flags |= PD_TRAINABLE;
        else t->flags &= ~PD_TRAINABLE;
    }
}
