/*
 * diffusion.c — β schedule, DDPM training step, DDPM and DDIM samplers
 * (formulas in diffusion.h). Schedule terms are kept in double and applied
 * per element in double before rounding to float, following the authors'
 * code (which builds them in float64).
 */
#include "model/diffusion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the schedule's tables, each T doubles, carved from one allocation */
enum { N_TABLES = 12 };

pd_status pd_diffusion_init(pd_diffusion *d, size_t T, double b0, double b1) {
    memset(d, 0, sizeof *d);
    if (T == 0 || T > ((size_t)1 << 24))
        return pd_fail(PD_ERR_ARG, "diffusion: T=%zu out of range", T);
    if (!(b0 > 0.0 && b1 >= b0 && b1 < 1.0))
        return pd_fail(PD_ERR_ARG, "diffusion: betas must satisfy 0 < %g <= %g < 1", b0, b1);
    double *m = malloc(N_TABLES * T * sizeof(double));
    if (!m) return pd_fail(PD_ERR_NOMEM, "diffusion: out of memory for the schedule");
    double **tabs[N_TABLES] = {&d->betas, &d->alphas_cumprod, &d->alphas_cumprod_prev,
                               &d->sqrt_alphas_cumprod, &d->sqrt_one_minus_alphas_cumprod,
                               &d->sqrt_recip_alphas_cumprod, &d->sqrt_recipm1_alphas_cumprod,
                               &d->posterior_variance, &d->log_var,
                               &d->posterior_mean_coef1, &d->posterior_mean_coef2, NULL};
    for (int i = 0; i < N_TABLES - 1; i++) *tabs[i] = m + (size_t)i * T;
    d->T = T;
    d->beta_start = b0;
    d->beta_end = b1;
    double acp = 1.0;
    for (size_t t = 0; t < T; t++) {
        /* torch.linspace(b0, b1, T) in float64 */
        double beta = T == 1 ? b0 : b0 + (b1 - b0) * (double)t / (double)(T - 1);
        double prev = acp;
        acp *= 1.0 - beta;
        d->betas[t] = beta;
        d->alphas_cumprod[t] = acp;
        d->alphas_cumprod_prev[t] = prev;
        d->sqrt_alphas_cumprod[t] = sqrt(acp);
        d->sqrt_one_minus_alphas_cumprod[t] = sqrt(1.0 - acp);
        d->sqrt_recip_alphas_cumprod[t] = 1.0 / sqrt(acp);
        d->sqrt_recipm1_alphas_cumprod[t] = sqrt(1.0 / acp - 1.0);
        d->posterior_variance[t] = beta * (1.0 - prev) / (1.0 - acp);
        d->posterior_mean_coef1[t] = beta * sqrt(prev) / (1.0 - acp);
        d->posterior_mean_coef2[t] = (1.0 - prev) * sqrt(1.0 - beta) / (1.0 - acp);
    }
    for (size_t t = 0; t < T; t++) d->log_var[t] = log(d->betas[t]);
    /* fixedlarge: the t = 0 slot holds the posterior variance of step 1
     * (log 0 otherwise); T = 1 keeps log β_0 */
    if (T > 1) d->log_var[0] = log(d->posterior_variance[1]);
    return PD_OK;
}

void pd_diffusion_free(pd_diffusion *d) {
    free(d->betas);
    memset(d, 0, sizeof *d);
}

pd_status pd_ddpm_train_step(pd_den *den, pd_diffusion *df, pd_graph *g, const float *Z,
                             size_t B, pd_rng *rng, const pd_adamw *opt, long t,
                             float *ema, float ema_decay, double *loss) {
    return pd_ddpm_train_step_split(den, df, g, Z, B, NULL, rng, opt, t, ema, ema_decay, loss);
}

