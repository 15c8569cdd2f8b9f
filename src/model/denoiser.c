/*
 * denoiser.c — the latent ε-prediction network (see denoiser.h), built on
 * the autodiff tape of graph.h.
 */
#include "model/denoiser.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DEN_EPS 1e-5f   /* instance-norm epsilon */
#define DEN_SLOPE 0.01f /* LeakyReLU negative slope */
#define DEN_K 3         /* kernel size (stride 1, pad 1) */

static const char *const BLOCKS[8] = {"enc1", "enc2", "enc3", "enc4",
                                      "dec1", "dec2", "dec3", "dec4"};

/* in/out channels of block b's two convs: conv1 cin→cmid, conv2 cmid→cout */
static void block_channels(const size_t ch[4], int b, size_t *cin, size_t *cmid,
                           size_t *cout) {
    static const int in_idx[8] = {-1, 0, 1, 2, 3, 2, 1, 0};
    static const int mid_idx[8] = {0, 1, 2, 3, 2, 1, 0, 0};
    *cin = in_idx[b] < 0 ? 1 : ch[in_idx[b]];
    *cmid = ch[mid_idx[b]];
    *cout = b == 7 ? 1 : *cmid;
}

pd_status pd_den_create(pd_den *d, const pd_den_config *cfg) {
    memset(d, 0, sizeof *d);
    pd_params_init(&d->params);
    d->cfg = *cfg;
    if (cfg->L < 2 || cfg->T == 0 || cfg->T > INT32_MAX)
        return pd_fail(PD_ERR_ARG, "denoiser: need L >= 2 (instance norm over L) and "
                                   "0 < T < 2^31, got L=%zu T=%zu", cfg->L, cfg->T);
    for (int i = 0; i < 4; i++)
        if (cfg->ch[i] == 0) return pd_fail(PD_ERR_ARG, "denoiser: channels must be positive");
    pd_status s = PD_OK;
    char name[PD_NAME_MAX];
    for (int b = 0; b < 8 && s == PD_OK; b++) {
        size_t cin, cmid, cout;
        block_channels(cfg->ch, b, &cin, &cmid, &cout);
        const size_t shapes[4][3] = {{cmid, cin, DEN_K}, {cmid}, {cout, cmid, DEN_K}, {cout}};
        const char *leaf[4] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"};
        for (int j = 0; j < 4 && s == PD_OK; j++) {
            snprintf(name, sizeof name, "%s.%s", BLOCKS[b], leaf[j]);
            s = pd_params_add(&d->params, name, j % 2 ? 1 : 3, shapes[j], PD_TRAINABLE);
        }
    }
    if (s == PD_OK)
        s = pd_params_add(&d->params, "time_encode.weight", 2, (size_t[]){cfg->T, cfg->L},
                          PD_TRAINABLE);
    if (s == PD_OK) s = pd_params_finalize(&d->params, NULL);
    if (s != PD_OK) pd_params_free(&d->params);
    return s;
}

void pd_den_free(pd_den *d) { pd_params_free(&d->params); }

void pd_den_init(pd_den *d, pd_rng *rng) {
    pd_params *p = &d->params;
    for (size_t i = 0; i < p->count; i++) {
        pd_tensor *t = &p->t[i];
        if (t->ndim == 2) { /* the time table: nn.Embedding's N(0, 1) */
            pd_rng_fill_normal(rng, t->data, t->numel, 1.0f);
            continue;
        }
        /* biases follow their weight: fan_in = cin * k of that weight */
        const pd_tensor *w = t->ndim == 1 ? t - 1 : t;
        float bound = 1.0f / sqrtf((float)(w->shape[1] * w->shape[2]));
        for (size_t j = 0; j < t->numel; j++)
            t->data[j] = (2.0f * pd_rng_uniform(rng) - 1.0f) * bound;
    }
}

/* tensor i of the registration order as a graph value, read from params
 * (weights == NULL) or from the same offset of `weights` */
static pd_val *param(pd_den *d, pd_graph *g, size_t i, const float *weights) {
    pd_tensor *t = &d->params.t[i];
    if (!weights) return pd_g_param(g, t);
    return pd_g_input(g, (float *)weights + t->offset, t->ndim, t->shape, 0);
}

/* instance norm of x, or of LeakyReLU(x) when act is set (fused) */
static pd_val *inorm(pd_graph *g, pd_val *x, int act) {
    return pd_g_lrelu_groupnorm(g, x, NULL, NULL, x->shape[1], act ? DEN_SLOPE : 1.0f,
                                DEN_EPS);
}

/* block b on its input h (time embedding already added) */
static pd_val *block(pd_den *d, pd_graph *g, pd_val *h, int b, const float *weights) {
    size_t base = (size_t)b * 4;
    h = pd_g_conv1d(g, inorm(g, h, b > 0), param(d, g, base, weights),
                    param(d, g, base + 1, weights), 1, 1);
    return pd_g_conv1d(g, inorm(g, h, 1), param(d, g, base + 2, weights),
                       param(d, g, base + 3, weights), 1, 1);
}

pd_val *pd_den_forward_with(pd_den *d, pd_graph *g, pd_val *x, const int32_t *t,
                            const float *weights) {
    const size_t B = x->shape[0], L = d->cfg.L;
    if (x->numel != B * L) return NULL;
    for (size_t i = 0; i < B; i++)
        if (t[i] < 0 || (size_t)t[i] >= d->cfg.T) return NULL;
    pd_val *emb = pd_g_embedding(g, param(d, g, 32, weights), t, B); /* (B, L) */
    pd_val *h = pd_g_view(g, x, 3, (size_t[]){B, 1, L});
    pd_val *skip[3];
    for (int b = 0; b < 4; b++) {
        h = block(d, g, pd_g_add_rows(g, h, emb), b, weights);
        if (b < 3) skip[b] = h;
    }
    for (int b = 4; b < 8; b++) {
        h = block(d, g, pd_g_add_rows(g, h, emb), b, weights);
        if (b < 7) h = pd_g_add(g, h, skip[6 - b]);
    }
    return h;
}

pd_val *pd_den_forward(pd_den *d, pd_graph *g, pd_val *x, const int32_t *t) {
    return pd_den_forward_with(d, g, x, t, NULL);
}
