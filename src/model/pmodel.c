/*
 * pmodel.c — see pmodel.h. Training runs in two phases, each resumable:
 * the autoencoder (state in ae_state.safetensors), then the latents are
 * encoded once, then the DDPM (den_state.safetensors). A state file holds
 * the weights, AdamW moments, EMA, step and RNG state, written atomically
 * every ckpt_every steps; the loss log is appended at the same moments so
 * a resumed run neither loses nor repeats lines.
 */
#include "model/pmodel.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/core/fsutil.h"
#include "engine/io/atomic_file.h"
#include "engine/io/params_io.h"
#include "engine/io/read_file.h"
#include "engine/io/safetensors.h"
#include "model/ae_diag.h"

void pd_pdiff_defaults(pd_pdiff_config *c) {
    memset(c, 0, sizeof *c);
    c->normalize = PD_NORMALIZE_DIM;
    pd_pdiff_set_preset(c, "small");
    size_t half[4] = {32, 64, 128, 256};
    memcpy(c->den_ch, half, sizeof half);
    c->T = 1000;
    c->beta0 = 1e-4;
    c->beta1 = 2e-2;
    c->ae_steps = 2500;
    c->ddpm_steps = 2000;
    c->lr = 1e-3f;
    c->weight_decay = 2e-6f;
    c->ema_decay = 0.9999f;
    c->ckpt_every = 500;
    c->log_every = 50;
    c->seed = 0;
}

void pd_pdiff_recipe_paper(pd_pdiff_config *c) {
    size_t full[4] = {64, 128, 256, 512};
    memcpy(c->den_ch, full, sizeof full);
    c->normalize = PD_NORMALIZE_NONE;
    c->ae_steps = 30000;
    c->ddpm_steps = 30000;
    c->lr = 1e-3f;
    c->weight_decay = 2e-6f;
    c->ema_decay = 0.9999f;
    c->T = 1000;
}

pd_status pd_pdiff_set_preset(pd_pdiff_config *c, const char *name) {
    if (strcmp(name, "small") != 0 && strcmp(name, "medium") != 0)
        return pd_fail(PD_ERR_ARG, "unknown autoencoder preset '%s' (small, medium)", name);
    pd_ae_config keep = c->ae;
    int had = c->ae_preset[0] != 0;
    pd_ae_preset(&c->ae, name, 0);
    if (had) { /* keep noise and ablation switches chosen before */
        c->ae.in_noise = keep.in_noise;
        c->ae.lat_noise = keep.lat_noise;
        c->ae.additive_noise = keep.additive_noise;
        c->ae.norm = keep.norm;
        c->ae.groups = keep.groups;
        c->ae.fc = keep.fc;
        c->ae.vae = keep.vae;
        c->ae.kl_weight = keep.kl_weight;
    }
    snprintf(c->ae_preset, sizeof c->ae_preset, "%s", name);
    return PD_OK;
}

/* ---- config JSON ------------------------------------------------------- */
static const char *const norm_names[] = {"instance", "batch", "group", "none"};

static void add_sizes(cJSON *o, const char *key, const size_t *v, int n) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
}

