/*
 * test_ops_conv.c — the convolution family of src/ops: linear, conv1d,
 * conv_transpose1d, conv2d, max-pool 2d, global average pool.
 *
 *  1. optimized vs naive reference (tests/ref) on random shape sweeps:
 *     odd sizes, stride 1..3, padding 0..2, output_padding, k 1/3/5,
 *     batch 1..3, with and without bias; backward must ADD into gradients
 *     that start non-zero; scratch starts as NaN garbage. conv1d and
 *     conv_transpose1d run once per algorithm (direct, shifted GEMM,
 *     im2col GEMM, and the automatic choice).
 *  2. backward vs central finite differences of loss = Σ y·r for x, w, b
 *     of each op, max-pool inputs kept away from ties.
 *  3. tiny hand-computed values: conv1d, conv_transpose1d, im2col layouts,
 *     max-pool argmax (ties, overlapping windows), gap, linear.
 *  4. NULL gradients are skipped, and the others are unchanged by that.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/im2col.h"
#include "engine/ops/ops.h"
#include "engine/ops/conv_dnnl.h"
#include "ref/ref.h"
#include "testutil.h"

#define RTOL 1e-4
#define ATOL 1e-5

/* ---- one test case of a weighted op, whatever its kind ------------------ */

typedef enum { OP_LINEAR, OP_CONV1D, OP_CONVT1D, OP_CONV2D } op_kind;

typedef struct {
    op_kind kind;
    pd_linear_shape ls;
    pd_conv1d_shape cs;
    pd_convt1d_shape ts;
    pd_conv2d_shape s2;
    int has_bias;
    size_t nx, nw, nb, ny, nscr;
    float *x, *w, *b, *y, *r, *scr;
} op_case;

static float *alloc_floats(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

/* scratch starts as NaN so a kernel reading what it never wrote shows up */
static void poison(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = NAN;
}

/* sizes from the shape, buffers allocated and filled from r */
/* the convolution algorithm every case runs with (each sweep tries all of
 * them; PD_CONV_AUTO: the shape's rule; conv2d maps all but AUTO and DNNL
 * to IM2COL) */
static pd_conv_algo test_algo = PD_CONV_AUTO;

static void case_setup(op_case *c, pd_rng *rng) {
    c->cs.algo = test_algo;
    c->ts.algo = test_algo;
    c->s2.algo = test_algo;
    switch (c->kind) {
    case OP_LINEAR:
        c->nx = c->ls.n * c->ls.in;
        c->nw = c->ls.out * c->ls.in;
        c->nb = c->ls.out;
        c->ny = c->ls.n * c->ls.out;
        c->nscr = 0;
        break;
    case OP_CONV1D:
        c->nx = c->cs.n * c->cs.cin * c->cs.lin;
        c->nw = c->cs.cout * c->cs.cin * c->cs.k;
        c->nb = c->cs.cout;
        c->ny = c->cs.n * c->cs.cout * pd_conv1d_lout(&c->cs);
        c->nscr = pd_conv1d_scratch(&c->cs);
        break;
    case OP_CONVT1D:
        c->nx = c->ts.n * c->ts.cin * c->ts.lin;
        c->nw = c->ts.cin * c->ts.cout * c->ts.k;
        c->nb = c->ts.cout;
        c->ny = c->ts.n * c->ts.cout * pd_convt1d_lout(&c->ts);
        c->nscr = pd_convt1d_scratch(&c->ts);
        break;
    case OP_CONV2D:
        c->nx = c->s2.n * c->s2.cin * c->s2.h * c->s2.w;
        c->nw = c->s2.cout * c->s2.cin * c->s2.k * c->s2.k;
        c->nb = c->s2.cout;
        c->ny = c->s2.n * c->s2.cout * pd_conv2d_hout(&c->s2) *
                pd_conv2d_wout(&c->s2);
        c->nscr = pd_conv2d_scratch(&c->s2);
        break;
    }
    c->x = alloc_floats(c->nx);
    c->w = alloc_floats(c->nw);
    c->b = alloc_floats(c->nb);
    c->y = alloc_floats(c->ny);
    c->r = alloc_floats(c->ny);
    c->scr = alloc_floats(c->nscr);
    tu_fill(rng, c->x, c->nx, -1.0f, 1.0f);
    tu_fill(rng, c->w, c->nw, -1.0f, 1.0f);
    tu_fill(rng, c->b, c->nb, -1.0f, 1.0f);
    tu_fill(rng, c->r, c->ny, -1.0f, 1.0f);
    poison(c->scr, c->nscr);
}

static void case_free(op_case *c) {
    free(c->x);
    free(c->w);
    free(c->b);
    free(c->y);
    free(c->r);
    free(c->scr);
}

static const float *bias_of(const op_case *c) { return c->has_bias ? c->b : NULL; }

/* y = op(x, w, b), optimized (ref = 0) or naive (ref = 1) */
static void case_forward(op_case *c, float *y, int ref) {
    const float *b = bias_of(c);
    switch (c->kind) {
    case OP_LINEAR:
        if (ref) pd_ref_linear_forward(y, c->x, c->w, b, &c->ls);
        else pd_linear_forward(y, c->x, c->w, b, &c->ls);
        break;
    case OP_CONV1D:
        if (ref) pd_ref_conv1d_forward(y, c->x, c->w, b, &c->cs);
        else pd_conv1d_forward(y, c->x, c->w, b, &c->cs, c->scr);
        break;
    case OP_CONVT1D:
        if (ref) pd_ref_convt1d_forward(y, c->x, c->w, b, &c->ts);
        else pd_convt1d_forward(y, c->x, c->w, b, &c->ts, c->scr);
        break;
    case OP_CONV2D:
        if (ref) pd_ref_conv2d_forward(y, c->x, c->w, b, &c->s2);
        else pd_conv2d_forward(y, c->x, c->w, b, &c->s2, c->scr);
        break;
    }
}

/* dx, dw, db += gradients of Σ y·dy (each may be NULL) */
static void case_backward(op_case *c, float *dx, float *dw, float *db,
                          const float *dy, int ref) {
    switch (c->kind) {
    case OP_LINEAR:
        if (ref) pd_ref_linear_backward(dx, dw, db, dy, c->x, c->w, &c->ls);
        else pd_linear_backward(dx, dw, db, dy, c->x, c->w, &c->ls);
        break;
    case OP_CONV1D:
        if (ref) pd_ref_conv1d_backward(dx, dw, db, dy, c->x, c->w, &c->cs);
        else pd_conv1d_backward(dx, dw, db, dy, c->x, c->w, &c->cs, c->scr);
        break;
    case OP_CONVT1D:
        if (ref) pd_ref_convt1d_backward(dx, dw, db, dy, c->x, c->w, &c->ts);
        else pd_convt1d_backward(dx, dw, db, dy, c->x, c->w, &c->ts, c->scr);
        break;
    case OP_CONV2D:
        if (ref) pd_ref_conv2d_backward(dx, dw, db, dy, c->x, c->w, &c->s2);
        else pd_conv2d_backward(dx, dw, db, dy, c->x, c->w, &c->s2, c->scr);
        break;
    }
}

/* ---- random shapes ------------------------------------------------------ */

static size_t rnd(pd_rng *r, size_t lo, size_t hi) { /* uniform in [lo, hi] */
    return lo + pd_rng_below(r, (uint32_t)(hi - lo + 1));
}

static size_t rnd_k(pd_rng *r) {
    static const size_t ks[3] = {1, 3, 5};
    return ks[pd_rng_below(r, 3)];
}

static void random_shape(op_case *c, op_kind kind, pd_rng *r) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->has_bias = pd_rng_below(r, 4) != 0;
    size_t n = rnd(r, 1, 3), cin = rnd(r, 1, 5), cout = rnd(r, 1, 5);
    size_t k = rnd_k(r), stride = rnd(r, 1, 3), pad = rnd(r, 0, 2);
    switch (kind) {
    case OP_LINEAR:
        c->ls = (pd_linear_shape){rnd(r, 1, 5), rnd(r, 1, 13), rnd(r, 1, 11)};
        break;
    case OP_CONV1D: {
        /* lin + 2 pad >= k so that at least one output exists */
        size_t lin = rnd(r, k > 2 * pad ? k - 2 * pad : 1, 17);
        c->cs = (pd_conv1d_shape){n, cin, cout, lin, k, stride, pad, PD_MATH_F32, PD_CONV_AUTO};
        break;
    }
    case OP_CONVT1D: {
        size_t lin = rnd(r, 1, 11), op = rnd(r, 0, stride - 1);
        c->ts = (pd_convt1d_shape){n, cin, cout, lin, k, stride, pad, op,
                                   PD_MATH_F32, PD_CONV_AUTO};
        if (pd_convt1d_lout(&c->ts) == 0) c->ts.pad = 0;
        break;
    }
    case OP_CONV2D: {
        size_t lo = k > 2 * pad ? k - 2 * pad : 1;
        c->s2 = (pd_conv2d_shape){n, cin, cout, rnd(r, lo, 11), rnd(r, lo, 11),
                                  k, stride, pad, PD_MATH_F32, test_algo};
        break;
    }
    }
}

