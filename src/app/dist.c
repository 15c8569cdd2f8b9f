/*
 * dist.c — see dist.h. Without PDIFF_MPI every function is the one-process
 * case. With it, MPI_COMM_WORLD is the job; collectives carry at most
 * INT_MAX elements, so long arrays go in pieces.
 */
#include "dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef PDIFF_MPI
#include <mpi.h>

static int rank_, size_ = 1, started_;


/* started by mpirun (OpenMPI) or by a PMI launcher such as Slurm's srun?
 * Otherwise the binary runs as a job of one without touching MPI (no
 * singleton start-up, nothing for leak checkers to see). */
static int launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

void pd_dist_init(int *argc, char ***argv) {
    if (!launched()) return;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS) return;
    started_ = !inited;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

void pd_dist_finalize(void) {
    if (started_) MPI_Finalize();
    started_ = 0;
}

void pd_dist_barrier(void) {
    if (size_ > 1) MPI_Barrier(MPI_COMM_WORLD);
}

_Noreturn void pd_dist_abort(int code) {
    if (size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

static void allreduce(void *v, size_t n, MPI_Datatype type, size_t elem, MPI_Op op) {
    if (size_ == 1) return;
    for (size_t at = 0; at < n;) {
        int piece = n - at > INT_MAX ? INT_MAX : (int)(n - at);
        MPI_Allreduce(MPI_IN_PLACE, (char *)v + at * elem, piece, type, op, MPI_COMM_WORLD);
        at += (size_t)piece;
    }
}

void pd_dist_merge_double(double *v, size_t n) { allreduce(v, n, MPI_DOUBLE, sizeof *v, MPI_SUM); }
void pd_dist_merge_float(float *v, size_t n) { allreduce(v, n, MPI_FLOAT, sizeof *v, MPI_SUM); }
void pd_dist_merge_or_u64(uint64_t *v, size_t n) {
    allreduce(v, n, MPI_UINT64_T, sizeof *v, MPI_BOR);
}
void pd_dist_merge_or_u8(unsigned char *v, size_t n) {
    allreduce(v, n, MPI_UNSIGNED_CHAR, sizeof *v, MPI_BOR);
}

/* MPI_Allreduce may add in any order; the training's reduction must be
 * the same on every rank and every run. So each rank owns a segment of the
 * array: it receives every rank's piece of it (Alltoallv), adds them in
 * rank order, and the sums go back to all (Allgatherv). Each rank sends
 * and receives 2 (R − 1) / R of the array, as a ring all-reduce does. */
void pd_dist_sum_ordered(float *v, size_t n) {
    if (size_ == 1 || n == 0) return;
    if (n > INT_MAX) MPI_Abort(MPI_COMM_WORLD, 1);
    static int *counts, *displs, *rcounts, *rdispls;
    static float *pieces;
    static size_t have_n;
    const size_t R = (size_t)size_, me = (size_t)rank_;
    const size_t seg = n * (me + 1) / R - n * me / R;
    if (!counts) {
        counts = malloc(4 * R * sizeof(int));
        if (!counts) MPI_Abort(MPI_COMM_WORLD, 1);
        displs = counts + R;
        rcounts = displs + R;
        rdispls = rcounts + R;
    }
    if (have_n < n) {
        free(pieces);
        pieces = malloc((n / R + 1) * R * sizeof(float));
        if (!pieces) MPI_Abort(MPI_COMM_WORLD, 1);
        have_n = n;
    }
    for (size_t r = 0; r < R; r++) {
        displs[r] = (int)(n * r / R);
        counts[r] = (int)(n * (r + 1) / R) - displs[r];
        rcounts[r] = (int)seg;
        rdispls[r] = (int)(r * seg);
    }
    MPI_Alltoallv(v, counts, displs, MPI_FLOAT, pieces, rcounts, rdispls, MPI_FLOAT,
                  MPI_COMM_WORLD);
    float *mine = v + displs[me];
    for (size_t j = 0; j < seg; j++) {
        float sum = pieces[j];
        for (size_t r = 1; r < R; r++) sum += pieces[r * seg + j];
        mine[j] = sum;
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v, counts, displs, MPI_FLOAT,
                   MPI_COMM_WORLD);
}

#else /* one process */

static const int rank_ = 0, size_ = 1;

void pd_dist_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
}
void pd_dist_finalize(void) {}
void pd_dist_barrier(void) {}
_Noreturn void pd_dist_abort(int code) { exit(code); }
void pd_dist_merge_double(double *v, size_t n) { (void)v, (void)n; }
void pd_dist_merge_float(float *v, size_t n) { (void)v, (void)n; }
void pd_dist_merge_or_u64(uint64_t *v, size_t n) { (void)v, (void)n; }
void pd_dist_merge_or_u8(unsigned char *v, size_t n) { (void)v, (void)n; }
void pd_dist_sum_ordered(float *v, size_t n) { (void)v, (void)n; }

#endif

static void sum_hook(void *ctx, float *v, size_t n) {
    (void)ctx;
    pd_dist_sum_ordered(v, n);
}

const pd_data_parallel *pd_dist_data_parallel(void) {
    static pd_data_parallel dp;
    if (size_ == 1) return NULL;
    dp = (pd_data_parallel){rank_, size_, sum_hook, NULL};
    return &dp;
}

int pd_dist_rank(void) { return rank_; }
int pd_dist_size(void) { return size_; }
int pd_dist_root(void) { return rank_ == 0; }
int pd_dist_owns(size_t i) { return (int)(i % (size_t)size_) == rank_; }
