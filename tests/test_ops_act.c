/*
 * test_ops_act.c — activations, clamp, residual add, embedding and the
 * losses: hand-computed values, PyTorch's derivative conventions at the
 * kinks, backward vs central finite differences (inputs kept away from
 * kinks), accumulate-into-gradient and NULL-gradient rules, numerical
 * stability of cross-entropy, and bit-identical sums for 1 and 2 threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/ops.h"
#include "testutil.h"

#define GC_H 1e-2f      /* finite-difference step */
#define GC_FLOOR 1e-3   /* denominator floor of the relative error */
#define GC_TOL 1e-2     /* worst relative error allowed */
#define GC_CHECKS 200   /* elements checked per tensor */

static double max_abs(const float *a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

/* move every x[i] at least `gap` away from each kink */
static void off_kinks(float *x, size_t n, const float *kinks, size_t nk,
                      float gap) {
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < nk; k++)
            if (fabsf(x[i] - kinks[k]) < gap)
                x[i] = kinks[k] + (x[i] >= kinks[k] ? gap : -gap);
}

/* ---- activations ----------------------------------------------------------- */

static void test_act_exact(void **state) {
    (void)state;
    const float x[5] = {-2.0f, -0.5f, 0.0f, 0.5f, 2.0f};
    const float want[5][5] = {
        {0, 0, 0, 0.5f, 2},                                         /* relu */
        {-0.02f, -0.005f, 0, 0.5f, 2},                              /* leaky .01 */
        {-0.86466472f, -0.39346934f, 0, 0.5f, 2},                   /* elu 1 */
        {-0.23840584f, -0.18877033f, 0, 0.31122967f, 1.76159416f}, /* silu */
        {-0.96402758f, -0.46211716f, 0, 0.46211716f, 0.96402758f}, /* tanh */
    };
    const pd_act acts[5] = {PD_ACT_RELU, PD_ACT_LEAKY_RELU, PD_ACT_ELU,
                            PD_ACT_SILU, PD_ACT_TANH};
    const float alpha[5] = {0, 0.01f, 1.0f, 0, 0};
    for (int a = 0; a < 5; a++) {
        float y[5];
        pd_act_forward(y, x, 5, acts[a], alpha[a]);
        TU_ASSERT_CLOSE(y, want[a], 5, 1e-6, 1e-7);
    }
    /* ELU with alpha 0.5 scales the negative side */
    float y[5];
    pd_act_forward(y, x, 5, PD_ACT_ELU, 0.5f);
    assert_float_equal(y[0], 0.5f * -0.86466472f, 1e-6);
    /* NaN propagates */
    const float nan_in = NAN;
    for (int a = 0; a < 5; a++) {
        pd_act_forward(y, &nan_in, 1, acts[a], alpha[a]);
        assert_true(isnan(y[0]));
    }
}

/* PyTorch's conventions at 0: relu' = 0, leaky' = alpha, elu' = alpha */
static void test_act_kinks(void **state) {
    (void)state;
    const float x0 = 0.0f, dy = 1.0f;
    float dx = 0.0f;
    pd_act_backward(&dx, &dy, &x0, NULL, 1, PD_ACT_RELU, 0.0f);
    assert_float_equal(dx, 0.0f, 0.0);
    dx = 0.0f;
    pd_act_backward(&dx, &dy, &x0, NULL, 1, PD_ACT_LEAKY_RELU, 0.2f);
    assert_float_equal(dx, 0.2f, 1e-7);
    dx = 0.0f;
    pd_act_backward(&dx, &dy, &x0, NULL, 1, PD_ACT_ELU, 0.7f);
    assert_float_equal(dx, 0.7f, 1e-7);
    dx = 0.0f;
    pd_act_backward(&dx, &dy, &x0, NULL, 1, PD_ACT_SILU, 0.0f);
    assert_float_equal(dx, 0.5f, 1e-7);
}