/* ---- 1. optimized vs reference ------------------------------------------ */

/* |a - ref| <= ATOL + RTOL |ref| + 1e-5 max|ref| element-wise: the last
 * term allows for fp32 GEMMs reducing over tens of thousands of terms
 * (dw sums over n*lout), whose error scales with the array's magnitude,
 * not with each element's */
static void max_abs(const float *v, size_t n, double *m) {
    *m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)v[i]) > *m) *m = fabs((double)v[i]);
}

static void assert_close_scaled(const float *a, const float *ref, size_t n) {
    double m;
    max_abs(ref, n, &m);
    TU_ASSERT_CLOSE(a, ref, n, RTOL, ATOL + 1e-5 * m);
}

/* forward and backward of one case, optimized vs reference; gradients start
 * from the same random values, so "adds into" is checked too */
static void check_against_ref(op_case *c, pd_rng *rng) {
    float *yr = alloc_floats(c->ny);
    case_forward(c, c->y, 0);
    case_forward(c, yr, 1);
    assert_close_scaled(c->y, yr, c->ny);

    float *g[3], *gr[3];
    size_t ng[3] = {c->nx, c->nw, c->nb};
    for (int i = 0; i < 3; i++) {
        g[i] = alloc_floats(ng[i]);
        gr[i] = alloc_floats(ng[i]);
        tu_fill(rng, g[i], ng[i], -1.0f, 1.0f);
        memcpy(gr[i], g[i], ng[i] * sizeof(float));
    }
    poison(c->scr, c->nscr);
    case_backward(c, g[0], g[1], g[2], c->r, 0);
    case_backward(c, gr[0], gr[1], gr[2], c->r, 1);
    assert_close_scaled(g[0], gr[0], c->nx);
    assert_close_scaled(g[1], gr[1], c->nw);
    assert_close_scaled(g[2], gr[2], c->nb);
    for (int i = 0; i < 3; i++) {
        free(g[i]);
        free(gr[i]);
    }
    free(yr);
}

/* the conv1d algorithms to try (conv_transpose1d maps SHIFT and DNNL to
 * IM2COL; DNNL is IM2COL too where oneDNN is missing or has no kernel) */
#define NALGOS 6
static const pd_conv_algo algos[NALGOS] = {PD_CONV_AUTO,   PD_CONV_DIRECT, PD_CONV_SHIFT,
                                           PD_CONV_IM2COL, PD_CONV_SAMPLE, PD_CONV_DNNL};

static void sweep(op_kind kind, uint64_t seed, int trials) {
    int nalgo = kind == OP_LINEAR ? 1 : NALGOS;
    for (int a = 0; a < nalgo; a++) {
        test_algo = algos[a];
        pd_rng r;
        pd_rng_seed(&r, seed, 0);
        for (int t = 0; t < trials; t++) {
            op_case c;
            random_shape(&c, kind, &r);
            case_setup(&c, &r);
            check_against_ref(&c, &r);
            case_free(&c);
        }
    }
    test_algo = PD_CONV_AUTO;
}

static void test_linear_vs_ref(void **state) {
    (void)state;
    sweep(OP_LINEAR, 11, 60);
}

static void test_conv1d_vs_ref(void **state) {
    (void)state;
    sweep(OP_CONV1D, 12, 200);
}

static void test_convt1d_vs_ref(void **state) {
    (void)state;
    sweep(OP_CONVT1D, 13, 200);
}

static void test_conv2d_vs_ref(void **state) {
    (void)state;
    sweep(OP_CONV2D, 14, 120);
}

/* shapes big enough for the multi-threaded loops and for the layer shapes
 * of the p-diff autoencoder (stride f = kernel, tiny channel counts) */
