/*
 * test_memorization.c — known answers for the fidelity tools: parameter
 * normalization (round trip, constant dimensions, save/load), the
 * autoencoder diagnostics on an identity and a constant decoder, the
 * averaging and Gaussian baselines and nearest-original distances on tiny
 * cases computed by hand, and the matched-novelty interpolation on a
 * synthetic curve.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "pdiff.h"
#include "memorization.h"
#include "model/normalize.h"

/* |a − b| within a few float roundings of the values involved */
static void assert_round_trip(const float *a, const float *b, size_t n, const float *shift) {
    for (size_t i = 0; i < n; i++) {
        double tol = 4 * 1.2e-7 * (fabs(a[i]) + fabs(shift[i % 4]) + 1e-30);
        if (!(fabs((double)a[i] - b[i]) <= tol))
            fail_msg("element %zu: %.9g came back as %.9g", i, a[i], b[i]);
    }
}

/* K = 3 rows, D = 4: a varying column, a constant one, two of a tensor */
static const float V3[12] = {1, 5, 0.25f, -2, 2, 5, 0.5f, -4, 3, 5, 0.75f, -6};

static void test_normalize_dim_known_values(void **state) {
    (void)state;
    pd_normalizer n;
    assert_int_equal(pd_normalizer_fit(&n, PD_NORMALIZE_DIM, V3, 3, 4, NULL, 0), PD_OK);
    assert_float_equal(n.shift[0], 2.0f, 1e-6);
    assert_float_equal(n.scale[0], sqrtf(2.0f / 3.0f), 1e-6);
    assert_float_equal(n.shift[1], 5.0f, 1e-6);
    /* the constant column gets the floor: 1e-3 of the mean sd */
    double mean_sd = (sqrt(2.0 / 3) + 0 + 0.25 * sqrt(2.0 / 3) + 2 * sqrt(2.0 / 3)) / 4;
    assert_float_equal(n.scale[1], (float)(1e-3 * mean_sd), 1e-9);
    float X[12];
    memcpy(X, V3, sizeof X);
    pd_normalizer_apply(&n, X, 3);
    /* every varying column becomes (−√1.5, 0, √1.5); the constant one 0 */
    for (int k = 0; k < 3; k++) {
        float z = (float)((k - 1) * sqrt(1.5));
        assert_float_equal(X[k * 4 + 0], z, 1e-5);
        assert_true(X[k * 4 + 1] == 0.0f);
        assert_float_equal(X[k * 4 + 2], z, 1e-5);
        assert_float_equal(X[k * 4 + 3], -z, 1e-5);
    }
    pd_normalizer_invert(&n, X, 3);
    assert_round_trip(V3, X, 12, n.shift);
    for (int k = 0; k < 3; k++) assert_true(X[k * 4 + 1] == 5.0f); /* exact */
    pd_normalizer_free(&n);
}

