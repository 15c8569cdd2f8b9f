/*
 * model.c — a trained pd_model (pdiff.h): sampling, encoding and decoding,
 * saving to and loading from a model directory.
 *
 * Functions that take a const pd_model only read its weights: the passes
 * run on a graph of their own, in evaluation mode (no batch statistics are
 * updated), so one model may be sampled from several threads at once.
 */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdiff_io.h"
#include "pdiff.h"

pd_status pd_model_create(const pd_model_config *c, size_t D, pd_model **out) {
    pd_model *m = calloc(1, sizeof *m);
    if (!m) return pd_fail(PD_ERR_NOMEM, "out of memory");
    m->cfg = *c;
    m->cfg.tensor_sizes = NULL;
    m->cfg.ntensors = 0;
    m->cfg.state_dir = NULL;
    m->cfg.parallel = NULL;
    m->cfg.ae.D = D;
    m->D = D;
    pd_status st = pd_ae_create(&m->ae, &m->cfg.ae);
    pd_den_config dc = {m->ae.latent_c * m->ae.latent_l, c->T,
                        {c->den_ch[0], c->den_ch[1], c->den_ch[2], c->den_ch[3]}};
    if (!st) st = pd_den_create(&m->den, &dc);
    if (!st) st = pd_diffusion_init(&m->df, c->T, c->beta0, c->beta1);
    if (!st && !(m->ema = pd_alloc(m->den.params.total * sizeof(float))))
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
    if (st) {
        pd_model_free(m);
        return st;
    }
    *out = m;
    return PD_OK;
}

void pd_model_free(pd_model *m) {
    if (!m) return;
    pd_ae_free(&m->ae);
    pd_den_free(&m->den);
    pd_free(m->ema);
    pd_diffusion_free(&m->df);
    pd_normalizer_free(&m->norm);
    free(m->latents);
    free(m->log);
    free(m);
}

size_t pd_model_dim(const pd_model *m) { return m->D; }
size_t pd_model_latent_dim(const pd_model *m) { return m->ae.latent_c * m->ae.latent_l; }
size_t pd_model_train_count(const pd_model *m) { return m->K; }
const pd_model_config *pd_model_get_config(const pd_model *m) { return &m->cfg; }

pd_status pd_model_diagnostics(const pd_model *m, pd_ae_diag *out) {
    if (!m->has_diag) return pd_fail(PD_ERR_NOTFOUND, "the model holds no autoencoder diagnostics");
    *out = m->diag;
    return PD_OK;
}

/* the passes only read the weights (see the top of this file) */
static pd_model *readonly(const pd_model *m) { return (pd_model *)(uintptr_t)m; }

pd_status pd_model_encode(const pd_model *m, const float *V, size_t K, float *Z) {
    float *Vn = malloc(K * m->D * sizeof(float) + 1);
    pd_graph *g = pd_graph_new();
    pd_status st = Vn && g ? PD_OK : pd_fail(PD_ERR_NOMEM, "out of memory");
    if (!st) {
        memcpy(Vn, V, K * m->D * sizeof(float));
        pd_normalizer_apply(&m->norm, Vn, K);
        st = pd_ae_encode_all(&readonly(m)->ae, g, Vn, K, Z);
    }
    pd_graph_free(g);
    free(Vn);
    return st;
}

pd_status pd_model_decode(const pd_model *m, const float *Z, size_t K, float *V) {
    pd_graph *g = pd_graph_new();
    if (!g) return pd_fail(PD_ERR_NOMEM, "out of memory");
    pd_status st = pd_ae_decode_all(&readonly(m)->ae, g, Z, K, V);
    if (!st) pd_normalizer_invert(&m->norm, V, K);
    pd_graph_free(g);
    return st;
}

pd_status pd_model_reconstruct(const pd_model *m, float *out) {
    if (!m->latents) return pd_fail(PD_ERR_NOTFOUND, "the model holds no training latents");
    return pd_model_decode(m, m->latents, m->K, out);
}

typedef struct {
    const pd_progress *p;
    long base, total;
} sample_progress;

