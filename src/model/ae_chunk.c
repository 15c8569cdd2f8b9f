/*
 * ae_chunk.c — see ae_chunk.h.
 */
#include "model/ae_chunk.h"

#include <stdio.h>

#define CHUNK_SLOPE 0.01f /* LeakyReLU, as the paper's autoencoder */

static pd_status add2(pd_ae *ae, const char *name, size_t a, size_t b, size_t c, size_t nb0,
                      size_t nb1) {
    char n[PD_NAME_MAX];
    snprintf(n, sizeof n, "%s.weight", name);
    size_t ws[3] = {a, b, c}, bs[2] = {nb0, nb1};
    pd_status s = pd_params_add(&ae->params, n, c ? 3 : 2, ws, PD_TRAINABLE);
    snprintf(n, sizeof n, "%s.bias", name);
    if (!s) s = pd_params_add(&ae->params, n, nb1 ? 2 : 1, bs, PD_TRAINABLE);
    return s;
}

pd_status pd_ae_chunk_create(pd_ae *ae) {
    const pd_ae_config *c = &ae->cfg;
    if (c->fc || c->vae)
        return pd_fail(PD_ERR_ARG, "autoencoder: the chunk kind has no fc or VAE variant");
    if (c->chunk_code == 0 || c->hidden == 0 || c->latent < 2)
        return pd_fail(PD_ERR_ARG, "autoencoder: the chunk kind needs chunk_code, hidden >= 1 "
                                   "and latent >= 2");
    if (c->chunk > ((size_t)1 << 20) || c->D > ((size_t)1 << 34))
        return pd_fail(PD_ERR_ARG, "autoencoder: chunk or D out of range");
    const size_t w = c->chunk, T = (c->D + w - 1) / w, k = c->chunk_code, h = c->hidden;
    ae->real = T * w;
    ae->latent_c = 1;
    ae->latent_l = c->latent;
    pd_status s = add2(ae, "chunk_enc", T, k, w, T, k);
    if (!s) s = add2(ae, "enc.fc1", h, T * k, 0, h, 0);
    if (!s) s = add2(ae, "enc.fc2", c->latent, h, 0, c->latent, 0);
    if (!s) s = add2(ae, "dec.fc1", h, c->latent, 0, h, 0);
    if (!s) s = add2(ae, "dec.fc2", T * k, h, 0, T * k, 0);
    if (!s) s = add2(ae, "chunk_dec", T, w, k, T, w);
    return s;
}

static pd_val *param(pd_ae *ae, pd_graph *g, const char *name) {
    pd_tensor *t = pd_params_find(&ae->params, name);
    return t ? pd_g_param(g, t) : NULL;
}

static pd_val *lrelu(pd_graph *g, pd_val *x) {
    return x ? pd_g_act(g, x, PD_ACT_LEAKY_RELU, CHUNK_SLOPE) : NULL;
}

typedef pd_val *(*weight_op)(pd_graph *g, pd_val *x, pd_val *w, pd_val *b);

/* op(x, NAME.weight, NAME.bias): nn.Linear or the per-chunk map; NULL when x is */
static pd_val *layer(pd_ae *ae, pd_graph *g, pd_val *x, const char *name, weight_op op) {
    char wn[PD_NAME_MAX], bn[PD_NAME_MAX];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    pd_val *w = param(ae, g, wn), *b = param(ae, g, bn);
    return x && w && b ? op(g, x, w, b) : NULL;
}

static pd_val *linear(pd_ae *ae, pd_graph *g, pd_val *x, const char *name) {
    return layer(ae, g, x, name, pd_g_linear);
}

static pd_val *chunk_linear(pd_ae *ae, pd_graph *g, pd_val *x, const char *name) {
    return layer(ae, g, x, name, pd_g_chunk_linear);
}

pd_val *pd_ae_chunk_encode(pd_ae *ae, pd_graph *g, pd_val *x) {
    const size_t B = x->shape[0];
    pd_val *h = lrelu(g, chunk_linear(ae, g, x, "chunk_enc")); /* (B, T, c) */
    if (h) h = pd_g_view(g, h, 2, (size_t[]){B, h->numel / B});
    h = lrelu(g, linear(ae, g, h, "enc.fc1"));
    h = linear(ae, g, h, "enc.fc2");
    if (!h) return NULL;
    h = pd_g_act(g, h, PD_ACT_TANH, 0.0f);
    return pd_g_view(g, h, 3, (size_t[]){B, 1, ae->latent_l});
}

pd_val *pd_ae_chunk_decode(pd_ae *ae, pd_graph *g, pd_val *z) {
    const size_t B = z->shape[0];
    pd_val *h = pd_g_view(g, z, 2, (size_t[]){B, ae->latent_l});
    h = lrelu(g, linear(ae, g, h, "dec.fc1"));
    h = lrelu(g, linear(ae, g, h, "dec.fc2")); /* (B, T·c) */
    h = chunk_linear(ae, g, h, "chunk_dec");   /* (B, T, w) */
    return h ? pd_g_view(g, h, 2, (size_t[]){B, ae->real}) : NULL;
}
