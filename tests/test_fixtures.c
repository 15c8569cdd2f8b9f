/*
 * test_fixtures.c — golden values from PyTorch 1.13: the forward outputs and
 * the gradients of single ops (conv1d, conv_transpose1d, conv2d, batch norm
 * in training and eval mode, instance norm, group norm, cross-entropy) and
 * the parameters after SGD (momentum, weight decay) and AdamW steps agree
 * with tests/fixtures/ops_<case>.bin, written by scripts/make_fixtures.py
 * (reference computed in float64 from the float32 inputs). The tests never
 * need torch; a missing or malformed fixture fails the test.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/ops.h"
#include "testutil.h"
#include "engine/train/optim.h"

#define RTOL 1e-4
#define ATOL 1e-5
#define MAX_ARRAYS 32

/* every array loaded for one case, freed together at its end */
typedef struct {
    const char *file;
    float *arr[MAX_ARRAYS];
    int count;
} fx_set;

static float *fx_keep(fx_set *f, float *p) {
    assert_true(f->count < MAX_ARRAYS);
    f->arr[f->count++] = p;
    return p;
}

/* array `name` of the fixture; `want` elements (0: any size, *got says) */
static float *fx_get(fx_set *f, const char *name, size_t want, size_t *got) {
    size_t n = 0;
    float *p = tu_fixture(f->file, name, &n);
    if (!p)
        fail_msg("fixture %s: array '%s' missing (scripts/make_fixtures.py)",
                 f->file, name);
    fx_keep(f, p);
    if (want && n != want)
        fail_msg("fixture %s: '%s' has %zu values, expected %zu", f->file,
                 name, n, want);
    if (got) *got = n;
    return p;
}

/* zeroed float buffer owned by the set */
static float *fx_zeros(fx_set *f, size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return fx_keep(f, p);
}

static float *fx_copy(fx_set *f, const float *src, size_t n) {
    float *p = fx_zeros(f, n);
    memcpy(p, src, n * sizeof(float));
    return p;
}

static void fx_free(fx_set *f) {
    for (int i = 0; i < f->count; i++) free(f->arr[i]);
    f->count = 0;
}

/* meta array as size_t values: exactly `count` entries expected */
static void fx_meta(fx_set *f, size_t *out, size_t count, float *raw) {
    float *m = fx_get(f, "meta", count, NULL);
    for (size_t i = 0; i < count; i++) {
        if (raw) raw[i] = m[i];
        out[i] = m[i] >= 0.0f ? (size_t)m[i] : 0;
    }
}

/* ours vs reference; the reference must not be trivially small, so a kernel
 * writing zeros cannot pass against a degenerate fixture */
static void check(const char *what, const float *ours, const float *ref,
                  size_t n) {
    float big = 0.0f;
    for (size_t i = 0; i < n; i++) big = fmaxf(big, fabsf(ref[i]));
    if (!(big > 1e-3f)) fail_msg("%s: reference is all ~0", what);
    double r = tu_close_ratio(ours, ref, n, RTOL, ATOL);
    if (!(r <= 1.0)) fail_msg("%s: not close to PyTorch (ratio %g)", what, r);
}

