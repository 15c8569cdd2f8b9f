/*
 * cmd_model.c — `pdiff train` and `pdiff generate`: the p-diff model over
 * a directory of checkpoints (from `pdiff collect`, or any directory of
 * safetensors files plus --params).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stages.h"
#include "pdiff_io.h"
#include "pdiff.h"
#include "generate.h"
#include "dist.h"

pd_status load_manifest(const char *dir, const char *patterns, pd_manifest *m) {
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if (pd_file_exists(path)) return pd_manifest_read(dir, m);
    const char *pats[64];
    size_t n = cli_list(patterns, pats, 64);
    return pd_manifest_scan(dir, pats, n, m);
}

int whole_networks(const pd_manifest *m) {
    return !strcmp(m->mode, "full") || !strcmp(m->mode, "seeds") ||
           (!strcmp(m->mode, "external") && m->D > WHOLE_NETWORK_D);
}

/* command-line options of the model and the config keys they set, in the
 * order they apply (a preset before the fold, kernel and channels it sets) */
static const struct {
    const char *opt, *key;
} model_keys[] = {
    {"--normalize", "normalize"}, {"--preset", "preset"}, {"--chunk", "chunk"},
    {"--chunk-code", "chunk_code"}, {"--hidden", "hidden"}, {"--latent", "latent"},
    {"--fold", "fold"},
    {"--kernel", "kernel"}, {"--enc", "enc"}, {"--dec", "dec"},
    {"--den-channels", "den_channels"}, {"--in-noise", "in_noise"},
    {"--latent-noise", "latent_noise"}, {"--norm", "norm"}, {"--kl-weight", "kl_weight"},
    {"-T", "T"}, {"--beta-start", "beta_start"}, {"--beta-end", "beta_end"},
    {"--ae-steps", "ae_steps"}, {"--ddpm-steps", "ddpm_steps"}, {"--model-lr", "lr"},
    {"--weight-decay", "weight_decay"}, {"--ema", "ema_decay"},
    {"--ckpt-every", "ckpt_every"}, {"--seed", "seed"}, {"--precision", "precision"},
    {"--batch-threads", "batch_threads"},
};
static const struct {
    const char *opt, *key;
} model_flags[] = {{"--additive-noise", "additive_noise"}, {"--fc", "fc"}, {"--vae", "vae"}};

int model_from_opts(pd_model_config *c, const cli_opt *opts, int whole) {
    const char *v;
    pd_model_config_default(c, 0);
    /* whole networks get the whole-network autoencoder unless told otherwise */
    if (whole && !cli_get(opts, "--preset")) pd_model_config_set(c, "preset", "whole");
    if ((v = cli_get(opts, "--recipe")) && pd_model_config_recipe(c, v)) {
        fprintf(stderr, "pdiff: --recipe: %s\n", pd_last_error());
        return 2;
    }
    for (size_t i = 0; i < sizeof model_keys / sizeof model_keys[0]; i++)
        if ((v = cli_get(opts, model_keys[i].opt)) && pd_model_config_set(c, model_keys[i].key, v)) {
            fprintf(stderr, "pdiff: %s: %s\n", model_keys[i].opt, pd_last_error());
            return 2;
        }
    for (size_t i = 0; i < sizeof model_flags / sizeof model_flags[0]; i++)
        if (cli_flag(opts, model_flags[i].opt)) pd_model_config_set(c, model_flags[i].key, "1");
    if (pd_model_config_check(c)) {
        fprintf(stderr, "pdiff: %s\n", pd_last_error());
        return 2;
    }
    return 0;
}

/* the decoded noise-free latents of the training vectors, where
 * `pdiff eval --generated MODEL/reconstructed` measures the autoencoder */
static pd_status save_reconstruction(const pd_model *pm, const char *model_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/reconstructed", model_dir);
    pd_status st = pd_mkdir_p(path);
    if (!st) pd_atomic_sweep(path);
    size_t K = pd_model_train_count(pm), D = pd_model_dim(pm);
    float *R = malloc(K * D * sizeof(float) + 1);
    if (!st && !R) st = pd_fail(PD_ERR_NOMEM, "out of memory");
    if (!st) st = pd_model_reconstruct(pm, R);
    snprintf(path, sizeof path, "%s/reconstructed/generated.safetensors", model_dir);
    if (!st) st = pd_save_matrix(path, "vectors", R, K, D);
    free(R);
    return st;
}