static void test_larger_shapes_vs_ref(void **state) {
    (void)state;
    pd_rng r;
    pd_rng_seed(&r, 15, 0);
    const pd_conv1d_shape c1[] = {
        {4, 8, 16, 700, 3, 1, 1, PD_MATH_F32, PD_CONV_AUTO},
        {3, 1, 4, 1250, 5, 1, 1, PD_MATH_F32, PD_CONV_AUTO},
        {3, 4, 4, 1248, 5, 5, 0, PD_MATH_F32, PD_CONV_AUTO},
        {2, 64, 8, 300, 3, 1, 2, PD_MATH_F32, PD_CONV_AUTO},
        {5, 24, 40, 52, 3, 1, 1, PD_MATH_F32, PD_CONV_AUTO},
        /* past the kernels' one-thread thresholds (2^18 floats or MACs) */
        {8, 16, 16, 2100, 3, 1, 1, PD_MATH_F32, PD_CONV_AUTO},
        {50, 2, 2, 3000, 3, 3, 0, PD_MATH_F32, PD_CONV_AUTO},
    };
    const pd_convt1d_shape t1[] = {
        {3, 8, 8, 400, 5, 5, 0, 0, PD_MATH_F32, PD_CONV_AUTO},
        {2, 48, 32, 40, 3, 3, 0, 0, PD_MATH_F32, PD_CONV_AUTO},
        {3, 2, 2, 700, 3, 3, 1, 2, PD_MATH_F32, PD_CONV_AUTO},
        {50, 2, 2, 1000, 3, 3, 0, 0, PD_MATH_F32, PD_CONV_AUTO},
    };
    const pd_conv2d_shape c2[] = {
        {2, 4, 6, 40, 40, 3, 1, 1, PD_MATH_F32, PD_CONV_AUTO},
        {3, 5, 7, 33, 29, 5, 2, 2, PD_MATH_F32, PD_CONV_AUTO},
        {9, 32, 32, 14, 14, 3, 1, 1, PD_MATH_F32, PD_CONV_AUTO},
    };
    for (int a = 0; a < 5; a++) {
        test_algo = algos[a];
        for (size_t i = 0; i < sizeof c1 / sizeof c1[0]; i++) {
            op_case c = {.kind = OP_CONV1D, .cs = c1[i], .has_bias = 1};
            case_setup(&c, &r);
            check_against_ref(&c, &r);
            case_free(&c);
        }
        for (size_t i = 0; i < sizeof t1 / sizeof t1[0]; i++) {
            op_case c = {.kind = OP_CONVT1D, .ts = t1[i], .has_bias = 1};
            case_setup(&c, &r);
            check_against_ref(&c, &r);
            case_free(&c);
        }
    }
    const pd_conv_algo conv2d_algos[] = {PD_CONV_AUTO, PD_CONV_IM2COL};
    for (int a = 0; a < 2; a++) {
        test_algo = conv2d_algos[a];
        for (size_t i = 0; i < sizeof c2 / sizeof c2[0]; i++) {
            op_case c = {.kind = OP_CONV2D, .s2 = c2[i], .has_bias = 1};
            case_setup(&c, &r);
            check_against_ref(&c, &r);
            case_free(&c);
        }
    }
    test_algo = PD_CONV_AUTO;
    op_case c = {.kind = OP_LINEAR, .ls = {37, 300, 129}, .has_bias = 1};
    case_setup(&c, &r);
    check_against_ref(&c, &r);
    case_free(&c);
}

/* ---- 2. finite differences ---------------------------------------------- */

static double case_loss(void *ctx) {
    op_case *c = ctx;
    case_forward(c, c->y, 0);
    return tu_dot(c->y, c->r, c->ny);
}

/* every op checked here is linear in each of x, w and b, so a central
 * difference is exact for any step and only the float rounding of the
 * forward pass remains; a large step keeps that rounding (≈ 1e-7 of the
 * summed |y·r| over 2h) far below the tolerance on any BLAS kernel (h =
 * 1e-2 failed at 0.016 for a conv2d weight on an AVX-512 Xeon) */
#define GC_H_LINEAR 0.25f
#define GC_H 1e-2f /* max-pool and average pool (pool is piecewise linear) */
#define GC_TOL 1e-2
#define GC_FLOOR 1e-3

static void gradcheck_case(op_case *c) {
    float *dx = calloc(c->nx, sizeof(float)), *dw = calloc(c->nw, sizeof(float));
    float *db = calloc(c->nb, sizeof(float));
    assert_true(dx && dw && db);
    case_backward(c, dx, dw, db, c->r, 0);
    double ex = tu_gradcheck(case_loss, c, c->x, dx, c->nx, 64, GC_H_LINEAR, GC_FLOOR);
    double ew = tu_gradcheck(case_loss, c, c->w, dw, c->nw, 64, GC_H_LINEAR, GC_FLOOR);
    double eb = c->has_bias
                    ? tu_gradcheck(case_loss, c, c->b, db, c->nb, 64, GC_H_LINEAR, GC_FLOOR)
                    : 0.0;
    if (!(ex < GC_TOL && ew < GC_TOL && eb < GC_TOL))
        fail_msg("op %d gradcheck: dx %g dw %g db %g", (int)c->kind, ex, ew, eb);
    free(dx);
    free(dw);
    free(db);
}

static void test_gradcheck_weighted(void **state) {
    (void)state;
    pd_rng r;
    pd_rng_seed(&r, 21, 0);
    op_case cases[] = {
        {.kind = OP_LINEAR, .ls = {3, 7, 5}, .has_bias = 1},
        {.kind = OP_CONV1D, .cs = {2, 3, 4, 11, 3, 2, 1, PD_MATH_F32}, .has_bias = 1},
        {.kind = OP_CONV1D, .cs = {3, 2, 3, 9, 5, 1, 2, PD_MATH_F32}, .has_bias = 1},
        {.kind = OP_CONVT1D,
         .ts = {2, 3, 2, 6, 3, 3, 1, 2, PD_MATH_F32}, .has_bias = 1},
        {.kind = OP_CONVT1D,
         .ts = {1, 2, 3, 5, 5, 2, 0, 1, PD_MATH_F32}, .has_bias = 1},
        {.kind = OP_CONV2D,
         .s2 = {2, 2, 3, 7, 6, 3, 2, 1, PD_MATH_F32}, .has_bias = 1},
    };
    for (int a = 0; a < 5; a++) {
        test_algo = algos[a];
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            case_setup(&cases[i], &r);
            gradcheck_case(&cases[i]);
            case_free(&cases[i]);
        }
    }
    test_algo = PD_CONV_AUTO;
}

typedef struct {
    pd_pool2d_shape s;
    float *x, *y, *r;
    int32_t *am;
    size_t ny;
} pool_ctx;

static double pool_loss(void *ctx) {
    pool_ctx *p = ctx;
    pd_maxpool2d_forward(p->y, p->am, p->x, &p->s);
    return tu_dot(p->y, p->r, p->ny);
}

