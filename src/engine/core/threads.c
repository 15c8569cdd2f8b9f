/*
 * threads.c — one thread count for OpenMP and OpenBLAS.
 * Kernels never call BLAS from inside an OpenMP region, so OpenMP's team
 * and BLAS's pthreads run one after the other and never oversubscribe.
 */
#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "pdiff.h"

void openblas_set_num_threads(int n); /* from OpenBLAS (cblas.h variant-safe) */

static int current_threads = 1;

int pd_set_threads(int n) {
    if (n <= 0) {
        const char *env = getenv("PDIFF_THREADS");
        n = env ? atoi(env) : 0;
    }
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    current_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    openblas_set_num_threads(n);
    return n;
}

int pd_threads(void) { return current_threads; }
