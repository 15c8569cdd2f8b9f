/*
 * test_denoiser.c — the latent ε-prediction network (src/model/denoiser.c):
 *  - forward and gradients (w.r.t. every parameter and the input) against
 *    the independent PyTorch model of scripts/pdiff_model_torch.py, through
 *    the fixtures of scripts/make_model_fixtures.py (weights by name);
 *  - central finite differences of the whole network's loss w.r.t. a
 *    sample of its parameters (time table included) and its input;
 *  - each sample uses its own timestep: a batch equals its rows run alone;
 *  - forward_with(a copy of the weights) equals forward; bad t is refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/denoiser.h"
#include "testutil.h"

#define FX_RTOL 1e-4  /* forward vs the float64 reference, relative */
#define FX_GRTOL 1e-3 /* gradients, relative */
#define FX_SCALE 1e-4 /* plus this × the array's largest magnitude */
#define FX_GSCALE 5e-4 /* the same for gradients (instance norm amplifies) */

/* a against reference b: rtol plus FX_SCALE × b's largest magnitude */
static void assert_close_scaled(const float *a, const float *b, size_t n, double rtol,
                                double scale, const char *what) {
    double mx = 0.0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(b[i]));
    double r = tu_close_ratio(a, b, n, rtol, scale * mx + 1e-8);
    if (!(r <= 1.0) && getenv("PD_TEST_VERBOSE"))
        for (size_t i = 0; i < n; i++)
            if (fabs(a[i] - b[i]) > rtol * fabs(b[i]) + scale * mx + 1e-8)
                fprintf(stderr, "  %s[%zu]: %g vs %g (max %g)\n", what, i, a[i], b[i], mx);
    if (!(r <= 1.0)) fail_msg("%s: not close (ratio %g)", what, r);
}

static void make_den(pd_den *d, size_t L, size_t T, const size_t ch[4]) {
    pd_den_config c = {L, T, {ch[0], ch[1], ch[2], ch[3]}};
    assert_int_equal(pd_den_create(d, &c), PD_OK);
}

/* ---- fixtures ------------------------------------------------------------ */

static void check_fixture(const char *base) {
    char file[512];
    snprintf(file, sizeof file, "%s/%s", PD_FIXTURES, base);
    float *cfg = tu_fixture_need(file, "cfg", 6);
    const size_t L = (size_t)cfg[0], T = (size_t)cfg[1];
    const size_t ch[4] = {(size_t)cfg[2], (size_t)cfg[3], (size_t)cfg[4], (size_t)cfg[5]};
    free(cfg);
    pd_den d;
    make_den(&d, L, T, ch);
    for (size_t i = 0; i < d.params.count; i++) {
        pd_tensor *t = &d.params.t[i];
        char name[160];
        snprintf(name, sizeof name, "w.%s", t->name);
        float *a = tu_fixture_need(file, name, t->numel);
        memcpy(t->data, a, t->numel * sizeof(float));
        free(a);
    }
    size_t n = 0;
    float *x = tu_fixture(file, "x", &n);
    assert_non_null(x);
    const size_t B = n / L;
    float *tf = tu_fixture_need(file, "t", B), *out = tu_fixture_need(file, "out", B * L);
    float *target = tu_fixture_need(file, "target", B * L);
    float *gx = tu_fixture_need(file, "gx", B * L);
    int32_t *t = malloc(B * sizeof(int32_t));
    assert_non_null(t);
    for (size_t i = 0; i < B; i++) t[i] = (int32_t)tf[i];
    pd_graph *g = pd_graph_new();
    assert_non_null(g);
    pd_params_zero_grad(&d.params);
    pd_val *xv = pd_g_input(g, x, 3, (size_t[]){B, 1, L}, 1);
    pd_val *y = pd_den_forward(&d, g, xv, t);
    assert_non_null(y);
    assert_int_equal(y->ndim, 3);
    assert_int_equal(y->shape[1], 1);
    assert_close_scaled(y->v, out, B * L, FX_RTOL, FX_SCALE, "out");
    pd_g_backward(g, pd_g_mse(g, y, target));
    assert_false(pd_g_failed(g));
    assert_close_scaled(xv->g, gx, B * L, FX_GRTOL, FX_GSCALE, "input gradient");
    for (size_t i = 0; i < d.params.count; i++) {
        pd_tensor *p = &d.params.t[i];
        char name[160];
        snprintf(name, sizeof name, "g.%s", p->name);
        float *ref = tu_fixture_need(file, name, p->numel);
        assert_close_scaled(p->grad, ref, p->numel, FX_GRTOL, FX_GSCALE, p->name);
        free(ref);
    }
    free(x);
    free(tf);
    free(out);
    free(target);
    free(gx);
    free(t);
    pd_graph_free(g);
    pd_den_free(&d);
}