static void test_gradcheck_maxpool(void **state) {
    (void)state;
    pd_rng r;
    pd_rng_seed(&r, 22, 0);
    const pd_pool2d_shape shapes[] = {{2, 3, 7, 8, 2, 2}, {1, 2, 9, 7, 3, 2},
                                      {2, 1, 5, 6, 3, 1}};
    for (size_t si = 0; si < 3; si++) {
        pool_ctx p = {.s = shapes[si]};
        size_t nx = p.s.n * p.s.c * p.s.h * p.s.w;
        p.ny = p.s.n * p.s.c * pd_pool2d_hout(&p.s) * pd_pool2d_wout(&p.s);
        /* distinct values 0.05 apart: a ±0.01 step never changes the argmax */
        int32_t *perm = malloc(nx * sizeof(int32_t));
        assert_non_null(perm);
        for (size_t i = 0; i < nx; i++) perm[i] = (int32_t)i;
        pd_rng_shuffle(&r, perm, nx);
        p.x = alloc_floats(nx);
        for (size_t i = 0; i < nx; i++) p.x[i] = 0.05f * (float)perm[i] - 2.0f;
        p.y = alloc_floats(p.ny);
        p.r = alloc_floats(p.ny);
        p.am = malloc(p.ny * sizeof(int32_t));
        assert_non_null(p.am);
        tu_fill(&r, p.r, p.ny, -1.0f, 1.0f);
        float *dx = calloc(nx, sizeof(float));
        assert_non_null(dx);
        pd_maxpool2d_forward(p.y, p.am, p.x, &p.s);
        pd_maxpool2d_backward(dx, p.r, p.am, &p.s);
        double e = tu_gradcheck(pool_loss, &p, p.x, dx, nx, 400, GC_H, GC_FLOOR);
        if (!(e < GC_TOL)) fail_msg("maxpool gradcheck %zu: %g", si, e);
        free(perm);
        free(p.x);
        free(p.y);
        free(p.r);
        free(p.am);
        free(dx);
    }
}

typedef struct {
    float *x, *y, *r;
    size_t n, c, sp;
} gap_ctx;

static double gap_loss(void *ctx) {
    gap_ctx *g = ctx;
    pd_gap_forward(g->y, g->x, g->n, g->c, g->sp);
    return tu_dot(g->y, g->r, g->n * g->c);
}

static void test_gradcheck_gap(void **state) {
    (void)state;
    pd_rng r;
    pd_rng_seed(&r, 23, 0);
    gap_ctx g = {.n = 3, .c = 4, .sp = 13};
    size_t nx = g.n * g.c * g.sp, ny = g.n * g.c;
    g.x = alloc_floats(nx);
    g.y = alloc_floats(ny);
    g.r = alloc_floats(ny);
    float *dx = calloc(nx, sizeof(float));
    assert_non_null(dx);
    tu_fill(&r, g.x, nx, -1.0f, 1.0f);
    tu_fill(&r, g.r, ny, -1.0f, 1.0f);
    pd_gap_backward(dx, g.r, g.n, g.c, g.sp);
    double e = tu_gradcheck(gap_loss, &g, g.x, dx, nx, 200, GC_H, GC_FLOOR);
    if (!(e < GC_TOL)) fail_msg("gap gradcheck: %g", e);
    free(g.x);
    free(g.y);
    free(g.r);
    free(dx);
}

/* ---- 3. tiny exact values ----------------------------------------------- */

static void assert_floats(const float *got, const float *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (fabsf(got[i] - want[i]) > 1e-6f)
            fail_msg("element %zu: got %g want %g", i, (double)got[i],
                     (double)want[i]);
}

static void test_conv1d_exact(void **state) {
    (void)state;
    /* x = 1..5, w = [1 2 3], pad 1, bias 0.5:
     * y[l] = x[l-1] + 2 x[l] + 3 x[l+1] + 0.5 */
    const float x[5] = {1, 2, 3, 4, 5}, w[3] = {1, 2, 3}, b[1] = {0.5f};
    const pd_conv1d_shape s = {1, 1, 1, 5, 3, 1, 1, PD_MATH_F32, PD_CONV_AUTO};
    float scr[64], y[5];
    assert_int_equal(pd_conv1d_lout(&s), 5);
    assert_true(pd_conv1d_scratch(&s) <= 64);
    pd_conv1d_forward(y, x, w, b, &s, scr);
    assert_floats(y, (const float[]){8.5f, 14.5f, 20.5f, 26.5f, 14.5f}, 5);
    /* dy = 1: dx[p] = Σ of the taps that reach p; dw[t] = Σ shifted x */
    const float dy[5] = {1, 1, 1, 1, 1};
    float dx[5] = {0}, dw[3] = {0}, db[1] = {1};
    pd_conv1d_backward(dx, dw, db, dy, x, w, &s, scr);
    assert_floats(dx, (const float[]){3, 6, 6, 6, 5}, 5);
    assert_floats(dw, (const float[]){10, 15, 14}, 3);
    assert_floats(db, (const float[]){6}, 1);
}

static void test_convt1d_exact(void **state) {
    (void)state;
    /* x = [1 2], w = [1 2 3], stride 2, out_pad 1: each x[i] stamps
     * x[i]·w at 2i; y = [1 2 3+2 4 6 0] + bias */
    const float x[2] = {1, 2}, w[3] = {1, 2, 3}, b[1] = {-1};
    const pd_convt1d_shape s = {1, 1, 1, 2, 3, 2, 0, 1, PD_MATH_F32, PD_CONV_AUTO};
    float scr[64], y[6];
    assert_int_equal(pd_convt1d_lout(&s), 6);
    assert_true(pd_convt1d_scratch(&s) <= 64);
    pd_convt1d_forward(y, x, w, b, &s, scr);
    assert_floats(y, (const float[]){0, 1, 4, 3, 5, -1}, 6);
    /* dy = e_2 (third output): dx[i] = w[2 - 2i], dw[t] = x[(2 - t)/2] */
    const float dy[6] = {0, 0, 1, 0, 0, 0};
    float dx[2] = {0}, dw[3] = {0}, db[1] = {0};
    pd_convt1d_backward(dx, dw, db, dy, x, w, &s, scr);
    assert_floats(dx, (const float[]){3, 1}, 2);
    assert_floats(dw, (const float[]){2, 0, 1}, 3);
    assert_floats(db, (const float[]){1}, 1);
    /* pad 1 crops one element each side: lout = 3 */
    const pd_convt1d_shape sp = {1, 1, 1, 2, 3, 2, 1, 0, PD_MATH_F32, PD_CONV_AUTO};
    assert_int_equal(pd_convt1d_lout(&sp), 3);
    pd_convt1d_forward(y, x, w, NULL, &sp, scr);
    assert_floats(y, (const float[]){2, 5, 4}, 3);
}

