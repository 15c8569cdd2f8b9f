/*
 * ae.c — the p-diff parameter autoencoder (see ae.h for the architecture,
 * the tensor names and the ablations). The forward passes are built on the
 * autodiff tape of graph.h; training is one AdamW step over the trainable
 * range of the parameter buffer.
 */
#include "model/ae.h"
#include "model/ae_chunk.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define AE_EPS 1e-5f      /* normalisation epsilon (PyTorch default) */
#define AE_SLOPE 0.01f    /* LeakyReLU negative slope */
#define AE_BN_MOM 0.1f    /* batch-norm running-statistics momentum */
#define AE_CHUNK 256      /* rows per pass in encode_all / decode_all */

void pd_ae_preset(pd_ae_config *c, const char *name, size_t D) {
    memset(c, 0, sizeof *c);
    c->D = D;
    c->in_noise = 0.001f;
    c->lat_noise = 0.1f;
    c->norm = PD_NORM_INSTANCE;
    c->kl_weight = 1e-3f;
    if (name && strcmp(name, "medium") == 0) {
        c->fold = 5;
        c->k = 5;
        const size_t e[4] = {4, 4, 4, 4}, d[4] = {4, 256, 256, 8};
        memcpy(c->enc, e, sizeof e);
        memcpy(c->dec, d, sizeof d);
    } else {
        c->fold = 3;
        c->k = 3;
        const size_t e[4] = {2, 2, 2, 2}, d[4] = {2, 64, 64, 8};
        memcpy(c->enc, e, sizeof e);
        memcpy(c->dec, d, sizeof d);
    }
    if (name && strcmp(name, "whole") == 0) {
        /* whole networks (docs/method.md §3b): the small sizes above stay
         * set but unused */
        c->chunk = 256;
        c->chunk_code = 4;
        c->hidden = 256;
        c->latent = 16;
        /* no input noise: after normalization it changes nothing measurable
         * (README, noise ablation), and B × D normals a step would cost
         * more than the network at D = 40 000 (perf: 28 % of a step) */
        c->in_noise = 0.0f;
    }
}

/* ---- geometry ------------------------------------------------------------ */

/* lengths through the conv encoder: len[0] = real, len[i+1] = output of
 * enc layer i; 0 on a layer too short for its kernel */
static int enc_lengths(size_t real, size_t f, size_t k, size_t len[5]) {
    len[0] = real;
    for (int i = 0; i < 4; i++) {
        size_t l = len[i];
        if (l + 2 < k) return 0;
        l = l + 2 - k + 1;          /* conv1: k, stride 1, pad 1 */
        if (l < k) return 0;
        len[i + 1] = (l - k) / f + 1; /* conv2: k, stride f, pad 0 */
    }
    return 1;
}

/* output length of the conv decoder from latent length l */
static size_t dec_length(size_t l, size_t f, size_t k) {
    for (int i = 0; i < 4; i++) {
        l = (l - 1) * f + k;                /* ConvTranspose1d, pad 0 */
        size_t pad = i == 3 ? f : f - 1;
        if (l + 2 * pad < k) return 0;
        l = l + 2 * pad - k + 1;            /* conv2, stride 1 */
    }
    return l;
}

/* flattened widths of the FC ablation: encoder w[0..4], decoder u = reverse */
static void fc_widths(const pd_ae *ae, size_t w[5]) {
    size_t f = (size_t)ae->cfg.fold, div = 1;
    w[0] = ae->real;
    for (int i = 1; i < 4; i++) {
        div *= f;
        w[i] = ae->real / div;
    }
    w[4] = ae->latent_c * ae->latent_l;
}

