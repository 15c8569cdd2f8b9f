/*
 * test_classify.c — evaluation of task networks: pd_evaluate_each (the
 * models inside, the batches outside) gives every model the numbers of its
 * own pd_evaluate call, to the bit, for a BatchNorm CNN (the fused
 * BN/ReLU/pool path) and for ConvNet-3 (the fused oneDNN conv/ReLU/pool
 * path where oneDNN is built in), with a last batch shorter than the rest;
 * and entering the tail with cached features or their pooled windows
 * (pd_feats_pool_windows) changes nothing; nor, for ResNet-18, does
 * entering it with the last block's frozen first convolution cached
 * (pd_net.stage_head), in evaluation or in training; collect's and eval's
 * cache of those features a slice at a time (feature_cache.h) holds the
 * numbers of one pd_compute_features call and reports each slice.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "pdiff.h"
#include "pdiff_net.h"
#include "feature_cache.h"

enum { SAMPLES = 37, BATCH = 10, MODELS = 3, SIDE = 8, CLASSES = 4 };

/* Entering the tail at its cut stage with cached features, and with the
 * pooled windows of those features where the stage pools through BN and
 * ReLU (cnn; convnet3 keeps its features): the same accuracies and
 * predictions as from the images, and the same loss to the bit. */
static void check_windows(pd_net *net, pd_graph *g, const pd_feats *img, const float *vecs,
                          size_t D, const double *acc, const int32_t *pred) {
    const int cut = pd_net_cut_stage(net);
    float *cache = NULL, *pooled = NULL;
    pd_feats feats, win;
    assert_int_equal(pd_compute_features(net, g, img, cut, BATCH, &cache, &feats), PD_OK);
    assert_int_equal(pd_feats_pool_windows(net, &feats, &pooled, &win), PD_OK);
    const int pools = (net->window_stages >> cut) & 1;
    assert_int_equal(pooled != NULL, pools);
    assert_int_equal(win.windows, pools);
    if (pools) assert_true(win.stride < feats.stride); /* less data */
    double a[MODELS], la, lw;
    int32_t p[MODELS * SAMPLES], pw[SAMPLES];
    assert_int_equal(pd_evaluate_each(net, g, &win, BATCH, vecs, MODELS, a, p), PD_OK);
    for (size_t k = 0; k < MODELS; k++) {
        assert_true(a[k] == acc[k]);
        assert_memory_equal(p + k * SAMPLES, pred + k * SAMPLES, SAMPLES * sizeof(int32_t));
        pd_params_scatter(&net->params, vecs + k * D);
        assert_int_equal(pd_evaluate(net, g, &feats, BATCH, a, &la, NULL), PD_OK);
        assert_int_equal(pd_evaluate(net, g, &win, BATCH, a, &lw, pw), PD_OK);
        assert_true(la == lw);
        assert_memory_equal(pw, pred + k * SAMPLES, sizeof pw);
    }
    /* pooled windows are for evaluation only */
    if (pools) {
        pd_fit_opts fo = {{0.01f, 0.9f, 0.0f, 0.0f, 0}, BATCH, 0, 0, 0};
        int32_t order[SAMPLES];
        size_t cursor = SAMPLES;
        long step = 0;
        pd_rng r;
        pd_rng_seed(&r, 1, 0);
        assert_int_not_equal(pd_fit_steps(net, g, &win, &fo, &r, order, &cursor, &step, 1, NULL),
                             PD_OK);
    }
    free(cache);
    free(pooled);
}

/* features with the cut stage's frozen head cached (resnet) train the tail
 * as features without it do: the same parameters after a few steps up to
 * the convolution's rounding (its batches differ), and both differ from
 * the start */