static void test_fixture_l6(void **st) { (void)st; check_fixture("model_den.bin"); }
static void test_fixture_l12(void **st) { (void)st; check_fixture("model_den_l12.bin"); }

/* ---- gradient check ------------------------------------------------------ */

/* Statistical finite differences, as in test_ae.c: instance norm over a few
 * positions and LeakyReLU kinks make the loss rough below float resolution,
 * so most elements must agree and the median tightly; values under the
 * float noise of the difference quotient are judged against that floor. */
#define GC_MEDIAN 1e-2

typedef struct {
    pd_den *d;
    pd_graph *g;
    float *x, *r;
    int32_t *t;
    size_t B;
} gc_ctx;

static pd_val *gc_forward(gc_ctx *c, pd_val **xv, int grad) {
    pd_g_reset(c->g);
    pd_g_set_grad(c->g, grad);
    *xv = pd_g_input(c->g, c->x, 3, (size_t[]){c->B, 1, c->d->cfg.L}, 1);
    pd_val *y = pd_den_forward(c->d, c->g, *xv, c->t);
    assert_non_null(y);
    assert_false(pd_g_failed(c->g));
    return y;
}

/* loss = Σ ε̂·r in double */
static double gc_loss(void *ctx) {
    gc_ctx *c = ctx;
    pd_val *xv;
    pd_val *y = gc_forward(c, &xv, 0);
    return tu_dot(y->v, c->r, y->numel);
}

/* Σ |y·r|, the scale of the loss's rounding noise */
static double gc_loss_scale(void *ctx) {
    gc_ctx *c = ctx;
    pd_val *xv;
    pd_val *y = gc_forward(c, &xv, 0);
    return tu_dot_abs(y->v, c->r, y->numel);
}


static void test_gradcheck(void **st) {
    (void)st;
    const size_t ch[4] = {4, 6, 8, 10}, L = 6, T = 10, B = 3;
    pd_den d;
    make_den(&d, L, T, ch);
    pd_rng r;
    pd_rng_seed(&r, 21, 0);
    pd_den_init(&d, &r);
    int32_t t[3] = {0, 9, 4};
    gc_ctx c = {&d, pd_graph_new(), tu_falloc(B * L), tu_falloc(B * L), t, B};
    assert_non_null(c.g);
    tu_fill(&r, c.x, B * L, -1.0f, 1.0f);
    tu_fill(&r, c.r, B * L, -1.0f, 1.0f);
    pd_params_zero_grad(&d.params);
    pd_val *xv;
    pd_val *y = gc_forward(&c, &xv, 1);
    /* seed dL/dy = r through MSE: t = y − r n / 2 gives 2 (y − t) / n = r */
    float *tg = tu_falloc(y->numel);
    for (size_t i = 0; i < y->numel; i++) tg[i] = y->v[i] - c.r[i] * (float)y->numel * 0.5f;
    pd_g_backward(c.g, pd_g_mse(c.g, y, tg));
    const size_t np = d.params.total;
    float *pg = tu_falloc(np), *xg = tu_falloc(B * L);
    memcpy(pg, d.params.grad, np * sizeof(float));
    memcpy(xg, xv->g, B * L * sizeof(float));
    tu_gradcheck_stats(gc_loss, gc_loss_scale, &c, d.params.data, pg, np, "parameters", GC_MEDIAN);
    tu_gradcheck_stats(gc_loss, gc_loss_scale, &c, c.x, xg, B * L, "input", GC_MEDIAN);
    /* the time table and the output layer densely */
    pd_tensor *te = pd_params_find(&d.params, "time_encode.weight");
    pd_tensor *out = pd_params_find(&d.params, "dec4.conv2.weight");
    assert_non_null(te);
    assert_non_null(out);
    tu_gradcheck_stats(gc_loss, gc_loss_scale, &c, te->data, pg + te->offset, te->numel, "time table", GC_MEDIAN);
    tu_gradcheck_stats(gc_loss, gc_loss_scale, &c, out->data, pg + out->offset, out->numel, "output weight", GC_MEDIAN);
    /* rows of the time table no sample uses get no gradient */
    for (size_t row = 0; row < T; row++) {
        int used = row == 0 || row == 9 || row == 4;
        double s = 0.0;
        for (size_t j = 0; j < L; j++) s += fabs(pg[te->offset + row * L + j]);
        if (used) assert_true(s > 0.0); else assert_true(s == 0.0);
    }
    free(tg);
    free(pg);
    free(xg);
    free(c.x);
    free(c.r);
    pd_graph_free(c.g);
    pd_den_free(&d);
}

