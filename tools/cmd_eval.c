/*
 * cmd_eval.c — `pdiff eval`: the paper's tables for originals vs generated
 * models, similarity, distances; writes results.json / results.md and
 * prints the table.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "stages.h"

void print_results(const pd_eval_result *r);

void print_results(const pd_eval_result *r) {
    printf("\n%-34s %8s %8s %8s %8s\n", "test accuracy (%)", "best", "mean", "median", "worst");
    printf("%-34s %8.2f %8.2f %8.2f %8.2f\n", "original", r->original.best, r->original.mean,
           r->original.median, r->original.worst);
    printf("%-34s %8.2f %8.2f %8.2f %8.2f\n", "p-diff", r->pdiff.best, r->pdiff.mean,
           r->pdiff.median, r->pdiff.worst);
    printf("\n%-34s %8.2f\n", "original (best)", r->original.best);
    printf("%-34s %8.2f\n", "original (selected on train set)", r->orig_selected);
    printf("%-34s %8.2f\n", "ensemble", r->ensemble);
    printf("%-34s %8.2f\n", "p-diff (selected on train set)", r->selected);
    printf("%-34s %8.2f\n", "p-diff (selected on test set)", r->test_selected);
    printf("generated below the worst original: %zu of %zu; non-finite: %zu\n", r->below_worst,
           r->pdiff.n + r->nonfinite, r->nonfinite);
    printf("IoU of wrong predictions: orig-orig %.3f  gen-gen %.3f  gen-orig %.3f  "
           "gen max-to-orig %.3f\n", r->iou_orig_orig, r->iou_gen_gen, r->iou_gen_orig,
           r->iou_gen_orig_max);
    printf("L2 to nearest original: generated %.4g (median %.4g), originals %.4g (median %.4g)\n",
           r->dist_gen_nearest, r->gen_nn_l2_median, r->dist_orig_nearest, r->orig_nn_l2_median);
    printf("L2 to the originals' mean (median): generated %.4g, originals %.4g\n",
           r->gen_mean_l2_median, r->orig_mean_l2_median);
    if (r->has_ae) pd_ae_diag_print(&r->ae, "autoencoder", stdout);
    if (!r->nbase) {
        printf("baselines: not computed (--no-baselines)\n");
    } else {
        printf("\n%-14s %8s %8s %8s %6s %9s %9s\n", "models", "mean", "median", "worst", "<worst",
               "max IoU", "NN L2");
        printf("%-14s %8.2f %8.2f %8.2f %6zu %9.4f %9.4g\n", "p-diff", r->pdiff.mean,
               r->pdiff.median, r->pdiff.worst, r->below_worst, r->iou_gen_orig_max,
               r->gen_nn_l2_median);
        for (size_t i = 0; i < r->nbase; i++) {
            const pd_eval_baseline *x = &r->base[i];
            printf("%-14s %8.2f %8.2f %8.2f %6zu %9.4f %9.4g\n", x->name, x->acc.mean,
                   x->acc.median, x->acc.worst, x->below_worst, x->max_iou_mean, x->nn_l2_median);
        }
        printf("matched novelty: noise reaches %.2f%% at p-diff's max IoU %.4f; p-diff mean "
               "%.2f%%: gain %+.2f pp\n", r->matched_noise_acc, r->iou_gen_orig_max,
               r->pdiff.mean, r->matched_novelty_gain);
    }
    if (!r->figures_ok) fprintf(stderr, "pdiff: warning: figures not drawn: %s\n", r->figures_error);
}

size_t baseline_n_from_opts(const cli_opt *opts, int whole) {
    long n = cli_long(opts, "--baseline-n", whole ? WHOLE_NETWORK_BASELINE_N : 0);
    if (n < 0) {
        fprintf(stderr, "pdiff: --baseline-n must be >= 0\n");
        exit(2);
    }
    return (size_t)n;
}

int cmd_eval(int argc, char **argv) {
    cli_opt opts[] = {{"--generated", "DIR", "generated models (default DIR/generated)", NULL},
                      {"--out", "DIR", "where results.json/md go (default DIR)", NULL},
                      {"--data", "DIR", "dataset directory (default: the manifest's)", NULL},
                      {"--model", "DIR", "model directory whose loss log is plotted (default DIR/model)", NULL},
                      {"--eval-train", "N", "training samples used for selection (default 10000)", NULL},
                      {"--no-baselines", NULL, "skip the baselines (noise, fine-tune, average, Gaussian)", NULL},
                      BASELINE_N_OPTION,
                      {"--seed", "S", "random seed of the baselines (default 0)", NULL},
                      {0}};
    const char *usage =
        "usage: pdiff eval DIR [--generated GEN] [--out OUT]\n\n"
        "DIR holds the original checkpoints (pdiff collect output). Evaluates\n"
        "every original and generated model and writes results.json/md.";
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, 2, opts, usage, pos, 1, &npos);
    if (rc) return rc == 1 ? 0 : rc;
    if (npos != 1) {
        fprintf(stderr, "pdiff: eval needs the checkpoint directory (see --help)\n");
        return 2;
    }
    char gen[4096];
    snprintf(gen, sizeof gen, "%s/generated", pos[0]);
    pd_eval_opts o;
    pd_eval_defaults(&o);
    o.ckpt_dir = pos[0];
    o.gen_dir = cli_get(opts, "--generated") ? cli_get(opts, "--generated") : gen;
    o.out_dir = cli_get(opts, "--out") ? cli_get(opts, "--out") : pos[0];
    o.data_dir = cli_get(opts, "--data");
    char model[4096];
    snprintf(model, sizeof model, "%s/model", pos[0]);
    o.model_dir = cli_get(opts, "--model") ? cli_get(opts, "--model") : model;
    o.eval_train = (size_t)cli_long(opts, "--eval-train", (long)o.eval_train);
    o.baselines = !cli_flag(opts, "--no-baselines");
    pd_manifest m;
    int whole = 0;
    if (!load_manifest(pos[0], NULL, &m)) {
        whole = whole_networks(&m);
        pd_manifest_free(&m);
    }
    o.baseline_n = baseline_n_from_opts(opts, whole);
    o.seed = (uint64_t)cli_long(opts, "--seed", 0);
    o.progress = cli_progress();
    pd_eval_result r;
    pd_status st = pd_eval(&o, &r);
    if (st) return cli_error(st);
    print_results(&r);
    pd_eval_result_free(&r);
    printf("\nwrote %s/results.json and results.md\n", o.out_dir);
    return 0;
}
