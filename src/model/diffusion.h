/*
 * diffusion.h — the latent DDPM of p-diff (docs/method.md §4): the linear β
 * schedule (double), the ε-prediction training step, ancestral DDPM
 * sampling with the "fixedlarge" variance, and deterministic DDIM.
 *
 * DDPM sampling, for t = T−1 … 0 on x (N, L), starting from x ~ N(0, I):
 *   ε̂  = ε_θ(x, t)
 *   x̂0 = clip(√(1/ᾱ_t) x − √(1/ᾱ_t − 1) ε̂, −1, 1)
 *   μ  = coef1_t x̂0 + coef2_t x,   coef1 = β_t √ᾱ_{t−1} / (1 − ᾱ_t),
 *                                   coef2 = (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t)
 *   x  = clamp(μ + [t > 0] exp(½ logvar_t) z, −1, 1),
 *        logvar_t = log β_t (t ≥ 1), log σ̃²_1 at t = 0 (never used: no noise)
 * RNG order: x's N·L normals first, then N·L normals per step with t > 0.
 *
 * DDIM (η ≥ 0) over `steps` timesteps τ_i = floor(i T / steps), i < steps:
 *   x̂0 = clip((x − √(1−ᾱ_τ) ε̂) / √ᾱ_τ, −1, 1)
 *   σ  = η √((1−ᾱ_prev)/(1−ᾱ_τ)) √(1 − ᾱ_τ/ᾱ_prev)
 *   x  = clamp(√ᾱ_prev x̂0 + √(1−ᾱ_prev−σ²) ε̂ + σ z, −1, 1)
 * with ᾱ_prev = ᾱ at the previous τ (1 after τ_0). z is drawn only when
 * η > 0 (then N·L normals per step), so η = 0 is deterministic given x_T.
 */
#ifndef PD_DIFFUSION_H
#define PD_DIFFUSION_H

#include <stddef.h>

#include "engine/graph/graph.h"
#include "pdiff.h"
#include "model/batch_split.h"
#include "model/denoiser.h"
#include "engine/train/optim.h"

typedef struct {
    size_t T;
    double beta_start, beta_end;
    /* each an array of T values, all in one allocation (betas owns it) */
    double *betas, *alphas_cumprod, *alphas_cumprod_prev;
    double *sqrt_alphas_cumprod, *sqrt_one_minus_alphas_cumprod;
    double *sqrt_recip_alphas_cumprod, *sqrt_recipm1_alphas_cumprod;
    double *posterior_variance;
    double *log_var;          /* fixedlarge: log(β) with log σ̃²_1 at t = 0 */
    double *posterior_mean_coef1, *posterior_mean_coef2;
} pd_diffusion;

/* linear β from b0 to b1 over T steps (β_t = b0 + (b1 − b0) t / (T − 1)) */
pd_status pd_diffusion_init(pd_diffusion *d, size_t T, double b0, double b1);
void pd_diffusion_free(pd_diffusion *d);

/* One AdamW step of the ε-prediction loss on latents Z (B, L): t ~ U[0, T)
 * per sample (B draws), then ε (B·L normals), x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε,
 * loss = MSE(ε_θ(x_t, t), ε). step t counts from 1. ema (NULL or a copy of
 * params.data, params.total floats) is then updated with pd_ema_update.
 * PD_ERR_NAN (no step taken) when the loss is not finite. */
pd_status pd_ddpm_train_step(pd_den *den, pd_diffusion *df, pd_graph *g, const float *Z,
                             size_t B, pd_rng *rng, const pd_adamw *opt, long t,
                             float *ema, float ema_decay, double *loss);
/* the same step on this process's rows of the batch (batch_split.h); NULL
 * or one process: pd_ddpm_train_step, bit for bit */
pd_status pd_ddpm_train_step_split(pd_den *den, pd_diffusion *df, pd_graph *g,
                                   const float *Z, size_t B, const pd_batch_split *split,
                                   pd_rng *rng, const pd_adamw *opt, long t, float *ema,
                                   float ema_decay, double *loss);

/* progress(ctx, steps done, total steps) after every denoising step; may be
 * NULL. params_override: NULL or weights laid out like params.data (EMA). */
typedef void (*pd_progress_fn)(void *ctx, long done, long total);

/* DDPM ancestral sampling (see above) of N latents → out (N, L). Runs with
 * gradients off on g and leaves it reset and recording gradients. */
pd_status pd_ddpm_sample(pd_den *den, const float *params_override, pd_diffusion *df,
                         pd_graph *g, size_t N, pd_rng *rng, float *out,
                         pd_progress_fn progress, void *ctx);

/* DDIM sampling with `steps` (1..T) evenly spaced timesteps and noise η. */
pd_status pd_ddim_sample(pd_den *den, const float *params_override, pd_diffusion *df,
                         pd_graph *g, size_t N, size_t steps, float eta, pd_rng *rng,
                         float *out, pd_progress_fn progress, void *ctx);

#endif