/* ---- conv1d: meta [n, cin, cout, lin, k, stride, pad] ------------------- */
static void run_conv1d(const char *file) {
    fx_set f = {.file = file};
    size_t m[7];
    fx_meta(&f, m, 7, NULL);
    pd_conv1d_shape s = {m[0], m[1], m[2], m[3], m[4], m[5], m[6],
                         PD_MATH_F32, PD_CONV_AUTO};
    size_t lout = pd_conv1d_lout(&s);
    size_t nx = s.n * s.cin * s.lin, nw = s.cout * s.cin * s.k;
    size_t ny = s.n * s.cout * lout;
    float *x = fx_get(&f, "x", nx, NULL);         /* (n, cin, lin) */
    float *w = fx_get(&f, "w", nw, NULL);         /* (cout, cin, k) */
    float *b = fx_get(&f, "b", s.cout, NULL);     /* (cout) */
    float *yref = fx_get(&f, "y", ny, NULL);      /* (n, cout, lout) */
    float *dy = fx_get(&f, "dy", ny, NULL);
    float *scratch = fx_zeros(&f, pd_conv1d_scratch(&s));
    float *y = fx_zeros(&f, ny);
    pd_conv1d_forward(y, x, w, b, &s, scratch);
    check("conv1d y", y, yref, ny);
    float *dx = fx_zeros(&f, nx), *dw = fx_zeros(&f, nw);
    float *db = fx_zeros(&f, s.cout);
    pd_conv1d_backward(dx, dw, db, dy, x, w, &s, scratch);
    check("conv1d dx", dx, fx_get(&f, "dx", nx, NULL), nx);
    check("conv1d dw", dw, fx_get(&f, "dw", nw, NULL), nw);
    check("conv1d db", db, fx_get(&f, "db", s.cout, NULL), s.cout);
    fx_free(&f);
}

/* ---- conv_transpose1d: meta [n, cin, cout, lin, k, stride, pad, opad] --- */
static void run_convt1d(const char *file) {
    fx_set f = {.file = file};
    size_t m[8];
    fx_meta(&f, m, 8, NULL);
    pd_convt1d_shape s = {m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7],
                          PD_MATH_F32, PD_CONV_AUTO};
    size_t lout = pd_convt1d_lout(&s);
    size_t nx = s.n * s.cin * s.lin, nw = s.cin * s.cout * s.k;
    size_t ny = s.n * s.cout * lout;
    float *x = fx_get(&f, "x", nx, NULL);         /* (n, cin, lin) */
    float *w = fx_get(&f, "w", nw, NULL);         /* (cin, cout, k) */
    float *b = fx_get(&f, "b", s.cout, NULL);     /* (cout) */
    float *yref = fx_get(&f, "y", ny, NULL);      /* (n, cout, lout) */
    float *dy = fx_get(&f, "dy", ny, NULL);
    float *scratch = fx_zeros(&f, pd_convt1d_scratch(&s));
    float *y = fx_zeros(&f, ny);
    pd_convt1d_forward(y, x, w, b, &s, scratch);
    check("convt1d y", y, yref, ny);
    float *dx = fx_zeros(&f, nx), *dw = fx_zeros(&f, nw);
    float *db = fx_zeros(&f, s.cout);
    pd_convt1d_backward(dx, dw, db, dy, x, w, &s, scratch);
    check("convt1d dx", dx, fx_get(&f, "dx", nx, NULL), nx);
    check("convt1d dw", dw, fx_get(&f, "dw", nw, NULL), nw);
    check("convt1d db", db, fx_get(&f, "db", s.cout, NULL), s.cout);
    fx_free(&f);
}

/* ---- conv2d: meta [n, cin, cout, h, w, k, stride, pad] ------------------ */
static void run_conv2d(const char *file) {
    fx_set f = {.file = file};
    size_t m[8];
    fx_meta(&f, m, 8, NULL);
    pd_conv2d_shape s = {m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7],
                         PD_MATH_F32, PD_CONV_AUTO};
    size_t ho = pd_conv2d_hout(&s), wo = pd_conv2d_wout(&s);
    size_t nx = s.n * s.cin * s.h * s.w, nw = s.cout * s.cin * s.k * s.k;
    size_t ny = s.n * s.cout * ho * wo;
    float *x = fx_get(&f, "x", nx, NULL);         /* (n, cin, h, w) */
    float *w = fx_get(&f, "w", nw, NULL);         /* (cout, cin, k, k) */
    float *b = fx_get(&f, "b", s.cout, NULL);     /* (cout) */
    float *yref = fx_get(&f, "y", ny, NULL);      /* (n, cout, ho, wo) */
    float *dy = fx_get(&f, "dy", ny, NULL);
    float *scratch = fx_zeros(&f, pd_conv2d_scratch(&s));
    float *y = fx_zeros(&f, ny);
    pd_conv2d_forward(y, x, w, b, &s, scratch);
    check("conv2d y", y, yref, ny);
    float *dx = fx_zeros(&f, nx), *dw = fx_zeros(&f, nw);
    float *db = fx_zeros(&f, s.cout);
    pd_conv2d_backward(dx, dw, db, dy, x, w, &s, scratch);
    check("conv2d dx", dx, fx_get(&f, "dx", nx, NULL), nx);
    check("conv2d dw", dw, fx_get(&f, "dw", nw, NULL), nw);
    check("conv2d db", db, fx_get(&f, "db", s.cout, NULL), s.cout);
    fx_free(&f);
}

