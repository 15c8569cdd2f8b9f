/*
 * vec4.h — four floats in one SSE register (GCC/Clang vector extension),
 * for the hand-vectorised loops of src/ops: the compiler does not
 * vectorise reductions (that would reorder float sums) nor loops with a
 * branch it may not if-convert, so those loops say it themselves.
 */
#ifndef PD_VEC4_H
#define PD_VEC4_H

#include <string.h>

typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));

/* a function compiled for AVX-512, AVX2 and the baseline, the version run
 * chosen when the program loads (GCC ifunc): for wide-vector kernels that
 * the portable build would split into SSE registers. Not in sanitizer
 * builds: ifunc resolvers run before the sanitizer runtime starts (they
 * crash there), and one portable version is what those builds test. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define PD_NO_CLONES 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(PD_NO_CLONES)
#define PD_CLONES
#else
#define PD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

static inline v4f load4(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v); /* unaligned load */
    return v;
}

static inline void store4(float *p, v4f v) { memcpy(p, &v, sizeof v); }

#endif
