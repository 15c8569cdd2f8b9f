/*
 * thread_split.h — data-parallel training inside one process: W threads
 * act as W ranks of pd_data_parallel (pdiff.h), each on its rows of every
 * batch with one OpenMP and one BLAS thread, their gradients summed in rank
 * order. Under an outer job (MPI) the threads of each process become ranks
 * r·W + w of R·W. Same seed and thread count → the same bits; the sum is
 * the one MPI's ranks make, so W threads equal W single-thread processes.
 */
#ifndef PD_MODEL_THREAD_SPLIT_H
#define PD_MODEL_THREAD_SPLIT_H

#include "pdiff.h"

/* one rank's work: dp is this thread's place in the job */
typedef pd_status (*pd_rank_fn)(const pd_data_parallel *dp, int w, void *ctx);

/* runs fn on W threads as ranks (W <= 1: once, with `outer` as is). If one
 * rank fails, the others' next sum returns NaN so that they stop too; the
 * first failure's status and message are returned. */
pd_status pd_thread_split_run(int W, const pd_data_parallel *outer, pd_rank_fn fn, void *ctx);

#endif