/* ---- per-sample timesteps, weights override, errors ---------------------- */

static void test_per_sample_t(void **st) {
    (void)st;
    const size_t ch[4] = {4, 6, 8, 10}, L = 7, T = 20, B = 4;
    pd_den d;
    make_den(&d, L, T, ch);
    pd_rng r;
    pd_rng_seed(&r, 22, 0);
    pd_den_init(&d, &r);
    float *x = tu_falloc(B * L), *all = tu_falloc(B * L);
    tu_fill(&r, x, B * L, -1.0f, 1.0f);
    int32_t t[4] = {3, 17, 0, 11};
    pd_graph *g = pd_graph_new();
    pd_g_set_grad(g, 0);
    pd_val *y = pd_den_forward(&d, g, pd_g_input(g, x, 2, (size_t[]){B, L}, 0), t);
    assert_non_null(y);
    memcpy(all, y->v, B * L * sizeof(float));
    for (size_t i = 0; i < B; i++) {
        pd_g_reset(g);
        pd_val *yi = pd_den_forward(&d, g, pd_g_input(g, x + i * L, 3, (size_t[]){1, 1, L}, 0),
                                    t + i);
        TU_ASSERT_CLOSE(yi->v, all + i * L, L, 1e-5, 1e-6);
    }
    /* and the timestep matters */
    pd_g_reset(g);
    int32_t t0[1] = {5};
    pd_val *y5 = pd_den_forward(&d, g, pd_g_input(g, x, 3, (size_t[]){1, 1, L}, 0), t0);
    double diff = 0.0;
    for (size_t j = 0; j < L; j++) diff += fabs(y5->v[j] - all[j]);
    assert_true(diff > 1e-3);
    /* forward_with a copy of the weights is the same function */
    float *w = tu_falloc(d.params.total);
    memcpy(w, d.params.data, d.params.total * sizeof(float));
    pd_g_reset(g);
    pd_val *yw = pd_den_forward_with(&d, g, pd_g_input(g, x, 2, (size_t[]){B, L}, 0), t, w);
    assert_memory_equal(yw->v, all, B * L * sizeof(float));
    /* a timestep out of range or a wrong length is refused */
    int32_t bad[4] = {3, 20, 0, 1};
    pd_g_reset(g);
    assert_null(pd_den_forward(&d, g, pd_g_input(g, x, 2, (size_t[]){B, L}, 0), bad));
    assert_null(pd_den_forward(&d, g, pd_g_input(g, x, 2, (size_t[]){2, L + 1}, 0), t));
    free(w);
    free(x);
    free(all);
    pd_graph_free(g);
    pd_den_free(&d);
}

static void test_names_and_init(void **st) {
    (void)st;
    const size_t ch[4] = {64, 128, 256, 512};
    pd_den d;
    make_den(&d, 12, 1000, ch);
    const char *names[] = {"enc1.conv1.weight", "enc4.conv2.bias", "dec1.conv1.weight",
                           "dec4.conv2.weight", "time_encode.weight"};
    for (size_t i = 0; i < 5; i++) assert_non_null(pd_params_find(&d.params, names[i]));
    pd_tensor *w = pd_params_find(&d.params, "dec1.conv1.weight");
    assert_int_equal(w->shape[0], 256);
    assert_int_equal(w->shape[1], 512);
    pd_rng r;
    pd_rng_seed(&r, 23, 0);
    pd_den_init(&d, &r);
    float bound = 1.0f / sqrtf(512.0f * 3.0f);
    float mx = 0.0f;
    for (size_t i = 0; i < w->numel; i++) mx = fmaxf(mx, fabsf(w->data[i]));
    assert_true(mx <= bound && mx > 0.9f * bound);
    pd_den_free(&d);
    pd_den_config bad = {1, 10, {4, 4, 4, 4}};
    assert_int_equal(pd_den_create(&d, &bad), PD_ERR_ARG);
    bad.L = 4;
    bad.T = 0;
    assert_int_equal(pd_den_create(&d, &bad), PD_ERR_ARG);
}

int main(void) {
    pd_set_threads(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_l6),   cmocka_unit_test(test_fixture_l12),
        cmocka_unit_test(test_gradcheck),    cmocka_unit_test(test_per_sample_t),
        cmocka_unit_test(test_names_and_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