static void test_im2col_layout(void **state) {
    (void)state;
    /* two samples of length 4, k 2, stride 2, pad 1 → lout 3; row t reads
     * positions 2l + t - 1 */
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const pd_col1d_geom g = {2, 1, 4, 2, 2, 1, 3};
    float col[12], back[8] = {0};
    pd_im2col1d(col, x, &g);
    assert_floats(col, (const float[]){0, 2, 4, 0, 6, 8, 1, 3, 0, 5, 7, 0}, 12);
    /* col2im of all ones counts how many windows cover each position */
    for (int i = 0; i < 12; i++) col[i] = 1;
    pd_col2im1d_add(back, col, &g);
    assert_floats(back, (const float[]){1, 1, 1, 1, 1, 1, 1, 1}, 8);

    /* 3x3 image 1..9, k 2, stride 1, no pad → four 2x2 outputs */
    const float im[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const pd_col2d_geom g2 = {1, 1, 3, 3, 2, 1, 0, 2, 2};
    float col2[16], back2[9] = {0};
    pd_im2col2d(col2, im, &g2);
    assert_floats(col2, (const float[]){1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8,
                                        5, 6, 8, 9},
                  16);
    for (int i = 0; i < 16; i++) col2[i] = 1;
    pd_col2im2d_add(back2, col2, &g2);
    assert_floats(back2, (const float[]){1, 2, 1, 2, 4, 2, 1, 2, 1}, 9);

    /* 2x2 image, k 3, pad 1, stride 2 → one output whose 3x3 window
     * starts at (-1, -1): row ky = 0 and column kx = 0 are padding */
    const pd_col2d_geom g3 = {1, 1, 2, 2, 3, 2, 1, 1, 1};
    float col3[9];
    pd_im2col2d(col3, (const float[]){1, 2, 3, 4}, &g3);
    assert_floats(col3, (const float[]){0, 0, 0, 0, 1, 2, 0, 3, 4}, 9);
}

static void test_maxpool_exact(void **state) {
    (void)state;
    /* plane 0 and its negation as plane 1; k 2 stride 2; ties → first */
    float x[32];
    const float p0[16] = {1, 5, 2, 0, 3, 4, 8, 8, 9, 0, 1, 1, 0, 2, 1, 7};
    for (int i = 0; i < 16; i++) {
        x[i] = p0[i];
        x[16 + i] = -p0[i] + 0.0f;
    }
    const pd_pool2d_shape s = {1, 2, 4, 4, 2, 2};
    float y[8];
    int32_t am[8];
    pd_maxpool2d_forward(y, am, x, &s);
    assert_floats(y, (const float[]){5, 8, 9, 7, -1, 0, 0, -1}, 8);
    const int32_t want[8] = {1, 6, 8, 15, 16, 19, 25, 26};
    for (int i = 0; i < 8; i++) assert_int_equal(am[i], want[i]);
    float dx[32];
    for (int i = 0; i < 32; i++) dx[i] = 1;
    pd_maxpool2d_backward(dx, (const float[]){1, 2, 3, 4, 5, 6, 7, 8}, am, &s);
    for (int i = 0; i < 32; i++) {
        float add = 0;
        for (int j = 0; j < 8; j++)
            if (want[j] == i) add = (float)(j + 1);
        assert_true(dx[i] == 1 + add);
    }
    /* overlapping windows (stride 1) share a maximum: gradients add */
    const pd_pool2d_shape s2 = {1, 1, 2, 3, 2, 1};
    const float x2[6] = {1, 9, 2, 3, 4, 5};
    float y2[2], dx2[6] = {0};
    int32_t am2[2];
    assert_int_equal(pd_pool2d_hout(&s2), 1);
    assert_int_equal(pd_pool2d_wout(&s2), 2);
    pd_maxpool2d_forward(y2, am2, x2, &s2);
    assert_floats(y2, (const float[]){9, 9}, 2);
    pd_maxpool2d_backward(dx2, (const float[]){0.5f, 2}, am2, &s2);
    assert_floats(dx2, (const float[]){0, 2.5f, 0, 0, 0, 0}, 6);
    /* NaN wins, the last NaN of the window in row-major order: through the
     * unrolled 2×2 stride-2 path and the generic loop (k 2, stride 3 on a
     * 2×2 plane gives the same single window) */
    const float nn = NAN;
    const float x3[8] = {1, nn, 3, nn, /* window (0,1,2,3) as a 2×2 plane */
                         nn, 5, 2, 1};
    const pd_pool2d_shape fast = {2, 1, 2, 2, 2, 2}, generic = {2, 1, 2, 2, 2, 3};
    const pd_pool2d_shape *ps[2] = {&fast, &generic};
    for (int v = 0; v < 2; v++) {
        float y3[2];
        int32_t am3[2];
        pd_maxpool2d_forward(y3, am3, x3, ps[v]);
        assert_true(isnan(y3[0]) && isnan(y3[1]));
        assert_int_equal(am3[0], 3); /* the last of the two NaNs */
        assert_int_equal(am3[1], 4); /* a NaN first: numbers never replace it */
        float y4[2] = {0, 0}; /* evaluation: no argmax, the same values */
        pd_maxpool2d_forward(y4, NULL, x3, ps[v]);
        assert_true(isnan(y4[0]) && isnan(y4[1]));
    }
    /* values only equal the recording path on random planes, with ties */
    pd_rng r;
    pd_rng_seed(&r, 29, 0);
    const pd_pool2d_shape rs[2] = {{3, 5, 9, 8, 2, 2}, {2, 3, 7, 9, 3, 2}};
    for (int v = 0; v < 2; v++) {
        const size_t nin = rs[v].n * rs[v].c * rs[v].h * rs[v].w;
        const size_t nout = rs[v].n * rs[v].c * pd_pool2d_hout(&rs[v]) * pd_pool2d_wout(&rs[v]);
        float *xi = alloc_floats(nin), *ya = alloc_floats(nout), *yb = alloc_floats(nout);
        int32_t *ai = malloc(nout * sizeof *ai);
        assert_non_null(ai);
        for (size_t i = 0; i < nin; i++) xi[i] = (float)pd_rng_below(&r, 7); /* ties */
        pd_maxpool2d_forward(ya, ai, xi, &rs[v]);
        pd_maxpool2d_forward(yb, NULL, xi, &rs[v]);
        assert_memory_equal(ya, yb, nout * sizeof(float));
        free(xi), free(ya), free(yb), free(ai);
    }
}

/* the fused inference op equals batch norm (eval) → ReLU → max-pool
 * exactly, with weights of both signs (a falling affine map pools the
 * minimum); so does its windows form */
static void test_bn_relu_maxpool_eval(void **state) {
    (void)state;
    pd_rng r;
    pd_rng_seed(&r, 23, 0);
    const pd_pool2d_shape shapes[] = {{3, 6, 7, 8, 2, 2}, {2, 4, 9, 7, 3, 2}, {2, 5, 7, 7, 2, 2}};
    for (size_t si = 0; si < 3; si++) {
        const pd_pool2d_shape s = shapes[si];
        const size_t nx = s.n * s.c * s.h * s.w;
        const size_t ny = s.n * s.c * pd_pool2d_hout(&s) * pd_pool2d_wout(&s);
        float *x = alloc_floats(nx), *h = alloc_floats(nx), *h2 = alloc_floats(nx);
        float *y = alloc_floats(ny), *yf = alloc_floats(ny);
        float *ga = alloc_floats(s.c), *be = alloc_floats(s.c);
        float *rm = alloc_floats(s.c), *rv = alloc_floats(s.c);
        int32_t *am = malloc(ny * sizeof(int32_t));
        assert_non_null(am);
        tu_fill(&r, x, nx, -2.0f, 2.0f);
        tu_fill(&r, ga, s.c, -1.5f, 1.5f); /* both signs */
        tu_fill(&r, be, s.c, -0.5f, 0.5f);
        tu_fill(&r, rm, s.c, -0.5f, 0.5f);
        tu_fill(&r, rv, s.c, 0.5f, 2.0f);
        const pd_norm_shape ns = {s.n, s.c, s.h * s.w, 1e-5f};
        pd_batchnorm_forward_eval(h, x, ga, be, rm, rv, &ns);
        pd_act_forward(h2, h, nx, PD_ACT_RELU, 0.0f);
        pd_maxpool2d_forward(y, am, h2, &s);
        pd_bn_relu_maxpool_eval(yf, x, ga, be, rm, rv, 1e-5f, &s);
        /* 2 x 2 windows, stride 2: the same from the windows' max and min
         * (pd_pool2x2_windows; odd h and w drop the last row / column) */
        float *yw = NULL;
        if (s.k == 2 && s.stride == 2) {
            float *w2 = alloc_floats(s.n * s.c * 2 * (s.h / 2) * (s.w / 2));
            yw = alloc_floats(ny);
            pd_pool2x2_windows(w2, x, s.n, s.c, s.h, s.w);
            pd_bn_relu_windows_eval(yw, w2, ga, be, rm, rv, 1e-5f, &s);
            free(w2);
        }
        int positive = 0;
        for (size_t i = 0; i < ny; i++) {
            assert_true(yf[i] == y[i]);
            if (yw) assert_true(yw[i] == y[i]);
            positive += y[i] > 0.0f;
        }
        free(yw);
        assert_true(positive > 0 && (size_t)positive < ny); /* both ReLU sides */
        float *all[] = {x, h, h2, y, yf, ga, be, rm, rv};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
        free(am);
    }
}

/* the fused training op (batch statistics -> ReLU -> 2 x 2 max-pool):
 * forward values, argmax and running statistics equal the three ops' to
 * the bit; gradients (x, gamma, beta) match the composition's backward and
 * finite differences. Odd h and w (a row and column the pool drops). */
typedef struct {
    pd_pool2d_shape s;
    float *x, *ga, *be, *rm, *rv, *y, *r;
    int32_t *am;
} bnp_case;

static double bnp_loss(void *ctx) {
    bnp_case *c = ctx;
    const pd_norm_shape ns = {c->s.n, c->s.c, c->s.h * c->s.w, 1e-5f};
    float mean[16], rstd[16];
    pd_batchnorm_stats_train(mean, rstd, NULL, NULL, c->x, 0.1f, &ns);
    pd_bn_relu_maxpool_train_forward(c->y, c->am, c->x, mean, rstd, c->ga, c->be, &c->s);
    return tu_dot(c->y, c->r, c->s.n * c->s.c * pd_pool2d_hout(&c->s) * pd_pool2d_wout(&c->s));
}

static double bnp_loss_scale(void *ctx) {
    bnp_case *c = ctx;
    bnp_loss(ctx);
    return tu_dot_abs(c->y, c->r, c->s.n * c->s.c * pd_pool2d_hout(&c->s) * pd_pool2d_wout(&c->s));
}

static void test_bn_relu_maxpool_train(void **state) {
    (void)state;
    pd_rng r;
    pd_rng_seed(&r, 24, 0);
    const pd_pool2d_shape shapes[] = {{3, 5, 7, 9, 2, 2}, {4, 3, 6, 6, 2, 2}};
    for (size_t si = 0; si < 2; si++) {
        const pd_pool2d_shape s = shapes[si];
        const pd_norm_shape ns = {s.n, s.c, s.h * s.w, 1e-5f};
        const size_t nx = s.n * s.c * s.h * s.w;
        const size_t ny = s.n * s.c * pd_pool2d_hout(&s) * pd_pool2d_wout(&s);
        bnp_case c = {s, alloc_floats(nx), alloc_floats(s.c), alloc_floats(s.c),
                      alloc_floats(s.c), alloc_floats(s.c), alloc_floats(ny), alloc_floats(ny),
                      malloc(ny * sizeof(int32_t))};
        float *h = alloc_floats(nx), *a = alloc_floats(nx), *y = alloc_floats(ny);
        float *rm2 = alloc_floats(s.c), *rv2 = alloc_floats(s.c);
        float mean[16], rstd[16], mean2[16], rstd2[16];
        int32_t *am = malloc(ny * sizeof(int32_t));
        assert_non_null(am);
        tu_fill(&r, c.x, nx, -2.0f, 2.0f);
        tu_fill(&r, c.ga, s.c, -1.5f, 1.5f); /* both signs */
        tu_fill(&r, c.be, s.c, -0.5f, 0.5f);
        tu_fill(&r, c.rm, s.c, -0.5f, 0.5f);
        tu_fill(&r, c.rv, s.c, 0.5f, 2.0f);
        tu_fill(&r, c.r, ny, -1.0f, 1.0f);
        memcpy(rm2, c.rm, s.c * sizeof(float));
        memcpy(rv2, c.rv, s.c * sizeof(float));
        /* the three ops */
        pd_batchnorm_forward_train(h, mean2, rstd2, rm2, rv2, c.x, c.ga, c.be, 0.1f, &ns);
        pd_act_forward(a, h, nx, PD_ACT_RELU, 0.0f);
        pd_maxpool2d_forward(y, am, a, &s);
        /* fused */
        pd_batchnorm_stats_train(mean, rstd, c.rm, c.rv, c.x, 0.1f, &ns);
        pd_bn_relu_maxpool_train_forward(c.y, c.am, c.x, mean, rstd, c.ga, c.be, &s);
        assert_memory_equal(c.y, y, ny * sizeof(float));
        assert_memory_equal(c.am, am, ny * sizeof(int32_t));
        assert_memory_equal(c.rm, rm2, s.c * sizeof(float));
        assert_memory_equal(c.rv, rv2, s.c * sizeof(float));
        int positive = 0;
        for (size_t i = 0; i < ny; i++) positive += y[i] > 0.0f;
        assert_true(positive > 0 && (size_t)positive < ny);
        /* backward: the composition's, then the fused op's */
        float *da = alloc_floats(nx), *dh = alloc_floats(nx), *dx2 = alloc_floats(nx);
        float *dx = alloc_floats(nx), dg[16] = {0}, db[16] = {0}, dg2[16] = {0}, db2[16] = {0};
        memset(da, 0, nx * sizeof(float)); /* the backward passes accumulate */
        memset(dh, 0, nx * sizeof(float));
        memset(dx2, 0, nx * sizeof(float));
        memset(dx, 0, nx * sizeof(float));
        pd_maxpool2d_backward(da, c.r, am, &s);
        pd_act_backward(dh, da, h, a, nx, PD_ACT_RELU, 0.0f);
        pd_batchnorm_backward_train(dx2, dg2, db2, dh, c.x, mean2, rstd2, c.ga, &ns);
        pd_bn_relu_maxpool_train_backward(dx, dg, db, c.r, c.y, c.am, c.x, mean, rstd, c.ga, &s);
        TU_ASSERT_CLOSE(dx, dx2, nx, 1e-4, 1e-5);
        TU_ASSERT_CLOSE(dg, dg2, s.c, 1e-4, 1e-5);
        TU_ASSERT_CLOSE(db, db2, s.c, 1e-4, 1e-5);
        tu_gradcheck_stats(bnp_loss, bnp_loss_scale, &c, c.x, dx, nx, "bn_relu_pool dx", 1e-2);
        tu_gradcheck_stats(bnp_loss, bnp_loss_scale, &c, c.ga, dg, s.c, "bn_relu_pool dgamma",
                           1e-2);
        tu_gradcheck_stats(bnp_loss, bnp_loss_scale, &c, c.be, db, s.c, "bn_relu_pool dbeta",
                           1e-2);
        float *all[] = {c.x, c.ga, c.be, c.rm, c.rv, c.y, c.r, h, a, y, rm2, rv2, da, dh, dx2, dx};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
        free(c.am);
        free(am);
    }
}

static void test_gap_exact(void **state) {
    (void)state;
    const float x[6] = {1, 2, 3, 4, 5, 6};
    float y[2], dx[6] = {1, 1, 1, 1, 1, 1};
    pd_gap_forward(y, x, 1, 2, 3);
    assert_floats(y, (const float[]){2, 5}, 2);
    pd_gap_backward(dx, (const float[]){3, 6}, 1, 2, 3);
    assert_floats(dx, (const float[]){2, 2, 2, 3, 3, 3}, 6);
}

static void test_linear_exact(void **state) {
    (void)state;
    const float x[2] = {1, 2}, w[4] = {1, 2, 3, 4}, b[2] = {0.5f, -1};
    const pd_linear_shape s = {1, 2, 2};
    float y[2];
    pd_linear_forward(y, x, w, b, &s);
    assert_floats(y, (const float[]){5.5f, 10}, 2);
    float dx[2] = {0}, dw[4] = {0}, db[2] = {0};
    pd_linear_backward(dx, dw, db, (const float[]){1, -1}, x, w, &s);
    assert_floats(dx, (const float[]){-2, -2}, 2);
    assert_floats(dw, (const float[]){1, 2, -1, -2}, 4);
    assert_floats(db, (const float[]){1, -1}, 2);
}

/* ---- 4. NULL gradients -------------------------------------------------- */

/* each gradient alone equals the one computed with all three requested */
static void test_null_grads(void **state) {
    (void)state;
    pd_rng r;
    pd_rng_seed(&r, 31, 0);
    for (int kind = OP_LINEAR; kind <= OP_CONV2D; kind++) {
        for (int trial = 0; trial < 16; trial++) {
            test_algo = algos[trial % NALGOS];
            op_case c;
            random_shape(&c, (op_kind)kind, &r);
            c.has_bias = 1;
            case_setup(&c, &r);
            float *all[3], *one[3];
            size_t ng[3] = {c.nx, c.nw, c.nb};
            for (int i = 0; i < 3; i++) {
                all[i] = calloc(ng[i] ? ng[i] : 1, sizeof(float));
                one[i] = calloc(ng[i] ? ng[i] : 1, sizeof(float));
                assert_true(all[i] && one[i]);
            }
            case_backward(&c, all[0], all[1], all[2], c.r, 0);
            case_backward(&c, NULL, one[1], one[2], c.r, 0); /* no dx */
            case_backward(&c, one[0], NULL, NULL, c.r, 0);  /* dx only */
            case_backward(&c, NULL, NULL, NULL, c.r, 0);    /* nothing */
            for (int i = 0; i < 3; i++) {
                TU_ASSERT_CLOSE(one[i], all[i], ng[i], 1e-6, 1e-7);
                free(all[i]);
                free(one[i]);
            }
            case_free(&c);
        }
    }
    test_algo = PD_CONV_AUTO;
    pd_maxpool2d_backward(NULL, NULL, NULL, &(pd_pool2d_shape){1, 1, 2, 2, 2, 2});
    pd_gap_backward(NULL, NULL, 1, 1, 1);
}

/* ---- 5. bf16 mixed precision (oneDNN) ---------------------------------- */

/* conv1d and conv_transpose1d with math = BF16 (oneDNN forced) against the
 * fp32 reference: bf16 rounds inputs and weights to 8 bits of mantissa
 * (relative 2^-9), so each output may be off by about 2^-8 of Σ|x·w| over
 * its terms: allow 1/64 of the largest reference value of each array. And
 * it must not be fp32 in disguise: some output differs from the fp32
 * kernels' by more than fp32 rounding. */
static void test_bf16_vs_ref(void **state) {
    (void)state;
    if (!pd_dnnl_available()) skip();
    pd_rng r;
    pd_rng_seed(&r, 41, 0);
    int differed = 0, ran = 0;
    for (int t = 0; t < 24; t++) {
        op_case c;
        random_shape(&c, t % 2 ? OP_CONVT1D : OP_CONV1D, &r);
        c.cs.math = c.ts.math = PD_MATH_BF16;
        test_algo = PD_CONV_DNNL;
        case_setup(&c, &r);
        if (t % 2 ? !pd_convt1d_dnnl_usable(&c.ts) : !pd_conv1d_dnnl_usable(&c.cs)) {
            case_free(&c); /* no bf16 kernel on this CPU: fp32 runs instead */
            continue;
        }
        ran++;
        float *yr = alloc_floats(c.ny), *y32 = alloc_floats(c.ny);
        double m, d32 = 0;
        case_forward(&c, c.y, 0);
        case_forward(&c, yr, 1);
        max_abs(yr, c.ny, &m);
        TU_ASSERT_CLOSE(c.y, yr, c.ny, 0.0, m / 64 + 1e-6);
        c.cs.math = c.ts.math = PD_MATH_F32;
        case_forward(&c, y32, 0);
        c.cs.math = c.ts.math = PD_MATH_BF16;
        for (size_t i = 0; i < c.ny; i++)
            if (fabs((double)c.y[i] - y32[i]) > d32) d32 = fabs((double)c.y[i] - y32[i]);
        differed += d32 > 1e-5 * m;
        float *g[3], *gr[3];
        size_t ng[3] = {c.nx, c.nw, c.nb};
        for (int i = 0; i < 3; i++) {
            g[i] = alloc_floats(ng[i]);
            gr[i] = alloc_floats(ng[i]);
            tu_fill(&r, g[i], ng[i], -1.0f, 1.0f);
            memcpy(gr[i], g[i], ng[i] * sizeof(float));
        }
        case_backward(&c, g[0], g[1], g[2], c.r, 0);
        case_backward(&c, gr[0], gr[1], gr[2], c.r, 1);
        for (int i = 0; i < 3; i++) {
            max_abs(gr[i], ng[i], &m);
            TU_ASSERT_CLOSE(g[i], gr[i], ng[i], 0.0, m / 64 + 1e-6);
            free(g[i]);
            free(gr[i]);
        }
        free(yr);
        free(y32);
        case_free(&c);
    }
    test_algo = PD_CONV_AUTO;
    if (ran == 0) skip(); /* a CPU without oneDNN bf16 kernels: bf16 is fp32 there */
    assert_true(differed > 0); /* bf16 was really used */
}

/* conv2d's im2col forward on one thread (a worker's) runs in chunks of samples;
 * on several, on the whole batch: the same bits either way, and the
 * reference's values (chunks of 4, 4 and 1 samples; one sample a chunk) */
static void test_conv2d_chunks(void **state) {
    (void)state;
    const pd_conv2d_shape shapes[] = {
        {9, 8, 6, 28, 28, 3, 1, 1, PD_MATH_F32, PD_CONV_IM2COL},
        {3, 64, 5, 32, 32, 5, 1, 2, PD_MATH_F32, PD_CONV_IM2COL},
    };
    pd_rng r;
    pd_rng_seed(&r, 71, 0);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const pd_conv2d_shape *s = &shapes[i];
        const size_t nx = s->n * s->cin * s->h * s->w, nw = s->cout * s->cin * s->k * s->k;
        const size_t ny = s->n * s->cout * pd_conv2d_hout(s) * pd_conv2d_wout(s);
        float *x = tu_falloc(nx), *w = tu_falloc(nw), *b = tu_falloc(s->cout);
        float *y1 = tu_falloc(ny), *y2 = tu_falloc(ny), *yr = tu_falloc(ny);
        float *scr = tu_falloc(pd_conv2d_scratch(s));
        tu_fill(&r, x, nx, -1, 1);
        tu_fill(&r, w, nw, -1, 1);
        tu_fill(&r, b, s->cout, -1, 1);
        pd_set_threads(1);
        pd_conv2d_forward(y1, x, w, b, s, scr);
        pd_set_threads(2);
        pd_conv2d_forward(y2, x, w, b, s, scr);
        pd_set_threads(0);
        pd_ref_conv2d_forward(yr, x, w, b, s);
        assert_memory_equal(y1, y2, ny * sizeof(float));
        TU_ASSERT_CLOSE(y1, yr, ny, 1e-4, 1e-4);
        free(x), free(w), free(b), free(y1), free(y2), free(yr), free(scr);
    }
}

