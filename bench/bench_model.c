/*
 * bench_model.c — times the p-diff models' training steps and samplers
 * (the same cases as scripts/bench_model_torch.py; scripts/bench_model.sh
 * runs both and prints ratios):
 *   ae_small / ae_medium     one autoencoder AdamW step, D = 2048, B = 200
 *   den_L{12,52}_{full,half} one DDPM AdamW step, B = 200, channels
 *                            64..512 (full) or 32..256 (half), T = 1000
 *   sample_ddpm1000 / sample_ddim50   100 latents of L = 12, full channels
 * Each case first checks its result (finite loss, samples in [−1, 1]) and
 * then prints "name  ms" (the median over the timed repetitions; whole runs
 * for the samplers). Training steps run as pdiff train runs them: the
 * batch split over --batch-threads N ranks of one thread each (default:
 * one per thread; 1: all threads on the whole batch); the samplers split
 * their rows over the threads themselves.
 * Usage: bench_model [threads=2] [--quick] [--bf16] [--batch-threads N]
 * (--quick: fewer repetitions, DDPM over 100 steps scaled ×10, labelled;
 * --only PREFIX: just the cases whose name starts with PREFIX, e.g. for perf;
 * --bf16: the convolutions in bf16 mixed precision, as --precision bf16).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"
#include "pdiff.h"
#include "model/ae.h"
#include "model/denoiser.h"
#include "model/diffusion.h"
#include "model/thread_split.h"

static void die(const char *what) {
    fprintf(stderr, "bench_model: %s: %s\n", what, pd_last_error());
    exit(1);
}

static const pd_adamw OPT = {1e-3f, 0.9f, 0.999f, 1e-8f, 2e-6f};

static pd_math bench_math = PD_MATH_F32; /* --bf16 */

/* a graph in the arithmetic of this run */
static pd_graph *new_graph(void) {
    pd_graph *g = pd_graph_new();
    if (!g) die("graph");
    pd_g_set_math(g, bench_math);
    return g;
}

/* training steps run as pd_model_train runs them: --batch-threads ranks
 * (default one per thread, model/thread_split.h), each on its rows of the
 * batch with one thread; rank 0 times the steps */
static int batch_threads; /* 0: the thread count */

typedef struct {
    const char *preset;
    size_t L;
    int half, reps;
} step_case;

static pd_status ae_rank(const pd_data_parallel *dp, int rank, void *ctx) {
    const step_case *sc = ctx;
    const size_t D = 2048, B = 200;
    pd_ae_config c;
    pd_ae_preset(&c, sc->preset, D);
    pd_ae ae;
    if (pd_ae_create(&ae, &c) != PD_OK) die("ae create");
    pd_rng r;
    pd_rng_seed(&r, 1, 0);
    pd_ae_init(&ae, &r);
    float *V = malloc(B * D * sizeof(float));
    if (!V) die("alloc");
    pd_rng_fill_normal(&r, V, B * D, 0.1f);
    pd_graph *g = new_graph();
    const pd_batch_split split = pd_batch_split_of(dp, B);
    double loss = 0.0, t[64];
    long step = 1;
    for (int w = 0; w < 2; w++) /* warm-up: the arena grows once */
        if (pd_ae_train_step_split(&ae, g, V, B, &split, &r, &OPT, step++, &loss) != PD_OK)
            die("ae step");
    if (!isfinite(loss)) die("ae loss");
    for (int i = 0; i < sc->reps; i++) {
        double t0 = bench_now_ms();
        if (pd_ae_train_step_split(&ae, g, V, B, &split, &r, &OPT, step++, &loss) != PD_OK)
            die("ae step");
        t[i] = bench_now_ms() - t0;
    }
    if (rank == 0) printf("ae_%s_D2048_B200  %.2f\n", sc->preset, bench_median(t, sc->reps));
    fflush(stdout);
    free(V);
    pd_graph_free(g);
    pd_ae_free(&ae);
    return PD_OK;
}

static void bench_ae(const char *preset, int reps) {
    step_case sc = {preset, 0, 0, reps};
    if (pd_thread_split_run(batch_threads, NULL, ae_rank, &sc)) die("ae ranks");
}

static void make_den(pd_den *d, size_t L, int half) {
    size_t s = half ? 2 : 1;
    pd_den_config c = {L, 1000, {64 / s, 128 / s, 256 / s, 512 / s}};
    if (pd_den_create(d, &c) != PD_OK) die("denoiser create");
    pd_rng r;
    pd_rng_seed(&r, 2, 0);
    pd_den_init(d, &r);
}