static void test_conv1d(void **state) {
    (void)state;
    run_conv1d(PD_FIXTURES "/ops_conv1d_s1p1.bin");
    run_conv1d(PD_FIXTURES "/ops_conv1d_s2k5.bin");
}

static void test_convt1d(void **state) {
    (void)state;
    run_convt1d(PD_FIXTURES "/ops_convt1d_s2p1.bin");
    run_convt1d(PD_FIXTURES "/ops_convt1d_s3.bin");
}

static void test_conv2d(void **state) {
    (void)state;
    run_conv2d(PD_FIXTURES "/ops_conv2d_k3s1p1.bin");
    run_conv2d(PD_FIXTURES "/ops_conv2d_k3s2p1.bin");
    run_conv2d(PD_FIXTURES "/ops_conv2d_k1s2.bin");
}

/* ---- batch norm 2d: meta [n, c, h, w, eps, momentum] -------------------- */
static void run_batchnorm(const char *file, int training) {
    fx_set f = {.file = file};
    size_t m[6];
    float raw[6];
    fx_meta(&f, m, 6, raw);
    pd_norm_shape s = {m[0], m[1], m[2] * m[3], raw[4]};
    const float momentum = raw[5];
    size_t nx = s.n * s.c * s.sp;
    float *x = fx_get(&f, "x", nx, NULL);         /* (n, c, h, w) */
    float *gamma = fx_get(&f, "gamma", s.c, NULL);
    float *beta = fx_get(&f, "beta", s.c, NULL);
    float *rm0 = fx_get(&f, "rm0", s.c, NULL);    /* running stats before */
    float *rv0 = fx_get(&f, "rv0", s.c, NULL);
    float *yref = fx_get(&f, "y", nx, NULL);
    float *dy = fx_get(&f, "dy", nx, NULL);
    float *y = fx_zeros(&f, nx);
    float *dx = fx_zeros(&f, nx);
    float *dg = fx_zeros(&f, s.c), *dbt = fx_zeros(&f, s.c);
    if (training) {
        float *mean = fx_zeros(&f, s.c), *rstd = fx_zeros(&f, s.c);
        float *rm = fx_copy(&f, rm0, s.c), *rv = fx_copy(&f, rv0, s.c);
        pd_batchnorm_forward_train(y, mean, rstd, rm, rv, x, gamma, beta,
                                   momentum, &s);
        check("bn train y", y, yref, nx);
        check("bn train running_mean", rm, fx_get(&f, "rm", s.c, NULL), s.c);
        check("bn train running_var", rv, fx_get(&f, "rv", s.c, NULL), s.c);
        pd_batchnorm_backward_train(dx, dg, dbt, dy, x, mean, rstd, gamma, &s);
    } else {
        pd_batchnorm_forward_eval(y, x, gamma, beta, rm0, rv0, &s);
        check("bn eval y", y, yref, nx);
        pd_batchnorm_backward_eval(dx, dg, dbt, dy, x, gamma, rm0, rv0, &s);
    }
    check("bn dx", dx, fx_get(&f, "dx", nx, NULL), nx);
    check("bn dgamma", dg, fx_get(&f, "dgamma", s.c, NULL), s.c);
    check("bn dbeta", dbt, fx_get(&f, "dbeta", s.c, NULL), s.c);
    fx_free(&f);
}

