/*
 * test_graph.c — the ops written inline in graph.c (no kernel of their own
 * in ops.h): the VAE's reparameterization and KL term, the denoiser's
 * add_rows (time embedding over channels) and embedding lookup, the
 * autoencoder's resize_last (pad and crop), noise augmentation's
 * scale_add, clamp, and sum2 (loss mixing); and chunk_linear, the
 * whole-network autoencoder's per-chunk projection; and the channel slice
 * (cached frozen heads of residual blocks), two overlapping slices added so
 * the backward's accumulation is checked too. Each forward is checked against
 * values computed here in double, each backward against central finite
 * differences of a scalar loss (the mean squared error to a fixed random
 * target, smooth in every input).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "engine/graph/graph.h"

typedef enum { OP_REPARAM, OP_KL, OP_ADD_ROWS, OP_EMBEDDING, OP_PAD, OP_CROP, OP_SCALE_ADD,
               OP_CLAMP, OP_SUM2, OP_CHUNK_LINEAR, OP_SLICE } op;

/* chunk_linear: N rows of CH chunks, each CIN values mapped to COUT */
enum { CH = 5, CIN = 4, COUT = 3 };

enum { N = 3, C = 4, L = 5 };

typedef struct {
    op kind;
    float a[N * C * L], b[N * C * L]; /* the two inputs (b unused by some) */
    float ga[N * C * L], gb[N * C * L];
    size_t na, nb;
    float c3[CH * COUT];              /* chunk_linear's bias */
    float gc3[CH * COUT];
    float eps[N * C * L];             /* constants: reparam noise, scale_add noise */
    float target[2 * N * C * L];
    int32_t idx[N];
    pd_val *vc;                        /* chunk_linear's bias value */
    pd_graph *g;
} gcase;

/* forward of the op under test; y is the op's output */
static pd_val *forward(gcase *c, pd_val **va, pd_val **vb, int grad) {
    pd_graph *g = c->g;
    pd_g_reset(g);
    pd_g_set_grad(g, grad);
    size_t s3[3] = {N, C, L}, s2[2] = {N, L}, tab[2] = {7, L};
    *vb = NULL;
    switch (c->kind) {
    case OP_REPARAM:
        *va = pd_g_input(g, c->a, 3, s3, grad);
        *vb = pd_g_input(g, c->b, 3, s3, grad);
        return pd_g_reparam(g, *va, *vb, c->eps);
    case OP_KL:
        *va = pd_g_input(g, c->a, 3, s3, grad);
        *vb = pd_g_input(g, c->b, 3, s3, grad);
        return pd_g_kl(g, *va, *vb);
    case OP_ADD_ROWS:
        *va = pd_g_input(g, c->a, 3, s3, grad);
        *vb = pd_g_input(g, c->b, 2, s2, grad);
        return pd_g_add_rows(g, *va, *vb);
    case OP_EMBEDDING:
        *va = pd_g_input(g, c->a, 2, tab, grad);
        return pd_g_embedding(g, *va, c->idx, N);
    case OP_PAD:
        *va = pd_g_input(g, c->a, 3, s3, grad);
        return pd_g_resize_last(g, *va, L + 3);
    case OP_CROP:
        *va = pd_g_input(g, c->a, 3, s3, grad);
        return pd_g_resize_last(g, *va, L - 2);
    case OP_SCALE_ADD:
        *va = pd_g_input(g, c->a, 3, s3, grad);
        return pd_g_scale_add(g, *va, 0.7f, c->eps);
    case OP_CLAMP:
        *va = pd_g_input(g, c->a, 3, s3, grad);
        return pd_g_clamp(g, *va, -0.5f, 0.5f);
    case OP_CHUNK_LINEAR: { /* a: x (N, CH·CIN), b: w (CH, COUT, CIN), c3: bias */
        *va = pd_g_input(g, c->a, 2, (size_t[]){N, CH * CIN}, grad);
        *vb = pd_g_input(g, c->b, 3, (size_t[]){CH, COUT, CIN}, grad);
        c->vc = pd_g_input(g, c->c3, 2, (size_t[]){CH, COUT}, grad);
        return pd_g_chunk_linear(g, *va, *vb, c->vc);
    }
    case OP_SLICE: /* channels 1-2 plus channels 2-3: channel 2 read twice */
        *va = pd_g_input(g, c->a, 3, s3, grad);
        return pd_g_add(g, pd_g_slice_channels(g, *va, 1, 2), pd_g_slice_channels(g, *va, 2, 2));
    case OP_SUM2: {
        *va = pd_g_input(g, c->a, 3, s3, grad);
        *vb = pd_g_input(g, c->b, 3, s3, grad);
        pd_val *la = pd_g_mse(g, *va, c->target), *lb = pd_g_mse(g, *vb, c->target + N * C * L);
        return pd_g_sum2(g, la, 0.3f, lb, 1.7f);
    }
    }
    return NULL;
}