typedef struct {
    float *x, *y, *r;
    size_t n;
    pd_act act;
    float alpha;
} act_ctx;

static double act_loss(void *ctx) {
    act_ctx *k = ctx;
    pd_act_forward(k->y, k->x, k->n, k->act, k->alpha);
    return tu_dot(k->y, k->r, k->n);
}

static void test_act_gradcheck(void **state) {
    (void)state;
    pd_rng rng;
    pd_rng_seed(&rng, 1, 0);
    const pd_act acts[5] = {PD_ACT_RELU, PD_ACT_LEAKY_RELU, PD_ACT_ELU,
                            PD_ACT_SILU, PD_ACT_TANH};
    const float alpha[5] = {0, 0.01f, 0.7f, 0, 0};
    const float kink = 0.0f;
    for (int a = 0; a < 5; a++) {
        for (int t = 0; t < 4; t++) {
            act_ctx k = {NULL, NULL, NULL, 1 + pd_rng_below(&rng, 300), acts[a],
                         alpha[a]};
            k.x = tu_falloc(k.n), k.y = tu_falloc(k.n), k.r = tu_falloc(k.n);
            float *dx = tu_falloc(k.n), *dx2 = tu_falloc(k.n);
            tu_fill(&rng, k.x, k.n, -3.0f, 3.0f);
            tu_fill(&rng, k.r, k.n, -1.0f, 1.0f);
            off_kinks(k.x, k.n, &kink, 1, 2.5f * GC_H);
            /* start from 1: backward adds into dx */
            for (size_t i = 0; i < k.n; i++) dx[i] = 1.0f;
            act_loss(&k);
            pd_act_backward(dx, k.r, k.x, k.y, k.n, k.act, k.alpha);
            pd_act_backward(dx2, k.r, k.x, NULL, k.n, k.act, k.alpha);
            for (size_t i = 0; i < k.n; i++) dx[i] -= 1.0f;
            TU_ASSERT_CLOSE(dx2, dx, k.n, 1e-6, 1e-6); /* y given or not */
            double err = tu_gradcheck(act_loss, &k, k.x, dx, k.n, GC_CHECKS,
                                      GC_H, GC_FLOOR);
            if (err > GC_TOL) print_error("act %d n=%zu err %g\n", a, k.n, err);
            assert_true(err <= GC_TOL);
            assert_true(max_abs(dx, k.n) > 0.05);
            free(k.x), free(k.y), free(k.r), free(dx), free(dx2);
        }
    }
}

/* ---- clamp ----------------------------------------------------------------- */

typedef struct {
    float *x, *y, *r;
    size_t n;
    float lo, hi;
} clamp_ctx;

static double clamp_loss(void *ctx) {
    clamp_ctx *k = ctx;
    pd_clamp_forward(k->y, k->x, k->n, k->lo, k->hi);
    return tu_dot(k->y, k->r, k->n);
}

static void test_clamp(void **state) {
    (void)state;
    const float x[6] = {-3.0f, -1.0f, -0.25f, 0.5f, 1.0f, 7.0f};
    float y[6];
    pd_clamp_forward(y, x, 6, -1.0f, 1.0f);
    const float want[6] = {-1, -1, -0.25f, 0.5f, 1, 1};
    TU_ASSERT_CLOSE(y, want, 6, 0, 1e-7);
    /* gradient passes on the closed interval, boundaries included */
    const float dy[6] = {1, 2, 3, 4, 5, 6};
    float dx[6] = {10, 10, 10, 10, 10, 10};
    pd_clamp_backward(dx, dy, x, 6, -1.0f, 1.0f);
    const float wdx[6] = {10, 12, 13, 14, 15, 10};
    TU_ASSERT_CLOSE(dx, wdx, 6, 0, 1e-7);

    pd_rng rng;
    pd_rng_seed(&rng, 2, 0);
    clamp_ctx k = {NULL, NULL, NULL, 257, -0.8f, 1.2f};
    k.x = tu_falloc(k.n), k.y = tu_falloc(k.n), k.r = tu_falloc(k.n);
    float *g = tu_falloc(k.n);
    tu_fill(&rng, k.x, k.n, -2.0f, 2.0f);
    tu_fill(&rng, k.r, k.n, -1.0f, 1.0f);
    const float kinks[2] = {k.lo, k.hi};
    off_kinks(k.x, k.n, kinks, 2, 2.5f * GC_H);
    pd_clamp_backward(g, k.r, k.x, k.n, k.lo, k.hi);
    assert_true(tu_gradcheck(clamp_loss, &k, k.x, g, k.n, GC_CHECKS, GC_H,
                             GC_FLOOR) <= GC_TOL);
    assert_true(max_abs(g, k.n) > 0.05);
    free(k.x), free(k.y), free(k.r), free(g);
}

