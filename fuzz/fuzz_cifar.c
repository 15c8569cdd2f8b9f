/*
 * fuzz_cifar.c — libFuzzer harness for CIFAR batch decoding. The first
 * byte picks the variant (even: CIFAR-10, odd: CIFAR-100), the rest is the
 * batch. Run: ./fuzz_cifar fuzz/corpus/cifar
 */
#include <stddef.h>
#include <stdint.h>

#include "engine/io/cifar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int classes = data[0] & 1 ? 100 : 10;
    pd_dataset d;
    if (pd_cifar_parse(data + 1, size - 1, "fuzz", classes, &d) != PD_OK) return 0;
    volatile float sink = 0;
    for (size_t i = 0; i < d.n; i++) sink += d.x[i * 3072 + 3071] + (float)d.y[i];
    (void)sink;
    pd_dataset_free(&d);
    return 0;
}