static void check_head(pd_net *net, pd_graph *g, const pd_feats *img) {
    const int cut = pd_net_cut_stage(net);
    float *with = NULL, *without = NULL;
    pd_feats fw, fo;
    assert_int_equal(pd_compute_features(net, g, img, cut, BATCH, &with, &fw), PD_OK);
    pd_head_fn head = net->stage_head;
    net->stage_head = NULL;
    assert_int_equal(pd_compute_features(net, g, img, cut, BATCH, &without, &fo), PD_OK);
    net->stage_head = head;
    assert_int_equal(fw.head, 1);
    assert_int_equal(fo.head, 0);
    assert_int_equal(fw.shape[0], 2 * fo.shape[0]);
    assert_int_equal(fw.stride, 2 * fo.stride);
    /* evaluation: the same convolution on the same batches, so the same
     * loss to the bit */
    double aw, ao, lw, lo;
    int32_t pw[SAMPLES], po[SAMPLES];
    assert_int_equal(pd_evaluate(net, g, &fw, BATCH, &aw, &lw, pw), PD_OK);
    assert_int_equal(pd_evaluate(net, g, &fo, BATCH, &ao, &lo, po), PD_OK);
    assert_true(aw == ao && lw == lo);
    assert_memory_equal(pw, po, sizeof pw);
    const size_t D = pd_params_selected_size(&net->params);
    float *start = tu_falloc(D), *a = tu_falloc(D), *b = tu_falloc(D);
    pd_params_gather(&net->params, start);
    pd_net_set_trainable(net, 1);
    assert_int_equal(pd_params_alloc_state(&net->params), PD_OK);
    const pd_feats *fs[2] = {&fw, &fo};
    float *out[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        pd_params_scatter(&net->params, start);
        pd_fit_opts opts = {{0.05f, 0.9f, 0.0f, 0.0f, 0}, BATCH, 0, 0, 0};
        int32_t order[SAMPLES];
        for (size_t i = 0; i < SAMPLES; i++) order[i] = (int32_t)i;
        size_t cursor = SAMPLES;
        long step = 0;
        pd_rng r;
        pd_rng_seed(&r, 5, 0);
        memset(net->params.m, 0, net->params.total * sizeof(float));
        assert_int_equal(pd_fit_steps(net, g, fs[k], &opts, &r, order, &cursor, &step, 4, NULL),
                         PD_OK);
        pd_params_gather(&net->params, out[k]);
    }
    double moved = 0, diff = 0;
    for (size_t i = 0; i < D; i++) {
        moved = fmax(moved, fabs((double)a[i] - start[i]));
        diff = fmax(diff, fabs((double)a[i] - b[i]));
    }
    assert_true(moved > 1e-3);
    if (diff > 1e-4 * moved) fail_msg("head-cached training differs by %g (moved %g)", diff, moved);
    pd_params_scatter(&net->params, start);
    free(start);
    free(a);
    free(b);
    free(with);
    free(without);
}

static void count_report(void *ctx, const char *phase, long done, long total, const char *info) {
    (void)phase;
    (void)info;
    long *c = ctx;
    c[0]++;
    c[1] = done;
    c[2] = total;
}

/* more samples than one slice of pd_cache_features: the same features as
 * one pd_compute_features call at its batch, progress after each slice */
static void check_cache(pd_net *net, pd_graph *g) {
    enum { MANY = 12001 };
    float *x = tu_falloc((size_t)MANY * SIDE * SIDE);
    int32_t *y = calloc(MANY, sizeof(int32_t));
    assert_non_null(y);
    pd_rng r;
    pd_rng_seed(&r, 9, 0);
    tu_fill(&r, x, (size_t)MANY * SIDE * SIDE, -2, 2);
    pd_feats img = {.x = x, .y = y, .n = MANY, .ndim = 3, .shape = {1, SIDE, SIDE},
                    .stride = SIDE * SIDE};
    const int cut = pd_net_cut_stage(net);
    float *one = NULL, *sliced = NULL;
    pd_feats f1, fs;
    long calls[3] = {0, 0, 0};
    pd_progress prog = {count_report, calls};
    assert_int_equal(pd_compute_features(net, g, &img, cut, 500, &one, &f1), PD_OK);
    assert_int_equal(pd_cache_features(net, g, &img, cut, &prog, "features", &sliced, &fs), PD_OK);
    assert_true(fs.x == sliced && fs.y == y && fs.n == MANY);
    assert_int_equal(fs.stride, f1.stride);
    assert_int_equal(fs.head, f1.head);
    assert_memory_equal(fs.shape, f1.shape, sizeof fs.shape);
    assert_memory_equal(sliced, one, (size_t)MANY * f1.stride * sizeof(float));
    assert_int_equal(calls[0], 1 + 3); /* 0, then 5 000, 10 000, 12 001 */
    assert_int_equal(calls[1], MANY);
    assert_int_equal(calls[2], MANY);
    free(one);
    free(sliced);
    free(x);
    free(y);
}