char *pd_pdiff_config_json(const pd_pdiff_config *c, size_t D) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "format", "pdiff-model");
    cJSON_AddStringToObject(r, "version", PDIFF_VERSION);
    cJSON_AddNumberToObject(r, "D", (double)D);
    cJSON_AddStringToObject(r, "normalize", pd_normalize_name(c->normalize));
    cJSON *ae = cJSON_AddObjectToObject(r, "autoencoder");
    cJSON_AddStringToObject(ae, "preset", c->ae_preset);
    cJSON_AddNumberToObject(ae, "fold", c->ae.fold);
    cJSON_AddNumberToObject(ae, "kernel", c->ae.k);
    add_sizes(ae, "enc", c->ae.enc, 4);
    add_sizes(ae, "dec", c->ae.dec, 4);
    cJSON_AddNumberToObject(ae, "in_noise", c->ae.in_noise);
    cJSON_AddNumberToObject(ae, "latent_noise", c->ae.lat_noise);
    cJSON_AddBoolToObject(ae, "additive_noise", c->ae.additive_noise);
    cJSON_AddStringToObject(ae, "norm", norm_names[c->ae.norm]);
    cJSON_AddNumberToObject(ae, "groups", (double)c->ae.groups);
    cJSON_AddBoolToObject(ae, "fc", c->ae.fc);
    cJSON_AddBoolToObject(ae, "vae", c->ae.vae);
    cJSON_AddNumberToObject(ae, "kl_weight", c->ae.kl_weight);
    cJSON *dn = cJSON_AddObjectToObject(r, "denoiser");
    add_sizes(dn, "channels", c->den_ch, 4);
    cJSON *df = cJSON_AddObjectToObject(r, "diffusion");
    cJSON_AddNumberToObject(df, "T", (double)c->T);
    cJSON_AddNumberToObject(df, "beta_start", c->beta0);
    cJSON_AddNumberToObject(df, "beta_end", c->beta1);
    cJSON *tr = cJSON_AddObjectToObject(r, "training");
    cJSON_AddNumberToObject(tr, "ae_steps", (double)c->ae_steps);
    cJSON_AddNumberToObject(tr, "ddpm_steps", (double)c->ddpm_steps);
    cJSON_AddNumberToObject(tr, "lr", c->lr);
    cJSON_AddNumberToObject(tr, "weight_decay", c->weight_decay);
    cJSON_AddNumberToObject(tr, "ema_decay", c->ema_decay);
    cJSON_AddNumberToObject(tr, "ckpt_every", (double)c->ckpt_every);
    cJSON_AddNumberToObject(tr, "log_every", (double)c->log_every);
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    cJSON_AddStringToObject(tr, "seed", seed);
    char *text = cJSON_Print(r);
    cJSON_Delete(r);
    return text;
}

static int num(const cJSON *o, const char *k, double lo, double hi, double *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(x) || !(x->valuedouble >= lo && x->valuedouble <= hi)) return 0;
    *out = x->valuedouble;
    return 1;
}

static int sizes(const cJSON *o, const char *k, size_t *v, int n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return 0;
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(x) || !(x->valuedouble >= 1 && x->valuedouble <= 65536)) return 0;
        v[i] = (size_t)x->valuedouble;
    }
    return 1;
}