/* number of groups of a group-norm layer over c channels */
static size_t norm_groups(const pd_ae *ae, size_t c) {
    size_t a = ae->cfg.groups ? ae->cfg.groups : 2, b = c;
    while (b) { /* gcd */
        size_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* ---- registration -------------------------------------------------------- */

static pd_status add(pd_ae *ae, int flags, size_t ndim, const size_t *shape,
                     const char *fmt, int i, const char *leaf) {
    char name[PD_NAME_MAX];
    snprintf(name, sizeof name, fmt, i, leaf);
    return pd_params_add(&ae->params, name, (int)ndim, shape, flags);
}

/* a conv (weight (cout, cin, k)), transposed conv ((cin, cout, k)) or
 * linear ((out, in)) layer, with bias of its output size */
static pd_status add_layer(pd_ae *ae, const char *fmt, int i, size_t w0,
                           size_t w1, size_t w2, size_t nbias) {
    size_t ws[3] = {w0, w1, w2}, bs[1] = {nbias};
    pd_status s = add(ae, PD_TRAINABLE, w2 ? 3 : 2, ws, fmt, i, "weight");
    if (s == PD_OK) s = add(ae, PD_TRAINABLE, 1, bs, fmt, i, "bias");
    return s;
}

static pd_status register_conv(pd_ae *ae) {
    const pd_ae_config *c = &ae->cfg;
    size_t k = (size_t)c->k;
    size_t ech[5] = {c->enc[0], c->enc[0], c->enc[1], c->enc[2], c->enc[3]};
    size_t dch[5] = {c->dec[0], c->dec[1], c->dec[2], c->dec[3], 1};
    pd_status s = PD_OK;
    for (int i = 0; i < 4 && s == PD_OK; i++) {
        size_t cin = i == 0 ? 1 : ech[i];
        s = add_layer(ae, "enc.%d.conv1.%s", i, ech[i], cin, k, ech[i]);
        if (s == PD_OK) s = add_layer(ae, "enc.%d.conv2.%s", i, ech[i + 1], ech[i], k, ech[i + 1]);
    }
    if (s == PD_OK && c->vae)
        s = add_layer(ae, "enc.%d.conv2_logvar.%s", 3, ech[4], ech[3], k, ech[4]);
    for (int i = 0; i < 4 && s == PD_OK; i++) {
        s = add_layer(ae, "dec.%d.conv1.%s", i, dch[i], dch[i], k, dch[i]);
        if (s == PD_OK) s = add_layer(ae, "dec.%d.conv2.%s", i, dch[i + 1], dch[i], k, dch[i + 1]);
    }
    return s;
}

static pd_status register_fc(pd_ae *ae) {
    size_t w[5];
    fc_widths(ae, w);
    pd_status s = PD_OK;
    for (int i = 0; i < 4 && s == PD_OK; i++) {
        s = add_layer(ae, "enc.%d.fc1.%s", i, w[i], w[i], 0, w[i]);
        if (s == PD_OK) s = add_layer(ae, "enc.%d.fc2.%s", i, w[i + 1], w[i], 0, w[i + 1]);
    }
    if (s == PD_OK && ae->cfg.vae)
        s = add_layer(ae, "enc.%d.fc2_logvar.%s", 3, w[4], w[3], 0, w[4]);
    for (int i = 0; i < 4 && s == PD_OK; i++) {
        size_t a = w[4 - i], b = w[3 - i];
        s = add_layer(ae, "dec.%d.fc1.%s", i, b, a, 0, b);
        if (s == PD_OK) s = add_layer(ae, "dec.%d.fc2.%s", i, b, b, 0, b);
    }
    return s;
}

/* batch-norm running statistics, one pair per norm layer; the feature
 * count is the channel count (conv) or the width (fc) at that point */
static pd_status register_bn(pd_ae *ae) {
    const pd_ae_config *c = &ae->cfg;
    size_t n1[2][4], n2[2][4];
    if (c->fc) {
        size_t w[5];
        fc_widths(ae, w);
        for (int i = 0; i < 4; i++) {
            n1[0][i] = n2[0][i] = w[i];
            n1[1][i] = w[4 - i];
            n2[1][i] = w[3 - i];
        }
    } else {
        for (int i = 0; i < 4; i++) {
            n1[0][i] = i == 0 ? 1 : (i == 1 ? c->enc[0] : c->enc[i - 1]);
            n2[0][i] = i == 0 ? c->enc[0] : n1[0][i];
            n1[1][i] = n2[1][i] = c->dec[i];
        }
    }
    static const char *part[2] = {"enc", "dec"};
    pd_status s = PD_OK;
    for (int p = 0; p < 2; p++)
        for (int i = 0; i < 4 && s == PD_OK; i++)
            for (int j = 0; j < 2 && s == PD_OK; j++) {
                size_t shp[1] = {j == 0 ? n1[p][i] : n2[p][i]};
                char fmt[64];
                snprintf(fmt, sizeof fmt, "%s.%%d.norm%d.%%s", part[p], j + 1);
                s = add(ae, PD_BUFFER, 1, shp, fmt, i, "running_mean");
                if (s == PD_OK) s = add(ae, PD_BUFFER, 1, shp, fmt, i, "running_var");
            }
    return s;
}

pd_status pd_ae_create(pd_ae *ae, const pd_ae_config *cfg) {
    memset(ae, 0, sizeof *ae);
    pd_params_init(&ae->params);
    ae->cfg = *cfg;
    const pd_ae_config *c = &ae->cfg;
    if (c->chunk) { /* the whole-network kind (ae_chunk.h) */
        pd_status s = c->D ? pd_ae_chunk_create(ae)
                           : pd_fail(PD_ERR_ARG, "autoencoder: D must be positive");
        if (s == PD_OK) s = pd_params_finalize(&ae->params, NULL);
        if (s != PD_OK) pd_params_free(&ae->params);
        return s;
    }
    if (c->D == 0 || c->fold < 1 || c->k < 1)
        return pd_fail(PD_ERR_ARG, "autoencoder: D, fold and kernel must be positive");
    for (int i = 0; i < 4; i++)
        if (c->enc[i] == 0 || c->dec[i] == 0)
            return pd_fail(PD_ERR_ARG, "autoencoder: channel counts must be positive");
    if (c->dec[0] != c->enc[3])
        return pd_fail(PD_ERR_ARG,
                       "autoencoder: decoder channels d0=%zu must equal latent channels c3=%zu",
                       c->dec[0], c->enc[3]);
    if (c->norm > PD_NORM_NONE) return pd_fail(PD_ERR_ARG, "autoencoder: unknown norm kind");
    size_t f = (size_t)c->fold, k = (size_t)c->k, f4 = f * f * f * f;
    if (f > 4096 || c->D > ((size_t)1 << 40))
        return pd_fail(PD_ERR_ARG, "autoencoder: fold rate or D out of range");
    ae->real = (c->D / f4 + 1) * f4;
    size_t len[5];
    if (!enc_lengths(ae->real, f, k, len) || len[4] == 0)
        return pd_fail(PD_ERR_SHAPE, "autoencoder: D=%zu too short for fold %zu kernel %zu",
                       c->D, f, k);
    ae->latent_c = c->enc[3];
    ae->latent_l = len[4];
    /* instance norm over a latent of length 1 outputs zeros: the decoder
     * would never see the input, and training would only fit the mean */
    if (ae->latent_l < 2 && !c->fc && c->norm == PD_NORM_INSTANCE)
        return pd_fail(PD_ERR_SHAPE,
                       "autoencoder: latent length 1 for D=%zu (fold %zu, kernel %zu) is erased "
                       "by the decoder's instance norm; use a smaller fold/kernel or a larger D",
                       c->D, f, k);
    if (dec_length(ae->latent_l, f, k) < c->D)
        return pd_fail(PD_ERR_SHAPE, "autoencoder: decoder output shorter than D=%zu", c->D);
    pd_status s = c->fc ? register_fc(ae) : register_conv(ae);
    if (s == PD_OK && c->norm == PD_NORM_BATCH) s = register_bn(ae);
    if (s == PD_OK) s = pd_params_finalize(&ae->params, NULL);
    if (s != PD_OK) pd_params_free(&ae->params);
    return s;
}

void pd_ae_free(pd_ae *ae) { pd_params_free(&ae->params); }

size_t pd_ae_trainable_size(const pd_ae *ae) {
    for (size_t i = 0; i < ae->params.count; i++)
        if (ae->params.t[i].flags & PD_BUFFER) return ae->params.t[i].offset;
    return ae->params.total;
}

void pd_ae_init(pd_ae *ae, pd_rng *rng) {
    pd_params *p = &ae->params;
    for (size_t i = 0; i < p->count; i++) {
        pd_tensor *t = &p->t[i];
        size_t len = strlen(t->name);
        if (t->flags & PD_BUFFER) {
            /* running_var starts at 1, running_mean at 0 */
            float v = len >= 3 && strcmp(t->name + len - 3, "var") == 0 ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) t->data[j] = v;
            continue;
        }
        /* the bias follows its weight and shares its fan-in */
        const pd_tensor *w = (len > 5 && strcmp(t->name + len - 5, ".bias") == 0) ? t - 1 : t;
        size_t fan_in = w->shape[1] * (w->ndim == 3 ? w->shape[2] : 1);
        /* a chunk map (T, out, in) is T linear layers of fan-in `in` */
        if (strncmp(w->name, "chunk_", 6) == 0) fan_in = w->shape[2];
        float bound = fan_in ? 1.0f / sqrtf((float)fan_in) : 0.0f;
        for (size_t j = 0; j < t->numel; j++)
            t->data[j] = (2.0f * pd_rng_uniform(rng) - 1.0f) * bound;
    }
}

/* ---- forward ------------------------------------------------------------- */

static pd_val *param(pd_ae *ae, pd_graph *g, const char *fmt, int i, const char *leaf) {
    char name[PD_NAME_MAX];
    snprintf(name, sizeof name, fmt, i, leaf);
    pd_tensor *t = pd_params_find(&ae->params, name);
    return t ? pd_g_param(g, t) : NULL;
}

static pd_val *lrelu(pd_graph *g, pd_val *x) {
    return pd_g_act(g, x, PD_ACT_LEAKY_RELU, AE_SLOPE);
}

/* the configured normalisation of x, or of LeakyReLU(x) when act is set
 * (fused into instance/group norm); conv mode x (n, c, l), fc mode x (n, w).
 * name: "enc.%d.norm1" style prefix of the batch-norm buffers. */
static pd_val *norm(pd_ae *ae, pd_graph *g, pd_val *x, const char *fmt, int i, int train,
                    int act) {
    const int fc = ae->cfg.fc;
    size_t n = x->shape[0], w = x->numel / (n ? n : 1);
    if (act && ae->cfg.norm != PD_NORM_INSTANCE && ae->cfg.norm != PD_NORM_GROUP)
        x = lrelu(g, x);
    switch (ae->cfg.norm) {
    case PD_NORM_NONE:
        return x;
    case PD_NORM_INSTANCE:
    case PD_NORM_GROUP: {
        pd_val *v = x;
        if (fc) v = pd_g_view(g, x, 3, (size_t[]){n, 1, w});
        size_t c = v->shape[1];
        size_t groups = ae->cfg.norm == PD_NORM_INSTANCE ? c : norm_groups(ae, c);
        pd_val *y = pd_g_lrelu_groupnorm(g, v, NULL, NULL, groups, act ? AE_SLOPE : 1.0f,
                                         AE_EPS);
        return fc ? pd_g_view(g, y, 2, (size_t[]){n, w}) : y;
    }
    case PD_NORM_BATCH: {
        char name[PD_NAME_MAX];
        snprintf(name, sizeof name, fmt, i, "running_mean");
        pd_tensor *rm = pd_params_find(&ae->params, name);
        snprintf(name, sizeof name, fmt, i, "running_var");
        pd_tensor *rv = pd_params_find(&ae->params, name);
        if (!rm || !rv) return NULL;
        pd_val *v = fc ? pd_g_view(g, x, 3, (size_t[]){n, w, 1}) : x;
        pd_val *y = pd_g_batchnorm(g, v, NULL, NULL, rm->data, rv->data, train,
                                   AE_BN_MOM, AE_EPS);
        return fc ? pd_g_view(g, y, 2, (size_t[]){n, w}) : y;
    }
    }
    return NULL;
}

/* noise ε·amp into arena memory (n floats of this process's rows); NULL on
 * failure. In a data-parallel step the whole batch's noise is drawn, as one
 * process would, and this process's rows of it are used. */
static float *noise(pd_ae *ae, pd_graph *g, pd_rng *rng, size_t n, float amp) {
    const pd_batch_split *s = ae->split;
    const size_t per_row = s ? n / s->n : 0, all = s ? per_row * s->total : n;
    float *e = pd_g_alloc(g, all * sizeof(float));
    if (e) pd_rng_fill_normal(rng, e, all, amp);
    return e && s ? e + s->lo * per_row : e;
}

/* y = x(1−a) + aε, or x + aε when additive */
static pd_val *add_noise(pd_ae *ae, pd_graph *g, pd_val *x, pd_rng *rng, float a) {
    float *e = noise(ae, g, rng, x->numel, a);
    if (!e) return x;
    return pd_g_scale_add(g, x, ae->cfg.additive_noise ? 1.0f : 1.0f - a, e);
}

/* One weight layer: conv1d / convt1d / linear by mode. enc: stride-1 conv
 * (which = 1) or folding conv (which = 2); dec: transposed (1) or conv (2). */
static pd_val *layer(pd_ae *ae, pd_graph *g, pd_val *x, int dec, int i, int which,
                     const char *head) {
    const size_t f = (size_t)ae->cfg.fold;
    char fmt[48];
    snprintf(fmt, sizeof fmt, "%s.%%d.%s%d%s.%%s", dec ? "dec" : "enc",
             ae->cfg.fc ? "fc" : "conv", which, head);
    pd_val *w = param(ae, g, fmt, i, "weight"), *b = param(ae, g, fmt, i, "bias");
    if (!w || !b) return NULL;
    if (ae->cfg.fc) return pd_g_linear(g, x, w, b);
    if (!dec) return which == 1 ? pd_g_conv1d(g, x, w, b, 1, 1) : pd_g_conv1d(g, x, w, b, f, 0);
    if (which == 1) return pd_g_convt1d(g, x, w, b, f, 0, 0);
    return pd_g_conv1d(g, x, w, b, 1, i == 3 ? f : f - 1);
}

/* the encoder; *mu and *logvar (VAE only, else NULL) returned for the KL */
static pd_val *encode(pd_ae *ae, pd_graph *g, pd_val *x, int train, pd_rng *rng,
                      pd_val **mu_out, pd_val **lv_out) {
    const size_t B = x->shape[0], D = ae->cfg.D;
    *mu_out = *lv_out = NULL;
    if (x->numel != B * D) return NULL;
    pd_val *h = pd_g_view(g, x, 3, (size_t[]){B, 1, D});
    if (rng && ae->cfg.in_noise != 0.0f) h = add_noise(ae, g, h, rng, ae->cfg.in_noise);
    h = pd_g_resize_last(g, h, ae->real);
    if (ae->cfg.chunk) return pd_ae_chunk_encode(ae, g, pd_g_view(g, h, 2, (size_t[]){B, ae->real}));
    if (ae->cfg.fc) h = pd_g_view(g, h, 2, (size_t[]){B, ae->real});
    pd_val *pre = NULL;
    for (int i = 0; i < 4 && h; i++) {
        h = norm(ae, g, h, "enc.%d.norm1.%s", i, train, i > 0);
        if (h) h = layer(ae, g, h, 0, i, 1, "");
        if (h) h = norm(ae, g, h, "enc.%d.norm2.%s", i, train, 1);
        pre = h;
        if (h) h = layer(ae, g, h, 0, i, 2, "");
    }
    if (!h) return NULL;
    pd_val *mu = pd_g_act(g, h, PD_ACT_TANH, 0.0f);
    if (ae->cfg.fc) mu = pd_g_view(g, mu, 3, (size_t[]){B, ae->latent_c, ae->latent_l});
    if (!ae->cfg.vae) return mu;
    pd_val *lv = layer(ae, g, pre, 0, 3, 2, "_logvar");
    if (!lv) return NULL;
    if (ae->cfg.fc) lv = pd_g_view(g, lv, 3, (size_t[]){B, ae->latent_c, ae->latent_l});
    *mu_out = mu;
    *lv_out = lv;
    if (!train || !rng) return mu;
    float *e = noise(ae, g, rng, mu->numel, 1.0f);
    return e ? pd_g_reparam(g, mu, lv, e) : NULL;
}

pd_val *pd_ae_encode(pd_ae *ae, pd_graph *g, pd_val *x, int train, pd_rng *noise_rng) {
    pd_val *mu, *lv;
    return encode(ae, g, x, train, noise_rng, &mu, &lv);
}

pd_val *pd_ae_decode(pd_ae *ae, pd_graph *g, pd_val *z, int train) {
    const size_t B = z->shape[0], D = ae->cfg.D;
    if (z->numel != B * ae->latent_c * ae->latent_l) return NULL;
    if (ae->cfg.chunk) {
        pd_val *r = pd_ae_chunk_decode(ae, g, z);
        if (!r) return NULL;
        r = pd_g_resize_last(g, pd_g_view(g, r, 3, (size_t[]){B, 1, ae->real}), D);
        return pd_g_view(g, r, 2, (size_t[]){B, D});
    }
    pd_val *h = ae->cfg.fc ? pd_g_view(g, z, 2, (size_t[]){B, z->numel / B})
                           : pd_g_view(g, z, 3, (size_t[]){B, ae->latent_c, ae->latent_l});
    for (int i = 0; i < 4 && h; i++) {
        h = norm(ae, g, h, "dec.%d.norm1.%s", i, train, 1);
        if (h) h = layer(ae, g, h, 1, i, 1, "");
        if (h) h = norm(ae, g, h, "dec.%d.norm2.%s", i, train, 1);
        if (h) h = layer(ae, g, h, 1, i, 2, "");
    }
    if (!h) return NULL;
    if (ae->cfg.fc) h = pd_g_view(g, h, 3, (size_t[]){B, 1, h->numel / B});
    h = pd_g_resize_last(g, h, D);
    return pd_g_view(g, h, 2, (size_t[]){B, D});
}

/* ---- training ------------------------------------------------------------ */

pd_status pd_ae_train_step(pd_ae *ae, pd_graph *g, const float *V, size_t B,
                           pd_rng *rng, const pd_adamw *opt, long t, double *loss) {
    return pd_ae_train_step_split(ae, g, V, B, NULL, rng, opt, t, loss);
}

pd_status pd_ae_train_step_split(pd_ae *ae, pd_graph *g, const float *V, size_t B,
                                 const pd_batch_split *split, pd_rng *rng,
                                 const pd_adamw *opt, long t, double *loss) {
    pd_params *p = &ae->params;
    if (B == 0) return pd_fail(PD_ERR_ARG, "autoencoder: empty batch");
    const int parallel = pd_batch_split_active(split);
    if (parallel && (split->total != B || split->n == 0))
        return pd_fail(PD_ERR_ARG, "autoencoder: %zu processes for a batch of %zu",
                       (size_t)split->dp->size, B);
    const size_t lo = parallel ? split->lo : 0, rows = parallel ? split->n : B;
    const float *mine = V + lo * ae->cfg.D;
    pd_status s = pd_params_alloc_state(p);
    if (s != PD_OK) return s;
    pd_g_reset(g);
    pd_g_set_grad(g, 1);
    pd_params_zero_grad(p);
    ae->split = parallel ? split : NULL;
    const float b = ae->cfg.lat_noise;
    pd_val *x = pd_g_input(g, (float *)mine, 2, (size_t[]){rows, ae->cfg.D}, 0);
    pd_val *mu, *lv;
    pd_val *z = encode(ae, g, x, 1, rng, &mu, &lv);
    if (z && !ae->cfg.vae) {
        if (rng && b != 0.0f) z = add_noise(ae, g, z, rng, b);
        z = pd_g_clamp(g, z, -1.0f, 1.0f);
    }
    ae->split = NULL;
    pd_val *y = z ? pd_ae_decode(ae, g, z, 1) : NULL;
    pd_val *l = y ? pd_g_mse(g, y, mine) : NULL;
    if (l && ae->cfg.vae) l = pd_g_sum2(g, l, 1.0f, pd_g_kl(g, mu, lv), ae->cfg.kl_weight);
    if (!l || pd_g_failed(g))
        return pd_fail(PD_ERR_NOMEM, "autoencoder: out of memory in the training graph");
    double v = l->v[0];
    /* one process checks before the backward pass; several only after the
     * sum, so that all of them see the same loss and stop together */
    if (!parallel && !isfinite(v)) {
        if (loss) *loss = v;
        return pd_fail(PD_ERR_NAN, "autoencoder: loss is %g at step %ld", v, t);
    }
    pd_g_backward(g, l);
    if (pd_g_failed(g))
        return pd_fail(PD_ERR_NOMEM, "autoencoder: out of memory in the backward pass");
    const size_t n = pd_ae_trainable_size(ae);
    if (parallel) {
        float *scratch = pd_g_alloc(g, (n + 1) * sizeof(float));
        if (!scratch) return pd_fail(PD_ERR_NOMEM, "autoencoder: out of memory");
        pd_batch_split_reduce(split, p->grad, n, &v, scratch);
    }
    if (loss) *loss = v;
    if (!isfinite(v)) return pd_fail(PD_ERR_NAN, "autoencoder: loss is %g at step %ld", v, t);
    pd_adamw_step(opt, p->data, p->grad, p->m, p->v, n, t);
    return PD_OK;
}

/* ---- batch passes -------------------------------------------------------- */

/* in (B, win) → out (B, wout) through encode (dir 0) or decode (dir 1),
 * AE_CHUNK rows per graph */
static pd_status run_all(pd_ae *ae, pd_graph *g, const float *in, size_t B, float *out,
                         int dir) {
    const size_t wl = ae->latent_c * ae->latent_l, D = ae->cfg.D;
    const size_t win = dir ? wl : D, wout = dir ? D : wl;
    pd_status s = PD_OK;
    pd_g_set_grad(g, 0);
    for (size_t r = 0; r < B && s == PD_OK; r += AE_CHUNK) {
        size_t n = B - r < AE_CHUNK ? B - r : AE_CHUNK;
        pd_g_reset(g);
        pd_val *x = pd_g_input(g, (float *)in + r * win, 2, (size_t[]){n, win}, 0);
        pd_val *y = dir ? pd_ae_decode(ae, g, x, 0) : pd_ae_encode(ae, g, x, 0, NULL);
        if (!y || pd_g_failed(g))
            s = pd_fail(PD_ERR_NOMEM, "autoencoder: out of memory in a batch pass");
        else
            memcpy(out + r * wout, y->v, n * wout * sizeof(float));
    }
    pd_g_reset(g);
    pd_g_set_grad(g, 1);
    return s;
}

pd_status pd_ae_encode_all(pd_ae *ae, pd_graph *g, const float *V, size_t B, float *Z) {
    return run_all(ae, g, V, B, Z, 0);
}

pd_status pd_ae_decode_all(pd_ae *ae, pd_graph *g, const float *Z, size_t B, float *V) {
    return run_all(ae, g, Z, B, V, 1);
}
