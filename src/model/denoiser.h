/*
 * denoiser.h — the latent ε-prediction network of p-diff (docs/method.md §4): a
 * 1-D conv U-Net-like stack on the flattened latent (B, 1, L) that keeps
 * the length L everywhere (kernel 3, stride 1, pad 1).
 *
 *   block input  = h + E[t_i]  (E: learned table (T, L), row t_i of sample
 *                  i broadcast over channels; each sample its own t)
 *   enc1: IN, Conv(1→c0), LR, IN, Conv(c0→c0)
 *   enc2..4: LR, IN, Conv(cin→cout), LR, IN, Conv(cout→cout)
 *            for (c0→c1), (c1→c2), (c2→c3)
 *   dec1: LR, IN, Conv(c3→c2), LR, IN, Conv(c2→c2), then + enc3's output
 *   dec2: (c2→c1) + enc2;  dec3: (c1→c0) + enc1
 *   dec4: LR, IN, Conv(c0→c0), LR, IN, Conv(c0→1)
 * IN = InstanceNorm (eps 1e-5, no affine), LR = LeakyReLU(0.01).
 *
 * Tensor names (scripts/pdiff_model_torch.py's Denoiser gives the same):
 *   {enc1..enc4,dec1..dec4}.conv{1,2}.{weight,bias}, time_encode.weight
 * All tensors are trainable; there are no buffers.
 */
#ifndef PD_DENOISER_H
#define PD_DENOISER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"
#include "pdiff.h"

typedef struct {
    size_t L;     /* latent length */
    size_t T;     /* diffusion steps (rows of the time table) */
    size_t ch[4]; /* channels; paper default 64, 128, 256, 512 */
} pd_den_config;

typedef struct {
    pd_den_config cfg;
    pd_params params;
} pd_den;

/* registers and allocates the parameters (zeroed: call pd_den_init);
 * PD_ERR_ARG for L < 2 (instance norm over one value is zero) or T = 0 */
pd_status pd_den_create(pd_den *d, const pd_den_config *cfg);
/* PyTorch defaults: conv weights and biases U(±1/sqrt(cin k)), the time
 * table N(0, 1) (nn.Embedding) */
void pd_den_init(pd_den *d, pd_rng *rng);
void pd_den_free(pd_den *d);

/* x (B, 1, L) or (B, L), t (B) timesteps in [0, T) → ε̂ (B, 1, L).
 * Returns NULL on a shape mismatch; check pd_g_failed for memory. */
pd_val *pd_den_forward(pd_den *d, pd_graph *g, pd_val *x, const int32_t *t);
/* the same with the weights read from `weights` (a buffer laid out like
 * params.data, e.g. an EMA copy) instead of params.data; no gradients flow
 * to the parameters. */
pd_val *pd_den_forward_with(pd_den *d, pd_graph *g, pd_val *x, const int32_t *t,
                            const float *weights);

#endif