pd_status pd_ddpm_train_step_split(pd_den *den, pd_diffusion *df, pd_graph *g,
                                   const float *Z, size_t B, const pd_batch_split *split,
                                   pd_rng *rng, const pd_adamw *opt, long t, float *ema,
                                   float ema_decay, double *loss) {
    pd_params *p = &den->params;
    const size_t L = den->cfg.L;
    if (B == 0) return pd_fail(PD_ERR_ARG, "ddpm: empty batch");
    if (df->T != den->cfg.T)
        return pd_fail(PD_ERR_SHAPE, "ddpm: schedule T=%zu but denoiser T=%zu", df->T,
                       den->cfg.T);
    const int parallel = pd_batch_split_active(split);
    if (parallel && (split->total != B || split->n == 0))
        return pd_fail(PD_ERR_ARG, "ddpm: %zu processes for a batch of %zu",
                       (size_t)split->dp->size, B);
    const size_t lo = parallel ? split->lo : 0, rows = parallel ? split->n : B;
    pd_status s = pd_params_alloc_state(p);
    if (s != PD_OK) return s;
    pd_g_reset(g);
    pd_g_set_grad(g, 1);
    pd_params_zero_grad(p);
    /* draws: B timesteps, then B·L normals (the order tests rely on); every
     * process draws the whole batch's and uses its rows */
    int32_t *ts = pd_g_alloc(g, B * sizeof(int32_t));
    float *eps = pd_g_alloc(g, B * L * sizeof(float));
    float *xt = pd_g_alloc(g, B * L * sizeof(float));
    if (!ts || !eps || !xt) return pd_fail(PD_ERR_NOMEM, "ddpm: out of memory");
    for (size_t i = 0; i < B; i++) ts[i] = (int32_t)pd_rng_below(rng, (uint32_t)df->T);
    pd_rng_fill_normal(rng, eps, B * L, 1.0f);
    /* q(x_t | x_0): x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε, coefficients in double */
    for (size_t i = lo; i < lo + rows; i++) {
        double a = df->sqrt_alphas_cumprod[ts[i]], s1 = df->sqrt_one_minus_alphas_cumprod[ts[i]];
        for (size_t j = 0; j < L; j++)
            xt[i * L + j] = (float)(a * Z[i * L + j] + s1 * eps[i * L + j]);
    }
    pd_val *x = pd_g_input(g, xt + lo * L, 3, (size_t[]){rows, 1, L}, 0);
    pd_val *out = pd_den_forward(den, g, x, ts + lo); /* ε̂ (rows, 1, L) */
    pd_val *l = out ? pd_g_mse(g, out, eps + lo * L) : NULL;
    if (!l || pd_g_failed(g)) return pd_fail(PD_ERR_NOMEM, "ddpm: out of memory in the graph");
    double v = l->v[0];
    /* several processes check the summed loss, so that they stop together */
    if (!parallel && !isfinite(v)) {
        if (loss) *loss = v;
        return pd_fail(PD_ERR_NAN, "ddpm: loss is %g at step %ld", v, t);
    }
    pd_g_backward(g, l);
    if (pd_g_failed(g)) return pd_fail(PD_ERR_NOMEM, "ddpm: out of memory in backward");
    if (parallel) {
        float *scratch = pd_g_alloc(g, (p->total + 1) * sizeof(float));
        if (!scratch) return pd_fail(PD_ERR_NOMEM, "ddpm: out of memory");
        pd_batch_split_reduce(split, p->grad, p->total, &v, scratch);
    }
    if (loss) *loss = v;
    if (!isfinite(v)) return pd_fail(PD_ERR_NAN, "ddpm: loss is %g at step %ld", v, t);
    /* the denoiser has no buffers: the whole parameter range is trained */
    pd_adamw_step(opt, p->data, p->grad, p->m, p->v, p->total, t);
    if (ema) pd_ema_update(ema, p->data, p->total, ema_decay, t);
    return PD_OK;
}

static double clip1(double v) { return v < -1.0 ? -1.0 : (v > 1.0 ? 1.0 : v); }

/* ε̂ = ε_θ(x, t) for all N rows at one timestep. The rows are split over
 * workers (pd_run_workers), each with its graph, one thread each: the
 * denoiser's rows are short, so that beats all threads on all rows, and
 * each row's numbers are those of one worker alone */
typedef struct {
    pd_den *den;
    const float *w;    /* parameters (NULL: the denoiser's) */
    pd_graph **gs;     /* a graph per worker; gs[0] is the caller's */
    int W;
    const float *x;    /* x_t (N, L) */
    float *eps;        /* ε̂ (N, L) */
    int32_t *ts;       /* N timesteps */
    size_t N;
} predictor;

static pd_status predict_rows(int w, void *ctx) {
    predictor *p = ctx;
    const size_t L = p->den->cfg.L, lo = p->N * (size_t)w / (size_t)p->W,
                 hi = p->N * (size_t)(w + 1) / (size_t)p->W;
    if (hi == lo) return PD_OK;
    pd_graph *g = p->gs[w];
    pd_g_reset(g);
    pd_val *xv = pd_g_input(g, (float *)p->x + lo * L, 3, (size_t[]){hi - lo, 1, L}, 0);
    pd_val *e = pd_den_forward_with(p->den, g, xv, p->ts + lo, p->w);
    if (!e || pd_g_failed(g)) return pd_fail(PD_ERR_NOMEM, "sampling: out of memory in the denoiser");
    memcpy(p->eps + lo * L, e->v, (hi - lo) * L * sizeof(float));
    return PD_OK;
}

static const float *predict(predictor *p, size_t t) {
    for (size_t i = 0; i < p->N; i++) p->ts[i] = (int32_t)t;
    return pd_run_workers(p->W, predict_rows, p) ? NULL : p->eps;
}

