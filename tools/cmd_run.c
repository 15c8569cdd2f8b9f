/*
 * cmd_run.c — `pdiff run`: collect → train → generate → eval into one run
 * directory, with every stage's options. The options in force are saved to
 * RUN/config.json; `pdiff run --config FILE` (or re-running with the same
 * --out) repeats or resumes the run: each stage resumes or is skipped when
 * its output is complete.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pdiff_io.h"
#include "evaluate.h"
#include "stages.h"
#include "dist.h"

void print_results(const pd_eval_result *r);

static pd_status save_config(const char *path, const cli_opt *opts, const pd_model_config *c) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "pdiff-run");
    cJSON_AddStringToObject(root, "version", PDIFF_VERSION);
    cJSON *o = cJSON_AddObjectToObject(root, "options");
    for (const cli_opt *x = opts; x->name; x++)
        if (x->value && strcmp(x->name, "--config") && strcmp(x->name, "--out"))
            cJSON_AddStringToObject(o, x->name, x->value);
    char *model = pd_model_config_json(c, 0);
    cJSON_AddItemToObject(root, "model", cJSON_Parse(model));
    free(model);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    pd_status st = pd_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

/* is a stage's output there? Under mpirun every rank must give the same
 * answer, so all look between two barriers (a rank that looked late could
 * see what rank 0 wrote meanwhile) */
static int stage_done(const char *path) {
    pd_dist_barrier();
    int done = pd_file_exists(path);
    pd_dist_barrier();
    return done;
}

/* per-stage wall times survive a resumed run in RUN/seconds.json */
static double stage_seconds(const char *run, const char *stage, double set) {
    char path[4096];
    snprintf(path, sizeof path, "%s/seconds_%s.txt", run, stage);
    if (!isnan(set) && !pd_dist_root()) return set;
    if (!isnan(set)) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "%.3f\n", set);
        pd_write_file_atomic(path, buf, (size_t)n);
        return set;
    }
    uint8_t *text = NULL;
    size_t len = 0;
    double v = NAN;
    if (!pd_read_file(path, 64, &text, &len)) {
        char buf[65] = {0};
        memcpy(buf, text, len);
        v = atof(buf);
    }
    free(text);
    return v;
}

int cmd_run(int argc, char **argv) {
    cli_opt opts[] = {COLLECT_OPTIONS, MODEL_OPTIONS, GENERATE_OPTIONS,
                      {"--out", "DIR", "run directory (default runs/<timestamp>)", NULL},
                      {"--config", "FILE", "repeat a run: options from its config.json", NULL},
                      {"--eval-train", "N", "training samples used for selection (default 10000)", NULL},
                      {"--no-baselines", NULL, "skip the baselines in eval (noise, fine-tune, average, Gaussian)", NULL},
                      BASELINE_N_OPTION,
                      {0}};
    const char *usage =
        "usage: pdiff run [--data DIR] [--net NAME] [--params P] [-K N] [-n N] [--seed S] [--out DIR]\n\n"
        "Runs the whole paper pipeline: collect K checkpoints, train the\n"
        "autoencoder and latent DDPM, generate N models, evaluate. Every option\n"
        "of collect, train and generate is accepted. Re-running with the same\n"
        "--out resumes an interrupted run.";
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, 2, opts, usage, pos, 0, &npos);
    if (rc) return rc == 1 ? 0 : rc;
    char run[2048], path[4096];
    const char *cfg = cli_get(opts, "--config");
    if (cli_get(opts, "--out")) {
        snprintf(run, sizeof run, "%s", cli_get(opts, "--out"));
    } else {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        char stamp[64];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        snprintf(run, sizeof run, "runs/%s", stamp);
    }
    snprintf(path, sizeof path, "%s/config.json", run);
    if (!cfg && stage_done(path)) cfg = path; /* resume with the same options */
    if (cfg && (rc = cli_apply_config(cfg, opts, 1))) return rc;

    pd_collect_opts co;
    pd_collect_defaults(&co);
    collect_from_opts(&co, opts);
    pd_model_config mc;
    if ((rc = model_from_opts(&mc, opts, whole_mode_option(opts)))) return rc;
    pd_sampler smp;
    if ((rc = sampler_from_opts(opts, &smp))) return rc;
    long n = cli_long(opts, "-n", 100);
    pd_status st = pd_mkdir_p(run);
    if (!st && pd_dist_root()) st = save_config(path, opts, &mc);
    if (st) return cli_error(st);
    fprintf(stderr, "run directory: %s\n", run);

    char cdir[3072], mdir[3072], gdir[3072];
    snprintf(cdir, sizeof cdir, "%s/collect", run);
    snprintf(mdir, sizeof mdir, "%s/model", run);
    snprintf(gdir, sizeof gdir, "%s/generated", run);
    co.out_dir = cdir;
    co.progress = cli_progress();
    double secs[3];
    double t0 = cli_now();
    fprintf(stderr, "== 1/4 collect\n");
    snprintf(path, sizeof path, "%s/manifest.json", cdir);
    int had = stage_done(path);
    pd_collect_report rep;
    if ((st = pd_collect(&co, &rep))) return cli_error(st);
    pd_collect_report_print(&rep, stderr);
    secs[0] = stage_seconds(run, "collect", had ? NAN : cli_now() - t0);

    fprintf(stderr, "== 2/4 train\n");
    t0 = cli_now();
    snprintf(path, sizeof path, "%s/den_ema.safetensors", mdir);
    had = stage_done(path);
    if (!had && (rc = train_dir(cdir, NULL, 0, &mc, mdir))) return rc;
    secs[1] = stage_seconds(run, "train", had ? NAN : cli_now() - t0);

    fprintf(stderr, "== 3/4 generate\n");
    t0 = cli_now();
    snprintf(path, sizeof path, "%s/generated.safetensors", gdir);
    had = stage_done(path);
    if (!had && (rc = generate_dir(cdir, NULL, mdir, gdir, (size_t)n, &smp, co.seed, 0)))
        return rc;
    secs[2] = stage_seconds(run, "generate", had ? NAN : cli_now() - t0);

    fprintf(stderr, "== 4/4 eval\n");
    pd_eval_opts eo;
    pd_eval_defaults(&eo);
    eo.ckpt_dir = cdir;
    eo.gen_dir = gdir;
    eo.out_dir = run;
    eo.data_dir = co.data_dir;
    eo.model_dir = mdir;
    eo.eval_train = (size_t)cli_long(opts, "--eval-train", (long)eo.eval_train);
    eo.baselines = !cli_flag(opts, "--no-baselines");
    eo.baseline_n = baseline_n_from_opts(opts, whole_mode_option(opts));
    eo.seed = co.seed;
    memcpy(eo.seconds, secs, sizeof secs);
    eo.progress = cli_progress();
    pd_eval_result r;
    if ((st = pd_eval(&eo, &r))) return cli_error(st);
    print_results(&r);
    pd_eval_result_free(&r);
    char t[3][24];
    printf("\nwall time (s): collect %s, train %s, generate %s, eval %.1f\n",
           pd_eval_secs(t[0], secs[0]), pd_eval_secs(t[1], secs[1]), pd_eval_secs(t[2], secs[2]),
           r.seconds_eval);
    printf("results: %s/results.md, %s/results.json, figures in %s/figures/\n", run, run, run);
    return 0;
}