/* arch's network, its subset (NULL: the default one, last two norm layers'
 * weights and biases) moved by noise for models 1 and 2 */
static void check_each(const char *arch, const char *subset) {
    pd_net_config nc;
    memset(&nc, 0, sizeof nc);
    snprintf(nc.arch, sizeof nc.arch, "%s", arch);
    nc.width = 4;
    nc.in_c = 1;
    nc.in_h = nc.in_w = SIDE;
    nc.classes = CLASSES;
    pd_net net;
    assert_int_equal(pd_net_create(&net, &nc, subset ? &subset : NULL, subset ? 1 : 0), PD_OK);
    pd_rng r;
    pd_rng_seed(&r, 81, 0);
    pd_net_init(&net, &r);
    const size_t D = pd_params_selected_size(&net.params);
    float *x = tu_falloc(SAMPLES * SIDE * SIDE), *vecs = tu_falloc(MODELS * D);
    int32_t y[SAMPLES];
    tu_fill(&r, x, SAMPLES * SIDE * SIDE, -2, 2);
    for (size_t i = 0; i < SAMPLES; i++) y[i] = (int32_t)pd_rng_below(&r, CLASSES);
    pd_params_gather(&net.params, vecs);
    for (size_t k = 1; k < MODELS; k++)
        for (size_t c = 0; c < D; c++) vecs[k * D + c] = vecs[c] + 0.5f * pd_rng_normal(&r);
    pd_feats f = {.x = x, .y = y, .n = SAMPLES, .ndim = 3, .shape = {1, SIDE, SIDE},
                  .stride = SIDE * SIDE};
    pd_graph *g = pd_graph_new();
    assert_non_null(g);
    double acc[MODELS], one;
    int32_t pred[MODELS * SAMPLES], pred1[SAMPLES];
    assert_int_equal(pd_evaluate_each(&net, g, &f, BATCH, vecs, MODELS, acc, pred), PD_OK);
    int differ = 0;
    for (size_t k = 0; k < MODELS; k++) {
        pd_params_scatter(&net.params, vecs + k * D);
        assert_int_equal(pd_evaluate(&net, g, &f, BATCH, &one, NULL, pred1), PD_OK);
        assert_true(acc[k] == one);
        assert_memory_equal(pred + k * SAMPLES, pred1, sizeof pred1);
        differ += memcmp(pred, pred1, sizeof pred1) != 0;
    }
    assert_true(differ > 0); /* the models really differ */
    check_windows(&net, g, &f, vecs, D, acc, pred);
    if (net.stage_head) check_head(&net, g, &f);
    check_cache(&net, g);
    pd_graph_free(g);
    pd_net_free(&net);
    free(x);
    free(vecs);
}

static void test_each_cnn(void **state) {
    (void)state;
    check_each("cnn", NULL);
}

static void test_each_convnet3(void **state) {
    (void)state;
    check_each("convnet3", "*");
}

static void test_each_resnet(void **state) {
    (void)state;
    check_each("resnet", NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_cnn),
        cmocka_unit_test(test_each_convnet3),
        cmocka_unit_test(test_each_resnet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