/* shared set-up of both samplers: checks, x_T ~ N(0, I), the workers */
static pd_status sample_begin(pd_den *den, const float *w, pd_diffusion *df, pd_graph *g,
                              size_t N, pd_rng *rng, float *out, predictor *p) {
    memset(p, 0, sizeof *p);
    if (df->T != den->cfg.T)
        return pd_fail(PD_ERR_SHAPE, "sampling: schedule T=%zu but denoiser T=%zu", df->T,
                       den->cfg.T);
    if (N == 0) return PD_OK;
    int W = pd_threads();
    if ((size_t)W > N) W = (int)N;
    if (W < 1) W = 1;
    pd_g_set_grad(g, 0);
    *p = (predictor){den, w, calloc((size_t)W, sizeof(pd_graph *)), W, out,
                     malloc(N * den->cfg.L * sizeof(float)), malloc(N * sizeof(int32_t)), N};
    int ok = p->gs && p->eps && p->ts;
    if (ok) p->gs[0] = g;
    for (int k = 1; ok && k < W; k++) ok = (p->gs[k] = pd_g_new_like(g)) != NULL;
    if (!ok) return pd_fail(PD_ERR_NOMEM, "sampling: out of memory");
    pd_rng_fill_normal(rng, out, N * den->cfg.L, 1.0f);
    return PD_OK;
}

static pd_status sample_end(pd_graph *g, predictor *p, pd_status s) {
    for (int k = 1; p->gs && k < p->W; k++) pd_graph_free(p->gs[k]);
    free(p->gs);
    free(p->eps);
    free(p->ts);
    pd_g_reset(g);
    pd_g_set_grad(g, 1);
    return s;
}

pd_status pd_ddpm_sample(pd_den *den, const float *params_override, pd_diffusion *df,
                         pd_graph *g, size_t N, pd_rng *rng, float *out,
                         pd_progress_fn progress, void *ctx) {
    predictor p;
    pd_status s = sample_begin(den, params_override, df, g, N, rng, out, &p);
    if (s != PD_OK || N == 0) return sample_end(g, &p, s);
    const size_t n = N * den->cfg.L;
    float *z = malloc(n * sizeof(float));
    if (!z) return sample_end(g, &p, pd_fail(PD_ERR_NOMEM, "sampling: out of memory"));
    /* x_t lives in `out` and is updated in place, one timestep at a time */
    for (size_t t = df->T; t-- > 0;) {
        const float *e = predict(&p, t);
        if (!e) {
            s = PD_ERR_NOMEM; /* the message is the worker's */
            break;
        }
        const double ra = df->sqrt_recip_alphas_cumprod[t];
        const double rm = df->sqrt_recipm1_alphas_cumprod[t];
        const double c1 = df->posterior_mean_coef1[t], c2 = df->posterior_mean_coef2[t];
        const double sd = exp(0.5 * df->log_var[t]);
        if (t > 0) pd_rng_fill_normal(rng, z, n, 1.0f);
        for (size_t i = 0; i < n; i++) {
            double x = out[i];
            double x0 = clip1(ra * x - rm * e[i]);
            double mean = c1 * x0 + c2 * x;
            if (t > 0) mean += sd * z[i];
            out[i] = (float)clip1(mean);
        }
        if (progress) progress(ctx, (long)(df->T - t), (long)df->T);
    }
    free(z);
    return sample_end(g, &p, s);
}

pd_status pd_ddim_sample(pd_den *den, const float *params_override, pd_diffusion *df,
                         pd_graph *g, size_t N, size_t steps, float eta, pd_rng *rng,
                         float *out, pd_progress_fn progress, void *ctx) {
    if (steps == 0 || steps > df->T)
        return pd_fail(PD_ERR_ARG, "ddim: steps=%zu must be in [1, T=%zu]", steps, df->T);
    if (!(eta >= 0.0f)) return pd_fail(PD_ERR_ARG, "ddim: eta must be >= 0");
    predictor p;
    pd_status s = sample_begin(den, params_override, df, g, N, rng, out, &p);
    if (s != PD_OK || N == 0) return sample_end(g, &p, s);
    const size_t n = N * den->cfg.L;
    float *z = eta > 0.0f ? malloc(n * sizeof(float)) : NULL;
    if (eta > 0.0f && !z)
        return sample_end(g, &p, pd_fail(PD_ERR_NOMEM, "sampling: out of memory"));
    for (size_t i = steps; i-- > 0;) {
        /* τ_i and the ᾱ of the timestep the update lands on */
        const size_t t = i * df->T / steps;
        const double a = df->alphas_cumprod[t];
        const double ap = i > 0 ? df->alphas_cumprod[(i - 1) * df->T / steps] : 1.0;
        const float *e = predict(&p, t);
        if (!e) {
            s = PD_ERR_NOMEM; /* the message is the worker's */
            break;
        }
        const double sigma =
            eta * sqrt((1.0 - ap) / (1.0 - a)) * sqrt(1.0 - a / ap);
        double dir = 1.0 - ap - sigma * sigma; /* weight of ε̂ ("direction") */
        dir = dir > 0.0 ? sqrt(dir) : 0.0;
        const double sa = sqrt(a), s1 = sqrt(1.0 - a), sap = sqrt(ap);
        if (z) pd_rng_fill_normal(rng, z, n, 1.0f);
        for (size_t j = 0; j < n; j++) {
            double x0 = clip1((out[j] - s1 * e[j]) / sa);
            double x = sap * x0 + dir * e[j] + (z ? sigma * z[j] : 0.0);
            out[j] = (float)clip1(x);
        }
        if (progress) progress(ctx, (long)(steps - i), (long)steps);
    }
    free(z);
    return sample_end(g, &p, s);
}
