/*
 * cmd_model.c — `pdiff train` and `pdiff generate`: the p-diff model over
 * a directory of checkpoints (from `pdiff collect`, or any directory of
 * safetensors files plus --params).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stages.h"
#include "engine/core/fsutil.h"
#include "model/ae_diag.h"
#include "app/generate.h"

pd_status load_manifest(const char *dir, const char *patterns, pd_manifest *m) {
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if (pd_file_exists(path)) return pd_manifest_read(dir, m);
    const char *pats[64];
    size_t n = cli_list(patterns, pats, 64);
    return pd_manifest_scan(dir, pats, n, m);
}

static int parse_sizes4(const char *s, size_t *out, const char *name) {
    if (!s) return 0;
    const char *v[8];
    size_t n = cli_list(s, v, 8);
    if (n != 4) {
        fprintf(stderr, "pdiff: %s needs four comma-separated channel counts\n", name);
        exit(2);
    }
    for (int i = 0; i < 4; i++) {
        long x = atol(v[i]);
        if (x < 1 || x > 65536) {
            fprintf(stderr, "pdiff: %s: '%s' is not a channel count\n", name, v[i]);
            exit(2);
        }
        out[i] = (size_t)x;
    }
    return 1;
}

/* the autoencoder's diagnostics that training wrote, as one line (and a
 * warning when it does not resolve the checkpoints) */
static void print_ae_diag(const char *model_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/autoencoder.json", model_dir);
    pd_ae_diag d;
    if (pd_ae_diag_read(path, &d) == PD_OK) pd_ae_diag_print(&d, "autoencoder", stderr);
}

int model_from_opts(pd_pdiff_config *c, const cli_opt *opts) {
    const char *v;
    pd_pdiff_defaults(c);
    if ((v = cli_get(opts, "--recipe"))) {
        if (strcmp(v, "paper") != 0) {
            fprintf(stderr, "pdiff: --recipe: only 'paper' is known, not '%s'\n", v);
            return 2;
        }
        pd_pdiff_recipe_paper(c);
    }
    if ((v = cli_get(opts, "--normalize"))) {
        int k = pd_normalize_parse(v);
        if (k < 0) {
            fprintf(stderr, "pdiff: --normalize must be dim, tensor or none, not '%s'\n", v);
            return 2;
        }
        c->normalize = (pd_normalize_kind)k;
    }
    if ((v = cli_get(opts, "--preset")) && pd_pdiff_set_preset(c, v)) return cli_error(PD_ERR_ARG);
    c->ae.fold = (int)cli_long(opts, "--fold", c->ae.fold);
    c->ae.k = (int)cli_long(opts, "--kernel", c->ae.k);
    parse_sizes4(cli_get(opts, "--enc"), c->ae.enc, "--enc");
    parse_sizes4(cli_get(opts, "--dec"), c->ae.dec, "--dec");
    parse_sizes4(cli_get(opts, "--den-channels"), c->den_ch, "--den-channels");
    c->ae.in_noise = (float)cli_double(opts, "--in-noise", c->ae.in_noise);
    c->ae.lat_noise = (float)cli_double(opts, "--latent-noise", c->ae.lat_noise);
    if (cli_flag(opts, "--additive-noise")) c->ae.additive_noise = 1;
    if ((v = cli_get(opts, "--norm"))) {
        const char *names[] = {"instance", "batch", "group", "none"};
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(v, names[i])) k = i;
        if (k < 0) {
            fprintf(stderr, "pdiff: --norm must be instance, batch, group or none, not '%s'\n", v);
            return 2;
        }
        c->ae.norm = (pd_norm_kind)k;
    }
    if (cli_flag(opts, "--fc")) c->ae.fc = 1;
    if (cli_flag(opts, "--vae")) c->ae.vae = 1;
    c->ae.kl_weight = (float)cli_double(opts, "--kl-weight", c->ae.kl_weight);
    c->T = (size_t)cli_long(opts, "-T", (long)c->T);
    c->beta0 = cli_double(opts, "--beta-start", c->beta0);
    c->beta1 = cli_double(opts, "--beta-end", c->beta1);
    c->ae_steps = cli_long(opts, "--ae-steps", c->ae_steps);
    c->ddpm_steps = cli_long(opts, "--ddpm-steps", c->ddpm_steps);
    c->lr = (float)cli_double(opts, "--model-lr", c->lr);
    c->weight_decay = (float)cli_double(opts, "--weight-decay", c->weight_decay);
    c->ema_decay = (float)cli_double(opts, "--ema", c->ema_decay);
    c->ckpt_every = cli_long(opts, "--ckpt-every", c->ckpt_every);
    c->seed = (uint64_t)cli_long(opts, "--seed", (long)c->seed);
    if (c->T < 2 || c->ae_steps < 0 || c->ddpm_steps < 0 || c->ckpt_every < 1 ||
        c->ae.in_noise < 0 || c->ae.lat_noise < 0) {
        fprintf(stderr, "pdiff: -T must be >= 2; steps, noise amplitudes and --ckpt-every non-negative\n");
        return 2;
    }
    return 0;
}

