/*
 * normalize.h — normalization of the K parameter vectors before the
 * autoencoder sees them, fit on the training vectors, saved with the model
 * and inverted after decoding (docs/method.md "Normalization").
 *
 *   none    the paper's behaviour: the raw values.
 *   tensor  each tensor's values shifted and scaled by the mean and standard
 *           deviation of all its values over the K checkpoints (what the
 *           authors' current code and RPG do): evens out layer scales,
 *           keeps the checkpoints' shared centre.
 *   dim     each dimension z-scored across the K checkpoints: removes the
 *           centre, so the autoencoder sees only what differs between
 *           checkpoints. A standard deviation below the floor (1e-3 of the
 *           mean one, or 1 when all are zero) is raised to it, so constant
 *           dimensions map to 0 and back to their value exactly.
 *
 * Every kind is x' = (x − shift[j]) / scale[j] per dimension j, so one pair
 * of D-vectors describes it (norm.safetensors: tensors "shift", "scale",
 * metadata "kind").
 */
#ifndef PD_NORMALIZE_H
#define PD_NORMALIZE_H

#include <stddef.h>

#include "pdiff.h"

/* pd_normalize_kind, pd_normalize_name and pd_normalize_parse are public
 * (pdiff.h) */

typedef struct {
    pd_normalize_kind kind;
    size_t D;
    float *shift, *scale; /* D each */
} pd_normalizer;

/* fit on V (K × D). tensor_sizes (ntensors entries summing to D) gives the
 * tensor boundaries for PD_NORMALIZE_TENSOR; NULL means one tensor. */
pd_status pd_normalizer_fit(pd_normalizer *n, pd_normalize_kind kind, const float *V,
                            size_t K, size_t D, const size_t *tensor_sizes, size_t ntensors);
/* in place over K rows: forward (x − shift) / scale, inverse x·scale + shift */
void pd_normalizer_apply(const pd_normalizer *n, float *V, size_t K);
void pd_normalizer_invert(const pd_normalizer *n, float *V, size_t K);
pd_status pd_normalizer_save(const pd_normalizer *n, const char *path);
/* D must match the file's; errors name the file */
pd_status pd_normalizer_load(pd_normalizer *n, const char *path, size_t D);
void pd_normalizer_free(pd_normalizer *n);

#endif