pd_status pd_pdiff_config_parse(const char *text, const char *label,
                                pd_pdiff_config *c, size_t *D) {
    pd_pdiff_defaults(c);
    cJSON *r = cJSON_Parse(text);
    pd_status st = PD_OK;
    double v[16];
    const cJSON *ae = cJSON_GetObjectItemCaseSensitive(r, "autoencoder");
    const cJSON *dn = cJSON_GetObjectItemCaseSensitive(r, "denoiser");
    const cJSON *df = cJSON_GetObjectItemCaseSensitive(r, "diffusion");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(r, "training");
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(ae, "norm");
    const cJSON *preset = cJSON_GetObjectItemCaseSensitive(ae, "preset");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(tr, "seed");
    if (!cJSON_IsObject(r) || !cJSON_IsObject(ae) || !cJSON_IsObject(dn) ||
        !cJSON_IsObject(df) || !cJSON_IsObject(tr) || !cJSON_IsString(norm) ||
        !cJSON_IsString(preset) || !cJSON_IsString(seed)) {
        st = pd_fail(PD_ERR_FORMAT, "%s: not a pdiff model config", label);
        goto done;
    }
    if (!num(r, "D", 1, 1e9, &v[0]) || !num(ae, "fold", 2, 64, &v[1]) ||
        !num(ae, "kernel", 1, 64, &v[2]) || !sizes(ae, "enc", c->ae.enc, 4) ||
        !sizes(ae, "dec", c->ae.dec, 4) || !num(ae, "in_noise", 0, 10, &v[3]) ||
        !num(ae, "latent_noise", 0, 10, &v[4]) || !num(ae, "groups", 0, 4096, &v[5]) ||
        !num(ae, "kl_weight", 0, 1e6, &v[6]) || !sizes(dn, "channels", c->den_ch, 4) ||
        !num(df, "T", 1, 1e6, &v[7]) || !num(df, "beta_start", 0, 1, &v[8]) ||
        !num(df, "beta_end", 0, 1, &v[9]) || !num(tr, "ae_steps", 0, 1e9, &v[10]) ||
        !num(tr, "ddpm_steps", 0, 1e9, &v[11]) || !num(tr, "lr", 0, 10, &v[12]) ||
        !num(tr, "weight_decay", 0, 10, &v[13]) || !num(tr, "ema_decay", 0, 1, &v[14]) ||
        !num(tr, "ckpt_every", 1, 1e9, &v[15])) {
        st = pd_fail(PD_ERR_FORMAT, "%s: a field is missing or out of range", label);
        goto done;
    }
    /* model directories from before normalization existed trained on raw values */
    const cJSON *nz = cJSON_GetObjectItemCaseSensitive(r, "normalize");
    int nk = nz ? pd_normalize_parse(cJSON_IsString(nz) ? nz->valuestring : NULL)
                : PD_NORMALIZE_NONE;
    if (nk < 0) {
        st = pd_fail(PD_ERR_FORMAT, "%s: \"normalize\" must be none, tensor or dim", label);
        goto done;
    }
    c->normalize = (pd_normalize_kind)nk;
    snprintf(c->ae_preset, sizeof c->ae_preset, "%s", preset->valuestring);
    *D = (size_t)v[0];
    c->ae.D = *D;
    c->ae.fold = (int)v[1];
    c->ae.k = (int)v[2];
    c->ae.in_noise = (float)v[3];
    c->ae.lat_noise = (float)v[4];
    c->ae.groups = (size_t)v[5];
    c->ae.kl_weight = (float)v[6];
    c->ae.additive_noise = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ae, "additive_noise"));
    c->ae.fc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ae, "fc"));
    c->ae.vae = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ae, "vae"));
    c->ae.norm = PD_NORM_INSTANCE;
    for (int i = 0; i < 4; i++)
        if (!strcmp(norm->valuestring, norm_names[i])) c->ae.norm = (pd_norm_kind)i;
    c->T = (size_t)v[7];
    c->beta0 = v[8];
    c->beta1 = v[9];
    c->ae_steps = (long)v[10];
    c->ddpm_steps = (long)v[11];
    c->lr = (float)v[12];
    c->weight_decay = (float)v[13];
    c->ema_decay = (float)v[14];
    c->ckpt_every = (long)v[15];
    if (num(tr, "log_every", 1, 1e9, &v[0])) c->log_every = (long)v[0];
    c->seed = strtoull(seed->valuestring, NULL, 10);
done:
    cJSON_Delete(r);
    return st;
}

/* ---- training state files ---------------------------------------------- */
typedef struct {
    pd_params *p;
    float *ema;        /* may be NULL */
    pd_rng *rng;
    long step;
    double run;          /* loss sum and count since the last log line */
    long nrun;
    long long log_bytes; /* size of train_log.jsonl when the state was saved */
} train_state;

static pd_status save_state(const char *path, const train_state *s) {
    pd_st_tensor t[4];
    const char *names[4] = {"params", "m", "v", "ema"};
    float *bufs[4] = {s->p->data, s->p->m, s->p->v, s->ema};
    size_t n = s->ema ? 4 : 3;
    for (size_t i = 0; i < n; i++) {
        memset(&t[i], 0, sizeof t[i]);
        snprintf(t[i].name, sizeof t[i].name, "%s", names[i]);
        t[i].ndim = 1;
        t[i].shape[0] = t[i].numel = s->p->total;
        t[i].data = bufs[i];
    }
    char step[32], rng[4][32], spare[48], run[48], nrun[32], logb[32];
    snprintf(step, sizeof step, "%ld", s->step);
    snprintf(run, sizeof run, "%a", s->run);
    snprintf(nrun, sizeof nrun, "%ld", s->nrun);
    snprintf(logb, sizeof logb, "%lld", s->log_bytes);
    for (int i = 0; i < 4; i++) snprintf(rng[i], sizeof rng[i], "%" PRIu64, s->rng->s[i]);
    snprintf(spare, sizeof spare, "%d %a", s->rng->has_spare, (double)s->rng->spare);
    const char *keys[] = {"step", "rng0", "rng1", "rng2", "rng3", "spare",
                          "log_sum", "log_n", "log_bytes"};
    const char *vals[] = {step, rng[0], rng[1], rng[2], rng[3], spare, run, nrun, logb};
    return pd_st_write(path, t, n, keys, vals, 9);
}

