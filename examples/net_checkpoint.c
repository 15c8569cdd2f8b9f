/*
 * net_checkpoint.c — libpdiff's task-network and file API (pdiff_net.h,
 * pdiff_io.h) from a program outside the tree: train an MLP-3 by SGD on a
 * small synthetic task, save it as a safetensors state_dict, load it into
 * a second network and check that both predict the same labels.
 *
 *   cc net_checkpoint.c $(pkg-config --cflags --libs pdiff) -o net_checkpoint
 *   ./net_checkpoint [DIR]
 */
#include <pdiff.h>
#include <pdiff_io.h>
#include <pdiff_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 512, SIDE = 6, PIX = SIDE * SIDE, CLASSES = 3, BATCH = 64 };

static int fail(const char *what) {
    fprintf(stderr, "net_checkpoint: %s: %s\n", what, pd_last_error());
    return 1;
}

/* label = which third of the image is brightest */
static void make_task(float *x, int32_t *y, pd_rng *r) {
    for (int i = 0; i < N; i++) {
        double third[CLASSES] = {0};
        for (int p = 0; p < PIX; p++) {
            x[i * PIX + p] = pd_rng_uniform(r);
            third[p * CLASSES / PIX] += x[i * PIX + p];
        }
        y[i] = 0;
        for (int c = 1; c < CLASSES; c++)
            if (third[c] > third[y[i]]) y[i] = c;
    }
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/mlp3.safetensors", dir);
    if (pd_mkdir_p(dir)) return fail("mkdir");

    static float x[N * PIX];
    static int32_t y[N], order[N], pred_a[N], pred_b[N];
    pd_rng r;
    pd_rng_seed(&r, 7, 0);
    make_task(x, y, &r);
    for (int i = 0; i < N; i++) order[i] = i;
    pd_feats f = {.x = x, .y = y, .n = N, .ndim = 3, .shape = {1, SIDE, SIDE}, .stride = PIX};

    pd_net_config nc = {.arch = "mlp3", .in_c = 1, .in_h = SIDE, .in_w = SIDE,
                        .classes = CLASSES};
    const char *subset[] = {"fc3.*"};
    pd_net a, b;
    if (pd_net_create(&a, &nc, subset, 1)) return fail("create");
    if (pd_net_create(&b, &nc, subset, 1)) return fail("create");
    pd_net_init(&a, &r);
    pd_net_set_trainable(&a, 0);
    pd_graph *g = pd_graph_new();
    if (!g) return fail("graph");

    pd_fit_opts o = {.sgd = {.lr = 0.1f, .momentum = 0.9f}, .batch = BATCH};
    size_t cursor = N; /* the first step shuffles */
    long step = 0;
    double loss0, loss1, acc_a, acc_b, l;
    if (pd_fit_steps(&a, g, &f, &o, &r, order, &cursor, &step, 20, &loss0)) return fail("fit");
    if (pd_fit_steps(&a, g, &f, &o, &r, order, &cursor, &step, 300, &loss1)) return fail("fit");
    if (pd_evaluate(&a, g, &f, BATCH, &acc_a, &l, pred_a)) return fail("evaluate");
    printf("trained: loss %.3f -> %.3f, accuracy %.1f %%\n", loss0, loss1, acc_a);

    const char *keys[] = {"arch"}, *vals[] = {"mlp3"};
    if (pd_params_save(&a.params, path, keys, vals, 1)) return fail("save");
    if (pd_params_load(&b.params, path, 0)) return fail("load");
    if (pd_evaluate(&b, g, &f, BATCH, &acc_b, &l, pred_b)) return fail("evaluate");
    printf("loaded %s: accuracy %.1f %%\n", path, acc_b);

    int ok = loss1 < loss0 && acc_a > 100.0 / CLASSES + 10 && acc_a == acc_b &&
             memcmp(pred_a, pred_b, sizeof pred_a) == 0;
    pd_graph_free(g);
    pd_net_free(&a);
    pd_net_free(&b);
    if (!ok) {
        fprintf(stderr, "net_checkpoint: FAIL (did not learn, or the checkpoint differs)\n");
        return 1;
    }
    puts("the same predictions after the round trip");
    return 0;
}