static void test_normalize_tensor_and_none(void **state) {
    (void)state;
    pd_normalizer n;
    size_t sizes[2] = {2, 2};
    assert_int_equal(pd_normalizer_fit(&n, PD_NORMALIZE_TENSOR, V3, 3, 4, sizes, 2), PD_OK);
    /* tensor 0: values 1,5,2,5,3,5 → mean 3.5; tensor 1: .25,-2,.5,-4,.75,-6 */
    assert_float_equal(n.shift[0], 3.5f, 1e-6);
    assert_float_equal(n.shift[1], 3.5f, 1e-6);
    double m1 = (0.25 - 2 + 0.5 - 4 + 0.75 - 6) / 6, v1 = 0;
    const double t1[6] = {0.25, -2, 0.5, -4, 0.75, -6};
    for (int i = 0; i < 6; i++) v1 += (t1[i] - m1) * (t1[i] - m1) / 6;
    assert_float_equal(n.shift[2], (float)m1, 1e-6);
    assert_float_equal(n.scale[3], (float)sqrt(v1), 1e-6);
    float X[12];
    memcpy(X, V3, sizeof X);
    pd_normalizer_apply(&n, X, 3);
    pd_normalizer_invert(&n, X, 3);
    assert_round_trip(V3, X, 12, n.shift);
    pd_normalizer_free(&n);
    size_t bad[2] = {2, 3};
    assert_int_equal(pd_normalizer_fit(&n, PD_NORMALIZE_TENSOR, V3, 3, 4, bad, 2), PD_ERR_SHAPE);

    assert_int_equal(pd_normalizer_fit(&n, PD_NORMALIZE_NONE, V3, 3, 4, NULL, 0), PD_OK);
    memcpy(X, V3, sizeof X);
    pd_normalizer_apply(&n, X, 3);
    assert_memory_equal(X, V3, sizeof X); /* the paper's behaviour: untouched */
    pd_normalizer_free(&n);
    /* K = 1: every dimension constant, all map to 0 and back exactly */
    assert_int_equal(pd_normalizer_fit(&n, PD_NORMALIZE_DIM, V3, 1, 4, NULL, 0), PD_OK);
    memcpy(X, V3, 4 * sizeof(float));
    pd_normalizer_apply(&n, X, 1);
    for (int j = 0; j < 4; j++) assert_true(X[j] == 0.0f);
    pd_normalizer_invert(&n, X, 1);
    assert_memory_equal(X, V3, 4 * sizeof(float));
    pd_normalizer_free(&n);
}

/* random matrices of very different column scales, each kind */
static void test_normalize_round_trip_random(void **state) {
    (void)state;
    const size_t K = 50, D = 37;
    float *V = tu_falloc(K * D), *X = tu_falloc(K * D);
    pd_rng r;
    pd_rng_seed(&r, 3, 0);
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < D; j++)
            V[k * D + j] = j % 5 == 0 ? 0.42f : (float)(j + 1) * 0.3f + 1e-3f * pd_rng_normal(&r);
    size_t sizes[3] = {10, 20, 7};
    for (int kind = 0; kind < 3; kind++) {
        pd_normalizer n;
        assert_int_equal(pd_normalizer_fit(&n, (pd_normalize_kind)kind, V, K, D, sizes, 3), PD_OK);
        memcpy(X, V, K * D * sizeof(float));
        pd_normalizer_apply(&n, X, K);
        pd_normalizer_invert(&n, X, K);
        for (size_t i = 0; i < K * D; i++) {
            double tol = 4 * 1.2e-7 * (fabs(V[i]) + fabs(n.shift[i % D]));
            if (!(fabs((double)V[i] - X[i]) <= tol))
                fail_msg("kind %d element %zu: %.9g → %.9g", kind, i, V[i], X[i]);
        }
        pd_normalizer_free(&n);
    }
    free(V);
    free(X);
}

static void test_normalize_save_load(void **state) {
    (void)state;
    char path[] = "/tmp/pdiff_norm_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    pd_normalizer n, m;
    assert_int_equal(pd_normalizer_fit(&n, PD_NORMALIZE_DIM, V3, 3, 4, NULL, 0), PD_OK);
    assert_int_equal(pd_normalizer_save(&n, path), PD_OK);
    assert_int_equal(pd_normalizer_load(&m, path, 4), PD_OK);
    assert_int_equal(m.kind, PD_NORMALIZE_DIM);
    assert_memory_equal(m.shift, n.shift, 4 * sizeof(float));
    assert_memory_equal(m.scale, n.scale, 4 * sizeof(float));
    pd_normalizer_free(&m);
    /* a model of another D is refused, naming the file */
    assert_int_equal(pd_normalizer_load(&m, path, 5), PD_ERR_SHAPE);
    assert_non_null(strstr(pd_last_error(), path));
    pd_normalizer_free(&n);
    unlink(path);
    assert_int_equal(pd_normalize_parse("dim"), PD_NORMALIZE_DIM);
    assert_int_equal(pd_normalize_parse("layer"), -1);
}

/* K originals spread around a centre */
static float *spread_originals(size_t K, size_t D, uint64_t seed) {
    float *O = tu_falloc(K * D);
    pd_rng r;
    pd_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < K * D; i++) O[i] = 0.4f + 0.01f * pd_rng_normal(&r);
    return O;
}