/* 1 when a matching state was loaded, 0 when there is none */
static int load_state(const char *path, train_state *s) {
    if (!pd_file_exists(path)) return 0;
    pd_st_file f;
    if (pd_st_read(path, &f)) return 0;
    const char *names[4] = {"params", "m", "v", "ema"};
    float *bufs[4] = {s->p->data, s->p->m, s->p->v, s->ema};
    int ok = 1;
    for (int i = 0; i < (s->ema ? 4 : 3) && ok; i++) {
        const pd_st_tensor *t = pd_st_find(&f, names[i]);
        ok = t && t->numel == s->p->total;
        if (ok) memcpy(bufs[i], t->data, t->numel * sizeof(float));
    }
    const char *step = pd_st_meta(&f, "step"), *spare = pd_st_meta(&f, "spare");
    const char *r[4] = {pd_st_meta(&f, "rng0"), pd_st_meta(&f, "rng1"),
                        pd_st_meta(&f, "rng2"), pd_st_meta(&f, "rng3")};
    ok = ok && step && spare && r[0] && r[1] && r[2] && r[3];
    if (ok) {
        s->step = atol(step);
        for (int i = 0; i < 4; i++) s->rng->s[i] = strtoull(r[i], NULL, 10);
        double sp = 0;
        ok = sscanf(spare, "%d %la", &s->rng->has_spare, &sp) == 2;
        s->rng->spare = (float)sp;
        /* the partial log average (absent in older state files: 0) */
        const char *run = pd_st_meta(&f, "log_sum"), *nrun = pd_st_meta(&f, "log_n");
        s->run = run ? strtod(run, NULL) : 0.0;
        s->nrun = nrun ? atol(nrun) : 0;
    }
    pd_st_free(&f);
    return ok;
}

/* train_log.jsonl's size as a state file recorded it; -1 when unknown */
static long long state_log_bytes(const char *path) {
    pd_st_file f;
    if (!pd_file_exists(path) || pd_st_read(path, &f)) return -1;
    const char *v = pd_st_meta(&f, "log_bytes");
    long long n = v ? atoll(v) : -1;
    pd_st_free(&f);
    return n;
}