/* evaluation's fused max_pool2d(relu(conv2d)) through oneDNN against the
 * reference convolution, ReLU and max-pool: chunks of 10, 10 and 3 samples
 * (the first shape), odd extents that pooling floors, stride 2, a 3×3
 * pool; ReLU's both sides are hit */
static void test_conv2d_relu_maxpool_dnnl(void **state) {
    (void)state;
    const struct {
        pd_conv2d_shape s;
        size_t k, stride;
    } cases[] = {
        {{23, 1, 32, 28, 28, 3, 1, 1, PD_MATH_F32, PD_CONV_AUTO}, 2, 2},
        {{3, 32, 16, 7, 9, 3, 1, 1, PD_MATH_F32, PD_CONV_AUTO}, 2, 2},
        {{2, 5, 7, 12, 13, 5, 2, 2, PD_MATH_F32, PD_CONV_AUTO}, 3, 2},
    };
    pd_rng r;
    pd_rng_seed(&r, 72, 0);
    int ran = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pd_conv2d_shape *s = &cases[i].s;
        const size_t nx = s->n * s->cin * s->h * s->w, nw = s->cout * s->cin * s->k * s->k;
        const pd_pool2d_shape p = {s->n, s->cout, pd_conv2d_hout(s), pd_conv2d_wout(s),
                                   cases[i].k, cases[i].stride};
        const size_t nh = s->n * s->cout * p.h * p.w;
        const size_t ny = s->n * s->cout * pd_pool2d_hout(&p) * pd_pool2d_wout(&p);
        float *x = tu_falloc(nx), *w = tu_falloc(nw), *b = tu_falloc(s->cout);
        float *h = tu_falloc(nh), *y = tu_falloc(ny), *yr = tu_falloc(ny);
        int32_t *am = malloc(ny * sizeof(int32_t));
        assert_non_null(am);
        tu_fill(&r, x, nx, -1, 1);
        tu_fill(&r, w, nw, -1, 1);
        tu_fill(&r, b, s->cout, -1, 1);
        pd_ref_conv2d_forward(h, x, w, b, s);
        pd_act_forward(h, h, nh, PD_ACT_RELU, 0.0f);
        pd_maxpool2d_forward(yr, am, h, &p);
        if (pd_conv2d_relu_maxpool_dnnl(y, x, w, b, s, cases[i].k, cases[i].stride)) {
            ran++;
            size_t zeros = 0;
            for (size_t j = 0; j < nh; j++) zeros += h[j] == 0.0f;
            assert_true(zeros > 0 && zeros < nh);
            TU_ASSERT_CLOSE(y, yr, ny, 1e-4, 1e-4);
        }
        free(x), free(w), free(b), free(h), free(y), free(yr), free(am);
    }
    if (ran == 0) skip(); /* built without oneDNN, or no JIT kernel on this CPU */
}