/* ---- add, embedding -------------------------------------------------------- */

static void test_add(void **state) {
    (void)state;
    const float a[3] = {1, 2, 3}, b[3] = {0.5f, -2, 4};
    float y[3];
    pd_add_forward(y, a, b, 3);
    const float want[3] = {1.5f, 0, 7};
    TU_ASSERT_CLOSE(y, want, 3, 0, 1e-7);
    const float dy[3] = {1, -1, 2};
    float da[3] = {1, 1, 1}, db[3] = {0, 0, 0};
    pd_add_backward(da, db, dy, 3);
    const float wda[3] = {2, 0, 3};
    TU_ASSERT_CLOSE(da, wda, 3, 0, 1e-7);
    TU_ASSERT_CLOSE(db, dy, 3, 0, 1e-7);
    pd_add_backward(NULL, db, dy, 3); /* NULL skipped, db doubles */
    const float wdb[3] = {2, -2, 4};
    TU_ASSERT_CLOSE(db, wdb, 3, 0, 1e-7);
    pd_add_backward(da, NULL, dy, 3);
    const float wda2[3] = {3, -1, 5};
    TU_ASSERT_CLOSE(da, wda2, 3, 0, 1e-7);
}

typedef struct {
    float *table, *y, *r;
    const int32_t *idx;
    size_t n, dim;
} emb_ctx;

static double emb_loss(void *ctx) {
    emb_ctx *k = ctx;
    pd_embedding_forward(k->y, k->table, k->idx, k->n, k->dim);
    return tu_dot(k->y, k->r, k->n * k->dim);
}

static void test_embedding(void **state) {
    (void)state;
    /* table (4, 3): row i = {10 i, 10 i + 1, 10 i + 2} */
    float table[12];
    for (int i = 0; i < 12; i++) table[i] = (float)(10 * (i / 3) + i % 3);
    const int32_t idx[4] = {2, 0, 2, 3};
    float y[12];
    pd_embedding_forward(y, table, idx, 4, 3);
    const float want[12] = {20, 21, 22, 0, 1, 2, 20, 21, 22, 30, 31, 32};
    TU_ASSERT_CLOSE(y, want, 12, 0, 1e-7);
    /* repeated index 2 accumulates both rows; row 1 stays untouched */
    float dy[12], dt[12];
    for (int i = 0; i < 12; i++) dy[i] = (float)(i + 1), dt[i] = 0.5f;
    pd_embedding_backward(dt, dy, idx, 4, 3);
    const float wdt[12] = {4.5f, 5.5f, 6.5f, 0.5f, 0.5f, 0.5f,
                           1.5f + 7, 2.5f + 8, 3.5f + 9, 10.5f, 11.5f, 12.5f};
    TU_ASSERT_CLOSE(dt, wdt, 12, 0, 1e-6);

    /* finite differences with respect to the table */
    pd_rng rng;
    pd_rng_seed(&rng, 3, 0);
    const size_t rows = 5, dim = 7, n = 9;
    int32_t id[9];
    for (size_t i = 0; i < n; i++) id[i] = (int32_t)pd_rng_below(&rng, (uint32_t)rows);
    emb_ctx k = {tu_falloc(rows * dim), tu_falloc(n * dim), tu_falloc(n * dim), id, n, dim};
    float *g = tu_falloc(rows * dim);
    tu_fill(&rng, k.table, rows * dim, -1.0f, 1.0f);
    tu_fill(&rng, k.r, n * dim, -1.0f, 1.0f);
    pd_embedding_backward(g, k.r, id, n, dim);
    assert_true(tu_gradcheck(emb_loss, &k, k.table, g, rows * dim, GC_CHECKS,
                             GC_H, GC_FLOOR) <= GC_TOL);
    assert_true(max_abs(g, rows * dim) > 0.05);
    free(k.table), free(k.y), free(k.r), free(g);
}

