/*
 * cmd_collect.c — `pdiff collect`: stage 1, the checkpoints p-diff learns.
 */
#include <stdlib.h>
#include <string.h>

#include "stages.h"


void collect_from_opts(pd_collect_opts *o, const cli_opt *opts) {
    static const char *patterns[64];
    const char *v;
    if ((v = cli_get(opts, "--data"))) o->data_dir = v;
    if ((v = cli_get(opts, "--net"))) snprintf(o->net.arch, sizeof o->net.arch, "%s", v);
    o->net.width = (int)cli_long(opts, "--width", o->net.width);
    o->npatterns = cli_list(cli_get(opts, "--params"), patterns, 64);
    o->patterns = patterns;
    if ((v = cli_get(opts, "--mode"))) {
        int m = pd_collect_mode_parse(v);
        if (m < 0) {
            fprintf(stderr, "pdiff: --mode must be subset, full or seeds, not '%s'\n", v);
            exit(2);
        }
        o->mode = (pd_collect_mode)m;
    }
    if (o->mode == PD_COLLECT_FULL) o->subset_lr = PD_COLLECT_FULL_LR;
    o->K = (size_t)cli_long(opts, "-K", (long)o->K);
    o->epochs = (int)cli_long(opts, "--epochs", o->epochs);
    o->batch = (size_t)cli_long(opts, "--batch", (long)o->batch);
    o->lr = (float)cli_double(opts, "--lr", o->lr);
    o->subset_lr = (float)cli_double(opts, "--subset-lr", o->subset_lr);
    o->every = cli_long(opts, "--every", o->every);
    o->seed = (uint64_t)cli_long(opts, "--seed", (long)o->seed);
    if (cli_flag(opts, "--augment")) o->augment = 1;
}

int whole_mode_option(const cli_opt *opts) {
    const char *v = cli_get(opts, "--mode");
    return v && (!strcmp(v, "full") || !strcmp(v, "seeds"));
}

int cmd_collect(int argc, char **argv) {
    cli_opt opts[] = {COLLECT_OPTIONS, {"--out", "DIR", "output directory (default collect)", NULL}, {0}};
    const char *usage =
        "usage: pdiff collect [--data DIR] [--net NAME] [--mode subset|full|seeds] [--params PATTERNS] [-K N] [--out DIR]\n\n"
        "Trains a task network, then keeps training only the selected parameters\n"
        "and saves K snapshots (subset mode), keeps training all its parameters\n"
        "and saves K snapshots (full mode: BatchNorm statistics frozen at the\n"
        "base network's), or trains K networks from K seeds (seeds mode).\n"
        "Re-running continues an interrupted collect.";
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, 2, opts, usage, pos, 0, &npos);
    if (rc) return rc == 1 ? 0 : rc;
    pd_collect_opts o;
    pd_collect_defaults(&o);
    collect_from_opts(&o, opts);
    if (cli_get(opts, "--out")) o.out_dir = cli_get(opts, "--out");
    o.progress = cli_progress();
    double t0 = cli_now();
    pd_collect_report rep;
    pd_status st = pd_collect(&o, &rep);
    if (st) return cli_error(st);
    pd_collect_report_print(&rep, stdout);
    printf("collected %zu checkpoints in %s (%.1f s)\n", o.K, o.out_dir, cli_now() - t0);
    return 0;
}