/* every test starts from the shape rule, whatever a failed one left */
static int auto_algo(void **state) {
    (void)state;
    test_algo = PD_CONV_AUTO;
    return 0;
}

int main(void) {
    pd_set_threads(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_conv1d_exact, auto_algo),
        cmocka_unit_test_setup(test_convt1d_exact, auto_algo),
        cmocka_unit_test_setup(test_im2col_layout, auto_algo),
        cmocka_unit_test_setup(test_maxpool_exact, auto_algo),
        cmocka_unit_test_setup(test_bn_relu_maxpool_eval, auto_algo),
        cmocka_unit_test_setup(test_bn_relu_maxpool_train, auto_algo),
        cmocka_unit_test_setup(test_gap_exact, auto_algo),
        cmocka_unit_test_setup(test_linear_exact, auto_algo),
        cmocka_unit_test_setup(test_linear_vs_ref, auto_algo),
        cmocka_unit_test_setup(test_conv1d_vs_ref, auto_algo),
        cmocka_unit_test_setup(test_convt1d_vs_ref, auto_algo),
        cmocka_unit_test_setup(test_conv2d_vs_ref, auto_algo),
        cmocka_unit_test_setup(test_conv2d_chunks, auto_algo),
        cmocka_unit_test_setup(test_conv2d_relu_maxpool_dnnl, auto_algo),
        cmocka_unit_test_setup(test_larger_shapes_vs_ref, auto_algo),
        cmocka_unit_test_setup(test_gradcheck_weighted, auto_algo),
        cmocka_unit_test_setup(test_gradcheck_maxpool, auto_algo),
        cmocka_unit_test_setup(test_gradcheck_gap, auto_algo),
        cmocka_unit_test_setup(test_null_grads, auto_algo),
        cmocka_unit_test_setup(test_bf16_vs_ref, auto_algo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
