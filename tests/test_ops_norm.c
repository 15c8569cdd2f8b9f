/*
 * test_ops_norm.c — batch norm (train and eval) and group norm (instance
 * norm included): hand-computed values, forward vs the naive double
 * reference on random odd shapes, backward vs central finite differences
 * (dx, dgamma, dbeta), accumulate-into-gradient and NULL-gradient rules,
 * and bit-identical results for 1 and 2 threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/ops.h"
#include "ref/ref_norm.h"
#include "testutil.h"

#define GC_H 1e-2f      /* finite-difference step */
#define GC_FLOOR 1e-2   /* denominator floor of the relative error */
#define GC_TOL 1e-2     /* worst relative error allowed */
#define GC_CHECKS 64    /* elements checked per tensor */

/* MODE_GN_LRELU: group norm of LeakyReLU(x), the fused op */
enum { MODE_BN_TRAIN, MODE_BN_EVAL, MODE_GN, MODE_GN_LRELU };
#define FUSED_SLOPE 0.2f
/* |x| below this would let a finite difference of step GC_H cross the
 * LeakyReLU kink at 0 */
#define KINK_GAP 0.03f

/* one norm problem: inputs, outputs, saved statistics, projection r */
typedef struct {
    int mode;
    pd_norm_shape s;
    size_t groups, total;
    float *x, *y, *r, *gamma, *beta; /* gamma/beta NULL: no affine */
    float *mean, *rstd, *rmean, *rvar;
    float *dx, *dgamma, *dbeta;
} norm_case;

static void case_init(norm_case *k, pd_rng *rng, int mode, size_t n, size_t c,
                      size_t sp, size_t groups, int affine) {
    memset(k, 0, sizeof *k);
    k->mode = mode;
    k->s = (pd_norm_shape){n, c, sp, 1e-5f};
    k->groups = groups;
    k->total = n * c * sp;
    k->x = tu_falloc(k->total);
    k->y = tu_falloc(k->total);
    k->r = tu_falloc(k->total);
    k->dx = tu_falloc(k->total);
    size_t nstat = mode >= MODE_GN ? n * groups : c;
    k->mean = tu_falloc(nstat);
    k->rstd = tu_falloc(nstat);
    k->rmean = tu_falloc(c);
    k->rvar = tu_falloc(c);
    k->dgamma = tu_falloc(c);
    k->dbeta = tu_falloc(c);
    tu_fill(rng, k->x, k->total, -2.0f, 2.0f);
    if (mode == MODE_GN_LRELU) /* keep x off the activation's kink */
        for (size_t i = 0; i < k->total; i++)
            k->x[i] += k->x[i] < 0.0f ? -KINK_GAP : KINK_GAP;
    tu_fill(rng, k->r, k->total, -1.0f, 1.0f);
    tu_fill(rng, k->rmean, c, -0.5f, 0.5f);
    tu_fill(rng, k->rvar, c, 0.5f, 2.0f);
    if (affine) {
        k->gamma = tu_falloc(c);
        k->beta = tu_falloc(c);
        tu_fill(rng, k->gamma, c, 0.5f, 1.5f);
        tu_fill(rng, k->beta, c, -0.5f, 0.5f);
    }
}