static void test_diag_identity_decoder(void **state) {
    (void)state;
    const size_t K = 20, D = 30;
    float *O = spread_originals(K, D, 1);
    pd_ae_diag d;
    assert_int_equal(pd_ae_diagnose(O, O, K, D, 0, &d), PD_OK);
    assert_true(d.recon_rmse == 0.0);
    assert_true(d.recon_ratio == 0.0);
    assert_true(d.nn_identity == 1.0);
    assert_true(d.nn_identity_iso == 1.0);
    assert_true(d.nn_resolvable == 1.0);
    assert_float_equal(d.dev_corr, 1.0, 1e-12);
    assert_float_equal(d.spread_rms, 0.01, 0.002);
    free(O);
}

/* every original decodes to the mean: ratio exactly 1, identity at chance
 * (one original is nearest to the mean, so 1/K), no correlation defined */
static void test_diag_constant_decoder(void **state) {
    (void)state;
    const size_t K = 20, D = 30;
    float *O = spread_originals(K, D, 2), *R = tu_falloc(K * D);
    for (size_t j = 0; j < D; j++) {
        double s = 0;
        for (size_t k = 0; k < K; k++) s += O[k * D + j];
        for (size_t k = 0; k < K; k++) R[k * D + j] = (float)(s / K);
    }
    pd_ae_diag d;
    assert_int_equal(pd_ae_diagnose(O, R, K, D, 0, &d), PD_OK);
    assert_float_equal(d.recon_ratio, 1.0, 1e-4);
    assert_float_equal(d.nn_identity, 1.0 / K, 1e-12);
    assert_true(isnan(d.dev_corr));
    /* an unbiased error of the same size keeps most originals identifiable
     * in 30 dimensions */
    assert_true(d.nn_identity_iso > 0.5);
    /* the JSON round trip keeps every field (NaN as null) */
    char *json = pd_ae_diag_json(&d);
    char path[] = "/tmp/pdiff_diag_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0 && write(fd, json, strlen(json)) == (ssize_t)strlen(json));
    close(fd);
    pd_ae_diag e;
    assert_int_equal(pd_ae_diag_read(path, &e), PD_OK);
    assert_float_equal(e.recon_ratio, d.recon_ratio, 1e-12);
    assert_true(isnan(e.dev_corr) && e.K == K && e.D == D);
    unlink(path);
    free(json);
    free(O);
    free(R);
}

/* reconstructions with swapped rows: perfect values, wrong identities */
static void test_diag_swapped_rows(void **state) {
    (void)state;
    const size_t K = 10, D = 8;
    float *O = spread_originals(K, D, 3), *R = tu_falloc(K * D);
    for (size_t k = 0; k < K; k++) memcpy(R + k * D, O + ((k + 1) % K) * D, D * sizeof(float));
    pd_ae_diag d;
    assert_int_equal(pd_ae_diagnose(O, R, K, D, 0, &d), PD_OK);
    assert_true(d.nn_identity == 0.0);
    assert_true(d.nn_resolvable == 0.0); /* each error is a whole original-to-original step */
    assert_true(d.recon_ratio > 1.2); /* two independent draws: about √2 */
    free(O);
    free(R);
}

static void test_average_baseline(void **state) {
    (void)state;
    const float O[6] = {1, 10, 2, 20, 6, 60}; /* K = 3, D = 2 */
    float out[2];
    pd_rng r;
    pd_rng_seed(&r, 0, 0);
    /* m = 16 > K: all three rows */
    pd_baseline_average(O, 3, 2, 16, &r, out);
    assert_float_equal(out[0], 3.0f, 1e-6);
    assert_float_equal(out[1], 30.0f, 1e-5);
    /* m = 2: the mean of two distinct rows, each pair seen */
    int seen[3] = {0, 0, 0};
    for (int t = 0; t < 200; t++) {
        pd_baseline_average(O, 3, 2, 2, &r, out);
        int pair = out[0] == 1.5f ? 0 : out[0] == 3.5f ? 1 : out[0] == 4.0f ? 2 : -1;
        if (pair < 0) fail_msg("mean %g is not of two distinct rows", out[0]);
        assert_float_equal(out[1], out[0] * 10, 1e-5);
        seen[pair]++;
    }
    assert_true(seen[0] > 30 && seen[1] > 30 && seen[2] > 30);
}

