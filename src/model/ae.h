/*
 * ae.h — the p-diff parameter autoencoder (docs/method.md §3): a 4-layer 1-D CNN
 * encoder that folds a parameter vector of length D into a short latent,
 * and a 4-layer decoder that unfolds it, trained with noise augmentation.
 *
 * Geometry (conv mode, the default):
 *   real = (floor(D / f^4) + 1) f^4; x (B, D) is zero-padded to (B, 1, real)
 *   enc layer i (chan = [c0, c0, c1, c2, c3]):
 *     [LeakyReLU if i > 0] → Norm → Conv1d(i ? chan[i] : 1 → chan[i], k, 1, pad 1)
 *     → LeakyReLU → Norm → Conv1d(chan[i] → chan[i+1], k, stride f, pad 0)
 *     [→ Tanh on i = 3]
 *   dec layer i (chan = [d0, d1, d2, d3, 1], d0 must equal c3):
 *     LeakyReLU → Norm → ConvTranspose1d(chan[i] → chan[i], k, stride f, pad 0)
 *     → LeakyReLU → Norm → Conv1d(chan[i] → chan[i+1], k, 1, pad f-1; f on i = 3)
 *   output cropped to the first D values.
 * Norm is InstanceNorm (eps 1e-5, no affine) unless an ablation says
 * otherwise; LeakyReLU slope 0.01.
 *
 * Tensor names (what a PyTorch state_dict of scripts/pdiff_model_torch.py's
 * AE gives, one to one):
 *   enc.{i}.conv1.{weight,bias}  enc.{i}.conv2.{weight,bias}
 *   dec.{i}.conv1.{weight,bias}  (the ConvTranspose1d, weight (cin, cout, k))
 *   dec.{i}.conv2.{weight,bias}
 *   VAE:  enc.3.conv2_logvar.{weight,bias}  (a second head beside conv2)
 *   batch norm: {enc,dec}.{i}.norm{1,2}.running_{mean,var}  (buffers)
 *   FC ablation: every convN above is fcN (nn.Linear) instead.
 * Trainable tensors are registered first and buffers last, so the
 * optimizer's flat range is [0, first buffer) of the parameter buffer.
 *
 * Ablations (paper Tables 5–8):
 *  - norm: INSTANCE (default); GROUP: group norm without affine, with
 *    gcd(groups, channels) groups per layer (groups = 0 means 2), so a
 *    1-channel input is normalised as one group; BATCH: BatchNorm1d without
 *    affine, batch statistics in training (running statistics updated,
 *    momentum 0.1) and running statistics in evaluation; NONE.
 *  - fc: every convolution becomes a Linear layer of the same role on the
 *    flattened vector: the encoder's widths are w0 = real, w_{i+1} =
 *    real / f^{i+1} (i < 3) and w4 = latent_c * latent_l (the conv latent
 *    size, so the DDPM sees the same L); enc layer i = fc1 (w_i → w_i, the
 *    stride-1 conv) and fc2 (w_i → w_{i+1}, the folding conv). The decoder
 *    mirrors it: fc1 (u_i → u_{i+1}, the unfolding ConvTranspose), fc2
 *    (u_{i+1} → u_{i+1}), u = [w4, w3, w2, w1, real]. Norms act on the
 *    features of each sample (instance/group: (B, 1, w); batch: per
 *    feature over the batch, as BatchNorm1d on (B, w)).
 *  - vae: the last encoder layer has a second head conv2_logvar; mu is the
 *    tanh of conv2 (as the AE's latent), logvar is conv2_logvar (no tanh);
 *    training decodes z = mu + exp(logvar/2) ε (no latent noise, no clamp)
 *    and adds kl_weight · KL(mean over elements).
 *  - noise: in_noise a, lat_noise b (0 disables), additive_noise chooses
 *    x + aε over the default mixing x(1−a) + aε.
 */
#ifndef PD_AE_H
#define PD_AE_H

#include <stddef.h>

