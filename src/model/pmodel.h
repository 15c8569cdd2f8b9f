/*
 * pmodel.h — the p-diff model as a whole: configuration, training (the
 * autoencoder, then the latent DDPM on its noise-free latents), saving and
 * loading, and sampling new parameter vectors.
 *
 * A model directory holds config.json, norm.safetensors (normalize.h),
 * ae.safetensors, den.safetensors, den_ema.safetensors, latents.safetensors
 * (of the normalized vectors), autoencoder.json (ae_diag.h),
 * reconstructed/generated.safetensors, train_log.jsonl, and while
 * training *_state.safetensors files that let an interrupted run resume
 * and reproduce the uninterrupted one bit for bit (same thread count).
 */
#ifndef PD_PMODEL_H
#define PD_PMODEL_H

#include "engine/core/progress.h"
#include "model/ae.h"
#include "model/denoiser.h"
#include "model/diffusion.h"
#include "model/normalize.h"

typedef struct {
    pd_normalize_kind normalize; /* of the vectors before the autoencoder */
    char ae_preset[16];   /* small | medium | custom */
    pd_ae_config ae;      /* D filled from the data */
    size_t den_ch[4];
    size_t T;
    double beta0, beta1;
    long ae_steps, ddpm_steps;
    float lr, weight_decay, ema_decay;
    long ckpt_every, log_every;
    uint64_t seed;
} pd_pdiff_config;

/* CPU defaults (see README "Defaults"); D unknown until training */
void pd_pdiff_defaults(pd_pdiff_config *c);
/* the paper's Table 4 recipe: 30 000 + 30 000 steps, full channels */
void pd_pdiff_recipe_paper(pd_pdiff_config *c);
/* a preset name sets ae.fold/k/channels (keeps noise and ablation flags) */
pd_status pd_pdiff_set_preset(pd_pdiff_config *c, const char *name);

typedef struct {
    pd_pdiff_config cfg;
    size_t D;
    pd_ae ae;
    pd_den den;
    float *ema;           /* EMA of den.params.data */
    pd_diffusion df;
    pd_normalizer norm;   /* inverted after every decode */
} pd_pdiff_model;

/* train on V (K × D) into model_dir (created); resumes from its state
 * files when present with the same config. tensor_sizes (ntensors, summing
 * to D; NULL = one tensor) are the tensor boundaries for --normalize tensor.
 * At the end of the autoencoder phase the diagnostics of ae_diag.h go to
 * model_dir/autoencoder.json. */
pd_status pd_pdiff_train(const pd_pdiff_config *c, const float *V, size_t K, size_t D,
                         const size_t *tensor_sizes, size_t ntensors, const char *model_dir,
                         const pd_progress *p);
pd_status pd_pdiff_load(const char *model_dir, pd_pdiff_model *m);
void pd_pdiff_free(pd_pdiff_model *m);

/* sample N vectors (N × D) in batches; ddim: steps and eta, else DDPM;
 * use_ema: the EMA denoiser (default) or the raw one */
pd_status pd_pdiff_sample(pd_pdiff_model *m, size_t N, int ddim, size_t steps,
                          float eta, int use_ema, uint64_t seed, float *out,
                          const pd_progress *p);

/* decode the noise-free latents of the training vectors (latents.safetensors
 * in model_dir): *V malloc'd (*K × D), how well the autoencoder alone does */
pd_status pd_pdiff_reconstruct(pd_pdiff_model *m, const char *model_dir, float **V,
                               size_t *K);

/* config ⇄ JSON text (malloc'd) */
char *pd_pdiff_config_json(const pd_pdiff_config *c, size_t D);
pd_status pd_pdiff_config_parse(const char *text, const char *label,
                                pd_pdiff_config *c, size_t *D);

#endif
