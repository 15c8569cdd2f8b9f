/*
 * safetensors.h — read and write checkpoints in the safetensors format
 * (https://github.com/huggingface/safetensors), the format PyTorch users
 * exchange state_dicts in.
 *
 * Layout: u64 little-endian N | N bytes of JSON header | byte buffer.
 *   {"__metadata__": {"k": "v", ...},
 *    "layer.weight": {"dtype": "F32", "shape": [4, 3],
 *                     "data_offsets": [begin, end]}, ...}
 * Offsets are relative to the buffer start; tensors tile the buffer
 * exactly (no gaps, no overlap), and the file ends where the buffer does.
 *
 * Reading accepts F32, F16, BF16, F64 and the integer dtypes I64, I32, I16,
 * I8, U8, BOOL (PyTorch's BatchNorm num_batches_tracked is I64) and
 * converts everything to float32 in memory; the stored dtype is kept in
 * pd_st_tensor.dtype so callers can skip integer tensors. Every header
 * field is validated before anything is allocated from it; a problem is
 * reported as one PD_ERR_FORMAT line "<file>: <problem>".
 *
 * Writing emits F32 only, header padded with spaces to a multiple of 8
 * bytes (as the reference implementation does), tensors in the order given,
 * through a temp file renamed into place (see atomic_file.h).
 *
 *   pd_st_file f;
 *   if (pd_st_read("model.safetensors", &f)) { puts(pd_last_error()); ... }
 *   const pd_st_tensor *w = pd_st_find(&f, "fc.weight");
 *   ... w->data[0 .. w->numel) ...
 *   pd_st_free(&f);
 */
#ifndef PD_IO_SAFETENSORS_H
#define PD_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "pdiff.h"

#define PD_ST_NAME_MAX 256          /* bytes incl. the terminating NUL */
#define PD_ST_MAX_DIMS 8
#define PD_ST_MAX_HEADER 100000000u /* same bound as the reference reader */

typedef enum {
    PD_ST_F32 = 0,
    PD_ST_F16,
    PD_ST_BF16,
    PD_ST_F64,
    PD_ST_I64,
    PD_ST_I32,
    PD_ST_I16,
    PD_ST_I8,
    PD_ST_U8,
    PD_ST_BOOL
} pd_st_dtype;

typedef struct {
    char name[PD_ST_NAME_MAX]; /* e.g. "layer4.1.bn2.weight" */
    int ndim;                  /* 0 (scalar) .. PD_ST_MAX_DIMS */
    size_t shape[PD_ST_MAX_DIMS];
    size_t numel;              /* product of shape (1 for a scalar) */
    pd_st_dtype dtype;         /* read: dtype in the file; write: ignored */
    float *data;               /* data (numel) as float32 */
} pd_st_tensor;

typedef struct {
    pd_st_tensor *t;           /* tensors in header order */
    size_t count;
    char **meta_keys, **meta_vals; /* "__metadata__" string pairs */
    size_t meta_count;
    float *buf;                /* one allocation behind every t[i].data */
} pd_st_file;

/* Name of a dtype as written in headers ("F32", "BF16", ...). */
const char *pd_st_dtype_name(pd_st_dtype d);

/* Reads and validates a whole file. On failure out is left empty. */
pd_status pd_st_read(const char *path, pd_st_file *out);
/* Same from memory; label names the source in error messages. */
pd_status pd_st_parse(const uint8_t *bytes, size_t len, const char *label,
                      pd_st_file *out);
void pd_st_free(pd_st_file *f);
/* NULL when absent */
const pd_st_tensor *pd_st_find(const pd_st_file *f, const char *name);
/* value of a "__metadata__" key, NULL when absent */
const char *pd_st_meta(const pd_st_file *f, const char *key);

/* Writes tensors[0..count) as F32 plus optional metadata pairs, atomically.
 * Checks names (non-empty, unique, valid UTF-8, no control characters,
 * not "__metadata__"), ranks, numel == product(shape). */
pd_status pd_st_write(const char *path, const pd_st_tensor *tensors,
                      size_t count, const char *const *meta_keys,
                      const char *const *meta_vals, size_t meta_count);

#endif