int train_dir(const char *dir, const char *patterns, size_t K, const pd_pdiff_config *c,
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
    if (!st) st = pd_mkdir_p(model_dir);
    if (!st) {
        fprintf(stderr, "training on %zu checkpoints, D = %zu, normalized by %s, into %s\n", use,
                m.D, pd_normalize_name(c->normalize), model_dir);
        st = pd_pdiff_train(c, V, use, m.D, sizes, m.nparams, model_dir, &p);
    }
    if (!st) print_ae_diag(model_dir);
    free(V);
    free(sizes);
    pd_manifest_free(&m);
    return st ? cli_error(st) : 0;
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
    pd_pdiff_config c;
    if ((rc = model_from_opts(&c, opts))) return rc;
    char model[4096];
    snprintf(model, sizeof model, "%s/model", pos[0]);
    const char *out = cli_get(opts, "--out") ? cli_get(opts, "--out") : model;
    return train_dir(pos[0], cli_get(opts, "--params"), (size_t)cli_long(opts, "-K", 0), &c, out);
}

int generate_dir(const char *dir, const char *patterns, const char *model_dir,
                 const char *out_dir, size_t N, int ddim, size_t steps, float eta, int ema,
                 uint64_t seed, int reconstruct) {
    pd_manifest m;
    pd_status st = load_manifest(dir, patterns, &m);
    if (st) return cli_error(st);
    pd_pdiff_model pm;
    st = pd_pdiff_load(model_dir, &pm);
    if (!st && pm.D != m.D)
        st = pd_fail(PD_ERR_SHAPE, "%s: model generates D = %zu but %s has D = %zu", model_dir,
                     pm.D, dir, m.D);
    if (!st && ddim && (steps < 1 || steps > pm.cfg.T))
        st = pd_fail(PD_ERR_ARG, "--steps must be between 1 and T = %zu", pm.cfg.T);
    if (!st) st = pd_mkdir_p(out_dir); /* a bad --out fails before minutes of sampling */
    float *V = NULL;
    if (!st && reconstruct) {
        st = pd_pdiff_reconstruct(&pm, model_dir, &V, &N);
    } else if (!st) {
        V = malloc(N * m.D * sizeof(float));
        if (!V) st = pd_fail(PD_ERR_NOMEM, "out of memory");
        pd_progress p = cli_progress();
        if (!st) st = pd_pdiff_sample(&pm, N, ddim, steps, eta, ema, seed, V, &p);
    }
    size_t bad = 0;
    if (!st) st = pd_generate_write(&m, dir, out_dir, V, N, &bad);
    if (!st) {
        printf("%s %zu models in %s", reconstruct ? "reconstructed" : "generated", N, out_dir);
        if (bad) printf(" (%zu hold non-finite values and are excluded from statistics)", bad);
        printf("\n");
    }
    free(V);
    pd_pdiff_free(&pm);
    pd_manifest_free(&m);
    return st ? cli_error(st) : 0;
}


int sampler_from_opts(const cli_opt *opts, int *ddim, size_t *steps, float *eta) {
    const char *s = cli_get(opts, "--sampler");
    *ddim = s && !strcmp(s, "ddim");
    if (s && !*ddim && strcmp(s, "ddpm") != 0) {
        fprintf(stderr, "pdiff: --sampler must be ddpm or ddim, not '%s'\n", s);
        return 2;
    }
    *steps = (size_t)cli_long(opts, "--steps", 50);
    *eta = (float)cli_double(opts, "--eta", 0.0);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    cli_opt opts[] = {GENERATE_OPTIONS,
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
    int ddim;
    size_t steps;
    float eta;
    if ((rc = sampler_from_opts(opts, &ddim, &steps, &eta))) return rc;
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
                        cli_get(opts, "--out") ? cli_get(opts, "--out") : out, (size_t)n, ddim,
                        steps, eta, !cli_flag(opts, "--no-ema"),
                        (uint64_t)cli_long(opts, "--seed", 0), cli_flag(opts, "--reconstruct"));
}