#include "engine/graph/graph.h"
#include "pdiff.h"
#include "model/batch_split.h"
#include "engine/train/optim.h"

/* pd_norm_kind and pd_ae_config are public (pdiff.h) */

/* "whole": the whole-network kind (ae_chunk.h), chunk 256, code 4, hidden
 * 256, latent 16; "small": f=3 k=3 c=[2,2,2,2] d=[2,64,64,8]; "medium": f=5 k=5
 * c=[4,4,4,4] d=[4,256,256,8]; both a=0.001 b=0.1, mixing, instance norm,
 * conv, no VAE (kl_weight 1e-3 if one is switched on). Unknown names give
 * the small preset. */
void pd_ae_preset(pd_ae_config *c, const char *name, size_t D);

typedef struct {
    pd_ae_config cfg;
    pd_params params;
    size_t real;               /* padded input length */
    size_t latent_c, latent_l; /* latent shape per sample */
    const pd_batch_split *split; /* set during a data-parallel step: the
                                    noise draws are the whole batch's */
} pd_ae;

/* validates the config, computes the geometry, registers and allocates the
 * parameters (zeroed: call pd_ae_init). PD_ERR_SHAPE when D is too short for
 * the fold rate and kernel, including a latent of length 1 under instance
 * norm (which would erase it: e.g. the small preset needs D >= 81). */
pd_status pd_ae_create(pd_ae *ae, const pd_ae_config *cfg);
/* PyTorch default init: weights and biases U(±1/sqrt(fan_in)), fan_in =
 * weight.shape[1] * k (ConvTranspose1d: shape[1] is its cout), in_features
 * for Linear; batch-norm running stats mean 0, var 1 */
void pd_ae_init(pd_ae *ae, pd_rng *rng);
/* the optimizer range: floats [0, n) of params.data hold the trainables */
size_t pd_ae_trainable_size(const pd_ae *ae);

/* x (B, D) → latents (B, latent_c, latent_l). train: batch-norm batch
 * statistics and, for a VAE, the reparameterised sample (ε from noise_rng;
 * mu when noise_rng is NULL); eval returns mu. noise_rng != NULL adds the
 * input noise of cfg.in_noise. */
pd_val *pd_ae_encode(pd_ae *ae, pd_graph *g, pd_val *x, int train, pd_rng *noise_rng);
/* z (B, latent_c, latent_l) or (B, latent_c * latent_l) → (B, D) */
pd_val *pd_ae_decode(pd_ae *ae, pd_graph *g, pd_val *z, int train);

/* One AdamW step on V (B, D) of docs/method.md §3's training forward (see above);
 * t counts from 1; rng draws the noise (NULL: a noise-free step). *loss (may be NULL) = the loss before the step.
 * PD_ERR_NAN when the loss is not finite (no step is taken then). */
pd_status pd_ae_train_step(pd_ae *ae, pd_graph *g, const float *V, size_t B,
                           pd_rng *rng, const pd_adamw *opt, long t, double *loss);
/* the same step on this process's rows of the batch (batch_split.h): the
 * gradients and *loss are summed over the processes before AdamW; NULL or
 * one process: pd_ae_train_step, bit for bit */
pd_status pd_ae_train_step_split(pd_ae *ae, pd_graph *g, const float *V, size_t B,
                                 const pd_batch_split *split, pd_rng *rng,
                                 const pd_adamw *opt, long t, double *loss);

/* noise-free, evaluation-mode batch passes (no tape; they leave the graph
 * reset and recording gradients). V (B, D) → Z (B, latent_c*latent_l) */
pd_status pd_ae_encode_all(pd_ae *ae, pd_graph *g, const float *V, size_t B, float *Z);
/* Z (B, latent_c*latent_l) → V (B, D) */
pd_status pd_ae_decode_all(pd_ae *ae, pd_graph *g, const float *Z, size_t B, float *V);

void pd_ae_free(pd_ae *ae);

#endif