static void test_batchnorm_train(void **state) {
    (void)state;
    run_batchnorm(PD_FIXTURES "/ops_bn_train.bin", 1);
}

static void test_batchnorm_eval(void **state) {
    (void)state;
    run_batchnorm(PD_FIXTURES "/ops_bn_eval.bin", 0);
}

/* ---- instance norm 1d, no affine: meta [n, c, l, eps] ------------------- */
static void test_instance_norm(void **state) {
    (void)state;
    fx_set f = {.file = PD_FIXTURES "/ops_instnorm.bin"};
    size_t m[4];
    float raw[4];
    fx_meta(&f, m, 4, raw);
    pd_norm_shape s = {m[0], m[1], m[2], raw[3]};
    size_t nx = s.n * s.c * s.sp;
    float *x = fx_get(&f, "x", nx, NULL);         /* (n, c, l) */
    float *dy = fx_get(&f, "dy", nx, NULL);
    float *y = fx_zeros(&f, nx), *dx = fx_zeros(&f, nx);
    float *mean = fx_zeros(&f, s.n * s.c), *rstd = fx_zeros(&f, s.n * s.c);
    pd_groupnorm_forward(y, mean, rstd, x, NULL, NULL, s.c, &s);
    check("instnorm y", y, fx_get(&f, "y", nx, NULL), nx);
    pd_groupnorm_backward(dx, NULL, NULL, dy, x, mean, rstd, NULL, s.c, &s);
    check("instnorm dx", dx, fx_get(&f, "dx", nx, NULL), nx);
    fx_free(&f);
}

/* ---- group norm with affine: meta [n, c, l, groups, eps] ---------------- */
static void test_group_norm(void **state) {
    (void)state;
    fx_set f = {.file = PD_FIXTURES "/ops_groupnorm.bin"};
    size_t m[5];
    float raw[5];
    fx_meta(&f, m, 5, raw);
    pd_norm_shape s = {m[0], m[1], m[2], raw[4]};
    const size_t g = m[3];
    size_t nx = s.n * s.c * s.sp;
    float *x = fx_get(&f, "x", nx, NULL);         /* (n, c, l) */
    float *gamma = fx_get(&f, "gamma", s.c, NULL);
    float *beta = fx_get(&f, "beta", s.c, NULL);
    float *dy = fx_get(&f, "dy", nx, NULL);
    float *y = fx_zeros(&f, nx), *dx = fx_zeros(&f, nx);
    float *dg = fx_zeros(&f, s.c), *dbt = fx_zeros(&f, s.c);
    float *mean = fx_zeros(&f, s.n * g), *rstd = fx_zeros(&f, s.n * g);
    pd_groupnorm_forward(y, mean, rstd, x, gamma, beta, g, &s);
    check("groupnorm y", y, fx_get(&f, "y", nx, NULL), nx);
    pd_groupnorm_backward(dx, dg, dbt, dy, x, mean, rstd, gamma, g, &s);
    check("groupnorm dx", dx, fx_get(&f, "dx", nx, NULL), nx);
    check("groupnorm dgamma", dg, fx_get(&f, "dgamma", s.c, NULL), s.c);
    check("groupnorm dbeta", dbt, fx_get(&f, "dbeta", s.c, NULL), s.c);
    fx_free(&f);
}

/* ---- cross-entropy, mean over samples: meta [n, c, scale] --------------- */
static void test_cross_entropy(void **state) {
    (void)state;
    fx_set f = {.file = PD_FIXTURES "/ops_xent.bin"};
    size_t m[3];
    float raw[3];
    fx_meta(&f, m, 3, raw);
    const size_t n = m[0], c = m[1];
    float *logits = fx_get(&f, "logits", n * c, NULL);   /* (n, c) */
    float *flab = fx_get(&f, "labels", n, NULL);          /* (n) as floats */
    float *lref = fx_get(&f, "loss", 1, NULL);
    int32_t labels[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) labels[i] = (int32_t)flab[i];
    float *probs = fx_zeros(&f, n * c), *dl = fx_zeros(&f, n * c);
    float loss = (float)pd_xent_forward(probs, logits, labels, n, c);
    check("xent loss", &loss, lref, 1);
    check("xent probs", probs, fx_get(&f, "probs", n * c, NULL), n * c);
    pd_xent_backward(dl, probs, labels, n, c, raw[2]);
    check("xent dlogits", dl, fx_get(&f, "dlogits", n * c, NULL), n * c);
    fx_free(&f);
}