static void on_sample(void *ctx, long done, long total) {
    sample_progress *s = ctx;
    (void)total;
    pd_report(s->p, "sample", s->base + done, s->total, NULL);
}

pd_status pd_model_sample_with(const pd_model *cm, const pd_sampler *s, size_t N,
                               uint64_t seed, const pd_progress *p, float *out) {
    pd_model *m = readonly(cm);
    if (s->ddim && (s->steps < 1 || s->steps > m->cfg.T))
        return pd_fail(PD_ERR_ARG, "DDIM steps must be between 1 and T = %zu", m->cfg.T);
    const size_t batch = 200;
    size_t L = pd_model_latent_dim(m);
    pd_graph *g = pd_graph_new();
    float *z = malloc(batch * L * sizeof(float));
    pd_status st = g && z ? PD_OK : pd_fail(PD_ERR_NOMEM, "out of memory");
    if (g) pd_g_set_math(g, s->precision == PD_PRECISION_BF16 ? PD_MATH_BF16 : PD_MATH_F32);
    pd_rng rng;
    pd_rng_seed(&rng, seed, 20);
    long per = s->ddim ? (long)s->steps : (long)m->cfg.T;
    long nb = (long)((N + batch - 1) / batch);
    const float *w = s->raw_denoiser ? NULL : m->ema;
    for (size_t b0 = 0; b0 < N && !st; b0 += batch) {
        size_t n = N - b0 < batch ? N - b0 : batch;
        sample_progress sp = {p, (long)(b0 / batch) * per, nb * per};
        st = s->ddim ? pd_ddim_sample(&m->den, w, &m->df, g, n, s->steps, s->eta, &rng, z,
                                      on_sample, &sp)
                     : pd_ddpm_sample(&m->den, w, &m->df, g, n, &rng, z, on_sample, &sp);
        if (!st) st = pd_ae_decode_all(&m->ae, g, z, n, out + b0 * m->D);
        if (!st) pd_normalizer_invert(&m->norm, out + b0 * m->D, n);
    }
    free(z);
    pd_graph_free(g);
    return st;
}

pd_status pd_model_sample(const pd_model *m, size_t N, uint64_t seed, float *out) {
    const pd_sampler ddpm = {0, 0, 0.0f, 0, PD_PRECISION_FP32};
    return pd_model_sample_with(m, &ddpm, N, seed, NULL, out);
}

/* ---- model directory ---------------------------------------------------- */
static pd_status save_text(const char *dir, const char *name, const char *text, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return pd_write_file_atomic(path, text, len);
}

/* p's tensors with the values of w (laid out like p->data) */
static pd_status save_weights_as(const pd_params *p, const float *w, const char *path) {
    pd_params view = *p;
    view.t = malloc(p->count * sizeof *view.t + 1);
    if (!view.t) return pd_fail(PD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->count; i++) {
        view.t[i] = p->t[i];
        view.t[i].data = (float *)(uintptr_t)(w + p->t[i].offset);
    }
    view.data = (float *)(uintptr_t)w;
    pd_status st = pd_params_save(&view, path, NULL, NULL, 0);
    free(view.t);
    return st;
}

pd_status pd_model_save(const pd_model *cm, const char *dir) {
    pd_model *m = readonly(cm);
    pd_status st = pd_mkdir_p(dir);
    if (st) return st;
    char path[4096];
    char *json = pd_model_config_json(&m->cfg, m->D);
    if (!json) return pd_fail(PD_ERR_NOMEM, "out of memory");
    st = save_text(dir, "config.json", json, strlen(json));
    free(json);
    if (!st) {
        snprintf(path, sizeof path, "%s/norm.safetensors", dir);
        st = pd_normalizer_save(&m->norm, path);
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/ae.safetensors", dir);
        st = pd_params_save(&m->ae.params, path, NULL, NULL, 0);
    }
    if (!st && m->latents) {
        snprintf(path, sizeof path, "%s/latents.safetensors", dir);
        st = pd_save_matrix(path, "latents", m->latents, m->K, pd_model_latent_dim(m));
    }
    if (!st && m->has_diag) {
        char *dj = pd_ae_diag_json(&m->diag);
        st = dj ? save_text(dir, "autoencoder.json", dj, strlen(dj))
                : pd_fail(PD_ERR_NOMEM, "out of memory");
        free(dj);
    }
    if (!st && m->log) st = save_text(dir, "train_log.jsonl", m->log, m->loglen);
    if (!st) {
        snprintf(path, sizeof path, "%s/den.safetensors", dir);
        st = pd_params_save(&m->den.params, path, NULL, NULL, 0);
    }
    if (!st) { /* last: its presence marks a complete model directory */
        snprintf(path, sizeof path, "%s/den_ema.safetensors", dir);
        st = save_weights_as(&m->den.params, m->ema, path);
    }
    return st;
}

