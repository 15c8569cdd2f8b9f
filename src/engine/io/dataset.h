/*
 * dataset.h — image classification datasets in memory, loaded from the
 * standard file layouts of MNIST-style IDX sets and CIFAR-10/100.
 *
 * pd_dataset_load(dir, train, &d) looks in dir for, in this order:
 *   IDX (c = 1):   train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz]
 *                  t10k-images-idx3-ubyte[.gz]  + t10k-labels-idx1-ubyte[.gz]
 *   CIFAR-10:      data_batch_1.bin .. data_batch_5.bin / test_batch.bin
 *   CIFAR-100:     train.bin / test.bin (fine labels, 100 classes)
 * (CIFAR files also in the archives' subfolders cifar-10-batches-bin/ and
 * cifar-100-binary/). Pixels become floats in [0, 1], laid out (n, c, h, w).
 *
 *   pd_dataset tr, te;
 *   pd_dataset_load(PD_DATA_DIR_DEFAULT, 1, &tr);   // 60000 x 1 x 28 x 28
 *   pd_dataset_load(PD_DATA_DIR_DEFAULT, 0, &te);   // 10000
 *   pd_dataset_normalize(&tr, &te);                 // train mean/std
 *   ... pd_dataset_free(&tr); pd_dataset_free(&te);
 */
#ifndef PD_IO_DATASET_H
#define PD_IO_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "pdiff.h"

#define PD_DATA_DIR_DEFAULT "/usr/share/datasets/fashion-mnist"

typedef struct {
    size_t n, c, h, w;
    float *x;    /* x (n, c, h, w), pd_alloc'd */
    int32_t *y;  /* y (n) in [0, classes), pd_alloc'd */
    int classes; /* CIFAR: 10 or 100; IDX: max label + 1 */
} pd_dataset;

/* train != 0: the training split, else the test split. */
pd_status pd_dataset_load(const char *dir, int train, pd_dataset *out);
/* Per-channel mean and (population) std over train; applied to train and,
 * when non-NULL, to test. A constant channel is only centred. */
pd_status pd_dataset_normalize(pd_dataset *train, pd_dataset *test);
void pd_dataset_free(pd_dataset *d);

#endif
