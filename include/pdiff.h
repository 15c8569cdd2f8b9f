/*
 * pdiff.h — public core API of libpdiff (Neural Network Diffusion in C).
 *
 * Tutorial
 * --------
 * Every function that can fail returns a pd_status; on failure a one-line
 * description (naming the file and the problem where there is one) is kept
 * per thread and read with pd_last_error(). Library code never prints to
 * the user and never exits; the CLI (tools/pdiff.c) does both.
 *
 *   pd_set_threads(2);                       // OpenMP + BLAS, never nested
 *   pd_rng r; pd_rng_seed(&r, 42, 0);        // seed 42, stream 0
 *   float x = pd_rng_normal(&r);
 *
 *   pd_params p; pd_params_init(&p);
 *   pd_params_add(&p, "fc.weight", 2, (size_t[]){10, 784}, PD_TRAINABLE);
 *   pd_params_add(&p, "bn.running_mean", 1, (size_t[]){10}, PD_BUFFER);
 *   pd_params_finalize(&p, mask);            // one buffer; mask = selected
 *   float *w = pd_params_find(&p, "fc.weight")->data;
 *   ...
 *   pd_params_free(&p);
 *
 * Parameters live in one contiguous buffer (data), with twins for gradients
 * and optimizer state; tensors selected for p-diff are laid out next to each
 * other so gathering them is one memcpy (see pd_params_gather).
 */
#ifndef PDIFF_H
#define PDIFF_H

#include <stddef.h>
#include <stdint.h>

#define PDIFF_VERSION "0.1.0"

/* ---- status and errors -------------------------------------------------- */
typedef enum {
    PD_OK = 0,
    PD_ERR_IO,       /* open/read/write/rename failed */
    PD_ERR_FORMAT,   /* file content malformed or truncated */
    PD_ERR_SHAPE,    /* shapes or sizes do not agree */
    PD_ERR_NOMEM,    /* allocation failed or size out of bounds */
    PD_ERR_ARG,      /* bad argument or option value */
    PD_ERR_NOTFOUND, /* unknown name */
    PD_ERR_NAN       /* non-finite value in training */
} pd_status;

const char *pd_status_name(pd_status s);
/* record a formatted one-line error for this thread; returns s */
pd_status pd_fail(pd_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* the same, prefixed "<label>: " (a file name, usually) */
pd_status pd_fail_at(pd_status s, const char *label, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
const char *pd_last_error(void);

/* ---- threads ------------------------------------------------------------ */
/* Sets OpenMP and BLAS thread counts. n = 0: PDIFF_THREADS or all cores. */
int pd_set_threads(int n);
int pd_threads(void);
/* the OpenBLAS kernel family in use ("SkylakeX", "Prescott", ...), and the
 * one this CPU should use when OpenBLAS fell back to a generic family for
 * a CPU model it does not know (NULL otherwise). It takes effect only
 * through OPENBLAS_CORETYPE set before OpenBLAS loads: the pdiff CLI does
 * that and restarts itself. */
const char *pd_blas_core(void);
const char *pd_blas_core_suggestion(void);

/* ---- RNG: xoshiro256** seeded by splitmix64(seed, stream) --------------- */
typedef struct { uint64_t s[4]; int has_spare; float spare; } pd_rng;
/* Independent streams: the same (seed, stream) always gives the same
 * sequence; different streams are seeded through splitmix64 of both. */
void pd_rng_seed(pd_rng *r, uint64_t seed, uint64_t stream);
uint64_t pd_rng_u64(pd_rng *r);
float pd_rng_uniform(pd_rng *r);           /* [0, 1) with 24 bits */
float pd_rng_normal(pd_rng *r);            /* N(0, 1), Box–Muller */
uint32_t pd_rng_below(pd_rng *r, uint32_t n); /* uniform in [0, n) */
void pd_rng_fill_normal(pd_rng *r, float *x, size_t n, float std);
void pd_rng_shuffle(pd_rng *r, int32_t *a, size_t n);

/* ---- parameters --------------------------------------------------------- */
#define PD_MAX_DIMS 4
#define PD_NAME_MAX 96
enum {
    PD_TRAINABLE = 1, /* receives gradients */
    PD_BUFFER = 2,    /* state, not a parameter (BN running stats) */
    PD_SELECTED = 4   /* part of the p-diff subset (set by finalize) */
};

typedef struct {
    char name[PD_NAME_MAX]; /* PyTorch state_dict name */
    int ndim;
    size_t shape[PD_MAX_DIMS];
    size_t numel, offset;   /* offset in floats into the buffers */
    int flags;
    float *data, *grad;     /* point into pd_params.data / .grad */
} pd_tensor;

typedef struct {
    pd_tensor *t;
    size_t count, cap;
    size_t total;           /* floats in each buffer */
    float *data, *grad;     /* one aligned buffer each */
    float *m, *v;           /* optimizer state twins (allocated on demand) */
    size_t sel_begin, sel_end; /* floats range of selected tensors */
    int finalized;
} pd_params;

void pd_params_init(pd_params *p);
pd_status pd_params_add(pd_params *p, const char *name, int ndim,
                        const size_t *shape, int flags);
/* Allocates the buffers (zeroed). selected[i] != 0 marks tensor i for the
 * p-diff subset (NULL: none); selected tensors are placed contiguously, in
 * registration order, so the subset is one range [sel_begin, sel_end). */
pd_status pd_params_finalize(pd_params *p, const int *selected);
pd_tensor *pd_params_find(const pd_params *p, const char *name);
size_t pd_params_selected_size(const pd_params *p);
/* copy the selected subset to/from a flat vector of selected_size floats */
void pd_params_gather(const pd_params *p, float *vec);
void pd_params_scatter(pd_params *p, const float *vec);
pd_status pd_params_alloc_state(pd_params *p); /* m, v twins */
void pd_params_zero_grad(pd_params *p);
void pd_params_free(pd_params *p);
/* shell-style glob (* and ?) match of a tensor name */
int pd_glob_match(const char *pattern, const char *name);

/* ---- aligned allocation ------------------------------------------------- */
void *pd_alloc(size_t bytes); /* 64-byte aligned, zeroed; NULL on failure */
void pd_free(void *p);

#endif
