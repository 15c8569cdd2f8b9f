/*
 * read_file.h — read a whole regular file into memory, with a size bound
 * checked (against fstat) before anything is allocated.
 */
#ifndef PD_IO_READ_FILE_H
#define PD_IO_READ_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "pdiff.h"

/* *data (malloc'd, caller frees; never NULL on success, even for an empty
 * file) and *len receive the content. PD_ERR_IO when the file cannot be
 * opened or read, PD_ERR_FORMAT when it is larger than max_bytes. */
pd_status pd_read_file(const char *path, uint64_t max_bytes, uint8_t **data,
                       size_t *len);

#endif
