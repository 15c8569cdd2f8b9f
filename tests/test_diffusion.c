/*
 * test_diffusion.c — the latent DDPM (src/model/diffusion.c):
 *  - the schedule against values computed here by another route (ᾱ from a
 *    sum of logs) and against PyTorch's float64 ᾱ at two timesteps;
 *  - DDPM sampling with a denoiser forced to output a constant, against a
 *    hand-written loop of docs/method.md §4's formulas drawing the same normals;
 *  - DDIM (η = 0) against its formula, with steps = T and with uneven steps;
 *  - determinism (same seed → same bits), EMA weights as an override;
 *  - the training step: its loss equals an independent recomputation from
 *    the same random draws, the EMA update, the loss falls, NaN is caught.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/diffusion.h"
#include "testutil.h"

static void make_den(pd_den *d, size_t L, size_t T, size_t c, uint64_t seed) {
    pd_den_config cfg = {L, T, {c, c + 2, c + 4, c + 6}};
    assert_int_equal(pd_den_create(d, &cfg), PD_OK);
    pd_rng r;
    pd_rng_seed(&r, seed, 9);
    pd_den_init(d, &r);
}

/* the schedule computed independently: β linear, ᾱ = exp(Σ log(1 − β)) */
typedef struct {
    double *beta, *abar;
} ref_sched;

static ref_sched ref_schedule(size_t T, double b0, double b1) {
    ref_sched s = {malloc(T * sizeof(double)), malloc(T * sizeof(double))};
    assert_non_null(s.beta);
    assert_non_null(s.abar);
    double logsum = 0.0;
    for (size_t t = 0; t < T; t++) {
        s.beta[t] = b0 + (b1 - b0) * (double)t / (double)(T - 1);
        logsum += log1p(-s.beta[t]);
        s.abar[t] = exp(logsum);
    }
    return s;
}

static void ref_free(ref_sched *s) {
    free(s->beta);
    free(s->abar);
}

static void assert_rel(double a, double b, double tol) {
    if (!(fabs(a - b) <= tol * fabs(b))) fail_msg("%.17g vs %.17g", a, b);
}

static void test_schedule(void **st) {
    (void)st;
    const size_t T = 1000;
    pd_diffusion df;
    assert_int_equal(pd_diffusion_init(&df, T, 1e-4, 2e-2), PD_OK);
    ref_sched s = ref_schedule(T, 1e-4, 2e-2);
    for (size_t t = 0; t < T; t++) {
        double ab = s.abar[t], abp = t ? s.abar[t - 1] : 1.0, b = s.beta[t];
        assert_rel(df.betas[t], b, 1e-14);
        assert_rel(df.alphas_cumprod[t], ab, 1e-11);
        assert_rel(df.alphas_cumprod_prev[t], abp, 1e-11);
        assert_rel(df.sqrt_recip_alphas_cumprod[t], 1.0 / sqrt(ab), 1e-11);
        assert_rel(df.sqrt_recipm1_alphas_cumprod[t], sqrt(1.0 / ab - 1.0), 1e-10);
        assert_rel(df.posterior_mean_coef1[t], b * sqrt(abp) / (1.0 - ab), 1e-10);
        assert_rel(df.posterior_mean_coef2[t], (1.0 - abp) * sqrt(1.0 - b) / (1.0 - ab), 1e-10);
        if (t > 0) assert_rel(df.log_var[t], log(b), 1e-12);
    }
    /* fixedlarge: slot 0 is the posterior variance of step 1 */
    double pv1 = s.beta[1] * (1.0 - s.abar[0]) / (1.0 - s.abar[1]);
    assert_rel(df.log_var[0], log(pv1), 1e-10);
    /* torch.cumprod(1 − torch.linspace(1e-4, 2e-2, 1000, float64)) */
    assert_rel(df.alphas_cumprod[999], 4.035829765375676e-05, 1e-9);
    assert_rel(df.alphas_cumprod[499], 0.07858724288177824, 1e-10);
    ref_free(&s);
    pd_diffusion_free(&df);
    assert_int_equal(pd_diffusion_init(&df, 0, 1e-4, 2e-2), PD_ERR_ARG);
    assert_int_equal(pd_diffusion_init(&df, 10, 0.5, 0.1), PD_ERR_ARG);
}

/* ---- sampling ------------------------------------------------------------ */

/* every weight zero except the output bias: ε̂ = c everywhere */
static void force_output(pd_den *d, float c) {
    memset(d->params.data, 0, d->params.total * sizeof(float));
    pd_tensor *b = pd_params_find(&d->params, "dec4.conv2.bias");
    assert_non_null(b);
    b->data[0] = c;
}