/* ---- losses ---------------------------------------------------------------- */

typedef struct {
    float *x, *t, *probs;
    const int32_t *labels;
    size_t n, c;
    float scale;
} loss_ctx;

static double mse_loss(void *ctx) {
    loss_ctx *k = ctx;
    return k->scale * pd_mse_forward(k->x, k->t, k->n);
}

static double xent_loss(void *ctx) {
    loss_ctx *k = ctx;
    return k->scale * pd_xent_forward(k->probs, k->x, k->labels, k->n, k->c);
}

static void test_mse(void **state) {
    (void)state;
    const float x[3] = {1, 2, 3}, t[3] = {1, 0, 0};
    assert_float_equal(pd_mse_forward(x, t, 3), 13.0 / 3.0, 1e-12);
    float dx[3] = {1, 1, 1};
    pd_mse_backward(dx, x, t, 3, 0.5f); /* 1 + 0.5 * 2 (x - t) / 3 */
    const float wdx[3] = {1.0f, 1.0f + 2.0f / 3.0f, 2.0f};
    TU_ASSERT_CLOSE(dx, wdx, 3, 1e-6, 0);

    pd_rng rng;
    pd_rng_seed(&rng, 4, 0);
    loss_ctx k = {tu_falloc(101), tu_falloc(101), NULL, NULL, 101, 0, 0.7f};
    float *g = tu_falloc(k.n);
    tu_fill(&rng, k.x, k.n, -2.0f, 2.0f);
    tu_fill(&rng, k.t, k.n, -2.0f, 2.0f);
    pd_mse_backward(g, k.x, k.t, k.n, k.scale);
    assert_true(tu_gradcheck(mse_loss, &k, k.x, g, k.n, GC_CHECKS, GC_H, 1e-5) <=
                GC_TOL);
    assert_true(max_abs(g, k.n) > 1e-3);
    free(k.x), free(k.t), free(g);
}

static void test_xent_exact_and_stable(void **state) {
    (void)state;
    /* row 0: log(e + e^2 + e^3) - 3; row 1: the huge logit must not
     * overflow, its loss is 1000 - 0 */
    const float logits[6] = {1, 2, 3, 1000, 0, -5};
    const int32_t labels[2] = {2, 1};
    float probs[6];
    double loss = pd_xent_forward(probs, logits, labels, 2, 3);
    assert_float_equal(loss, (0.40760596444438013 + 1000.0) / 2.0, 1e-9);
    const float wp[6] = {0.09003057f, 0.24472847f, 0.66524096f, 1.0f, 0.0f, 0.0f};
    TU_ASSERT_CLOSE(probs, wp, 6, 1e-6, 1e-7);
    float d[6] = {0};
    pd_xent_backward(d, probs, labels, 2, 3, 2.0f); /* (p - onehot) 2 / 2 */
    const float wd[6] = {0.09003057f, 0.24472847f, 0.66524096f - 1.0f, 1, -1, 0};
    TU_ASSERT_CLOSE(d, wd, 6, 1e-6, 1e-7);
    /* one row, label 0 */
    const int32_t l0[1] = {0};
    assert_float_equal(pd_xent_forward(probs, logits, l0, 1, 3),
                       2.40760596444438, 1e-9);
    /* out-of-range labels give NaN rather than reading out of bounds */
    const int32_t bad[2] = {2, 3}, neg[2] = {-1, 0};
    assert_true(isnan(pd_xent_forward(probs, logits, bad, 2, 3)));
    assert_true(isnan(pd_xent_forward(probs, logits, neg, 2, 3)));
}

