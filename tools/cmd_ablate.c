/*
 * cmd_ablate.c — `pdiff ablate WHAT`: the paper's ablations (Tables 2, 6,
 * 8, 9 and the FC/VAE comparison) at CPU scale, as variants that share one
 * run's collected checkpoints. Each variant trains, generates and evaluates
 * in RUN/ablate/WHAT-VARIANT/; one table with best / mean / median is
 * printed and written to RUN/ablate/WHAT.md.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pdiff_io.h"
#include "evaluate.h"
#include "stages.h"

typedef struct {
    const char *label;
    const char *set[4][2]; /* option overrides for this variant */
    size_t K;              /* 0: all checkpoints */
} variant;

static const variant ablations_K[] = {
    {"K=1", {{0}}, 1}, {"K=10", {{0}}, 10}, {"K=50", {{0}}, 50}, {"K=200", {{0}}, 200}};
static const variant ablations_noise[] = {
    {"no noise", {{"--in-noise", "0"}, {"--latent-noise", "0"}}, 0},
    {"input only", {{"--in-noise", "0.001"}, {"--latent-noise", "0"}}, 0},
    {"latent only", {{"--in-noise", "0"}, {"--latent-noise", "0.1"}}, 0},
    {"input+latent", {{"--in-noise", "0.001"}, {"--latent-noise", "0.1"}}, 0},
    /* 0.001 was 10 % of the raw checkpoints' spread; after --normalize dim
     * the spread is 1, so 0.1 is the paper's relative amplitude */
    {"input 0.1+latent", {{"--in-noise", "0.1"}, {"--latent-noise", "0.1"}}, 0}};
static const variant ablations_norm[] = {
    {"no norm", {{"--norm", "none"}}, 0}, {"BN", {{"--norm", "batch"}}, 0},
    {"GN", {{"--norm", "group"}}, 0}, {"IN", {{"--norm", "instance"}}, 0}};
static const variant ablations_normalize[] = {
    {"none", {{"--normalize", "none"}}, 0}, {"tensor", {{"--normalize", "tensor"}}, 0},
    {"dim", {{"--normalize", "dim"}}, 0}};
static const variant ablations_T[] = {
    {"T=10", {{"-T", "10"}}, 0}, {"T=100", {{"-T", "100"}}, 0},
    {"T=1000", {{"-T", "1000"}}, 0}, {"T=2000", {{"-T", "2000"}}, 0}};
static const variant ablations_arch[] = {
    {"1D conv", {{0}}, 0}, {"fully connected", {{"--fc", "1"}}, 0}, {"VAE", {{"--vae", "1"}}, 0}};

static void set_opt(cli_opt *opts, const char *name, const char *value) {
    for (cli_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name)) o->value = value;
}

int cmd_ablate(int argc, char **argv) {
    cli_opt opts[] = {MODEL_OPTIONS, GENERATE_OPTIONS,
                      {"--run", "DIR", "run directory holding collect/ (from pdiff run)", NULL},
                      {"--seed", "S", "random seed (default 0)", NULL},
                      {0}};
    const char *usage =
        "usage: pdiff ablate WHAT --run DIR [model options]\n\n"
        "WHAT: K (number of training checkpoints), noise (input/latent noise),\n"
        "norm (autoencoder normalization layers), normalize (of the parameter\n"
        "vectors: none / tensor / dim), T (diffusion steps), arch (1D conv vs\n"
        "fully connected vs VAE). Layer choice is an option of collect/run\n"
        "(--params), since it needs its own checkpoints. Variants start from the\n"
        "run's options (RUN/config.json); options given here override them.";
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, 2, opts, usage, pos, 1, &npos);
    if (rc) return rc == 1 ? 0 : rc;
    const char *run = cli_get(opts, "--run");
    if (npos != 1 || !run) {
        fprintf(stderr, "pdiff: ablate needs WHAT and --run DIR (see --help)\n");
        return 2;
    }
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s/config.json", run);
    /* variants start from the run's own settings */
    if (pd_file_exists(cfg) && (rc = cli_apply_config(cfg, opts, 0))) return rc;
    const variant *vs;
    size_t nv;