/* the scalar loss: the op's output itself when scalar, else its MSE to
 * the target */
static pd_val *loss_of(gcase *c, pd_val *y) {
    return y->numel == 1 ? y : pd_g_mse(c->g, y, c->target);
}

static double loss_fn(void *ctx) {
    gcase *c = ctx;
    pd_val *va, *vb;
    pd_val *y = forward(c, &va, &vb, 0);
    return loss_of(c, y)->v[0];
}

static void setup(gcase *c, op kind, uint64_t seed) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    pd_rng r;
    pd_rng_seed(&r, seed, 0);
    c->na = kind == OP_EMBEDDING ? 7 * L : kind == OP_CHUNK_LINEAR ? N * CH * CIN : N * C * L;
    c->nb = kind == OP_ADD_ROWS ? N * L : kind == OP_CHUNK_LINEAR ? CH * COUT * CIN : N * C * L;
    tu_fill(&r, c->c3, CH * COUT, -1, 1);
    tu_fill(&r, c->a, N * C * L, -1, 1);
    tu_fill(&r, c->b, N * C * L, -1, 1);
    tu_fill(&r, c->eps, N * C * L, -1, 1);
    tu_fill(&r, c->target, 2 * N * C * L, -1, 1);
    c->idx[0] = 6, c->idx[1] = 0, c->idx[2] = 6; /* a repeated row sums its gradient */
    if (kind == OP_CLAMP) /* keep inputs away from the kinks at ±0.5 */
        for (size_t i = 0; i < c->na; i++)
            if (fabsf(fabsf(c->a[i]) - 0.5f) < 0.05f) c->a[i] += 0.1f;
    c->g = pd_graph_new();
    assert_non_null(c->g);
}

static void gradcheck(op kind, float h) {
    gcase c;
    setup(&c, kind, 40 + (uint64_t)kind);
    pd_val *va, *vb;
    pd_val *y = forward(&c, &va, &vb, 1);
    pd_val *loss = loss_of(&c, y);
    assert_false(pd_g_failed(c.g));
    pd_g_backward(c.g, loss);
    memcpy(c.ga, va->g, c.na * sizeof(float));
    if (vb) memcpy(c.gb, vb->g, c.nb * sizeof(float));
    if (kind == OP_CHUNK_LINEAR) memcpy(c.gc3, c.vc->g, sizeof c.gc3);
    int has_b = vb != NULL;
    /* the denominator's floor: a tenth of the largest gradient element, far
     * above the loss's float rounding over 2h (an element whose gradient is
     * near 0 is then judged by its absolute error) */
    double big = 0;
    for (size_t i = 0; i < c.na; i++) big = fmax(big, fabs(c.ga[i]));
    for (size_t i = 0; has_b && i < c.nb; i++) big = fmax(big, fabs(c.gb[i]));
    double floor = 0.1 * big;
    double ea = tu_gradcheck(loss_fn, &c, c.a, c.ga, c.na, 200, h, floor);
    double eb = has_b ? tu_gradcheck(loss_fn, &c, c.b, c.gb, c.nb, 200, h, floor) : 0;
    double ec = kind == OP_CHUNK_LINEAR
                    ? tu_gradcheck(loss_fn, &c, c.c3, c.gc3, CH * COUT, 200, h, floor) : 0;
    if (!(ea < 2e-3 && eb < 2e-3 && ec < 2e-3))
        fail_msg("op %d: gradient error a %g, b %g, bias %g", kind, ea, eb, ec);
    pd_graph_free(c.g);
}

static void test_gradients(void **state) {
    (void)state;
    /* linear ops: a quadratic loss, central differences exact up to rounding */
    gradcheck(OP_ADD_ROWS, 0.1f);
    gradcheck(OP_EMBEDDING, 0.1f);
    gradcheck(OP_PAD, 0.1f);
    gradcheck(OP_CROP, 0.1f);
    gradcheck(OP_SCALE_ADD, 0.1f);
    gradcheck(OP_CLAMP, 0.01f);
    gradcheck(OP_SUM2, 0.1f);
    gradcheck(OP_CHUNK_LINEAR, 0.1f);
    gradcheck(OP_SLICE, 0.1f);
    /* exp inside: truncation error O(h²), still below the rounding at this step */
    gradcheck(OP_REPARAM, 2e-2f);
    gradcheck(OP_KL, 2e-2f);
}