static void test_xent_gradcheck(void **state) {
    (void)state;
    pd_rng rng;
    pd_rng_seed(&rng, 5, 0);
    for (int t = 0; t < 6; t++) {
        size_t n = 1 + pd_rng_below(&rng, 9), c = 1 + pd_rng_below(&rng, 11);
        int32_t labels[9];
        for (size_t i = 0; i < n; i++) labels[i] = (int32_t)pd_rng_below(&rng, (uint32_t)c);
        loss_ctx k = {tu_falloc(n * c), NULL, tu_falloc(n * c), labels, n, c, 1.3f};
        float *g = tu_falloc(n * c);
        tu_fill(&rng, k.x, n * c, -4.0f, 4.0f);
        pd_xent_forward(k.probs, k.x, labels, n, c);
        double rowsum = 0.0;
        for (size_t j = 0; j < c; j++) rowsum += k.probs[j];
        assert_float_equal(rowsum, 1.0, 1e-6);
        pd_xent_backward(g, k.probs, labels, n, c, k.scale);
        assert_true(tu_gradcheck(xent_loss, &k, k.x, g, n * c, GC_CHECKS, GC_H,
                                 GC_FLOOR) <= GC_TOL);
        if (c > 1) assert_true(max_abs(g, n * c) > 1e-3);
        free(k.x), free(k.probs), free(g);
    }
}

/* Sums and maps large enough to go parallel: 1 and 2 threads agree to
 * the bit. */
static void test_threads_bit_identical(void **state) {
    (void)state;
    const size_t n = 300001, c = 10, rows = n / c;
    float *x = tu_falloc(n), *t = tu_falloc(n), *y[2] = {tu_falloc(n), tu_falloc(n)};
    float *p[2] = {tu_falloc(rows * c), tu_falloc(rows * c)};
    int32_t *labels = malloc(rows * sizeof(int32_t));
    assert_non_null(labels);
    pd_rng rng;
    pd_rng_seed(&rng, 6, 0);
    tu_fill(&rng, x, n, -3.0f, 3.0f);
    tu_fill(&rng, t, n, -3.0f, 3.0f);
    for (size_t i = 0; i < rows; i++) labels[i] = (int32_t)pd_rng_below(&rng, (uint32_t)c);
    double mse[2], xent[2];
    for (int th = 0; th < 2; th++) {
        pd_set_threads(th + 1);
        mse[th] = pd_mse_forward(x, t, n);
        xent[th] = pd_xent_forward(p[th], x, labels, rows, c);
        pd_act_forward(y[th], x, n, PD_ACT_SILU, 0.0f);
    }
    pd_set_threads(0);
    assert_memory_equal(&mse[0], &mse[1], sizeof(double));
    assert_memory_equal(&xent[0], &xent[1], sizeof(double));
    assert_memory_equal(y[0], y[1], n * sizeof(float));
    assert_memory_equal(p[0], p[1], rows * c * sizeof(float));
    assert_true(mse[0] > 1.0 && xent[0] > 1.0);
    free(x), free(t), free(y[0]), free(y[1]), free(p[0]), free(p[1]), free(labels);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_act_exact),
        cmocka_unit_test(test_act_kinks),
        cmocka_unit_test(test_act_gradcheck),
        cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_mse),
        cmocka_unit_test(test_xent_exact_and_stable),
        cmocka_unit_test(test_xent_gradcheck),
        cmocka_unit_test(test_threads_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
