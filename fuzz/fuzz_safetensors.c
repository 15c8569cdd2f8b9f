/*
 * fuzz_safetensors.c — libFuzzer harness for the safetensors parser
 * (pd_st_parse on arbitrary bytes). Build: CC=clang cmake -DPDIFF_FUZZ=ON
 * -DPDIFF_SANITIZE=ON; run: ./fuzz_safetensors -dict=fuzz/safetensors.dict
 * fuzz/corpus/safetensors. Any crash, sanitizer report or leak is a bug.
 */
#include <stddef.h>
#include <stdint.h>

#include "pdiff_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pd_st_file f;
    if (pd_st_parse(data, size, "fuzz", &f) != PD_OK) return 0;
    /* touch every decoded value so out-of-bounds pointers would show */
    volatile float sink = 0;
    for (size_t i = 0; i < f.count; i++)
        for (size_t k = 0; k < f.t[i].numel; k++) sink += f.t[i].data[k];
    (void)pd_st_find(&f, "a");
    (void)pd_st_meta(&f, "format");
    (void)sink;
    pd_st_free(&f);
    return 0;
}