static long long log_size(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/train_log.jsonl", dir);
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* A run killed between appending log lines and renaming its state file
 * leaves lines the resumed run writes again: cut the log back to the size
 * the newest state file recorded (no state: an empty log). */
static pd_status trim_log(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/den_state.safetensors", dir);
    long long keep = state_log_bytes(path);
    if (keep < 0) {
        snprintf(path, sizeof path, "%s/ae_state.safetensors", dir);
        keep = state_log_bytes(path);
    }
    if (keep < 0) keep = 0;
    if (log_size(dir) <= keep) return PD_OK;
    snprintf(path, sizeof path, "%s/train_log.jsonl", dir);
    if (truncate(path, (off_t)keep) != 0)
        return pd_fail(PD_ERR_IO, "%s: cannot truncate to %lld bytes", path, keep);
    return PD_OK;
}

/* append buffered log lines to model_dir/train_log.jsonl */
static pd_status flush_log(const char *dir, char *buf, size_t *len) {
    if (*len == 0) return PD_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/train_log.jsonl", dir);
    FILE *f = fopen(path, "ab");
    if (!f) return pd_fail(PD_ERR_IO, "%s: cannot open for appending", path);
    int bad = fwrite(buf, 1, *len, f) != *len;
    bad |= fclose(f) != 0;
    if (bad) return pd_fail(PD_ERR_IO, "%s: write failed (disk full?)", path);
    *len = 0;
    return PD_OK;
}

#define LOG_CAP (1 << 20)

typedef struct {
    const pd_pdiff_config *c;
    const char *dir;
    const pd_progress *progress;
    char *log;
    size_t loglen;
} trainer;

static void log_line(trainer *tr, const char *stage, long step, double loss) {
    if (tr->loglen + 128 > LOG_CAP) flush_log(tr->dir, tr->log, &tr->loglen);
    tr->loglen += (size_t)snprintf(tr->log + tr->loglen, LOG_CAP - tr->loglen,
                                   "{\"stage\":\"%s\",\"step\":%ld,\"loss\":%.8g}\n", stage,
                                   step, loss);
}

typedef pd_status (*step_fn)(void *ctx, long t, double *loss);

/* the loop both phases share: steps, logging, checkpoints, progress */
static pd_status run_phase(trainer *tr, const char *stage, long total, train_state *s,
                           const char *state_path, step_fn fn, void *ctx) {
    if (load_state(state_path, s) && s->step > total) s->step = total;
    char info[64];
    while (s->step < total) {
        double loss;
        pd_status st = fn(ctx, s->step + 1, &loss);
        if (st == PD_ERR_NAN && pd_file_exists(state_path))
            return pd_fail(st, "%s: loss is not finite at step %ld; the last good checkpoint "
                               "(%s) is kept", stage, s->step + 1, state_path);
        if (st == PD_ERR_NAN)
            return pd_fail(st, "%s: loss is not finite at step %ld, before the first "
                               "checkpoint (step %ld); try a lower --model-lr",
                           stage, s->step + 1,
                           tr->c->ckpt_every < total ? tr->c->ckpt_every : total);
        if (st) return st;
        s->step++;
        s->run += loss;
        s->nrun++;
        if (s->step % tr->c->log_every == 0 || s->step == total) {
            log_line(tr, stage, s->step, s->run / (double)s->nrun);
            snprintf(info, sizeof info, "loss %.3e", s->run / (double)s->nrun);
            pd_report(tr->progress, stage, s->step, total, info);
            s->run = 0;
            s->nrun = 0;
        }
        if (s->step % tr->c->ckpt_every == 0 || s->step == total) {
            if ((st = flush_log(tr->dir, tr->log, &tr->loglen))) return st;
            s->log_bytes = log_size(tr->dir);
            if ((st = save_state(state_path, s))) return st;
        }
    }
    return PD_OK;
}

typedef struct {
    pd_ae *ae;
    pd_graph *g;
    const float *V;
    size_t K;
    pd_rng *rng;
    pd_adamw opt;
} ae_ctx;

static pd_status ae_step(void *vctx, long t, double *loss) {
    ae_ctx *c = vctx;
    return pd_ae_train_step(c->ae, c->g, c->V, c->K, c->rng, &c->opt, t, loss);
}

typedef struct {
    pd_den *den;
    pd_diffusion *df;
    pd_graph *g;
    const float *Z;
    size_t K;
    pd_rng *rng;
    pd_adamw opt;
    float *ema;
    float decay;
} den_ctx;

static pd_status den_step(void *vctx, long t, double *loss) {
    den_ctx *c = vctx;
    return pd_ddpm_train_step(c->den, c->df, c->g, c->Z, c->K, c->rng, &c->opt, t, c->ema,
                              c->decay, loss);
}


/* the decoded noise-free latents of the training vectors, where
 * `pdiff eval --generated MODEL/reconstructed` measures the autoencoder */
static pd_status save_reconstruction(pd_ae *ae, pd_graph *g, const float *Z, size_t K,
                                     size_t D, const pd_normalizer *nz, const float *V,
                                     uint64_t seed, const char *dir, const pd_progress *p) {
    char path[4096];
    snprintf(path, sizeof path, "%s/reconstructed", dir);
    pd_status st = pd_mkdir_p(path);
    if (!st) pd_atomic_sweep(path);
    float *R = malloc(K * D * sizeof(float));
    if (!st && !R) st = pd_fail(PD_ERR_NOMEM, "out of memory");
    if (!st) st = pd_ae_decode_all(ae, g, Z, K, R);
    if (!st) {
        pd_normalizer_invert(nz, R, K);
        snprintf(path, sizeof path, "%s/reconstructed/generated.safetensors", dir);
        st = pd_save_matrix(path, "vectors", R, K, D);
    }
    pd_ae_diag diag;
    if (!st) st = pd_ae_diagnose(V, R, K, D, seed, &diag);
    char *json = st ? NULL : pd_ae_diag_json(&diag);
    if (!st && !json) st = pd_fail(PD_ERR_NOMEM, "out of memory");
    if (!st) {
        snprintf(path, sizeof path, "%s/autoencoder.json", dir);
        st = pd_write_file_atomic(path, json, strlen(json));
    }
    if (!st) { /* before the DDPM phase, so a failing autoencoder shows early */
        char info[96];
        snprintf(info, sizeof info, "recon ratio %.3f, deviation correlation %.3f%s",
                 diag.recon_ratio, diag.dev_corr,
                 diag.recon_ratio > 1 ? " (does not resolve the checkpoints)" : "");
        pd_report(p, "autoencoder check", 1, 1, info);
    }
    free(json);
    free(R);
    return st;
}

pd_status pd_pdiff_train(const pd_pdiff_config *c, const float *V, size_t K, size_t D,
                         const size_t *tensor_sizes, size_t ntensors, const char *dir,
                         const pd_progress *p) {
    pd_status st = pd_mkdir_p(dir);
    if (st) return st;
    pd_atomic_sweep(dir); /* temp files of a killed run */
    char path[4096], state[4096];
    /* a model directory trains one configuration: refuse a different one */
    char *json = pd_pdiff_config_json(c, D);
    if (!json) return pd_fail(PD_ERR_NOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (pd_file_exists(path)) {
        uint8_t *old = NULL;
        size_t len = 0;
        st = pd_read_file(path, 1 << 20, &old, &len);
        int same = !st && len == strlen(json) && memcmp(old, json, len) == 0;
        free(old);
        if (!same) {
            free(json);
            return st ? st : pd_fail(PD_ERR_ARG, "%s: this directory holds a model trained with "
                                                 "other settings; use a new --out", path);
        }
    } else {
        st = pd_write_file_atomic(path, json, strlen(json));
    }
    free(json);
    if (!st) st = trim_log(dir);
    if (st) return st;

    trainer tr = {c, dir, p, malloc(LOG_CAP), 0};
    pd_ae ae = {0};
    pd_den den = {0};
    pd_diffusion df = {0};
    pd_graph *g = pd_graph_new();
    float *Z = NULL, *ema = NULL, *Vn = malloc(K * D * sizeof(float) + 1);
    pd_normalizer nz = {0};
    if (!tr.log || !g || !Vn) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* the autoencoder sees normalized vectors (fit on V, refit identically
     * on resume) */
    if ((st = pd_normalizer_fit(&nz, c->normalize, V, K, D, tensor_sizes, ntensors))) goto done;
    snprintf(path, sizeof path, "%s/norm.safetensors", dir);
    if ((st = pd_normalizer_save(&nz, path))) goto done;
    memcpy(Vn, V, K * D * sizeof(float));
    pd_normalizer_apply(&nz, Vn, K);
    pd_ae_config ac = c->ae;
    ac.D = D;
    if ((st = pd_ae_create(&ae, &ac))) goto done;
    pd_rng rng;
    pd_rng_seed(&rng, c->seed, 10);
    pd_ae_init(&ae, &rng);
    if ((st = pd_params_alloc_state(&ae.params))) goto done;
    /* phase 1: autoencoder */
    snprintf(state, sizeof state, "%s/ae_state.safetensors", dir);
    train_state ts = {&ae.params, NULL, &rng, 0, 0.0, 0, 0};
    ae_ctx actx = {&ae, g, Vn, K, &rng, {c->lr, 0.9f, 0.999f, 1e-8f, c->weight_decay}};
    if ((st = run_phase(&tr, "autoencoder", c->ae_steps, &ts, state, ae_step, &actx))) goto done;
    snprintf(path, sizeof path, "%s/ae.safetensors", dir);
    if ((st = pd_params_save(&ae.params, path, NULL, NULL, 0))) goto done;

    /* noise-free latents for the DDPM */
    size_t L = ae.latent_c * ae.latent_l;
    Z = malloc(K * L * sizeof(float));
    if (!Z) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = pd_ae_encode_all(&ae, g, Vn, K, Z))) goto done;
    snprintf(path, sizeof path, "%s/latents.safetensors", dir);
    if ((st = pd_save_matrix(path, "latents", Z, K, L))) goto done;
    if ((st = save_reconstruction(&ae, g, Z, K, D, &nz, V, c->seed, dir, p))) goto done;

    /* phase 2: latent DDPM */
    pd_den_config dc = {L, c->T, {c->den_ch[0], c->den_ch[1], c->den_ch[2], c->den_ch[3]}};
    if ((st = pd_den_create(&den, &dc))) goto done;
    if ((st = pd_diffusion_init(&df, c->T, c->beta0, c->beta1))) goto done;
    pd_rng_seed(&rng, c->seed, 11);
    pd_den_init(&den, &rng);
    if ((st = pd_params_alloc_state(&den.params))) goto done;
    ema = pd_alloc(den.params.total * sizeof(float));
    if (!ema) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(ema, den.params.data, den.params.total * sizeof(float));
    snprintf(state, sizeof state, "%s/den_state.safetensors", dir);
    train_state ds = {&den.params, ema, &rng, 0, 0.0, 0, 0};
    den_ctx dctx = {&den, &df, g, Z, K, &rng, {c->lr, 0.9f, 0.999f, 1e-8f, c->weight_decay},
                    ema, c->ema_decay};
    if ((st = run_phase(&tr, "ddpm", c->ddpm_steps, &ds, state, den_step, &dctx))) goto done;
    snprintf(path, sizeof path, "%s/den.safetensors", dir);
    if ((st = pd_params_save(&den.params, path, NULL, NULL, 0))) goto done;
    memcpy(den.params.data, ema, den.params.total * sizeof(float));
    snprintf(path, sizeof path, "%s/den_ema.safetensors", dir);
    st = pd_params_save(&den.params, path, NULL, NULL, 0);
done:
    if (!st) st = flush_log(dir, tr.log, &tr.loglen);
    free(tr.log);
    free(Z);
    free(Vn);
    pd_normalizer_free(&nz);
    pd_free(ema);
    pd_ae_free(&ae);
    pd_den_free(&den);
    pd_diffusion_free(&df);
    pd_graph_free(g);
    return st;
}

