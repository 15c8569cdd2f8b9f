/*
 * test_records.h — collect's record of which test samples each checkpoint
 * gets wrong (DIR/test_records.safetensors), so that eval need not run
 * every original over the test set again: for whole networks that is a
 * quarter of eval's forward passes. The record names what it was made
 * from — a CRC-32 of each checkpoint's vector and one of the test set —
 * and eval uses it only when both match what it loaded; otherwise (an
 * older collect, other data, edited checkpoints) it evaluates as before.
 */
#ifndef PD_APP_TEST_RECORDS_H
#define PD_APP_TEST_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "pdiff.h"
#include "pdiff_net.h"

/* wrong: K × words bitsets over the ntest samples of `test` (images, as
 * the network sees them); V: the K checkpoints' vectors (K × D) */
pd_status pd_test_records_write(const char *dir, const uint64_t *wrong, size_t K,
                                size_t words, const float *V, size_t D, const pd_feats *test);

/* 1, with wrong (K × words) filled, when DIR holds a record of exactly
 * these vectors and this test set; 0 otherwise (no error: eval then
 * evaluates) */
int pd_test_records_read(const char *dir, size_t K, size_t words, const float *V, size_t D,
                         const pd_feats *test, uint64_t *wrong);

#endif
