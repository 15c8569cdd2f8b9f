/*
 * trainer.c — pd_model_train (pdiff.h): normalization fit on V, then the
 * autoencoder, the noise-free latents and the autoencoder's diagnostics,
 * then the latent DDPM with an EMA of the denoiser. Each phase is one loop
 * (run_phase); with cfg.state_dir it writes a state file every ckpt_every
 * steps and resumes from it (train_state.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdiff_io.h"
#include "pdiff.h"
#include "model/model.h"
#include "model/train_state.h"
#include "model/thread_split.h"

typedef struct {
    const pd_model_config *c;
    const pd_progress *progress;
    pd_train_log log;
    int writer; /* writes the state directory (rank 0 of data-parallel) */
} trainer;

typedef pd_status (*step_fn)(void *ctx, long t, double *loss);

/* the loop both phases share: steps, logging, state files, progress.
 * state_path NULL: in memory */
static pd_status run_phase(trainer *tr, const char *stage, long total, pd_train_state *s,
                           const char *state_path, step_fn fn, void *ctx) {
    pd_status st = PD_OK;
    int found = 0;
    if (state_path && (st = pd_train_state_load(state_path, s, &found))) return st;
    if (found && s->step > total) s->step = total;
    char info[64];
    while (s->step < total) {
        double loss;
        st = fn(ctx, s->step + 1, &loss);
        if (st == PD_ERR_NAN && state_path && pd_file_exists(state_path))
            return pd_fail(st, "%s: loss is not finite at step %ld; the last good checkpoint "
                               "(%s) is kept", stage, s->step + 1, state_path);
        if (st == PD_ERR_NAN)
            return pd_fail(st, "%s: loss is not finite at step %ld%s; try a lower learning "
                               "rate (--model-lr)", stage, s->step + 1,
                           state_path ? ", before the first checkpoint" : "");
        if (st) return st;
        s->step++;
        s->run += loss;
        s->nrun++;
        if (s->step % tr->c->log_every == 0 || s->step == total) {
            if ((st = pd_train_log_line(&tr->log, stage, s->step, s->run / (double)s->nrun)))
                return st;
            snprintf(info, sizeof info, "loss %.3e", s->run / (double)s->nrun);
            pd_report(tr->progress, stage, s->step, total, info);
            s->run = 0;
            s->nrun = 0;
        }
        if (state_path && tr->writer &&
            (s->step % tr->c->ckpt_every == 0 || s->step == total)) {
            if ((st = pd_train_log_flush(&tr->log))) return st;
            s->log_bytes = (long long)tr->log.len;
            if ((st = pd_train_state_save(state_path, s))) return st;
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
    pd_batch_split split;
} ae_ctx;

static pd_status ae_step(void *vctx, long t, double *loss) {
    ae_ctx *c = vctx;
    return pd_ae_train_step_split(c->ae, c->g, c->V, c->K, &c->split, c->rng, &c->opt, t, loss);
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
    pd_batch_split split;
} den_ctx;

static pd_status den_step(void *vctx, long t, double *loss) {
    den_ctx *c = vctx;
    return pd_ddpm_train_step_split(c->den, c->df, c->g, c->Z, c->K, &c->split, c->rng,
                                    &c->opt, t, c->ema, c->decay, loss);
}

/* how well the autoencoder alone encodes V: decode the noise-free latents
 * and compare (ae_diag.c); reported before the DDPM phase, so a failing
 * autoencoder shows early */
static pd_status diagnose(pd_model *m, pd_graph *g, const float *V, const pd_progress *p) {
    float *R = malloc(m->K * m->D * sizeof(float) + 1);
    if (!R) return pd_fail(PD_ERR_NOMEM, "out of memory");
    pd_status st = pd_ae_decode_all(&m->ae, g, m->latents, m->K, R);
    if (!st) {
        pd_normalizer_invert(&m->norm, R, m->K);
        st = pd_ae_diagnose(V, R, m->K, m->D, m->cfg.seed, &m->diag);
    }
    if (!st) {
        m->has_diag = 1;
        char info[96];
        snprintf(info, sizeof info, "recon ratio %.3f, deviation correlation %.3f%s",
                 m->diag.recon_ratio, m->diag.dev_corr,
                 m->diag.recon_ratio > 1 ? " (does not resolve the checkpoints)" : "");
        pd_report(p, "autoencoder check", 1, 1, info);
    }
    free(R);
    return st;
}

/* a state directory trains one configuration: refuse a different one */
static pd_status claim_state_dir(const pd_model_config *c, size_t D, int writer) {
    const char *dir = c->state_dir;
    pd_status st = writer ? pd_mkdir_p(dir) : PD_OK;
    if (st) return st;
    if (writer) pd_atomic_sweep(dir); /* temp files of a killed run */
    char path[4096];
    char *json = pd_model_config_json(c, D);
    if (!json) return pd_fail(PD_ERR_NOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (pd_file_exists(path)) {
        uint8_t *old = NULL;
        size_t len = 0;
        st = pd_read_file(path, 1 << 20, &old, &len);
        int same = !st && len == strlen(json) && memcmp(old, json, len) == 0;
        free(old);
        if (!st && !same)
            st = pd_fail(PD_ERR_ARG, "%s: this directory holds a model trained with other "
                                     "settings; use a new --out", path);
    } else if (writer) {
        st = pd_write_file_atomic(path, json, strlen(json));
    }
    free(json);
    return st;
}

/* one rank's training (all of it without data parallelism) */
static pd_status train_rank(const pd_model_config *c, const float *V, size_t K, size_t D,
                            const pd_progress *progress, pd_model **out) {
    *out = NULL;
    pd_status st = PD_OK;
    const pd_data_parallel *dp = c->parallel;
    const int writer = !dp || dp->rank == 0;
    const char *sdir = c->state_dir;
    if (sdir && (st = claim_state_dir(c, D, writer))) return st;
    pd_model *m = NULL;
    if ((st = pd_model_create(c, D, &m))) return st;
    trainer tr = {&m->cfg, progress, {0}, writer};
    pd_graph *g = pd_graph_new();
    float *Vn = malloc(K * D * sizeof(float) + 1);
    if (!g || !Vn) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto done;
    }
    pd_g_set_math(g, c->precision == PD_PRECISION_BF16 ? PD_MATH_BF16 : PD_MATH_F32);
    /* the log file is the writer's; the other processes keep theirs in memory */
    if ((st = pd_train_log_open(&tr.log, writer ? sdir : NULL))) goto done;
    /* the autoencoder sees normalized vectors (fit on V, refit identically
     * on resume) */
    if ((st = pd_normalizer_fit(&m->norm, c->normalize, V, K, D, c->tensor_sizes, c->ntensors)))
        goto done;
    memcpy(Vn, V, K * D * sizeof(float));
    pd_normalizer_apply(&m->norm, Vn, K);
    char state[4096];
    pd_rng rng;
    pd_rng_seed(&rng, c->seed, 10);
    pd_ae_init(&m->ae, &rng);
    if ((st = pd_params_alloc_state(&m->ae.params))) goto done;

    /* phase 1: autoencoder */
    if (sdir) snprintf(state, sizeof state, "%s/ae_state.safetensors", sdir);
    pd_train_state ts = {&m->ae.params, NULL, &rng, 0, 0.0, 0, 0};
    ae_ctx actx = {&m->ae, g, Vn, K, &rng, {c->lr, 0.9f, 0.999f, 1e-8f, c->weight_decay},
                   pd_batch_split_of(dp, K)};
    if ((st = run_phase(&tr, "autoencoder", c->ae_steps, &ts, sdir ? state : NULL, ae_step,
                        &actx)))
        goto done;

    /* noise-free latents for the DDPM, and the autoencoder check */
    m->K = K;
    m->latents = malloc(K * pd_model_latent_dim(m) * sizeof(float));
    if (!m->latents) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = pd_ae_encode_all(&m->ae, g, Vn, K, m->latents))) goto done;
    if ((st = diagnose(m, g, V, progress))) goto done;

    /* phase 2: latent DDPM */
    pd_rng_seed(&rng, c->seed, 11);
    pd_den_init(&m->den, &rng);
    if ((st = pd_params_alloc_state(&m->den.params))) goto done;
    memcpy(m->ema, m->den.params.data, m->den.params.total * sizeof(float));
    if (sdir) snprintf(state, sizeof state, "%s/den_state.safetensors", sdir);
    pd_train_state ds = {&m->den.params, m->ema, &rng, 0, 0.0, 0, 0};
    den_ctx dctx = {&m->den, &m->df, g, m->latents, K, &rng,
                    {c->lr, 0.9f, 0.999f, 1e-8f, c->weight_decay}, m->ema, c->ema_decay,
                    pd_batch_split_of(dp, K)};
    if ((st = run_phase(&tr, "ddpm", c->ddpm_steps, &ds, sdir ? state : NULL, den_step, &dctx)))
        goto done;
    st = pd_train_log_flush(&tr.log);
done:
    if (!st) { /* the model keeps the log */
        m->log = tr.log.buf;
        m->loglen = tr.log.len;
        tr.log.buf = NULL;
    }
    pd_train_log_free(&tr.log);
    free(Vn);
    pd_graph_free(g);
    if (st) {
        pd_model_free(m);
        return st;
    }
    *out = m;
    return PD_OK;
}