static pd_status den_rank(const pd_data_parallel *dp, int rank, void *ctx) {
    const step_case *sc = ctx;
    const size_t B = 200, L = sc->L;
    pd_den d;
    make_den(&d, L, sc->half);
    pd_diffusion df;
    if (pd_diffusion_init(&df, 1000, 1e-4, 2e-2) != PD_OK) die("schedule");
    pd_rng r;
    pd_rng_seed(&r, 3, 0);
    float *Z = malloc(B * L * sizeof(float)), *ema = malloc(d.params.total * sizeof(float));
    if (!Z || !ema) die("alloc");
    for (size_t i = 0; i < B * L; i++) Z[i] = 2.0f * pd_rng_uniform(&r) - 1.0f;
    memcpy(ema, d.params.data, d.params.total * sizeof(float));
    pd_graph *g = new_graph();
    const pd_batch_split split = pd_batch_split_of(dp, B);
    double loss = 0.0, t[64];
    long step = 1;
    for (int w = 0; w < 2; w++)
        if (pd_ddpm_train_step_split(&d, &df, g, Z, B, &split, &r, &OPT, step++, ema, 0.9999f,
                                     &loss) != PD_OK)
            die("ddpm step");
    if (!isfinite(loss)) die("ddpm loss");
    for (int i = 0; i < sc->reps; i++) {
        double t0 = bench_now_ms();
        if (pd_ddpm_train_step_split(&d, &df, g, Z, B, &split, &r, &OPT, step++, ema, 0.9999f,
                                     &loss) != PD_OK)
            die("ddpm step");
        t[i] = bench_now_ms() - t0;
    }
    if (rank == 0)
        printf("den_L%zu_%s_B200  %.2f\n", L, sc->half ? "half" : "full",
               bench_median(t, sc->reps));
    fflush(stdout);
    free(Z);
    free(ema);
    pd_graph_free(g);
    pd_diffusion_free(&df);
    pd_den_free(&d);
    return PD_OK;
}

static void bench_den(size_t L, int half, int reps) {
    step_case sc = {NULL, L, half, reps};
    if (pd_thread_split_run(batch_threads, NULL, den_rank, &sc)) die("ddpm ranks");
}

/* sampling 100 latents of L = 12; ddpm_T < 1000 times a shorter chain of
 * the same network and scales the time to 1000 steps */
static void bench_sample(int ddim, size_t ddpm_T) {
    const size_t N = 100, L = 12;
    pd_den d;
    make_den(&d, L, 0);
    pd_diffusion df;
    size_t T = ddim ? 1000 : ddpm_T;
    if (pd_diffusion_init(&df, 1000, 1e-4, 2e-2) != PD_OK) die("schedule");
    if (T != 1000) { /* same network, a shorter schedule for --quick */
        pd_diffusion_free(&df);
        if (pd_diffusion_init(&df, T, 1e-4, 2e-2) != PD_OK) die("schedule");
        d.cfg.T = T; /* the time table keeps its rows; only t < T are used */
    }
    float *out = malloc(N * L * sizeof(float));
    if (!out) die("alloc");
    pd_graph *g = new_graph();
    pd_rng r;
    pd_rng_seed(&r, 4, 0);
    double t0 = bench_now_ms();
    pd_status s = ddim ? pd_ddim_sample(&d, NULL, &df, g, N, 50, 0.0f, &r, out, NULL, NULL)
                       : pd_ddpm_sample(&d, NULL, &df, g, N, &r, out, NULL, NULL);
    double ms = (bench_now_ms() - t0) * (ddim ? 1.0 : 1000.0 / (double)T);
    if (s != PD_OK) die("sampling");
    for (size_t i = 0; i < N * L; i++)
        if (!(fabsf(out[i]) <= 1.0f)) die("sample outside [-1, 1]");
    if (ddim)
        printf("sample_ddim50_N100_L12  %.2f\n", ms);
    else
        printf("sample_ddpm1000_N100_L12  %.2f%s\n", ms, T != 1000 ? "  (scaled from 100 steps)" : "");
    fflush(stdout);
    d.cfg.T = 1000;
    free(out);
    pd_graph_free(g);
    pd_diffusion_free(&df);
    pd_den_free(&d);
}

static const char *only = ""; /* --only: a case-name prefix */

/* whether a case named `name...` runs: `only` is a prefix of it, or the
 * case name a prefix of `only` */
static int wanted(const char *name) {
    size_t a = strlen(only), b = strlen(name);
    return strncmp(only, name, a < b ? a : b) == 0;
}

int main(int argc, char **argv) {
    int threads = 2, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--bf16") == 0)
            bench_math = PD_MATH_BF16;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--batch-threads") == 0 && i + 1 < argc)
            batch_threads = atoi(argv[++i]);
        else
            threads = atoi(argv[i]);
    }
    pd_set_threads(threads);
    if (batch_threads <= 0) batch_threads = pd_threads();
    const int reps = quick ? 3 : 10;
    printf("# pdiff bench_model: threads=%d, batch threads %d, median ms per call\n",
           pd_threads(), batch_threads);
    if (wanted("ae_small")) bench_ae("small", reps);
    if (wanted("ae_medium")) bench_ae("medium", reps);
    if (wanted("den_L12_full")) bench_den(12, 0, reps);
    if (wanted("den_L12_half")) bench_den(12, 1, reps);
    if (wanted("den_L52_full")) bench_den(52, 0, reps);
    if (wanted("den_L52_half")) bench_den(52, 1, reps);
    if (wanted("sample_ddpm")) bench_sample(0, quick ? 100 : 1000);
    if (wanted("sample_ddim")) bench_sample(1, 1000);
    return 0;
}
