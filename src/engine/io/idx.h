/*
 * idx.h — IDX files (the MNIST family: MNIST, Fashion-MNIST, KMNIST, ...),
 * plain or gzip-compressed (detected by the 1f 8b magic, not the name).
 *
 * Format (big-endian): 00 00 <type> <ndim> | u32 dims[ndim] | payload of
 * product(dims) elements. Only type 0x08 (unsigned byte) is accepted, which
 * is what image and label files use. The payload must be exactly
 * product(dims) bytes (after decompression), at most PD_IDX_MAX_BYTES.
 * Decompression grows its buffer with the data actually produced, so a
 * tiny file claiming huge dims cannot make the reader allocate much.
 *
 *   pd_idx im;
 *   if (pd_idx_read("train-images-idx3-ubyte.gz", &im)) ...error...
 *   // im.ndim == 3, im.dims = {60000, 28, 28}, im.data[0 .. im.count)
 *   pd_idx_free(&im);
 */
#ifndef PD_IO_IDX_H
#define PD_IO_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "pdiff.h"

#define PD_IDX_MAX_DIMS 8
#define PD_IDX_MAX_BYTES (4ull << 30) /* payload bound: 4 GiB */

typedef struct {
    int ndim;
    size_t dims[PD_IDX_MAX_DIMS];
    size_t count;  /* product of dims = payload bytes */
    uint8_t *data; /* malloc'd payload (count bytes) */
} pd_idx;

/* Parses an IDX file held in memory (plain or gzip); label names the source
 * in error messages. On failure out is left empty. */
pd_status pd_idx_parse(const uint8_t *bytes, size_t len, const char *label,
                       pd_idx *out);
/* Reads and parses a file. */
pd_status pd_idx_read(const char *path, pd_idx *out);
void pd_idx_free(pd_idx *x);

#endif