static void case_free(norm_case *k) {
    float *all[] = {k->x, k->y, k->r, k->gamma, k->beta, k->mean, k->rstd,
                    k->rmean, k->rvar, k->dx, k->dgamma, k->dbeta};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

static void case_forward(norm_case *k) {
    switch (k->mode) {
    case MODE_BN_TRAIN:
        /* the running statistics are updated on every call, yet must not
         * change the output: the loss below stays a function of x alone */
        pd_batchnorm_forward_train(k->y, k->mean, k->rstd, k->rmean, k->rvar,
                                   k->x, k->gamma, k->beta, 0.1f, &k->s);
        break;
    case MODE_BN_EVAL:
        pd_batchnorm_forward_eval(k->y, k->x, k->gamma, k->beta, k->rmean,
                                  k->rvar, &k->s);
        break;
    case MODE_GN_LRELU:
        pd_lrelu_groupnorm_forward(k->y, k->mean, k->rstd, k->x, k->gamma, k->beta,
                                   k->groups, FUSED_SLOPE, &k->s);
        break;
    default:
        pd_groupnorm_forward(k->y, k->mean, k->rstd, k->x, k->gamma, k->beta,
                             k->groups, &k->s);
    }
}

/* backward with dy = r into the case's gradient buffers (or NULLs) */
static void case_backward(norm_case *k, float *dx, float *dg, float *db) {
    switch (k->mode) {
    case MODE_BN_TRAIN:
        pd_batchnorm_backward_train(dx, dg, db, k->r, k->x, k->mean, k->rstd,
                                    k->gamma, &k->s);
        break;
    case MODE_BN_EVAL:
        pd_batchnorm_backward_eval(dx, dg, db, k->r, k->x, k->gamma, k->rmean,
                                   k->rvar, &k->s);
        break;
    case MODE_GN_LRELU:
        pd_lrelu_groupnorm_backward(dx, dg, db, k->r, k->x, k->mean, k->rstd, k->gamma,
                                    k->groups, FUSED_SLOPE, &k->s);
        break;
    default:
        pd_groupnorm_backward(dx, dg, db, k->r, k->x, k->mean, k->rstd, k->gamma,
                              k->groups, &k->s);
    }
}

static double case_loss(void *ctx) {
    norm_case *k = ctx;
    case_forward(k);
    return tu_dot(k->y, k->r, k->total);
}

static double max_abs(const float *a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

/* Gradient check of one case; returns the worst relative error over dx,
 * dgamma, dbeta and adds max |grad| into *gmax. */
static double case_gradcheck(norm_case *k, double *gmax) {
    case_forward(k);
    case_backward(k, k->dx, k->gamma ? k->dgamma : NULL, k->gamma ? k->dbeta : NULL);
    double worst = tu_gradcheck(case_loss, k, k->x, k->dx, k->total, GC_CHECKS,
                                GC_H, GC_FLOOR);
    *gmax = fmax(*gmax, max_abs(k->dx, k->total));
    if (k->gamma) {
        size_t c = k->s.c;
        worst = fmax(worst, tu_gradcheck(case_loss, k, k->gamma, k->dgamma, c,
                                         GC_CHECKS, GC_H, GC_FLOOR));
        worst = fmax(worst, tu_gradcheck(case_loss, k, k->beta, k->dbeta, c,
                                         GC_CHECKS, GC_H, GC_FLOOR));
        *gmax = fmax(*gmax, max_abs(k->dgamma, c));
    }
    return worst;
}

/* a random divisor of c */
static size_t random_groups(pd_rng *rng, size_t c) {
    size_t divs[8], nd = 0;
    for (size_t g = 1; g <= c; g++)
        if (c % g == 0) divs[nd++] = g;
    return divs[pd_rng_below(rng, (uint32_t)nd)];
}

static void sweep_gradcheck(int mode, uint64_t seed) {
    pd_rng rng;
    pd_rng_seed(&rng, seed, 0);
    double worst = 0.0, gmax = 0.0;
    for (int t = 0; t < 40; t++) {
        size_t n = 1 + pd_rng_below(&rng, 3), c = 1 + pd_rng_below(&rng, 7);
        size_t sp = 1 + pd_rng_below(&rng, 13);
        size_t groups = mode >= MODE_GN ? random_groups(&rng, c) : 1;
        norm_case k;
        case_init(&k, &rng, mode, n, c, sp, groups, t % 3 != 2);
        double w = case_gradcheck(&k, &gmax);
        if (w > GC_TOL)
            print_error("mode %d n=%zu c=%zu sp=%zu g=%zu: err %g\n", mode, n, c,
                        sp, groups, w);
        worst = fmax(worst, w);
        case_free(&k);
    }
    if (getenv("TU_VERBOSE")) print_message("mode %d worst %g gmax %g\n", mode, worst, gmax);
    assert_true(worst <= GC_TOL);
    assert_true(gmax > 0.1); /* the gradients are not all zero */
}

static void test_bn_train_gradcheck(void **state) {
    (void)state;
    sweep_gradcheck(MODE_BN_TRAIN, 11);
}

static void test_bn_eval_gradcheck(void **state) {
    (void)state;
    sweep_gradcheck(MODE_BN_EVAL, 12);
}

static void test_gn_gradcheck(void **state) {
    (void)state;
    sweep_gradcheck(MODE_GN, 13);
}

static void test_gn_lrelu_gradcheck(void **state) {
    (void)state;
    sweep_gradcheck(MODE_GN_LRELU, 14);
}

/* The fused op equals LeakyReLU followed by group norm, forward and
 * backward (the composition computed with the separate kernels). */
static void test_gn_lrelu_matches_composition(void **state) {
    (void)state;
    pd_rng rng;
    pd_rng_seed(&rng, 15, 0);
    for (int t = 0; t < 20; t++) {
        size_t n = 1 + pd_rng_below(&rng, 3), c = 1 + pd_rng_below(&rng, 7);
        size_t sp = 1 + pd_rng_below(&rng, 40);
        size_t groups = random_groups(&rng, c);
        norm_case k;
        case_init(&k, &rng, MODE_GN_LRELU, n, c, sp, groups, t % 2);
        case_forward(&k);
        case_backward(&k, k.dx, k.gamma ? k.dgamma : NULL, k.gamma ? k.dbeta : NULL);
        float *a = tu_falloc(k.total), *y = tu_falloc(k.total), *da = tu_falloc(k.total);
        float *dx = tu_falloc(k.total), *dg = tu_falloc(c), *db = tu_falloc(c);
        float *mean = tu_falloc(n * groups), *rstd = tu_falloc(n * groups);
        pd_act_forward(a, k.x, k.total, PD_ACT_LEAKY_RELU, FUSED_SLOPE);
        pd_groupnorm_forward(y, mean, rstd, a, k.gamma, k.beta, groups, &k.s);
        pd_groupnorm_backward(da, k.gamma ? dg : NULL, k.gamma ? db : NULL, k.r, a, mean,
                              rstd, k.gamma, groups, &k.s);
        pd_act_backward(dx, da, k.x, a, k.total, PD_ACT_LEAKY_RELU, FUSED_SLOPE);
        for (size_t i = 0; i < k.total; i++) {
            assert_float_equal(k.y[i], y[i], 1e-5f);
            assert_float_equal(k.dx[i], dx[i], 1e-4f);
        }
        for (size_t i = 0; k.gamma && i < c; i++) {
            assert_float_equal(k.dgamma[i], dg[i], 1e-4f);
            assert_float_equal(k.dbeta[i], db[i], 1e-4f);
        }
        float *all[] = {a, y, da, dx, dg, db, mean, rstd};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
        case_free(&k);
    }
}

/* Instance norm on short rows (one channel per group, sp <= 16: the
 * denoiser's shape) runs 16 rows at a time across vector lanes: many rows,
 * a partial last tile, both slopes, with and without affine, forward
 * against the reference and the gradients against finite differences. */
static void test_instance_norm_short_rows(void **state) {
    (void)state;
    pd_rng rng;
    pd_rng_seed(&rng, 16, 0);
    const size_t sps[] = {1, 3, 4, 6, 10, 12, 16, 17};
    double worst = 0.0, gmax = 0.0;
    for (size_t t = 0; t < 2 * sizeof sps / sizeof sps[0]; t++) {
        const size_t sp = sps[t / 2], n = 3, c = 23;
        const int mode = t % 2 ? MODE_GN_LRELU : MODE_GN;
        norm_case k;
        case_init(&k, &rng, mode, n, c, sp, c, t % 4 < 2);
        float *a = tu_falloc(k.total), *ry = tu_falloc(k.total);
        float *rm = tu_falloc(n * c), *rr = tu_falloc(n * c);
        pd_act_forward(a, k.x, k.total, PD_ACT_LEAKY_RELU,
                       mode == MODE_GN_LRELU ? FUSED_SLOPE : 1.0f);
        pd_ref_groupnorm(ry, rm, rr, a, k.gamma, k.beta, c, &k.s);
        case_forward(&k);
        TU_ASSERT_CLOSE(k.y, ry, k.total, 1e-5, 1e-4);
        TU_ASSERT_CLOSE(k.mean, rm, n * c, 1e-6, 1e-6);
        TU_ASSERT_CLOSE(k.rstd, rr, n * c, 1e-5, 1e-4);
        double w = case_gradcheck(&k, &gmax);
        if (w > GC_TOL) print_error("sp=%zu mode %d: err %g\n", sp, mode, w);
        worst = fmax(worst, w);
        free(a), free(ry), free(rm), free(rr);
        case_free(&k);
    }
    assert_true(worst <= GC_TOL);
    assert_true(gmax > 0.1);
}

/* The short-row tiles moved by AVX-512 gathers and scatters (where the CPU
 * has them) and by scalar moves give the same bits, forward and backward,
 * with a partial last tile. */
static void test_short_rows_gather_same(void **state) {
    (void)state;
    pd_rng rng;
    pd_rng_seed(&rng, 17, 0);
    const size_t n = 3, c = 23, sp = 10;
    float *out[2][2];
    norm_case k;
    case_init(&k, &rng, MODE_GN_LRELU, n, c, sp, c, 1);
    for (int way = 0; way < 2; way++) {
        pd_norm_short_rows_gather(way);
        memset(k.dx, 0, k.total * sizeof(float));
        case_forward(&k);
        case_backward(&k, k.dx, NULL, NULL);
        out[way][0] = tu_falloc(k.total);
        out[way][1] = tu_falloc(k.total);
        memcpy(out[way][0], k.y, k.total * sizeof(float));
        memcpy(out[way][1], k.dx, k.total * sizeof(float));
    }
    pd_norm_short_rows_gather(-1);
    assert_memory_equal(out[0][0], out[1][0], k.total * sizeof(float));
    assert_memory_equal(out[0][1], out[1][1], k.total * sizeof(float));
    for (int way = 0; way < 2; way++) free(out[way][0]), free(out[way][1]);
    case_free(&k);
}

/* The check itself must notice a wrong gradient. */
static void test_gradcheck_detects_error(void **state) {
    (void)state;
    pd_rng rng;
    pd_rng_seed(&rng, 5, 0);
    norm_case k;
    case_init(&k, &rng, MODE_GN, 2, 4, 7, 2, 1);
    double gmax = 0.0;
    assert_true(case_gradcheck(&k, &gmax) <= GC_TOL);
    for (size_t i = 0; i < k.total; i++) k.dx[i] *= 1.1f;
    assert_true(tu_gradcheck(case_loss, &k, k.x, k.dx, k.total, GC_CHECKS, GC_H,
                             GC_FLOOR) > 0.03);
    case_free(&k);
}

static void test_forward_vs_reference(void **state) {
    (void)state;
    pd_rng rng;
    pd_rng_seed(&rng, 21, 0);
    for (int t = 0; t < 60; t++) {
        int mode = t % 3;
        size_t n = 1 + pd_rng_below(&rng, 3), c = 1 + pd_rng_below(&rng, 7);
        size_t sp = 1 + pd_rng_below(&rng, 13);
        size_t groups = mode >= MODE_GN ? random_groups(&rng, c) : 1;
        norm_case k;
        case_init(&k, &rng, mode, n, c, sp, groups, t % 2);
        size_t nstat = mode >= MODE_GN ? n * groups : c;
        float *ry = tu_falloc(k.total), *rm = tu_falloc(nstat), *rr = tu_falloc(nstat);
        float *rrm = tu_falloc(c), *rrv = tu_falloc(c);
        memcpy(rrm, k.rmean, c * sizeof(float));
        memcpy(rrv, k.rvar, c * sizeof(float));
        case_forward(&k);
        if (mode == MODE_BN_TRAIN) {
            pd_ref_batchnorm_train(ry, rm, rr, rrm, rrv, k.x, k.gamma, k.beta,
                                   0.1f, &k.s);
            TU_ASSERT_CLOSE(k.rmean, rrm, c, 1e-6, 1e-6);
            TU_ASSERT_CLOSE(k.rvar, rrv, c, 1e-6, 1e-6);
        } else if (mode == MODE_BN_EVAL) {
            pd_ref_batchnorm_eval(ry, k.x, k.gamma, k.beta, k.rmean, k.rvar, &k.s);
        } else {
            pd_ref_groupnorm(ry, rm, rr, k.x, k.gamma, k.beta, groups, &k.s);
        }
        TU_ASSERT_CLOSE(k.y, ry, k.total, 1e-5, 1e-5);
        if (mode != MODE_BN_EVAL) {
            TU_ASSERT_CLOSE(k.mean, rm, nstat, 1e-6, 1e-6);
            TU_ASSERT_CLOSE(k.rstd, rr, nstat, 1e-5, 1e-5);
        }
        free(ry), free(rm), free(rr), free(rrm), free(rrv);
        case_free(&k);
    }
}

/* x (2, 2, 2): channel 0 holds 1,2,3,4, channel 1 holds 10,20,30,40 */
static void test_bn_train_exact(void **state) {
    (void)state;
    const float x[8] = {1, 2, 10, 20, 3, 4, 30, 40};
    const float gamma[2] = {1, 2}, beta[2] = {0, 1};
    float y[8], mean[2], rstd[2], rm[2] = {0, 0}, rv[2] = {1, 1};
    pd_norm_shape s = {2, 2, 2, 0.0f};
    pd_batchnorm_forward_train(y, mean, rstd, rm, rv, x, gamma, beta, 0.1f, &s);
    /* (x - 2.5) / sqrt(1.25) and 2 (x - 25) / sqrt(125) + 1 */
    const float want[8] = {-1.3416408f, -0.4472136f, -1.6832816f, 0.1055728f,
                           0.4472136f,  1.3416408f,  1.8944272f,  3.6832816f};
    TU_ASSERT_CLOSE(y, want, 8, 1e-6, 1e-6);
    const float wmean[2] = {2.5f, 25.0f}, wrstd[2] = {0.89442719f, 0.089442719f};
    TU_ASSERT_CLOSE(mean, wmean, 2, 1e-7, 0);
    TU_ASSERT_CLOSE(rstd, wrstd, 2, 1e-6, 0);
    /* running: 0.9 r + 0.1 stat, variance unbiased: 5/3 and 500/3 */
    const float wrm[2] = {0.25f, 2.5f}, wrv[2] = {0.9f + 0.1f * 5.0f / 3.0f,
                                                  0.9f + 0.1f * 500.0f / 3.0f};
    TU_ASSERT_CLOSE(rm, wrm, 2, 1e-6, 0);
    TU_ASSERT_CLOSE(rv, wrv, 2, 1e-6, 0);
    /* the per-channel gradient of a train-mode batch norm sums to zero, and
     * a constant upstream gradient gives dx = 0, dbeta = count */
    float dy[8] = {1, 1, 1, 1, 1, 1, 1, 1}, dx[8] = {0}, dg[2] = {0}, db[2] = {0};
    pd_batchnorm_backward_train(dx, dg, db, dy, x, mean, rstd, gamma, &s);
    const float zero[8] = {0}, four[2] = {4, 4};
    TU_ASSERT_CLOSE(dx, zero, 8, 0, 1e-6);
    TU_ASSERT_CLOSE(dg, zero, 2, 0, 1e-6);
    TU_ASSERT_CLOSE(db, four, 2, 0, 1e-6);
}

/* eval: y = (x - rm) / sqrt(rv + eps) gamma + beta, and its exact gradient */
static void test_bn_eval_exact(void **state) {
    (void)state;
    const float x[4] = {1, 2, 3, 4}, rm[1] = {2}, rv[1] = {4};
    const float gamma[1] = {3}, beta[1] = {-1};
    float y[4];
    pd_norm_shape s = {1, 1, 4, 0.0f};
    pd_batchnorm_forward_eval(y, x, gamma, beta, rm, rv, &s);
    const float want[4] = {-2.5f, -1.0f, 0.5f, 2.0f};
    TU_ASSERT_CLOSE(y, want, 4, 0, 1e-6);
    /* gradients start at 1: backward adds */
    const float dy[4] = {1, 2, 0, -1};
    float dx[4] = {1, 1, 1, 1}, dg[1] = {1}, db[1] = {1};
    pd_batchnorm_backward_eval(dx, dg, db, dy, x, gamma, rm, rv, &s);
    const float wdx[4] = {2.5f, 4.0f, 1.0f, -0.5f}; /* 1 + 1.5 dy */
    const float wdg[1] = {1.0f + (-0.5f * 1 + 0 * 2 + 0.5f * 0 + 1.0f * -1)};
    const float wdb[1] = {3.0f};
    TU_ASSERT_CLOSE(dx, wdx, 4, 0, 1e-6);
    TU_ASSERT_CLOSE(dg, wdg, 1, 0, 1e-6);
    TU_ASSERT_CLOSE(db, wdb, 1, 0, 1e-6);
}

/* instance norm (groups = c, no affine) of two known rows */
static void test_instance_norm_exact(void **state) {
    (void)state;
    const float x[8] = {1, 2, 3, 4, 0, 0, 0, 8};
    float y[8], mean[2], rstd[2];
    pd_norm_shape s = {1, 2, 4, 0.0f};
    pd_groupnorm_forward(y, mean, rstd, x, NULL, NULL, 2, &s);
    /* row 1: mean 2, var 12; row 0 as in batch norm: mean 2.5, var 1.25 */
    const float want[8] = {-1.3416408f, -0.4472136f, 0.4472136f, 1.3416408f,
                           -0.57735027f, -0.57735027f, -0.57735027f, 1.7320508f};
    TU_ASSERT_CLOSE(y, want, 8, 1e-6, 1e-6);
    const float wmean[2] = {2.5f, 2.0f}, wrstd[2] = {0.89442719f, 0.28867513f};
    TU_ASSERT_CLOSE(mean, wmean, 2, 1e-7, 0);
    TU_ASSERT_CLOSE(rstd, wrstd, 2, 1e-6, 0);
    /* one group over both rows: mean 18/8, var 94/8 - (18/8)^2 */
    pd_groupnorm_forward(y, mean, rstd, x, NULL, NULL, 1, &s);
    const float m1 = 2.25f, r1 = (float)(1.0 / sqrt(94.0 / 8 - 2.25 * 2.25));
    TU_ASSERT_CLOSE(mean, &m1, 1, 1e-7, 0);
    TU_ASSERT_CLOSE(rstd, &r1, 1, 1e-6, 0);
}

/* Backward adds into existing gradients; NULL gradients are skipped and do
 * not change the others. */
static void test_accumulate_and_null(void **state) {
    (void)state;
    pd_rng rng;
    pd_rng_seed(&rng, 31, 0);
    for (int mode = 0; mode < 3; mode++) {
        norm_case k;
        case_init(&k, &rng, mode, 2, 6, 5, 3, 1);
        case_forward(&k);
        case_backward(&k, k.dx, k.dgamma, k.dbeta);
        float *dx2 = tu_falloc(k.total), *dg2 = tu_falloc(6), *db2 = tu_falloc(6);
        memcpy(dx2, k.dx, k.total * sizeof(float));
        memcpy(dg2, k.dgamma, sizeof(float) * 6);
        memcpy(db2, k.dbeta, sizeof(float) * 6);
        case_backward(&k, k.dx, k.dgamma, k.dbeta); /* now twice the gradient */
        for (size_t i = 0; i < k.total; i++) dx2[i] *= 2.0f;
        for (size_t i = 0; i < 6; i++) dg2[i] *= 2.0f, db2[i] *= 2.0f;
        TU_ASSERT_CLOSE(k.dx, dx2, k.total, 1e-6, 1e-7);
        TU_ASSERT_CLOSE(k.dgamma, dg2, 6, 1e-6, 1e-7);
        TU_ASSERT_CLOSE(k.dbeta, db2, 6, 1e-6, 1e-7);
        /* only dx, then only dgamma: each equal to its part of the full call */
        memset(dx2, 0, k.total * sizeof(float));
        case_backward(&k, dx2, NULL, NULL);
        for (size_t i = 0; i < k.total; i++) dx2[i] *= 2.0f;
        TU_ASSERT_CLOSE(dx2, k.dx, k.total, 1e-6, 1e-7);
        memset(dg2, 0, sizeof(float) * 6);
        case_backward(&k, NULL, dg2, NULL);
        for (size_t i = 0; i < 6; i++) dg2[i] *= 2.0f;
        TU_ASSERT_CLOSE(dg2, k.dgamma, 6, 1e-6, 1e-7);
        assert_true(max_abs(k.dx, k.total) > 0.01);
        free(dx2), free(dg2), free(db2);
        case_free(&k);
    }
}

/* Large enough to go parallel: 1 and 2 threads give the same bits. */
static void test_threads_bit_identical(void **state) {
    (void)state;
    for (int mode = 0; mode < 3; mode++) {
        float *out[2][4];
        size_t total = 0;
        for (int th = 0; th < 2; th++) {
            pd_rng rng;
            pd_rng_seed(&rng, 41, 0);
            pd_set_threads(th + 1);
            norm_case k;
            case_init(&k, &rng, mode, 3, 8, 3000, 4, 1);
            total = k.total;
            case_forward(&k);
            case_backward(&k, k.dx, k.dgamma, k.dbeta);
            out[th][0] = k.y, out[th][1] = k.dx, out[th][2] = k.dgamma;
            out[th][3] = k.rvar;
            k.y = k.dx = k.dgamma = k.rvar = NULL;
            case_free(&k);
        }
        assert_memory_equal(out[0][0], out[1][0], total * sizeof(float));
        assert_memory_equal(out[0][1], out[1][1], total * sizeof(float));
        assert_memory_equal(out[0][2], out[1][2], 8 * sizeof(float));
        assert_memory_equal(out[0][3], out[1][3], 8 * sizeof(float));
        for (int th = 0; th < 2; th++)
            for (int j = 0; j < 4; j++) free(out[th][j]);
    }
    pd_set_threads(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bn_train_exact),
        cmocka_unit_test(test_bn_eval_exact),
        cmocka_unit_test(test_instance_norm_exact),
        cmocka_unit_test(test_forward_vs_reference),
        cmocka_unit_test(test_bn_train_gradcheck),
        cmocka_unit_test(test_bn_eval_gradcheck),
        cmocka_unit_test(test_gn_gradcheck),
        cmocka_unit_test(test_gn_lrelu_gradcheck),
        cmocka_unit_test(test_gn_lrelu_matches_composition),
        cmocka_unit_test(test_instance_norm_short_rows),
        cmocka_unit_test(test_short_rows_gather_same),
        cmocka_unit_test(test_gradcheck_detects_error),
        cmocka_unit_test(test_accumulate_and_null),
        cmocka_unit_test(test_threads_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
