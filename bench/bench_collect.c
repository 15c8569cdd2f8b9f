/*
 * bench_collect.c — what caching the frozen prefix buys `pdiff collect`.
 * One subset SGD step (batch 128, default cnn on 28×28 inputs, BN frozen)
 * run from the images through the whole network vs from cached
 * activations through the tail only. Both paths must give the same
 * parameters after the same steps (verified before timing).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/nn/net.h"
#include "pdiff_net.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* `steps` subset steps from features f; returns seconds */
static double run(pd_net *net, pd_graph *g, const pd_feats *f, long steps, float *subset_out) {
    pd_rng rng;
    pd_rng_seed(&rng, 1, 0);
    int32_t *order = malloc(f->n * sizeof(int32_t));
    for (size_t i = 0; i < f->n; i++) order[i] = (int32_t)i;
    memset(net->params.m, 0, net->params.total * sizeof(float));
    pd_fit_opts fo = {{0.01f, 0.9f, 0.0f, 5e-4f, 0}, 128, 0, 0, 0};
    size_t cursor = 0;
    long step = 0;
    double t0 = now();
    if (pd_fit_steps(net, g, f, &fo, &rng, order, &cursor, &step, steps, NULL)) {
        fprintf(stderr, "bench_collect: %s\n", pd_last_error());
        exit(1);
    }
    double t = now() - t0;
    pd_params_gather(&net->params, subset_out);
    free(order);
    return t;
}

int main(void) {
    pd_set_threads(2);
    const size_t n = 4096;
    pd_net_config cfg = {"cnn", 1, 28, 28, 10, 16};
    pd_net net;
    if (pd_net_create(&net, &cfg, NULL, 0) || pd_params_alloc_state(&net.params)) {
        fprintf(stderr, "bench_collect: %s\n", pd_last_error());
        return 1;
    }
    pd_rng r;
    pd_rng_seed(&r, 0, 0);
    pd_net_init(&net, &r);
    pd_net_set_trainable(&net, 1);
    float *x = malloc(n * 784 * sizeof(float));
    int32_t *y = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n * 784; i++) x[i] = pd_rng_normal(&r);
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)pd_rng_below(&r, 10);
    pd_feats img = {.x = x, .y = y, .n = n, .ndim = 3, .shape = {1, 28, 28}, .stride = 784};
    pd_graph *g = pd_graph_new();
    size_t D = pd_params_selected_size(&net.params);
    float *init = malloc(D * sizeof(float)), *a = malloc(D * sizeof(float)),
          *b = malloc(D * sizeof(float));
    pd_params_gather(&net.params, init);
    int cut = pd_net_cut_stage(&net);
    float *cache;
    pd_feats tail;
    double tc = now();
    if (pd_compute_features(&net, g, &img, cut, 500, &cache, &tail)) return 1;
    tc = now() - tc;
    const long steps = 64;
    double full = run(&net, g, &img, steps, a);
    pd_params_scatter(&net.params, init);
    double fast = run(&net, g, &tail, steps, b);
    double maxdiff = 0;
    for (size_t i = 0; i < D; i++) maxdiff = fmax(maxdiff, fabs((double)a[i] - b[i]));
    printf("cnn (w=16), D = %zu, cut at stage %d, %ld subset steps of batch 128, 2 threads\n", D,
           cut, steps);
    printf("check: max |full - tail| after the steps = %.3g (%s)\n", maxdiff,
           maxdiff < 1e-4 ? "same" : "DIFFERENT");
    printf("full network : %8.2f ms/step\n", 1e3 * full / steps);
    printf("tail only    : %8.2f ms/step  (caching %zu samples once: %.2f s)\n",
           1e3 * fast / steps, n, tc);
    printf("speed-up     : %8.1fx\n", full / fast);
    free(cache);
    pd_graph_free(g);
    pd_net_free(&net);
    free(x);
    free(y);
    free(init);
    free(a);
    free(b);
    return maxdiff < 1e-4 ? 0 : 1;
}
