/*
 * pdiff_io.h — files, as every stage of pdiff writes and reads them:
 * atomic writes (a reader never sees a half-written file, a failed write
 * leaves the old file), bounded whole-file reads, directories, safetensors
 * (the format PyTorch state_dicts travel in) and pd_params checkpoints.
 * Part of libpdiff's public API, beside pdiff.h (the core and the model)
 * and pdiff_net.h (the task networks).
 */
#ifndef PDIFF_IO_H
#define PDIFF_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pdiff.h"

/* ---- atomic files -------------------------------------------------------
 * Write a file so that readers only ever see the old
 * complete file or the new complete file, never a half-written one.
 *
 * The data goes to "<path>.tmp.<pid>"; commit flushes it, fsyncs it, closes
 * it (every step checked, so a full disk is an error, not a truncated file)
 * and rename()s it over <path>. Any failure, or abort, removes the temp
 * file and leaves a previous <path> untouched.
 *
 *   pd_atomic_file af;
 *   if (pd_atomic_open(&af, "ckpt.safetensors")) return ...;
 *   st = pd_atomic_write(&af, header, n);           // repeat as needed
 *   if (st) { pd_atomic_abort(&af); return st; }
 *   return pd_atomic_commit(&af);                   // frees af either way
 */
typedef struct {
    FILE *f;        /* the open temp file; NULL once committed/aborted */
    char *path;     /* final destination */
    char *tmp_path; /* "<path>.tmp.<pid>" */
} pd_atomic_file;

/* Creates the temp file next to path (same directory, so rename is atomic). */
PD_API pd_status pd_atomic_open(pd_atomic_file *af, const char *path);
/* Appends len bytes; PD_ERR_IO naming the final path on a short write. */
PD_API pd_status pd_atomic_write(pd_atomic_file *af, const void *data, size_t len);
/* fflush + fsync + fclose + rename. On failure the temp file is removed.
 * Always releases af. */
PD_API pd_status pd_atomic_commit(pd_atomic_file *af);
/* Closes and removes the temp file; safe to call on a released af. */
PD_API void pd_atomic_abort(pd_atomic_file *af);

/* One-shot helper: the whole file content in one buffer. */
PD_API pd_status pd_write_file_atomic(const char *path, const void *data, size_t len);

/* Removes the temp files "<name>.tmp.<pid>" in dir whose writer is gone
 * (no process <pid>): what a killed run leaves behind. A resumable stage
 * calls it on its output directory when it starts. Returns how many were
 * removed; a missing directory counts as none. */
PD_API size_t pd_atomic_sweep(const char *dir);

/* ---- reading a file -----------------------------------------------------
 * Read a whole regular file into memory, with a size bound
 * checked (against fstat) before anything is allocated.
 */
/* *data (malloc'd, caller frees; never NULL on success, even for an empty
 * file) and *len receive the content. PD_ERR_IO when the file cannot be
 * opened or read, PD_ERR_FORMAT when it is larger than max_bytes. */
PD_API pd_status pd_read_file(const char *path, uint64_t max_bytes, uint8_t **data,
                              size_t *len);

/* ---- directories ------------------------------------------------------- */
/* a regular file exists at path */
PD_API int pd_file_exists(const char *path);
/* mkdir -p; error names the directory */
PD_API pd_status pd_mkdir_p(const char *dir);

/* ---- safetensors -------------------------------------------------------
 * Read and write checkpoints in the safetensors format
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
 * through a temp file renamed into place (see "atomic files" above).
 *
 *   pd_st_file f;
 *   if (pd_st_read("model.safetensors", &f)) { puts(pd_last_error()); ... }
 *   const pd_st_tensor *w = pd_st_find(&f, "fc.weight");
 *   ... w->data[0 .. w->numel) ...
 *   pd_st_free(&f);
 */
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
PD_API const char *pd_st_dtype_name(pd_st_dtype d);

/* Reads and validates a whole file. On failure out is left empty. */
PD_API pd_status pd_st_read(const char *path, pd_st_file *out);
/* Same from memory; label names the source in error messages. */
PD_API pd_status pd_st_parse(const uint8_t *bytes, size_t len, const char *label,
                             pd_st_file *out);
PD_API void pd_st_free(pd_st_file *f);
/* NULL when absent */
PD_API const pd_st_tensor *pd_st_find(const pd_st_file *f, const char *name);
/* value of a "__metadata__" key, NULL when absent */
PD_API const char *pd_st_meta(const pd_st_file *f, const char *key);

/* Writes tensors[0..count) as F32 plus optional metadata pairs, atomically.
 * Checks names (non-empty, unique, valid UTF-8, no control characters,
 * not "__metadata__"), ranks, numel == product(shape). */
PD_API pd_status pd_st_write(const char *path, const pd_st_tensor *tensors,
                             size_t count, const char *const *meta_keys,
                             const char *const *meta_vals, size_t meta_count);

/* ---- checkpoints -------------------------------------------------------
 * A pd_params buffer to and from a safetensors file, tensor
 * by tensor under their state_dict names.
 */
/* write every tensor (parameters and buffers) as F32, atomically */
PD_API pd_status pd_params_save(const pd_params *p, const char *path,
                                const char *const *meta_keys,
                                const char *const *meta_vals, size_t meta_count);
/* copy tensors of an opened file into p by name. Every tensor of p must be
 * present with the same numel (shape compared loosely: scalars and 1-element
 * tensors match); names in the file that p lacks are an error unless
 * allow_extra. Errors name `label` (the file) and the tensor. */
PD_API pd_status pd_params_load_file(pd_params *p, const pd_st_file *f, const char *label,
                                     int allow_extra);
PD_API pd_status pd_params_load(pd_params *p, const char *path, int allow_extra);
/* one (rows, cols) F32 tensor named `name` in its own file, atomically */
PD_API pd_status pd_save_matrix(const char *path, const char *name, const float *data,
                                size_t rows, size_t cols);

#endif
