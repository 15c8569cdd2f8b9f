/*
 * threads.c — one thread count for OpenMP and OpenBLAS.
 * Most kernels call BLAS outside OpenMP regions, so OpenMP's team and
 * BLAS's threads run one after the other. conv1d's per-sample algorithm
 * (SAMPLE) calls BLAS inside an OpenMP loop: safe only with OpenBLAS built
 * on OpenMP, which runs such calls on the calling thread; with the pthread
 * build each call would start its own threads (oversubscription), so the
 * shape rule uses SAMPLE only when pd_blas_nests_in_openmp() says so.
 */
#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "engine/core/threads.h"
#include "pdiff.h"

void openblas_set_num_threads(int n); /* from OpenBLAS (cblas.h variant-safe) */
int openblas_get_parallel(void);       /* 0 sequential, 1 pthreads, 2 OpenMP */

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

int pd_blas_nests_in_openmp(void) { return openblas_get_parallel() != 1; }
