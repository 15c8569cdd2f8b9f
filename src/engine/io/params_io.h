/*
 * params_io.h — a pd_params buffer to and from a safetensors file, tensor
 * by tensor under their state_dict names.
 */
#ifndef PD_PARAMS_IO_H
#define PD_PARAMS_IO_H

#include "engine/io/safetensors.h"
#include "pdiff.h"

/* write every tensor (parameters and buffers) as F32, atomically */
pd_status pd_params_save(const pd_params *p, const char *path,
                         const char *const *meta_keys,
                         const char *const *meta_vals, size_t meta_count);
/* copy tensors of an opened file into p by name. Every tensor of p must be
 * present with the same numel (shape compared loosely: scalars and 1-element
 * tensors match); names in the file that p lacks are an error unless
 * allow_extra. Errors name `label` (the file) and the tensor. */
pd_status pd_params_load_file(pd_params *p, const pd_st_file *f, const char *label,
                              int allow_extra);
pd_status pd_params_load(pd_params *p, const char *path, int allow_extra);
/* one (rows, cols) F32 tensor named `name` in its own file, atomically */
pd_status pd_save_matrix(const char *path, const char *name, const float *data,
                         size_t rows, size_t cols);

#endif