int train_dir(const char *dir, const char *patterns, size_t K, const pd_model_config *c,
              const char *model_dir) {
    pd_manifest m;
    pd_status st = load_manifest(dir, patterns, &m);
    if (st) return cli_error(st);
    float *V = NULL;
    size_t *sizes = NULL;
    st = pd_manifest_load_vectors(&m, dir, &V);
    if (!st) st = pd_manifest_tensor_sizes(&m, dir, &sizes);
    size_t use = K && K < m.K ? K : m.K;
    pd_progress p = cli_progress();
    pd_model *pm = NULL;
    if (!st) {
        fprintf(stderr, "training on %zu checkpoints, D = %zu, normalized by %s, into %s\n", use,
                m.D, pd_normalize_name(c->normalize), model_dir);
        /* the model directory also holds the resumable training state */
        pd_model_config tc = *c;
        tc.tensor_sizes = sizes;
        tc.ntensors = m.nparams;
        tc.state_dir = model_dir;
        /* under mpirun: each rank its share of every batch (dist.h) */
        tc.parallel = pd_dist_data_parallel();
        st = pd_model_train(&tc, V, use, m.D, &p, &pm);
    }
    /* the ranks hold the same model: rank 0 writes it */
    if (!st && pd_dist_root()) st = save_reconstruction(pm, model_dir);
    if (!st && pd_dist_root()) st = pd_model_save(pm, model_dir);
    pd_ae_diag d;
    if (!st && pd_dist_root() && !pd_model_diagnostics(pm, &d))
        pd_ae_diag_print(&d, "autoencoder", stderr);
    pd_model_free(pm);
    free(V);
    free(sizes);
    pd_manifest_free(&m);
    if (st) return cli_error(st);
    pd_dist_barrier(); /* the model is on disk for every rank */
    return 0;
}


int cmd_train(int argc, char **argv) {
    cli_opt opts[] = {MODEL_OPTIONS,
                      {"--params", "PATTERNS", "subset tensors (only without manifest.json)", NULL},
                      {"-K", "N", "use only the first N checkpoints (ablation)", NULL},
                      {"--out", "DIR", "model directory (default DIR/model)", NULL},
                      {"--seed", "S", "random seed (default 0)", NULL},
                      {0}};
    const char *usage =
        "usage: pdiff train DIR [options]\n\n"
        "Normalizes DIR's checkpoints (--normalize), trains the parameter\n"
        "autoencoder on them, reports how well it resolves them (MODEL/\n"
        "autoencoder.json), then trains the latent DDPM on its noise-free\n"
        "latents. Loss goes to MODEL/train_log.jsonl; an interrupted run\n"
        "resumes from its last checkpoint.";
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, 2, opts, usage, pos, 1, &npos);
    if (rc) return rc == 1 ? 0 : rc;
    if (npos != 1) {
        fprintf(stderr, "pdiff: train needs the checkpoint directory (see --help)\n");
        return 2;
    }
    pd_model_config c;
    pd_manifest m;
    pd_status st = load_manifest(pos[0], cli_get(opts, "--params"), &m);
    if (st) return cli_error(st);
    int whole = whole_networks(&m);
    pd_manifest_free(&m);
    if ((rc = model_from_opts(&c, opts, whole))) return rc;
    char model[4096];
    snprintf(model, sizeof model, "%s/model", pos[0]);
    const char *out = cli_get(opts, "--out") ? cli_get(opts, "--out") : model;
    return train_dir(pos[0], cli_get(opts, "--params"), (size_t)cli_long(opts, "-K", 0), &c, out);
}

/* one batched computation: under mpirun rank 0 samples and writes */
static int generate_on_root(const char *dir, const char *patterns, const char *model_dir,
                            const char *out_dir, size_t N, const pd_sampler *smp,
                            uint64_t seed, int reconstruct);

int generate_dir(const char *dir, const char *patterns, const char *model_dir,
                 const char *out_dir, size_t N, const pd_sampler *smp, uint64_t seed,
                 int reconstruct) {
    int rc = pd_dist_root()
                 ? generate_on_root(dir, patterns, model_dir, out_dir, N, smp, seed, reconstruct)
                 : 0;
    if (rc == 0) pd_dist_barrier(); /* the models are on disk for every rank */
    return rc;
}

