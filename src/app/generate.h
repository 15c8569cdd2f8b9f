/*
 * generate.h — writing generated parameter vectors back as checkpoints:
 * each is a copy of a template checkpoint (the first original) with the
 * subset tensors replaced, so it loads wherever the originals do
 * (pdiff eval, PyTorch load_state_dict). Also one file with all N×D
 * vectors.
 */
#ifndef PD_GENERATE_H
#define PD_GENERATE_H

#include "manifest.h"

/* out_dir/gen_NNN.safetensors for each row of V (N × m->D), and
 * out_dir/generated.safetensors with tensor "vectors". *nonfinite counts
 * rows holding NaN/Inf (written all the same, flagged in metadata). */
pd_status pd_generate_write(const pd_manifest *m, const char *ckpt_dir,
                            const char *out_dir, const float *V, size_t N,
                            size_t *nonfinite);

/* reads out_dir/generated.safetensors back: *V malloc'd (N × D) */
pd_status pd_generated_read(const char *dir, size_t D, float **V, size_t *N);

#endif