static double clipd(double v) { return v < -1.0 ? -1.0 : (v > 1.0 ? 1.0 : v); }

typedef struct {
    long calls, last_done, last_total;
} progress_rec;

static void on_progress(void *ctx, long done, long total) {
    progress_rec *p = ctx;
    assert_int_equal(done, p->last_done + 1);
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

static void test_ddpm_forced(void **st) {
    (void)st;
    const size_t T = 1000, L = 5, N = 6, n = N * L;
    const float c = 0.3f;
    pd_den d;
    make_den(&d, L, T, 4, 1);
    force_output(&d, c);
    pd_diffusion df;
    assert_int_equal(pd_diffusion_init(&df, T, 1e-4, 2e-2), PD_OK);
    pd_graph *g = pd_graph_new();
    float *out = tu_falloc(n);
    pd_rng r;
    pd_rng_seed(&r, 31, 0);
    progress_rec pr = {0, 0, 0};
    assert_int_equal(pd_ddpm_sample(&d, NULL, &df, g, N, &r, out, on_progress, &pr), PD_OK);
    assert_int_equal(pr.calls, (long)T);
    assert_int_equal(pr.last_total, (long)T);
    /* docs/method.md §4 by hand, same draws: x_T, then one set of normals per t > 0 */
    ref_sched s = ref_schedule(T, 1e-4, 2e-2);
    float *x = tu_falloc(n), *z = tu_falloc(n);
    pd_rng q;
    pd_rng_seed(&q, 31, 0);
    pd_rng_fill_normal(&q, x, n, 1.0f);
    for (size_t t = T; t-- > 0;) {
        double ab = s.abar[t], abp = t ? s.abar[t - 1] : 1.0, b = s.beta[t];
        if (t > 0) pd_rng_fill_normal(&q, z, n, 1.0f);
        for (size_t i = 0; i < n; i++) {
            double x0 = clipd(x[i] / sqrt(ab) - sqrt(1.0 / ab - 1.0) * c);
            double mean = b * sqrt(abp) / (1.0 - ab) * x0 +
                          (1.0 - abp) * sqrt(1.0 - b) / (1.0 - ab) * x[i];
            if (t > 0) mean += sqrt(b) * z[i]; /* fixedlarge: σ² = β_t */
            x[i] = (float)clipd(mean);
        }
    }
    TU_ASSERT_CLOSE(out, x, n, 1e-5, 1e-5);
    /* samples are clamped to [−1, 1] and not all equal */
    double spread = 0.0;
    for (size_t i = 0; i < n; i++) {
        assert_true(fabsf(out[i]) <= 1.0f);
        spread += fabs(out[i] - out[0]);
    }
    assert_true(spread > 1e-3);
    ref_free(&s);
    free(x);
    free(z);
    free(out);
    pd_graph_free(g);
    pd_diffusion_free(&df);
    pd_den_free(&d);
}

/* DDIM, η = 0, forced ε̂ = c, against its formula over τ_i = floor(i T / S) */
static void check_ddim(size_t T, size_t steps) {
    const size_t L = 4, N = 3, n = N * L;
    const float c = -0.2f;
    pd_den d;
    make_den(&d, L, T, 4, 2);
    force_output(&d, c);
    pd_diffusion df;
    assert_int_equal(pd_diffusion_init(&df, T, 1e-4, 2e-2), PD_OK);
    pd_graph *g = pd_graph_new();
    float *out = tu_falloc(n), *x = tu_falloc(n);
    pd_rng r;
    pd_rng_seed(&r, 32, 0);
    assert_int_equal(pd_ddim_sample(&d, NULL, &df, g, N, steps, 0.0f, &r, out, NULL, NULL),
                     PD_OK);
    ref_sched s = ref_schedule(T, 1e-4, 2e-2);
    pd_rng q;
    pd_rng_seed(&q, 32, 0);
    pd_rng_fill_normal(&q, x, n, 1.0f);
    for (size_t i = steps; i-- > 0;) {
        size_t t = i * T / steps;
        double a = s.abar[t], ap = i ? s.abar[(i - 1) * T / steps] : 1.0;
        for (size_t j = 0; j < n; j++) {
            double x0 = clipd((x[j] - sqrt(1.0 - a) * c) / sqrt(a));
            x[j] = (float)clipd(sqrt(ap) * x0 + sqrt(1.0 - ap) * c);
        }
    }
    TU_ASSERT_CLOSE(out, x, n, 1e-5, 1e-5);
    ref_free(&s);
    free(out);
    free(x);
    pd_graph_free(g);
    pd_diffusion_free(&df);
    pd_den_free(&d);
}

static void test_ddim_full(void **st) { (void)st; check_ddim(100, 100); }
static void test_ddim_uneven(void **st) { (void)st; check_ddim(50, 7); }

static void test_determinism(void **st) {
    (void)st;
    const size_t T = 40, L = 6, N = 5, n = N * L;
    pd_den d;
    make_den(&d, L, T, 4, 3);
    pd_diffusion df;
    assert_int_equal(pd_diffusion_init(&df, T, 1e-4, 2e-2), PD_OK);
    pd_graph *g = pd_graph_new();
    float *a = tu_falloc(n), *b = tu_falloc(n), *c = tu_falloc(n);
    pd_rng r;
    pd_rng_seed(&r, 7, 0);
    assert_int_equal(pd_ddpm_sample(&d, NULL, &df, g, N, &r, a, NULL, NULL), PD_OK);
    pd_rng_seed(&r, 7, 0);
    assert_int_equal(pd_ddpm_sample(&d, NULL, &df, g, N, &r, b, NULL, NULL), PD_OK);
    assert_memory_equal(a, b, n * sizeof(float));
    pd_rng_seed(&r, 8, 0);
    assert_int_equal(pd_ddpm_sample(&d, NULL, &df, g, N, &r, c, NULL, NULL), PD_OK);
    assert_memory_not_equal(a, c, n * sizeof(float));
    /* an override equal to the weights gives the same bits; other weights not */
    float *w = tu_falloc(d.params.total);
    memcpy(w, d.params.data, d.params.total * sizeof(float));
    pd_rng_seed(&r, 7, 0);
    assert_int_equal(pd_ddpm_sample(&d, w, &df, g, N, &r, c, NULL, NULL), PD_OK);
    assert_memory_equal(a, c, n * sizeof(float));
    for (size_t i = 0; i < d.params.total; i++) w[i] *= 0.5f;
    pd_rng_seed(&r, 7, 0);
    assert_int_equal(pd_ddpm_sample(&d, w, &df, g, N, &r, c, NULL, NULL), PD_OK);
    assert_memory_not_equal(a, c, n * sizeof(float));
    /* DDIM η = 0 depends on the seed through x_T only; η > 0 draws more */
    pd_rng_seed(&r, 7, 0);
    assert_int_equal(pd_ddim_sample(&d, NULL, &df, g, N, 10, 0.0f, &r, a, NULL, NULL), PD_OK);
    pd_rng_seed(&r, 7, 0);
    assert_int_equal(pd_ddim_sample(&d, NULL, &df, g, N, 10, 0.0f, &r, b, NULL, NULL), PD_OK);
    assert_memory_equal(a, b, n * sizeof(float));
    pd_rng_seed(&r, 7, 0);
    assert_int_equal(pd_ddim_sample(&d, NULL, &df, g, N, 10, 1.0f, &r, b, NULL, NULL), PD_OK);
    assert_memory_not_equal(a, b, n * sizeof(float));
    assert_int_equal(pd_ddim_sample(&d, NULL, &df, g, N, 0, 0.0f, &r, b, NULL, NULL),
                     PD_ERR_ARG);
    assert_int_equal(pd_ddim_sample(&d, NULL, &df, g, N, T + 1, 0.0f, &r, b, NULL, NULL),
                     PD_ERR_ARG);
    free(a);
    free(b);
    free(c);
    free(w);
    pd_graph_free(g);
    pd_diffusion_free(&df);
    pd_den_free(&d);
}

/* ---- training ------------------------------------------------------------ */

static void test_train_step(void **st) {
    (void)st;
    const size_t T = 50, L = 6, B = 7;
    pd_den d;
    make_den(&d, L, T, 8, 4);
    pd_diffusion df;
    assert_int_equal(pd_diffusion_init(&df, T, 1e-4, 2e-2), PD_OK);
    pd_graph *g = pd_graph_new();
    pd_rng r;
    pd_rng_seed(&r, 41, 0);
    float *Z = tu_falloc(B * L);
    tu_fill(&r, Z, B * L, -1.0f, 1.0f);
    const size_t np = d.params.total;
    float *before = tu_falloc(np), *ema = tu_falloc(np);
    memcpy(before, d.params.data, np * sizeof(float));
    memcpy(ema, d.params.data, np * sizeof(float));
    for (size_t i = 0; i < np; i++) ema[i] += 0.01f; /* distinguishable */
    float *ema0 = tu_falloc(np);
    memcpy(ema0, ema, np * sizeof(float));
    pd_adamw opt = {1e-3f, 0.9f, 0.999f, 1e-8f, 2e-6f};
    double loss = 0.0;
    pd_rng_seed(&r, 42, 0);
    assert_int_equal(pd_ddpm_train_step(&d, &df, g, Z, B, &r, &opt, 1, ema, 0.9999f, &loss),
                     PD_OK);
    /* the same draws by hand: t for each sample, then ε */
    ref_sched s = ref_schedule(T, 1e-4, 2e-2);
    pd_rng q;
    pd_rng_seed(&q, 42, 0);
    int32_t ts[7];
    float *eps = tu_falloc(B * L), *xt = tu_falloc(B * L);
    for (size_t i = 0; i < B; i++) ts[i] = (int32_t)pd_rng_below(&q, (uint32_t)T);
    pd_rng_fill_normal(&q, eps, B * L, 1.0f);
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < L; j++)
            xt[i * L + j] = (float)(sqrt(s.abar[ts[i]]) * Z[i * L + j] +
                                    sqrt(1.0 - s.abar[ts[i]]) * eps[i * L + j]);
    float *after = tu_falloc(np);
    memcpy(after, d.params.data, np * sizeof(float));
    memcpy(d.params.data, before, np * sizeof(float));
    pd_g_reset(g);
    pd_g_set_grad(g, 0);
    pd_val *y = pd_den_forward(&d, g, pd_g_input(g, xt, 2, (size_t[]){B, L}, 0), ts);
    double ref = 0.0;
    for (size_t i = 0; i < B * L; i++) ref += pow((double)y->v[i] - eps[i], 2) / (double)(B * L);
    assert_rel(loss, ref, 1e-5);
    pd_g_set_grad(g, 1);
    /* the step moved the weights; EMA = d ema + (1 − d) p with warm-up d */
    double moved = 0.0;
    for (size_t i = 0; i < np; i++) moved += fabs(after[i] - before[i]);
    assert_true(moved > 0.0);
    float dec = pd_ema_decay(0.9999f, 1);
    for (size_t i = 0; i < np; i += 97) {
        float want = dec * ema0[i] + (1.0f - dec) * after[i];
        assert_true(fabsf(ema[i] - want) <= 1e-6f * (1.0f + fabsf(want)));
    }
    memcpy(d.params.data, after, np * sizeof(float));
    /* the loss falls over training on fixed latents. (This network learns
     * slowly at this size: PyTorch's twin goes 1.13 → 0.83 in 1500 steps on
     * 7 random latents; a fall of 8 % in 800 steps is asked here.) */
    opt.lr = 3e-3f;
    double early = 0.0, late = 0.0;
    const long steps = 800;
    for (long t = 2; t <= steps + 1; t++) {
        assert_int_equal(pd_ddpm_train_step(&d, &df, g, Z, B, &r, &opt, t, NULL, 0.0f, &loss),
                         PD_OK);
        if (t <= 51) early += loss / 50.0;
        if (t > steps - 49) late += loss / 50.0;
    }
    if (getenv("PD_TEST_VERBOSE")) fprintf(stderr, "DDPM loss %g → %g\n", early, late);
    if (!(late < 0.92 * early)) fail_msg("DDPM loss %g → %g: not learning", early, late);
    /* NaN latents: refused, no step */
    Z[3] = NAN;
    memcpy(before, d.params.data, np * sizeof(float));
    assert_int_equal(pd_ddpm_train_step(&d, &df, g, Z, B, &r, &opt, 400, NULL, 0.0f, &loss),
                     PD_ERR_NAN);
    assert_memory_equal(before, d.params.data, np * sizeof(float));
    /* schedule and network must agree on T */
    pd_diffusion other;
    assert_int_equal(pd_diffusion_init(&other, T + 1, 1e-4, 2e-2), PD_OK);
    assert_int_equal(pd_ddpm_train_step(&d, &other, g, Z, B, &r, &opt, 401, NULL, 0.0f, &loss),
                     PD_ERR_SHAPE);
    pd_diffusion_free(&other);
    ref_free(&s);
    free(Z);
    free(before);
    free(after);
    free(ema);
    free(ema0);
    free(eps);
    free(xt);
    pd_graph_free(g);
    pd_diffusion_free(&df);
    pd_den_free(&d);
}

int main(void) {
    pd_set_threads(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule),   cmocka_unit_test(test_ddpm_forced),
        cmocka_unit_test(test_ddim_full),  cmocka_unit_test(test_ddim_uneven),
        cmocka_unit_test(test_determinism), cmocka_unit_test(test_train_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