static int generate_on_root(const char *dir, const char *patterns, const char *model_dir,
                            const char *out_dir, size_t N, const pd_sampler *smp,
                            uint64_t seed, int reconstruct) {
    pd_manifest m;
    pd_status st = load_manifest(dir, patterns, &m);
    if (st) return cli_error(st);
    pd_model *pm = NULL;
    st = pd_model_load(model_dir, &pm);
    size_t D = st ? 0 : pd_model_dim(pm);
    if (!st && D != m.D)
        st = pd_fail(PD_ERR_SHAPE, "%s: model generates D = %zu but %s has D = %zu", model_dir,
                     D, dir, m.D);
    if (!st && smp->ddim && (smp->steps < 1 || smp->steps > pd_model_get_config(pm)->T))
        st = pd_fail(PD_ERR_ARG, "--steps must be between 1 and T = %zu",
                     pd_model_get_config(pm)->T);
    if (!st) st = pd_mkdir_p(out_dir); /* a bad --out fails before minutes of sampling */
    float *V = NULL;
    if (!st && reconstruct) {
        N = pd_model_train_count(pm);
        if (!(V = malloc(N * m.D * sizeof(float) + 1))) st = pd_fail(PD_ERR_NOMEM, "out of memory");
        if (!st) st = pd_model_reconstruct(pm, V);
    } else if (!st) {
        V = malloc(N * m.D * sizeof(float));
        if (!V) st = pd_fail(PD_ERR_NOMEM, "out of memory");
        pd_progress p = cli_progress();
        if (!st) st = pd_model_sample_with(pm, smp, N, seed, &p, V);
    }
    size_t bad = 0;
    if (!st) st = pd_generate_write(&m, dir, out_dir, V, N, &bad);
    if (!st) {
        printf("%s %zu models in %s", reconstruct ? "reconstructed" : "generated", N, out_dir);
        if (bad) printf(" (%zu hold non-finite values and are excluded from statistics)", bad);
        printf("\n");
    }
    free(V);
    pd_model_free(pm);
    pd_manifest_free(&m);
    return st ? cli_error(st) : 0;
}


int sampler_from_opts(const cli_opt *opts, pd_sampler *smp) {
    const char *s = cli_get(opts, "--sampler"), *p = cli_get(opts, "--precision");
    memset(smp, 0, sizeof *smp);
    smp->ddim = s && !strcmp(s, "ddim");
    if (s && !smp->ddim && strcmp(s, "ddpm") != 0) {
        fprintf(stderr, "pdiff: --sampler must be ddpm or ddim, not '%s'\n", s);
        return 2;
    }
    if (p && strcmp(p, "fp32") != 0 && strcmp(p, "bf16") != 0) {
        fprintf(stderr, "pdiff: --precision must be fp32 or bf16, not '%s'\n", p);
        return 2;
    }
    smp->precision = p && !strcmp(p, "bf16") ? PD_PRECISION_BF16 : PD_PRECISION_FP32;
    smp->steps = (size_t)cli_long(opts, "--steps", 50);
    smp->eta = (float)cli_double(opts, "--eta", 0.0);
    smp->raw_denoiser = cli_flag(opts, "--no-ema");
    return 0;
}

int cmd_generate(int argc, char **argv) {
    cli_opt opts[] = {GENERATE_OPTIONS,
                      {"--precision", "P", "fp32 (default) | bf16: the denoiser's and decoder's convolutions in bf16 mixed precision", NULL},
                      {"--model", "DIR", "model directory (default DIR/model)", NULL},
                      {"--params", "PATTERNS", "subset tensors (only without manifest.json)", NULL},
                      {"--out", "DIR", "output directory (default DIR/generated)", NULL},
                      {"--seed", "S", "random seed (default 0)", NULL},
                      {"--reconstruct", NULL, "decode the training latents instead of sampling (autoencoder check)", NULL},
                      {0}};
    const char *usage =
        "usage: pdiff generate DIR [-n N] [--sampler ddpm|ddim --steps S]\n\n"
        "Samples N parameter subsets and writes each as a complete checkpoint\n"
        "(a copy of DIR's first checkpoint with the subset replaced), plus all\n"
        "N×D vectors in generated.safetensors.";
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, 2, opts, usage, pos, 1, &npos);
    if (rc) return rc == 1 ? 0 : rc;
    if (npos != 1) {
        fprintf(stderr, "pdiff: generate needs the checkpoint directory (see --help)\n");
        return 2;
    }
    pd_sampler smp;
    if ((rc = sampler_from_opts(opts, &smp))) return rc;
    long n = cli_long(opts, "-n", 100);
    if (n < 1 || n > 1000000) {
        fprintf(stderr, "pdiff: -n must be between 1 and 1000000\n");
        return 2;
    }
    char model[4096], out[4096];
    snprintf(model, sizeof model, "%s/model", pos[0]);
    snprintf(out, sizeof out, "%s/generated", pos[0]);
    return generate_dir(pos[0], cli_get(opts, "--params"),
                        cli_get(opts, "--model") ? cli_get(opts, "--model") : model,
                        cli_get(opts, "--out") ? cli_get(opts, "--out") : out, (size_t)n, &smp,
                        (uint64_t)cli_long(opts, "--seed", 0), cli_flag(opts, "--reconstruct"));
}
