/*
 * fuzz_idx.c — libFuzzer harness for the IDX parser, plain and gzip
 * (pd_idx_parse on arbitrary bytes; inputs starting 1f 8b take the
 * inflate path). Run: ./fuzz_idx fuzz/corpus/idx
 */
#include <stddef.h>
#include <stdint.h>

#include "engine/io/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pd_idx x;
    if (pd_idx_parse(data, size, "fuzz", &x) != PD_OK) return 0;
    volatile unsigned sink = 0;
    for (size_t i = 0; i < x.count; i++) sink += x.data[i];
    (void)sink;
    pd_idx_free(&x);
    return 0;
}
