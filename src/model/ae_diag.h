/*
 * ae_diag.h — does the autoencoder encode each checkpoint? Compares the K
 * originals O with their reconstructions R (the decoded noise-free
 * latents), both K × D in the original units.
 *
 *   recon_rmse   sqrt(mean over k, j of (R − O)²)
 *   spread_rms   sqrt(mean over j of the variance of O[:, j] across k):
 *                how far the checkpoints differ from one another
 *   recon_ratio  recon_rmse / spread_rms; > 1 means the reconstructions
 *                are further from their originals than the originals are
 *                from their mean: the checkpoints are not resolved
 *   nn_identity  fraction of k whose R[k] is nearer to O[k] than to any
 *                other original
 *   nn_identity_iso  the same with R[k] replaced by O[k] plus isotropic
 *                Gaussian error of the same per-dimension RMSE: what an
 *                unbiased error of this size allows, given how close the
 *                originals lie to one another (neighbouring snapshots can
 *                be closer than any useful reconstruction error)
 *   nn_resolvable  fraction of k whose nearest other original lies farther
 *                from O[k] than R[k] does: the originals' own nearest-
 *                neighbour distances against the error actually made
 *   dev_corr     Pearson correlation, over all k and j, of R[k] − mean(R)
 *                with O[k] − mean(O): do the reconstructions keep what
 *                distinguishes the checkpoints?
 */
#ifndef PD_AE_DIAG_H
#define PD_AE_DIAG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pdiff.h"

/* pd_ae_diag is public (pdiff.h) */

/* seed drives nn_identity_iso's draws */
pd_status pd_ae_diagnose(const float *O, const float *R, size_t K, size_t D, uint64_t seed,
                         pd_ae_diag *out);
/* a JSON object text (malloc'd), the keys above */
char *pd_ae_diag_json(const pd_ae_diag *d);
/* reads what pd_ae_diag_json wrote */
pd_status pd_ae_diag_read(const char *path, pd_ae_diag *d);
/* one line for the terminal, and a warning line when recon_ratio > 1 */
void pd_ae_diag_print(const pd_ae_diag *d, const char *who, FILE *to);

#endif
