/*
 * model.h — what a pd_model (pdiff.h) holds, shared by the trainer that
 * makes one (trainer.c) and the functions that use, save and load it
 * (model.c). Nothing outside src/model/ sees this struct.
 */
#ifndef PD_MODEL_H
#define PD_MODEL_H

#include "model/ae.h"
#include "model/denoiser.h"
#include "model/diffusion.h"
#include "model/normalize.h"

struct pd_model {
    pd_model_config cfg;  /* tensor_sizes and state_dir cleared */
    size_t D;
    pd_normalizer norm;   /* inverted after every decode */
    pd_ae ae;
    pd_den den;           /* den.params: the raw denoiser */
    float *ema;           /* EMA of den.params.data: what sampling uses */
    pd_diffusion df;
    float *latents;       /* K × latent_dim: noise-free latents of the
                             training vectors (NULL when K = 0) */
    size_t K;
    pd_ae_diag diag;
    int has_diag;
    char *log;            /* train_log.jsonl text (NULL: none) */
    size_t loglen;
};

/* a zeroed model with its config, normalizer-less, autoencoder and denoiser
 * created (weights zero) and the schedule ready */
pd_status pd_model_create(const pd_model_config *c, size_t D, pd_model **out);

#endif