static void test_forward_values(void **state) {
    (void)state;
    pd_val *va, *vb, *y;
    gcase c;
    const size_t n = N * C * L;

    setup(&c, OP_REPARAM, 1);
    y = forward(&c, &va, &vb, 0);
    for (size_t i = 0; i < n; i++)
        assert_float_equal(y->v[i], c.a[i] + exp(c.b[i] / 2.0) * c.eps[i], 1e-6);
    pd_graph_free(c.g);

    setup(&c, OP_KL, 2);
    y = forward(&c, &va, &vb, 0);
    double kl = 0;
    for (size_t i = 0; i < n; i++)
        kl += -0.5 * (1 + c.b[i] - (double)c.a[i] * c.a[i] - exp(c.b[i]));
    assert_int_equal(y->numel, 1);
    assert_float_equal(y->v[0], kl / n, 1e-6);
    pd_graph_free(c.g);

    setup(&c, OP_ADD_ROWS, 3);
    y = forward(&c, &va, &vb, 0);
    for (size_t i = 0; i < N; i++)
        for (size_t ch = 0; ch < C; ch++)
            for (size_t l = 0; l < L; l++)
                assert_float_equal(y->v[(i * C + ch) * L + l],
                                   c.a[(i * C + ch) * L + l] + c.b[i * L + l], 1e-6);
    pd_graph_free(c.g);

    setup(&c, OP_EMBEDDING, 4);
    y = forward(&c, &va, &vb, 0);
    assert_int_equal(y->numel, N * L);
    for (size_t i = 0; i < N; i++)
        assert_memory_equal(y->v + i * L, c.a + (size_t)c.idx[i] * L, L * sizeof(float));
    pd_graph_free(c.g);

    setup(&c, OP_PAD, 5);
    y = forward(&c, &va, &vb, 0);
    assert_int_equal(y->shape[2], L + 3);
    for (size_t row = 0; row < N * C; row++)
        for (size_t l = 0; l < L + 3; l++)
            assert_true(y->v[row * (L + 3) + l] == (l < L ? c.a[row * L + l] : 0.0f));
    pd_graph_free(c.g);

    setup(&c, OP_CROP, 6);
    y = forward(&c, &va, &vb, 0);
    for (size_t row = 0; row < N * C; row++)
        assert_memory_equal(y->v + row * (L - 2), c.a + row * L, (L - 2) * sizeof(float));
    pd_graph_free(c.g);

    setup(&c, OP_SCALE_ADD, 7);
    y = forward(&c, &va, &vb, 0);
    for (size_t i = 0; i < n; i++) assert_float_equal(y->v[i], c.a[i] * 0.7 + c.eps[i], 1e-6);
    pd_graph_free(c.g);

    setup(&c, OP_CLAMP, 8);
    y = forward(&c, &va, &vb, 0);
    for (size_t i = 0; i < n; i++)
        assert_true(y->v[i] == (c.a[i] < -0.5f ? -0.5f : c.a[i] > 0.5f ? 0.5f : c.a[i]));
    pd_graph_free(c.g);

    setup(&c, OP_CHUNK_LINEAR, 10);
    y = forward(&c, &va, &vb, 0);
    assert_int_equal(y->numel, N * CH * COUT);
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < CH; t++)
            for (size_t o = 0; o < COUT; o++) {
                double acc = c.c3[t * COUT + o];
                for (size_t j = 0; j < CIN; j++)
                    acc += (double)c.b[(t * COUT + o) * CIN + j] * c.a[(i * CH + t) * CIN + j];
                assert_float_equal(y->v[(i * CH + t) * COUT + o], acc, 1e-5);
            }
    pd_graph_free(c.g);

    setup(&c, OP_SLICE, 11);
    y = forward(&c, &va, &vb, 0);
    assert_int_equal(y->shape[1], 2);
    assert_int_equal(y->numel, N * 2 * L);
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < 2; k++)
            for (size_t l = 0; l < L; l++)
                assert_float_equal(y->v[(i * 2 + k) * L + l],
                                   c.a[(i * C + 1 + k) * L + l] + c.a[(i * C + 2 + k) * L + l],
                                   1e-6);
    pd_graph_free(c.g);

    setup(&c, OP_SUM2, 9);
    y = forward(&c, &va, &vb, 0);
    double ma = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += ((double)c.a[i] - c.target[i]) * ((double)c.a[i] - c.target[i]);
        mb += ((double)c.b[i] - c.target[n + i]) * ((double)c.b[i] - c.target[n + i]);
    }
    assert_float_equal(y->v[0], 0.3 * ma / n + 1.7 * mb / n, 1e-5);
    pd_graph_free(c.g);
}

int main(void) {
    pd_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_values),
        cmocka_unit_test(test_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