static void test_gaussian_baseline(void **state) {
    (void)state;
    const float O[4] = {1, 10, 3, 10}; /* columns: {1, 3} and {10, 10} */
    float mean[2], sd[2], out[2];
    pd_column_moments(O, 2, 2, mean, sd);
    assert_float_equal(mean[0], 2.0f, 0);
    assert_float_equal(sd[0], 1.0f, 0);
    assert_float_equal(mean[1], 10.0f, 0);
    assert_float_equal(sd[1], 0.0f, 0);
    pd_rng r;
    pd_rng_seed(&r, 5, 0);
    double s = 0, s2 = 0;
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        pd_baseline_gaussian(mean, sd, 2, &r, out);
        assert_true(out[1] == 10.0f); /* no spread, no noise */
        s += out[0];
        s2 += (double)out[0] * out[0];
    }
    assert_float_equal(s / n, 2.0, 0.03);
    assert_float_equal(sqrt(s2 / n - (s / n) * (s / n)), 1.0, 0.03);
}

static void test_nearest_l2(void **state) {
    (void)state;
    const float O[6] = {0, 0, 3, 4, 6, 8}; /* three points on a line */
    const float X[4] = {3, 5, NAN, 0};
    double d[3];
    pd_nearest_l2(O, 3, O, 3, 2, 1, d); /* to another original: 5, 5, 5 */
    for (int i = 0; i < 3; i++) assert_float_equal(d[i], 5.0, 1e-12);
    pd_nearest_l2(X, 2, O, 3, 2, 0, d);
    assert_float_equal(d[0], 1.0, 1e-12);
    assert_true(isnan(d[1]));
}

static void test_matched_novelty(void **state) {
    (void)state;
    /* acc = 80 + 10·iou, given out of order with a non-finite point */
    const double iou[5] = {0.9, 0.5, NAN, 0.95, 0.7};
    const double acc[5] = {89, 85, 99, 89.5, 87};
    assert_float_equal(pd_matched_novelty_acc(iou, acc, 5, 0.8), 88.0, 1e-12);
    assert_float_equal(pd_matched_novelty_acc(iou, acc, 5, 0.5), 85.0, 1e-12);
    assert_float_equal(pd_matched_novelty_acc(iou, acc, 5, 0.925), 89.25, 1e-12);
    assert_true(isnan(pd_matched_novelty_acc(iou, acc, 5, 0.99))); /* outside */
    assert_true(isnan(pd_matched_novelty_acc(iou, acc, 5, 0.3)));
    assert_true(isnan(pd_matched_novelty_acc(iou, acc, 1, 0.9)));  /* one point */
    /* equal IoUs average their accuracies */
    const double i2[3] = {0.6, 0.6, 0.8}, a2[3] = {80, 82, 90};
    assert_float_equal(pd_matched_novelty_acc(i2, a2, 3, 0.6), 81.0, 1e-12);
    assert_float_equal(pd_matched_novelty_acc(i2, a2, 3, 0.7), 85.5, 1e-12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_dim_known_values),
        cmocka_unit_test(test_normalize_tensor_and_none),
        cmocka_unit_test(test_normalize_round_trip_random),
        cmocka_unit_test(test_normalize_save_load),
        cmocka_unit_test(test_diag_identity_decoder),
        cmocka_unit_test(test_diag_constant_decoder),
        cmocka_unit_test(test_diag_swapped_rows),
        cmocka_unit_test(test_average_baseline),
        cmocka_unit_test(test_gaussian_baseline),
        cmocka_unit_test(test_nearest_l2),
        cmocka_unit_test(test_matched_novelty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