/* the noise-free training latents, when the directory has them */
static pd_status load_latents(pd_model *m, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/latents.safetensors", dir);
    if (!pd_file_exists(path)) return PD_OK;
    pd_st_file f;
    pd_status st = pd_st_read(path, &f);
    if (st) return st;
    size_t L = pd_model_latent_dim(m);
    const pd_st_tensor *z = pd_st_find(&f, "latents");
    if (!z || z->ndim != 2 || z->shape[1] != L || z->shape[0] == 0) {
        st = pd_fail(PD_ERR_SHAPE, "%s: expected tensor 'latents' of shape (K, %zu)", path, L);
    } else if (!(m->latents = malloc(z->numel * sizeof(float)))) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
    } else {
        memcpy(m->latents, z->data, z->numel * sizeof(float));
        m->K = z->shape[0];
    }
    pd_st_free(&f);
    return st;
}

pd_status pd_model_load(const char *dir, pd_model **out) {
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    uint8_t *text = NULL;
    size_t len = 0;
    pd_status st = pd_read_file(path, 1 << 20, &text, &len);
    if (st) return st;
    char *z = realloc(text, len + 1);
    if (!z) {
        free(text);
        return pd_fail(PD_ERR_NOMEM, "out of memory");
    }
    z[len] = 0;
    pd_model_config c;
    size_t D = 0;
    st = pd_model_config_parse(z, path, &c, &D);
    free(z);
    pd_model *m = NULL;
    if (!st) st = pd_model_create(&c, D, &m);
    if (st) return st;
    snprintf(path, sizeof path, "%s/norm.safetensors", dir);
    if (pd_file_exists(path) || c.normalize != PD_NORMALIZE_NONE)
        st = pd_normalizer_load(&m->norm, path, D);
    else /* model directories from before normalization existed */
        st = pd_normalizer_fit(&m->norm, PD_NORMALIZE_NONE, NULL, 0, D, NULL, 0);
    if (!st && m->norm.kind != c.normalize)
        st = pd_fail(PD_ERR_FORMAT, "%s: normalization '%s' but config.json says '%s'", path,
                     pd_normalize_name(m->norm.kind), pd_normalize_name(c.normalize));
    if (!st) {
        snprintf(path, sizeof path, "%s/ae.safetensors", dir);
        st = pd_params_load(&m->ae.params, path, 0);
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/den_ema.safetensors", dir);
        st = pd_params_load(&m->den.params, path, 0);
    }
    if (!st) {
        memcpy(m->ema, m->den.params.data, m->den.params.total * sizeof(float));
        snprintf(path, sizeof path, "%s/den.safetensors", dir);
        st = pd_params_load(&m->den.params, path, 0);
    }
    if (!st) st = load_latents(m, dir);
    snprintf(path, sizeof path, "%s/autoencoder.json", dir);
    if (!st && pd_file_exists(path)) {
        st = pd_ae_diag_read(path, &m->diag);
        m->has_diag = !st;
    }
    snprintf(path, sizeof path, "%s/train_log.jsonl", dir);
    if (!st && pd_file_exists(path)) {
        uint8_t *log = NULL;
        st = pd_read_file(path, (uint64_t)1 << 30, &log, &m->loglen);
        m->log = (char *)log;
    }
    if (st) {
        pd_model_free(m);
        return st;
    }
    *out = m;
    return PD_OK;
}
