/*
 * ae_chunk.h — the whole-network autoencoder (docs/method.md §3b), the
 * kind pd_ae runs when cfg.chunk > 0. Its cost per step is linear in D: a
 * vector is cut into T = ⌈D / w⌉ chunks of w values (the last zero-padded),
 *
 *   encoder: chunk_enc (a linear map w → c of its own per chunk) →
 *            LeakyReLU → enc.fc1 (T·c → h) → LeakyReLU → enc.fc2 (h → L) → tanh
 *   decoder: dec.fc1 (L → h) → LeakyReLU → dec.fc2 (h → T·c) → LeakyReLU →
 *            chunk_dec (c → w per chunk) → the first D values
 *
 * with w = cfg.chunk, c = cfg.chunk_code, h = cfg.hidden, L = cfg.latent.
 * Tensor names: chunk_enc.{weight (T, c, w), bias (T, c)}, enc.fc1,
 * enc.fc2, dec.fc1, dec.fc2 (nn.Linear layout), chunk_dec.{weight (T, w,
 * c), bias (T, w)}. Noise augmentation and the latent clamp are the
 * paper's (ae.c); there are no normalization layers and no VAE head.
 */
#ifndef PD_AE_CHUNK_H
#define PD_AE_CHUNK_H

#include "model/ae.h"

/* geometry (real = T·w, latent 1 × L) and parameter registration */
pd_status pd_ae_chunk_create(pd_ae *ae);
/* x (B, real) → mu (B, 1, L) */
pd_val *pd_ae_chunk_encode(pd_ae *ae, pd_graph *g, pd_val *x);
/* z (B, L) → (B, real) */
pd_val *pd_ae_chunk_decode(pd_ae *ae, pd_graph *g, pd_val *z);

#endif
