/*
 * cpu.c — which OpenBLAS kernels this CPU should run. OpenBLAS (0.3.21 in
 * Debian 12) picks its kernels from the CPU model at load time; a model it
 * does not know (seen here: an AVX-512 Xeon reported as "Intel(R) Xeon(R)
 * Processor") falls back to the SSE3 "Prescott" kernels, about 3.5× slower
 * at sgemm (62 against 219–276 GFLOP/s on 2 cores, bench_conv). The fix
 * needs the OPENBLAS_CORETYPE environment variable before the library
 * loads, so the CLI sets it and re-executes itself (tools/pdiff.c).
 */
#include <cpuid.h>
#include <string.h>

#include "engine/core/cpu.h"
#include "pdiff.h"

char *openblas_get_corename(void); /* from OpenBLAS (cblas.h variant-safe) */

/* AVX-512 BF16: CPUID leaf 7 sub-leaf 1, EAX bit 5 */
static int has_avx512_bf16(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 1, a, b, c, d);
    return (a >> 5) & 1;
}

const char *pd_blas_core(void) {
    const char *n = openblas_get_corename();
    return n ? n : "unknown";
}

const char *pd_blas_core_suggestion(void) {
    /* the generic cores OpenBLAS falls back to for an unknown model */
    static const char *const generic[] = {"Prescott", "Core2", "Penryn", "Dunnington",
                                          "Nehalem", "Sandybridge"};
    const char *now = pd_blas_core();
    int fallback = 0;
    for (size_t i = 0; i < sizeof generic / sizeof *generic; i++)
        fallback |= strcmp(now, generic[i]) == 0;
    if (!fallback) return NULL;
    __builtin_cpu_init();
    /* __builtin_cpu_supports also checks that the OS saves the wide registers */
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (avx512) return has_avx512_bf16() ? "Cooperlake" : "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
    return NULL;
}

int pd_cpu_is_intel(void) {
    /* asked once per convolution call: CPUID traps to the hypervisor in a
     * VM (perf: 2.4 % of a DDPM step uncached), so the answer is kept
     * (-1: not asked yet; a race only asks twice) */
    static _Atomic int intel = -1;
    int v = intel;
    if (v < 0) {
        unsigned a, b, c, d;
        /* the vendor string is EBX, EDX, ECX: "Genu" "ineI" "ntel" */
        v = __get_cpuid(0, &a, &b, &c, &d) && b == 0x756e6547u && d == 0x49656e69u &&
            c == 0x6c65746eu;
        intel = v;
    }
    return v;
}
