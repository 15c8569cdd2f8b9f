/*
 * cmd_collect.c — `pdiff collect`: stage 1, the checkpoints p-diff learns.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pdiff/collect.h"

#define COLLECT_OPTIONS                                                                   \
    {"--data", "DIR", "dataset directory (IDX or CIFAR binary; default Fashion-MNIST)", NULL}, \
    {"--net", "NAME", "mlp3 | convnet3 | cnn | resnet (default cnn)", NULL},                 \
    {"--width", "W", "base width of cnn (16) / resnet (64 = ResNet-18)", NULL},               \
    {"--params", "PATTERNS", "comma-separated tensor names or globs (default: last two norm layers)", NULL}, \
    {"--mode", "MODE", "subset (default) | seeds (K networks from K seeds, all parameters)", NULL}, \
    {"-K", "N", "number of checkpoints (default 200)", NULL},                                 \
    {"--epochs", "E", "training epochs of the base network (default 6)", NULL},               \
    {"--batch", "B", "SGD batch size (default 128)", NULL},                                   \
    {"--lr", "LR", "base training learning rate, cosine schedule (default 0.05)", NULL},     \
    {"--subset-lr", "LR", "learning rate while collecting the subset (default 0.01)", NULL}, \
    {"--every", "STEPS", "subset SGD steps between snapshots (default 10)", NULL},           \
    {"--seed", "S", "random seed (default 0)", NULL}

/* fills o from parsed options (shared with `pdiff run`) */
void collect_from_opts(pd_collect_opts *o, const cli_opt *opts);

void collect_from_opts(pd_collect_opts *o, const cli_opt *opts) {
    static const char *patterns[64];
    const char *v;
    if ((v = cli_get(opts, "--data"))) o->data_dir = v;
    if ((v = cli_get(opts, "--net"))) snprintf(o->net.arch, sizeof o->net.arch, "%s", v);
    o->net.width = (int)cli_long(opts, "--width", o->net.width);
    o->npatterns = cli_list(cli_get(opts, "--params"), patterns, 64);
    o->patterns = patterns;
    if ((v = cli_get(opts, "--mode"))) {
        if (!strcmp(v, "seeds")) o->mode = PD_COLLECT_SEEDS;
        else if (!strcmp(v, "subset")) o->mode = PD_COLLECT_SUBSET;
        else {
            fprintf(stderr, "pdiff: --mode must be subset or seeds, not '%s'\n", v);
            exit(2);
        }
    }
    o->K = (size_t)cli_long(opts, "-K", (long)o->K);
    o->epochs = (int)cli_long(opts, "--epochs", o->epochs);
    o->batch = (size_t)cli_long(opts, "--batch", (long)o->batch);
    o->lr = (float)cli_double(opts, "--lr", o->lr);
    o->subset_lr = (float)cli_double(opts, "--subset-lr", o->subset_lr);
    o->every = cli_long(opts, "--every", o->every);
    o->seed = (uint64_t)cli_long(opts, "--seed", (long)o->seed);
}

int cmd_collect(int argc, char **argv) {
    cli_opt opts[] = {COLLECT_OPTIONS, {"--out", "DIR", "output directory (default collect)", NULL}, {0}};
    const char *usage =
        "usage: pdiff collect [--data DIR] [--net NAME] [--params PATTERNS] [-K N] [--out DIR]\n\n"
        "Trains a task network, then keeps training only the selected parameters\n"
        "and saves K snapshots (subset mode), or trains K networks from K seeds\n"
        "(seeds mode). Re-running continues an interrupted collect.";
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, 2, opts, usage, pos, 0, &npos);
    if (rc) return rc == 1 ? 0 : rc;
    pd_collect_opts o;
    pd_collect_defaults(&o);
    collect_from_opts(&o, opts);
    if (cli_get(opts, "--out")) o.out_dir = cli_get(opts, "--out");
    o.progress = cli_progress();
    double t0 = cli_now();
    pd_status st = pd_collect(&o);
    if (st) return cli_error(st);
    printf("collected %zu checkpoints in %s (%.1f s)\n", o.K, o.out_dir, cli_now() - t0);
    return 0;
}