pd_status pd_pdiff_load(const char *dir, pd_pdiff_model *m) {
    memset(m, 0, sizeof *m);
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
    st = pd_pdiff_config_parse(z, path, &m->cfg, &m->D);
    free(z);
    if (st) return st;
    pd_ae_config ac = m->cfg.ae;
    ac.D = m->D;
    if ((st = pd_ae_create(&m->ae, &ac))) return st;
    snprintf(path, sizeof path, "%s/norm.safetensors", dir);
    if (pd_file_exists(path) || m->cfg.normalize != PD_NORMALIZE_NONE)
        st = pd_normalizer_load(&m->norm, path, m->D);
    else
        st = pd_normalizer_fit(&m->norm, PD_NORMALIZE_NONE, NULL, 0, m->D, NULL, 0);
    if (st) return st;
    if (m->norm.kind != m->cfg.normalize)
        return pd_fail(PD_ERR_FORMAT, "%s: normalization '%s' but config.json says '%s'", path,
                       pd_normalize_name(m->norm.kind), pd_normalize_name(m->cfg.normalize));
    snprintf(path, sizeof path, "%s/ae.safetensors", dir);
    if ((st = pd_params_load(&m->ae.params, path, 0))) return st;
    pd_den_config dc = {m->ae.latent_c * m->ae.latent_l, m->cfg.T,
                        {m->cfg.den_ch[0], m->cfg.den_ch[1], m->cfg.den_ch[2], m->cfg.den_ch[3]}};
    if ((st = pd_den_create(&m->den, &dc))) return st;
    snprintf(path, sizeof path, "%s/den_ema.safetensors", dir);
    if ((st = pd_params_load(&m->den.params, path, 0))) return st;
    m->ema = pd_alloc(m->den.params.total * sizeof(float));
    if (!m->ema) return pd_fail(PD_ERR_NOMEM, "out of memory");
    memcpy(m->ema, m->den.params.data, m->den.params.total * sizeof(float));
    snprintf(path, sizeof path, "%s/den.safetensors", dir);
    if ((st = pd_params_load(&m->den.params, path, 0))) return st;
    return pd_diffusion_init(&m->df, m->cfg.T, m->cfg.beta0, m->cfg.beta1);
}