#define PICK(name, arr) else if (!strcmp(pos[0], name)) { vs = arr; nv = sizeof arr / sizeof arr[0]; }
    if (0) { vs = NULL; nv = 0; }
    PICK("K", ablations_K) PICK("noise", ablations_noise) PICK("norm", ablations_norm)
    PICK("T", ablations_T) PICK("arch", ablations_arch) PICK("normalize", ablations_normalize)
    else {
        fprintf(stderr, "pdiff: unknown ablation '%s' (K, noise, norm, normalize, T, arch)\n",
                pos[0]);
        return 2;
    }
#undef PICK
    char cdir[2048], table[8192];
    snprintf(cdir, sizeof cdir, "%s/collect", run);
    int len = snprintf(table, sizeof table,
                       "| %s | best | mean | median | selected | recon ratio | seconds |\n|---|---|---|---|---|---|---|\n",
                       pos[0]);
    pd_sampler smp;
    if ((rc = sampler_from_opts(opts, &smp))) return rc;
    long n = cli_long(opts, "-n", 100);
    for (size_t i = 0; i < nv; i++) {
        const variant *v = &vs[i];
        cli_opt local[sizeof opts / sizeof opts[0]];
        memcpy(local, opts, sizeof opts);
        for (int k = 0; k < 4 && v->set[k][0]; k++) set_opt(local, v->set[k][0], v->set[k][1]);
        pd_model_config c;
        if ((rc = model_from_opts(&c, local, whole_mode_option(local)))) return rc;
        char vdir[3072], mdir[3200], gdir[3200], slug[64];
        size_t j = 0;
        for (const char *p = v->label; *p && j < sizeof slug - 1; p++)
            slug[j++] = (*p == ' ' || *p == '+' || *p == '=') ? '_' : *p;
        slug[j] = 0;
        snprintf(vdir, sizeof vdir, "%s/ablate/%s-%s", run, pos[0], slug);
        snprintf(mdir, sizeof mdir, "%s/model", vdir);
        snprintf(gdir, sizeof gdir, "%s/generated", vdir);
        fprintf(stderr, "== %s: %s\n", pos[0], v->label);
        double t0 = cli_now();
        if ((rc = train_dir(cdir, NULL, v->K, &c, mdir))) return rc;
        if ((rc = generate_dir(cdir, NULL, mdir, gdir, (size_t)n, &smp, c.seed, 0)))
            return rc;
        pd_eval_opts eo;
        pd_eval_defaults(&eo);
        eo.ckpt_dir = cdir;
        eo.gen_dir = gdir;
        eo.out_dir = vdir;
        eo.model_dir = mdir;
        eo.baselines = 0;
        eo.progress = cli_progress();
        pd_eval_result r;
        pd_status st = pd_eval(&eo, &r);
        if (st) return cli_error(st);
        len += snprintf(table + len, sizeof table - (size_t)len,
                        "| %s | %.2f | %.2f | %.2f | %.2f | %.3f | %.0f |\n", v->label,
                        r.pdiff.best, r.pdiff.mean, r.pdiff.median, r.selected,
                        r.has_ae ? r.ae.recon_ratio : NAN, cli_now() - t0);
        pd_eval_result_free(&r);
        if (i + 1 == nv)
            len += snprintf(table + len, sizeof table - (size_t)len,
                            "| original | %.2f | %.2f | %.2f | | | |\n", r.original.best,
                            r.original.mean, r.original.median);
    }
    printf("\n%s", table);
    char path[4096];
    snprintf(path, sizeof path, "%s/ablate/%s.md", run, pos[0]);
    pd_status st = pd_write_file_atomic(path, table, strlen(table));
    if (st) return cli_error(st);
    printf("\nwrote %s\n", path);
    return 0;
}
