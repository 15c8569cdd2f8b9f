/*
 * atomic_file.h — write a file so that readers only ever see the old
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
#ifndef PD_IO_ATOMIC_FILE_H
#define PD_IO_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "pdiff.h"

typedef struct {
    FILE *f;        /* the open temp file; NULL once committed/aborted */
    char *path;     /* final destination */
    char *tmp_path; /* "<path>.tmp.<pid>" */
} pd_atomic_file;

/* Creates the temp file next to path (same directory, so rename is atomic). */
pd_status pd_atomic_open(pd_atomic_file *af, const char *path);
/* Appends len bytes; PD_ERR_IO naming the final path on a short write. */
pd_status pd_atomic_write(pd_atomic_file *af, const void *data, size_t len);
/* fflush + fsync + fclose + rename. On failure the temp file is removed.
 * Always releases af. */
pd_status pd_atomic_commit(pd_atomic_file *af);
/* Closes and removes the temp file; safe to call on a released af. */
void pd_atomic_abort(pd_atomic_file *af);

/* One-shot helper: the whole file content in one buffer. */
pd_status pd_write_file_atomic(const char *path, const void *data, size_t len);

/* Removes the temp files "<name>.tmp.<pid>" in dir whose writer is gone
 * (no process <pid>): what a killed run leaves behind. A resumable stage
 * calls it on its output directory when it starts. Returns how many were
 * removed; a missing directory counts as none. */
size_t pd_atomic_sweep(const char *dir);

#endif