void pd_pdiff_free(pd_pdiff_model *m) {
    pd_ae_free(&m->ae);
    pd_den_free(&m->den);
    pd_free(m->ema);
    pd_diffusion_free(&m->df);
    pd_normalizer_free(&m->norm);
    memset(m, 0, sizeof *m);
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

pd_status pd_pdiff_sample(pd_pdiff_model *m, size_t N, int ddim, size_t steps,
                          float eta, int use_ema, uint64_t seed, float *out,
                          const pd_progress *p) {
    const size_t batch = 200;
    size_t L = m->ae.latent_c * m->ae.latent_l;
    pd_graph *g = pd_graph_new();
    float *z = malloc(batch * L * sizeof(float));
    pd_status st = PD_OK;
    if (!g || !z) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto done;
    }
    pd_rng rng;
    pd_rng_seed(&rng, seed, 20);
    long per = ddim ? (long)steps : (long)m->cfg.T;
    long nb = (long)((N + batch - 1) / batch);
    for (size_t b0 = 0; b0 < N && !st; b0 += batch) {
        size_t n = N - b0 < batch ? N - b0 : batch;
        sample_progress sp = {p, (long)(b0 / batch) * per, nb * per};
        const float *w = use_ema ? m->ema : NULL;
        st = ddim ? pd_ddim_sample(&m->den, w, &m->df, g, n, steps, eta, &rng, z, on_sample, &sp)
                  : pd_ddpm_sample(&m->den, w, &m->df, g, n, &rng, z, on_sample, &sp);
        if (!st) st = pd_ae_decode_all(&m->ae, g, z, n, out + b0 * m->D);
        if (!st) pd_normalizer_invert(&m->norm, out + b0 * m->D, n);
    }
done:
    free(z);
    pd_graph_free(g);
    return st;
}

pd_status pd_pdiff_reconstruct(pd_pdiff_model *m, const char *model_dir, float **V,
                               size_t *K) {
    char path[4096];
    snprintf(path, sizeof path, "%s/latents.safetensors", model_dir);
    pd_st_file f;
    pd_status st = pd_st_read(path, &f);
    if (st) return st;
    size_t L = m->ae.latent_c * m->ae.latent_l;
    const pd_st_tensor *z = pd_st_find(&f, "latents");
    if (!z || z->ndim != 2 || z->shape[1] != L) {
        pd_st_free(&f);
        return pd_fail(PD_ERR_SHAPE, "%s: expected tensor 'latents' of shape (K, %zu)", path, L);
    }
    *K = z->shape[0];
    *V = malloc(*K * m->D * sizeof(float) + 1);
    pd_graph *g = pd_graph_new();
    if (!*V || !g) st = pd_fail(PD_ERR_NOMEM, "out of memory");
    if (!st) st = pd_ae_decode_all(&m->ae, g, z->data, *K, *V);
    if (!st) pd_normalizer_invert(&m->norm, *V, *K);
    pd_graph_free(g);
    pd_st_free(&f);
    if (st) {
        free(*V);
        *V = NULL;
    }
    return st;
}
