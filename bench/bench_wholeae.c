/*
 * bench_wholeae.c — one training step of the whole-network autoencoder
 * (preset "whole", docs/method.md §3b) at D = 40 000, 100 000 and 200 000,
 * batch 200 (the default K), against the paper's 1-D CNN (preset "small")
 * at D = 40 000 for scale. For each D: the median step time and the time
 * per 1 000 values, and the ratio of each step time to the D = 40 000 one
 * beside the ratio of the lengths (linear cost: the two ratios agree; the
 * cost per value stays flat). Usage: bench_wholeae [threads=2] [reps=10]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"
#include "pdiff.h"
#include "model/ae.h"

static void die(const char *what) {
    fprintf(stderr, "bench_wholeae: %s: %s\n", what, pd_last_error());
    exit(1);
}

/* median ms of one AdamW step (after two warm-up steps) */
static double step_ms(const char *preset, size_t D, size_t B, int reps) {
    pd_ae_config c;
    pd_ae_preset(&c, preset, D);
    pd_ae ae;
    if (pd_ae_create(&ae, &c) != PD_OK) die("create");
    pd_rng r;
    pd_rng_seed(&r, 1, 0);
    pd_ae_init(&ae, &r);
    float *V = malloc(B * D * sizeof(float));
    if (!V) die("out of memory");
    pd_rng_fill_normal(&r, V, B * D, 1.0f); /* normalized vectors */
    pd_graph *g = pd_graph_new();
    const pd_adamw opt = {1e-3f, 0.9f, 0.999f, 1e-8f, 2e-6f};
    double t[64], loss = 0;
    if (reps > 64) reps = 64;
    for (int i = -2; i < reps; i++) {
        double t0 = bench_now_ms();
        if (pd_ae_train_step(&ae, g, V, B, &r, &opt, i + 3, &loss) != PD_OK) die("step");
        if (i >= 0) t[i] = bench_now_ms() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, bench_cmp_double);
    pd_graph_free(g);
    pd_ae_free(&ae);
    free(V);
    return t[reps / 2];
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, reps = argc > 2 ? atoi(argv[2]) : 10;
    pd_set_threads(threads);
    const size_t B = 200, Ds[3] = {40000, 100000, 200000};
    printf("threads %d, batch %zu, median of %d steps\n", pd_threads(), B, reps);
    printf("%-28s %10s %14s %10s %10s\n", "case", "ms/step", "ms per 1k D", "D ratio",
           "time ratio");
    double base = 0;
    for (int i = 0; i < 3; i++) {
        double ms = step_ms("whole", Ds[i], B, reps);
        if (i == 0) base = ms;
        char name[64];
        snprintf(name, sizeof name, "whole D=%zu", Ds[i]);
        printf("%-28s %10.1f %14.3f %10.2f %10.2f\n", name, ms, ms / ((double)Ds[i] / 1000.0),
               (double)Ds[i] / (double)Ds[0], ms / base);
    }
    double cnn = step_ms("small", Ds[0], B, reps < 3 ? reps : 3);
    printf("%-28s %10.1f %14.3f   (the paper's 1-D CNN, for scale)\n", "small (1-D CNN) D=40000",
           cnn, cnn / 40.0);
    return 0;
}
