/*
 * pdiff.h — public core API of libpdiff (Neural Network Diffusion in C).
 *
 * Tutorial 1: the model (examples/train_sample.c)
 * ----------------------------------------------
 * K trained checkpoints of a network, flattened to K parameter vectors of
 * length D, in; N new parameter vectors out.
 *
 *   float *V = ...;                          // K checkpoints × D values
 *   pd_model_config c;
 *   pd_model_config_default(&c, D);
 *   c.ae_steps = 2000; c.ddpm_steps = 2000; c.seed = 1;
 *   pd_model *m;
 *   if (pd_model_train(&c, V, K, D, NULL, &m) != PD_OK) {
 *       fprintf(stderr, "%s\n", pd_last_error());
 *       return 1;
 *   }
 *   pd_ae_diag d;
 *   pd_model_diagnostics(m, &d);             // d.recon_ratio < 1: resolved
 *   float *gen = malloc(N * D * sizeof *gen);
 *   pd_model_sample(m, N, 42, gen);          // N new vectors
 *   pd_model_save(m, "model");
 *   pd_model_free(m);
 *   pd_model_load("model", &m);              // same seed, same bits
 *
 * Build: cc prog.c $(pkg-config --cflags --libs pdiff)
 *
 * Tutorial 2: errors, threads, random numbers, parameter sets
 * -----------------------------------------------------------
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
#include <stdio.h>

#define PDIFF_VERSION "0.1.0"

/* the functions of this header are libpdiff.so's exported symbols; the
 * engine behind them is hidden */
#if defined(__GNUC__)
#define PD_API __attribute__((visibility("default")))
#else
#define PD_API
#endif

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

