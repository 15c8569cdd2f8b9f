/*
 * threads.h — what the kernels need to know about threading beyond
 * pd_set_threads / pd_threads (pdiff.h); see threads.c.
 */
#ifndef PD_THREADS_H
#define PD_THREADS_H

/* 1 when BLAS may be called inside an OpenMP region without starting
 * threads of its own (OpenBLAS's OpenMP or sequential build) */
int pd_blas_nests_in_openmp(void);

#endif
