/*
 * dist.h — the processes of one pdiff job. Built with -DPDIFF_MPI=ON and
 * started by mpirun, a job is R MPI ranks that split its work (collect's
 * seeds, eval's models, the batch of each training step); otherwise, or
 * started without mpirun, it is one process and every function here is a
 * no-op. Rank 0 writes the files every rank would write the same.
 *
 * The merges are exact: each rank fills the entries it owns and leaves the
 * others zero, so a sum (or an OR) puts every value where it belongs
 * without rounding, and every rank ends with the same arrays.
 */
#ifndef PD_APP_DIST_H
#define PD_APP_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "pdiff.h"

/* MPI_Init when built with MPI and started by mpirun or srun (otherwise a
 * job of one, MPI untouched); call first thing in main */
void pd_dist_init(int *argc, char ***argv);
void pd_dist_finalize(void);
int pd_dist_rank(void);
int pd_dist_size(void);
/* 1 on rank 0, the rank that prints and writes the job's shared files */
int pd_dist_root(void);
/* does this rank own item i of a list dealt round robin? */
int pd_dist_owns(size_t i);
void pd_dist_barrier(void);
/* ends every rank of the job with exit code `code` (after an error on
 * one rank, so that the others do not wait for it forever) */
_Noreturn void pd_dist_abort(int code);

/* exact merges of arrays filled by their owners (zeros elsewhere) */
void pd_dist_merge_double(double *v, size_t n);
void pd_dist_merge_float(float *v, size_t n);
void pd_dist_merge_or_u64(uint64_t *v, size_t n);
void pd_dist_merge_or_u8(unsigned char *v, size_t n);

/* the sum over ranks of n floats, in rank order, the same bits on every
 * rank: what data-parallel training reduces its gradients with */
void pd_dist_sum_ordered(float *v, size_t n);
/* the job as pd_model_train's data-parallel hook (pdiff.h); NULL for a job
 * of one process */
const pd_data_parallel *pd_dist_data_parallel(void);

#endif