PD_API const char *pd_status_name(pd_status s);
/* record a formatted one-line error for this thread; returns s */
PD_API pd_status pd_fail(pd_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* the same, prefixed "<label>: " (a file name, usually) */
PD_API pd_status pd_fail_at(pd_status s, const char *label, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
PD_API const char *pd_last_error(void);

/* ---- threads ------------------------------------------------------------ */
/* Sets OpenMP and BLAS thread counts. n = 0: PDIFF_THREADS or all cores. */
PD_API int pd_set_threads(int n);
PD_API int pd_threads(void);
/* Runs fn(w, ctx) for w = 0 .. n-1 at once, w = 0 on the calling thread,
 * each worker with one OpenMP and one BLAS thread: on short rows n
 * single-threaded workers beat one worker with n threads (README "Speed").
 * Returns the first failing worker's status (lowest w) with its message;
 * thread counts are restored afterwards. n <= 1 calls fn(0, ctx) as is. */
PD_API pd_status pd_run_workers(int n, pd_status (*fn)(int w, void *ctx), void *ctx);
/* the OpenBLAS kernel family in use ("SkylakeX", "Prescott", ...), and the
 * one this CPU should use when OpenBLAS fell back to a generic family for
 * a CPU model it does not know (NULL otherwise). It takes effect only
 * through OPENBLAS_CORETYPE set before OpenBLAS loads: the pdiff CLI does
 * that and restarts itself. */
PD_API const char *pd_blas_core(void);
PD_API const char *pd_blas_core_suggestion(void);

/* ---- RNG: xoshiro256** seeded by splitmix64(seed, stream) --------------- */
typedef struct { uint64_t s[4]; int has_spare; float spare; } pd_rng;
/* Independent streams: the same (seed, stream) always gives the same
 * sequence; different streams are seeded through splitmix64 of both. */
PD_API void pd_rng_seed(pd_rng *r, uint64_t seed, uint64_t stream);
PD_API uint64_t pd_rng_u64(pd_rng *r);
PD_API float pd_rng_uniform(pd_rng *r);           /* [0, 1) with 24 bits */
PD_API float pd_rng_normal(pd_rng *r);            /* N(0, 1), Box–Muller */
PD_API uint32_t pd_rng_below(pd_rng *r, uint32_t n); /* uniform in [0, n) */
PD_API void pd_rng_fill_normal(pd_rng *r, float *x, size_t n, float std);
PD_API void pd_rng_shuffle(pd_rng *r, int32_t *a, size_t n);

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

PD_API void pd_params_init(pd_params *p);
PD_API pd_status pd_params_add(pd_params *p, const char *name, int ndim,
                        const size_t *shape, int flags);
/* Allocates the buffers (zeroed). selected[i] != 0 marks tensor i for the
 * p-diff subset (NULL: none); selected tensors are placed contiguously, in
 * registration order, so the subset is one range [sel_begin, sel_end). */
PD_API pd_status pd_params_finalize(pd_params *p, const int *selected);
PD_API pd_tensor *pd_params_find(const pd_params *p, const char *name);
PD_API size_t pd_params_selected_size(const pd_params *p);
/* copy the selected subset to/from a flat vector of selected_size floats */
PD_API void pd_params_gather(const pd_params *p, float *vec);
PD_API void pd_params_scatter(pd_params *p, const float *vec);
PD_API pd_status pd_params_alloc_state(pd_params *p); /* m, v twins */
PD_API void pd_params_zero_grad(pd_params *p);
PD_API void pd_params_free(pd_params *p);
/* shell-style glob (* and ?) match of a tensor name */
PD_API int pd_glob_match(const char *pattern, const char *name);

/* ---- aligned allocation ------------------------------------------------- */
PD_API void *pd_alloc(size_t bytes); /* 64-byte aligned, zeroed; NULL on failure */
PD_API void pd_free(void *p);

/* ---- progress ----------------------------------------------------------- */
/* Long jobs call fn(ctx, phase, done, total, info) as they go; phase is a
 * short name ("autoencoder", "ddpm", "sample"), info e.g. "loss 1.2e-3"
 * (may be NULL). Pass NULL for a silent job. */
typedef struct {
    void (*fn)(void *ctx, const char *phase, long done, long total, const char *info);
    void *ctx;
} pd_progress;
/* what a job calls; a NULL p or fn is silent */
static inline void pd_report(const pd_progress *p, const char *phase, long done,
                             long total, const char *info) {
    if (p && p->fn) p->fn(p->ctx, phase, done, total, info);
}

/* ---- statistics of parameter matrices ------------------------------------
 * K × D, one row per checkpoint; everything accumulates in double. */
/* mean (D), sd (D) of the columns of O (K × D), population sd */
PD_API void pd_column_moments(const float *O, size_t K, size_t D, float *mean, float *sd);
/* index of the row of O (K × D) nearest to x (D) in L2, skipping row
 * `skip` (pass (size_t)-1 to skip none); *dist its distance (INFINITY when
 * no row is left) */
PD_API size_t pd_nearest_row(const float *x, const float *O, size_t K, size_t D,
                             size_t skip, double *dist);
/* L2 distance of each row of X (N × D) to its nearest row of O (K × D);
 * skip_self: X is O and a row's own index is skipped (K ≥ 2).
 * Non-finite rows of X get NaN. */
PD_API void pd_nearest_l2(const float *X, size_t N, const float *O, size_t K, size_t D,
                          int skip_self, double *out);

/* ---- the p-diff model ----------------------------------------------------
 * Trained on K parameter vectors (a K × D row-major matrix), it samples new
 * ones: normalization → 1-D CNN autoencoder → latent DDPM (docs/method.md).
 * See Tutorial 1 at the top of this header. */

/* how the vectors are normalized before the autoencoder sees them */
typedef enum { PD_NORMALIZE_NONE, PD_NORMALIZE_TENSOR, PD_NORMALIZE_DIM } pd_normalize_kind;
/* the autoencoder's normalization layers (paper Table 6) */
typedef enum { PD_NORM_INSTANCE, PD_NORM_BATCH, PD_NORM_GROUP, PD_NORM_NONE } pd_norm_kind;

typedef struct {
    size_t D;              /* parameter vector length (set by training) */
    int fold, k;           /* fold rate (stride) and kernel size */
    size_t enc[4], dec[4]; /* encoder and decoder channels */
    float in_noise, lat_noise; /* noise augmentation amplitudes (0 = off) */
    int additive_noise;    /* 1: x + aε; 0 (default): x(1−a) + aε */
    pd_norm_kind norm;
    size_t groups;         /* for PD_NORM_GROUP; 0 = 2 */
    int fc;                /* fully connected instead of 1-D convolutions */
    int vae;               /* variational autoencoder */
    float kl_weight;       /* its KL weight */
    /* the whole-network kind (docs/method.md §3b) instead of the paper's
     * 1-D CNN when chunk > 0: the vector cut into chunks of `chunk`
     * values, each projected to `chunk_code` values by a map of its own,
     * mixed by two layers of width `hidden` into a latent of `latent` */
    size_t chunk, chunk_code, hidden, latent;
} pd_ae_config;

/* the arithmetic of the convolutions: fp32, or bf16 mixed precision (bf16
 * inputs and weights, fp32 accumulation, fp32 master weights and optimizer;
 * through oneDNN, on CPUs with a bf16 kernel — elsewhere fp32) */
typedef enum { PD_PRECISION_FP32 = 0, PD_PRECISION_BF16 } pd_precision;

/* Data-parallel training (docs/mpi.md): `size` processes train one model,
 * each on its rows [B·rank/size, B·(rank+1)/size) of every batch of B. sum
 * adds n floats over the processes and leaves the same bits on every one
 * (in rank order, say), so their parameters stay identical. Rank 0 alone
 * writes the state directory. The CLI passes MPI's (src/app/dist.c). */
typedef struct {
    int rank, size;
    void (*sum)(void *ctx, float *v, size_t n);
    void *ctx;
} pd_data_parallel;

typedef struct {
    pd_normalize_kind normalize;
    char ae_preset[16];    /* "small" | "medium" | "whole" (pd_model_config_set "preset") */
    pd_ae_config ae;
    size_t den_ch[4];      /* denoiser channels */
    size_t T;              /* diffusion steps */
    double beta0, beta1;   /* linear β schedule */
    long ae_steps, ddpm_steps;
    float lr, weight_decay, ema_decay; /* AdamW and the denoiser's EMA */
    pd_precision precision; /* of the training passes (default fp32) */
    long ckpt_every;       /* steps between resumable state files */
    long log_every;        /* steps per loss-log line */
    uint64_t seed;
    /* how to train, not part of the model (never saved): */
    const size_t *tensor_sizes; /* tensor boundaries for PD_NORMALIZE_TENSOR */
    size_t ntensors;            /* (0: the vector is one tensor) */
    const char *state_dir;      /* NULL: train in memory. A directory: keep
                                   resumable state and train_log.jsonl there;
                                   training again with the same config and
                                   data continues where it stopped and gives
                                   the same bits as an uninterrupted run */
    const pd_data_parallel *parallel; /* NULL: one process */
    int batch_threads;          /* threads that each train on a share of
                                   every batch, one OpenMP/BLAS thread each
                                   (results depend on it as on a thread
                                   count): 0 = pd_threads() (1 with the
                                   autoencoder's batch norm), 1 = off */
} pd_model_config;

/* the CPU defaults (docs/method.md); D may be 0 when not yet known */
PD_API void pd_model_config_default(pd_model_config *c, size_t D);
/* a named recipe over the current config: "paper" = Table 4 (raw values,
 * 30 000 + 30 000 steps, full denoiser channels) */
PD_API pd_status pd_model_config_recipe(pd_model_config *c, const char *name);
/* sets one field by name, the value as text: what bindings use. Keys:
 * normalize (none|tensor|dim), preset (small|medium|whole: sets the kind,
 * sizes and input noise, so set it first), chunk, chunk_code, hidden,
 * latent, fold, kernel, enc,
 * dec, den_channels ("a,b,c,d"), in_noise, latent_noise, additive_noise,
 * norm (instance|batch|group|none), groups, fc, vae (0|1|true|false),
 * kl_weight, T, beta_start, beta_end, ae_steps, ddpm_steps, lr,
 * weight_decay, ema_decay, ckpt_every, log_every, seed, and batch_threads
 * (not saved with the model). An unknown key or
 * a value out of range fails with an error naming the key. */
PD_API pd_status pd_model_config_set(pd_model_config *c, const char *key, const char *value);
/* for bindings that cannot lay out the struct: a heap config with the
 * defaults (free with pd_model_config_free), and setters for the two
 * pointer fields (the pointers are borrowed: keep them alive while
 * training) */
PD_API pd_model_config *pd_model_config_new(size_t D);
PD_API void pd_model_config_free(pd_model_config *c);
PD_API void pd_model_config_set_tensors(pd_model_config *c, const size_t *sizes, size_t n);
PD_API void pd_model_config_set_state_dir(pd_model_config *c, const char *dir);
/* every field in range (pd_model_train checks it too) */
PD_API pd_status pd_model_config_check(const pd_model_config *c);
/* the config as JSON text (malloc'd; what config.json of a saved model
 * holds; D = 0 leaves "D" out) and back, errors naming the field */
PD_API char *pd_model_config_json(const pd_model_config *c, size_t D);
PD_API pd_status pd_model_config_parse(const char *text, const char *label,
                                       pd_model_config *c, size_t *D);
PD_API const char *pd_normalize_name(pd_normalize_kind k);
PD_API int pd_normalize_parse(const char *name); /* -1 when unknown */

typedef struct pd_model pd_model; /* opaque */

/* Trains on V (K × D): normalization fit on V, the autoencoder, then the
 * latent DDPM. *out is a new model (free with pd_model_free). With
 * c->state_dir, an interrupted training resumes (see above). */
PD_API pd_status pd_model_train(const pd_model_config *c, const float *V, size_t K, size_t D,
                                const pd_progress *progress, pd_model **out);

/* sampling: DDPM with all T steps (default) or DDIM with `steps` steps and
 * noise eta; the EMA denoiser unless raw_denoiser */
typedef struct {
    int ddim;
    size_t steps;
    float eta;
    int raw_denoiser;
    pd_precision precision; /* of the denoiser and decoder passes (default fp32) */
} pd_sampler;
/* N new vectors into out (N × D), DDPM with the EMA denoiser. The same
 * model and seed give the same bits (at the same thread count). */
PD_API pd_status pd_model_sample(const pd_model *m, size_t N, uint64_t seed, float *out);
PD_API pd_status pd_model_sample_with(const pd_model *m, const pd_sampler *s, size_t N,
                                      uint64_t seed, const pd_progress *progress, float *out);
/* V (K × D) → noise-free latents Z (K × latent_dim), and back (normalization
 * applied before encoding and inverted after decoding) */
PD_API pd_status pd_model_encode(const pd_model *m, const float *V, size_t K, float *Z);
PD_API pd_status pd_model_decode(const pd_model *m, const float *Z, size_t K, float *V);
/* the decoded latents of the K training vectors (K × D): the autoencoder alone */
PD_API pd_status pd_model_reconstruct(const pd_model *m, float *out);

PD_API size_t pd_model_dim(const pd_model *m);         /* D */
PD_API size_t pd_model_latent_dim(const pd_model *m);
PD_API size_t pd_model_train_count(const pd_model *m); /* K */
PD_API const pd_model_config *pd_model_get_config(const pd_model *m);

/* does the autoencoder encode each training vector? (docs/method.md §5) */
typedef struct {
    double recon_rmse;   /* per-dimension RMSE of the reconstructions */
    double spread_rms;   /* the training vectors' per-dimension RMS spread */
    double recon_ratio;  /* their ratio: > 1 = the vectors are not resolved */
    double nn_identity;  /* fraction whose reconstruction is nearest itself */
    double nn_identity_iso, nn_resolvable; /* what the data allow (method.md) */
    double dev_corr;     /* correlation of deviations from the mean */
    size_t K, D;
} pd_ae_diag;
/* PD_ERR_NOTFOUND for a model saved without diagnostics */
PD_API pd_status pd_model_diagnostics(const pd_model *m, pd_ae_diag *out);
/* the same from K originals O and their reconstructions R (both K × D, in
 * the original units), for any model; seed drives nn_identity_iso's draws */
PD_API pd_status pd_ae_diagnose(const float *O, const float *R, size_t K, size_t D,
                                uint64_t seed, pd_ae_diag *out);
/* a JSON object text (malloc'd), the keys of pd_ae_diag */
PD_API char *pd_ae_diag_json(const pd_ae_diag *d);
/* reads what pd_ae_diag_json wrote */
PD_API pd_status pd_ae_diag_read(const char *path, pd_ae_diag *d);
/* one line for the terminal, and a warning line when recon_ratio > 1 */
PD_API void pd_ae_diag_print(const pd_ae_diag *d, const char *who, FILE *to);

/* a model directory: config.json, norm / ae / den / den_ema / latents
 * .safetensors, autoencoder.json, train_log.jsonl; every file written to a
 * temporary name and renamed into place. Errors name the file. */
PD_API pd_status pd_model_save(const pd_model *m, const char *dir);
PD_API pd_status pd_model_load(const char *dir, pd_model **out);
PD_API void pd_model_free(pd_model *m);

#endif
