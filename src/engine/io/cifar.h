/*
 * cifar.h — CIFAR-10 / CIFAR-100 binary batches
 * (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version").
 *
 * A batch is a sequence of records: CIFAR-10 has 1 label byte (< 10) then
 * 3072 pixel bytes; CIFAR-100 has a coarse label byte (< 20) and a fine
 * label byte (< 100, the one kept) then 3072 pixel bytes. Pixels are
 * 1024 red, 1024 green, 1024 blue, each 32 x 32 row-major — already
 * (c, h, w) order.
 */
#ifndef PD_IO_CIFAR_H
#define PD_IO_CIFAR_H

#include <stddef.h>
#include <stdint.h>

#include "pdiff_net.h"

#define PD_CIFAR_PIXELS 3072 /* 3 x 32 x 32 */

/* Bytes per record for classes 10 or 100; 0 for anything else. */
size_t pd_cifar_record_size(int classes);

/* Decodes bytes (len must be a non-zero multiple of the record size) into
 * caller memory: x (len/rec, 3, 32, 32) in [0, 1], y (len/rec) fine labels.
 * Labels out of range are PD_ERR_FORMAT naming label and record. */
pd_status pd_cifar_decode(float *x, int32_t *y, const uint8_t *bytes, size_t len,
                          const char *label, int classes);

/* Whole batch into a fresh dataset (freed with pd_dataset_free). */
pd_status pd_cifar_parse(const uint8_t *bytes, size_t len, const char *label,
                         int classes, pd_dataset *out);

#endif