/* ---- SGD: meta [size, steps, lr, momentum, dampening, wd, nesterov] ----- */
static void test_sgd(void **state) {
    (void)state;
    fx_set f = {.file = PD_FIXTURES "/ops_sgd.bin"};
    size_t m[7];
    float raw[7];
    fx_meta(&f, m, 7, raw);
    const size_t n = m[0], steps = m[1];
    assert_true(steps >= 2); /* the second step uses the momentum buffer */
    pd_sgd o = {raw[2], raw[3], raw[4], raw[5], (int)m[6]};
    float *p = fx_copy(&f, fx_get(&f, "p0", n, NULL), n);
    float *buf = fx_zeros(&f, n);
    for (size_t t = 1; t <= steps; t++) {
        char gname[16], pname[16];
        snprintf(gname, sizeof gname, "g%zu", t);
        snprintf(pname, sizeof pname, "p%zu", t);
        pd_sgd_step(&o, p, fx_get(&f, gname, n, NULL), buf, n, t == 1);
        check(pname, p, fx_get(&f, pname, n, NULL), n);
    }
    fx_free(&f);
}

/* ---- AdamW: meta [size, steps, lr, beta1, beta2, eps, wd] --------------- */
static void test_adamw(void **state) {
    (void)state;
    fx_set f = {.file = PD_FIXTURES "/ops_adamw.bin"};
    size_t m[7];
    float raw[7];
    fx_meta(&f, m, 7, raw);
    const size_t n = m[0], steps = m[1];
    assert_true(steps >= 2);
    pd_adamw o = {raw[2], raw[3], raw[4], raw[5], raw[6]};
    float *p = fx_copy(&f, fx_get(&f, "p0", n, NULL), n);
    float *mom = fx_zeros(&f, n), *var = fx_zeros(&f, n);
    for (size_t t = 1; t <= steps; t++) {
        char gname[16], pname[16];
        snprintf(gname, sizeof gname, "g%zu", t);
        snprintf(pname, sizeof pname, "p%zu", t);
        pd_adamw_step(&o, p, fx_get(&f, gname, n, NULL), mom, var, n, (long)t);
        check(pname, p, fx_get(&f, pname, n, NULL), n);
    }
    fx_free(&f);
}

/* the comparison itself can fail: a small error in a fixture-sized output
 * is detected, and a missing file or array is reported as absent */
static void test_detects_mismatch(void **state) {
    (void)state;
    size_t n = 0;
    float *y = tu_fixture(PD_FIXTURES "/ops_conv1d_s1p1.bin", "y", &n);
    assert_non_null(y);
    assert_true(n > 4);
    float *z = malloc(n * sizeof(float));
    assert_non_null(z);
    memcpy(z, y, n * sizeof(float));
    assert_true(tu_close_ratio(z, y, n, RTOL, ATOL) <= 1.0);
    z[n / 2] += 1e-3f + 1e-3f * fabsf(z[n / 2]);
    assert_true(tu_close_ratio(z, y, n, RTOL, ATOL) > 1.0);
    assert_null(tu_fixture(PD_FIXTURES "/ops_conv1d_s1p1.bin", "nope", &n));
    assert_null(tu_fixture(PD_FIXTURES "/ops_no_such_case.bin", "y", &n));
    free(z);
    free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv1d),
        cmocka_unit_test(test_convt1d),
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_batchnorm_train),
        cmocka_unit_test(test_batchnorm_eval),
        cmocka_unit_test(test_instance_norm),
        cmocka_unit_test(test_group_norm),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_sgd),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_detects_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