/* threads that split each batch (cfg.batch_threads; 0: one per thread of
 * pd_threads, while every rank keeps a row) */
static int batch_threads(const pd_model_config *c, size_t K) {
    const pd_data_parallel *dp = c->parallel;
    const size_t R = dp && dp->size > 1 ? (size_t)dp->size : 1;
    size_t W = c->batch_threads > 0 ? (size_t)c->batch_threads : (size_t)pd_threads();
    if (c->batch_threads == 0 && c->ae.norm == PD_NORM_BATCH) W = 1; /* asked for: refused */
    if (c->batch_threads == 0 && W * R > K) W = K / R > 0 ? K / R : 1;
    return (int)W;
}

typedef struct {
    const pd_model_config *c;
    const float *V;
    size_t K, D;
    const pd_progress *progress;
    pd_model **models; /* each rank's (the same model) */
} split_job;

static pd_status train_split_rank(const pd_data_parallel *dp, int w, void *ctx) {
    split_job *j = ctx;
    pd_model_config c = *j->c;
    c.parallel = dp;
    return train_rank(&c, j->V, j->K, j->D, dp && dp->rank ? NULL : j->progress,
                      &j->models[w]);
}

pd_status pd_model_train(const pd_model_config *c, const float *V, size_t K, size_t D,
                         const pd_progress *progress, pd_model **out) {
    *out = NULL;
    if (!V || K == 0 || D == 0) return pd_fail(PD_ERR_ARG, "training needs K >= 1 vectors of D >= 1 values");
    pd_status st = pd_model_config_check(c);
    if (st) return st;
    const pd_data_parallel *dp = c->parallel;
    if (dp && (dp->size < 1 || dp->rank < 0 || dp->rank >= dp->size || (dp->size > 1 && !dp->sum)))
        return pd_fail(PD_ERR_ARG, "data-parallel: rank %d of %d (and a sum function) expected",
                       dp->rank, dp->size);
    const int W = batch_threads(c, K);
    const size_t ranks = (size_t)(dp && dp->size > 1 ? dp->size : 1) * (size_t)W;
    if (ranks > 1 && ranks > K)
        return pd_fail(PD_ERR_ARG, "data-parallel: %zu processes x threads for %zu vectors (at "
                                   "most one per vector)", ranks, K);
    if (ranks > 1 && c->ae.norm == PD_NORM_BATCH)
        return pd_fail(PD_ERR_ARG, "data-parallel: the autoencoder's batch norm would see only "
                                   "a part of each batch; use instance, group or no norm");
    if (W <= 1) return train_rank(c, V, K, D, progress, out);
    pd_model **models = calloc((size_t)W, sizeof *models);
    if (!models) return pd_fail(PD_ERR_NOMEM, "out of memory");
    split_job job = {c, V, K, D, progress, models};
    st = pd_thread_split_run(W, dp, train_split_rank, &job);
    for (int w = 1; w < W; w++) pd_model_free(models[w]);
    if (st) pd_model_free(models[0]);
    else *out = models[0];
    free(models);
    return st;
}
