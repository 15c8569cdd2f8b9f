/*
 * bench_conv.c — speed of the convolution kernels on the shapes p-diff
 * trains: every conv of the latent denoiser (docs/method.md §4) at L = 12 and 52, and
 * every conv / conv-transpose of the small and medium parameter
 * autoencoders (docs/method.md §3) at D = 2048; batch 200 everywhere.
 *
 * It first checks one small conv1d and conv_transpose1d against the naive
 * reference (exit 1 on mismatch), then prints OpenBLAS sgemm GFLOP/s at
 * 1024³ as the yardstick, and per layer the forward and forward+backward
 * GFLOP/s (forward = 2·MACs, forward+backward = 3× that: y, dx and dw) with
 * their ratio to sgemm. Each group ends with total FLOP / total time.
 * Times are medians of several repetitions, on 2 threads. The machine may
 * be shared, so the sgemm yardstick is re-measured right before every
 * layer and each ratio uses the figure taken next to it (the summary: the
 * median of the group's yardstick samples).
 *
 * usage: bench_conv [group [threads]]   group: all (default), den, ae;
 *        threads: 2 by default
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/ops/im2col.h"
#include "engine/ops/ops.h"
#include "ref/ref.h"
#include "bench_time.h"
#include "pdiff.h"

#define BATCH 200

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *falloc(size_t n) {
    float *p = pd_alloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "bench_conv: out of memory (%zu floats)\n", n);
        exit(1);
    }
    return p;
}

static void fill(pd_rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * pd_rng_uniform(r) - 1.0f;
}

/* ---- one layer: conv1d or conv_transpose1d ------------------------------ */

typedef struct {
    int transposed;
    size_t cin, cout, lin, k, stride, pad;
    int count; /* how often the shape occurs in the network */
} layer;

typedef struct {
    pd_conv1d_shape cs;
    pd_convt1d_shape ts;
    int transposed;
    size_t nx, nw, ny, nscr;
    float *x, *w, *b, *y, *dx, *dw, *db, *scr;
} layer_run;

/* the conv algorithm every layer runs with (PD_CONV_AUTO: the shape's rule) */
static pd_conv_algo bench_algo = PD_CONV_AUTO;

static void run_setup(layer_run *r, const layer *l, pd_rng *rng) {
    memset(r, 0, sizeof *r);
    r->transposed = l->transposed;
    r->nw = l->cin * l->cout * l->k;
    r->nx = BATCH * l->cin * l->lin;
    if (l->transposed) {
        r->ts = (pd_convt1d_shape){BATCH, l->cin, l->cout, l->lin, l->k,
                                   l->stride, l->pad, 0, PD_MATH_F32, bench_algo};
        r->ny = BATCH * l->cout * pd_convt1d_lout(&r->ts);
        r->nscr = pd_convt1d_scratch(&r->ts);
    } else {
        r->cs = (pd_conv1d_shape){BATCH, l->cin, l->cout, l->lin, l->k,
                                  l->stride, l->pad, PD_MATH_F32, bench_algo};
        r->ny = BATCH * l->cout * pd_conv1d_lout(&r->cs);
        r->nscr = pd_conv1d_scratch(&r->cs);
    }
    r->x = falloc(r->nx);
    r->w = falloc(r->nw);
    r->b = falloc(l->cout);
    r->y = falloc(r->ny);
    r->dx = falloc(r->nx);
    r->dw = falloc(r->nw);
    r->db = falloc(l->cout);
    r->scr = falloc(r->nscr);
    fill(rng, r->x, r->nx);
    fill(rng, r->w, r->nw);
    fill(rng, r->b, l->cout);
}

static void run_free(layer_run *r) {
    float *p[] = {r->x, r->w, r->b, r->y, r->dx, r->dw, r->db, r->scr};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) pd_free(p[i]);
}

static void run_forward(layer_run *r) {
    if (r->transposed) pd_convt1d_forward(r->y, r->x, r->w, r->b, &r->ts, r->scr);
    else pd_conv1d_forward(r->y, r->x, r->w, r->b, &r->cs, r->scr);
}

/* backward with y standing in for dy (its values do not matter for time) */
static void run_backward(layer_run *r) {
    if (r->transposed)
        pd_convt1d_backward(r->dx, r->dw, r->db, r->y, r->x, r->w, &r->ts, r->scr);
    else
        pd_conv1d_backward(r->dx, r->dw, r->db, r->y, r->x, r->w, &r->cs, r->scr);
}

static double layer_macs(const layer *l) {
    if (l->transposed) /* every input element meets cout*k weights */
        return (double)BATCH * (double)l->cin * (double)l->lin *
               (double)l->cout * (double)l->k;
    pd_conv1d_shape s = {BATCH, l->cin, l->cout, l->lin, l->k, l->stride,
                         l->pad, PD_MATH_F32, PD_CONV_AUTO};
    return (double)BATCH * (double)l->cout * (double)pd_conv1d_lout(&s) *
           (double)l->cin * (double)l->k;
}

/* median seconds of fn over enough repetitions for ~0.4 s (3..15) */
static double time_median(void (*fn)(layer_run *), layer_run *r, int both) {
    double t[15];
    double t0 = now();
    fn(r);
    if (both) run_backward(r);
    double first = now() - t0;
    int reps = first > 0 ? (int)(0.4 / first) : 15;
    if (reps < 3) reps = 3;
    if (reps > 15) reps = 15;
    for (int i = 0; i < reps; i++) {
        t0 = now();
        fn(r);
        if (both) run_backward(r);
        t[i] = now() - t0;
    }
    return bench_median(t, reps);
}

/* ---- the sgemm yardstick ------------------------------------------------ */

#define YARD_N 1024
#define YARD_MAX 64

typedef struct {
    float *a, *b, *c;
    double samples[YARD_MAX]; /* GFLOP/s, this group */
    int ns;
} yardstick;

/* median GFLOP/s of `reps` 1024³ sgemms, recorded as one group sample */
static double yard_sample(yardstick *y, int reps) {
    double t[16];
    for (int i = 0; i < reps; i++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, YARD_N, YARD_N,
                    YARD_N, 1.0f, y->a, YARD_N, y->b, YARD_N, 0.0f, y->c,
                    YARD_N);
        t[i] = now() - t0;
    }
    double g = 2.0 * YARD_N * YARD_N * YARD_N / bench_median(t, reps) * 1e-9;
    if (y->ns < YARD_MAX) y->samples[y->ns++] = g;
    return g;
}

typedef struct { double flop_f, time_f, flop_fb, time_fb; } totals;

static void bench_layer(const layer *l, yardstick *y, totals *tot, pd_rng *rng) {
    layer_run r;
    run_setup(&r, l, rng);
    double macs = layer_macs(l);
    double gemm = yard_sample(y, 3);
    double tf = time_median(run_forward, &r, 0);
    double tfb = time_median(run_forward, &r, 1);
    double gf = 2 * macs / tf * 1e-9, gfb = 6 * macs / tfb * 1e-9;
    size_t lout = r.ny / (BATCH * l->cout);
    printf("  %-5s %4zu->%-4zu k%zu s%zu p%zu  L %5zu->%-5zu x%d  "
           "fwd %6.1f GF/s (%4.2f)  fwd+bwd %6.1f GF/s (%4.2f)  %7.2f ms  "
           "[sgemm %5.1f]\n",
           l->transposed ? "convt" : "conv", l->cin, l->cout, l->k, l->stride,
           l->pad, l->lin, lout, l->count, gf, gf / gemm, gfb, gfb / gemm,
           tfb * 1e3, gemm);
    tot->flop_f += l->count * 2 * macs;
    tot->time_f += l->count * tf;
    tot->flop_fb += l->count * 6 * macs;
    tot->time_fb += l->count * tfb;
    run_free(&r);
}

static void summary(const char *name, const totals *t, yardstick *y) {
    double gf = t->flop_f / t->time_f * 1e-9, gfb = t->flop_fb / t->time_fb * 1e-9;
    double gemm = bench_median(y->samples, y->ns);
    y->ns = 0;
    printf("SUMMARY %-14s fwd %6.1f GF/s (%4.2f of sgemm)  fwd+bwd %6.1f GF/s "
           "(%4.2f of sgemm)  %.1f ms per fwd+bwd pass  [sgemm median %.1f]\n",
           name, gf, gf / gemm, gfb, gfb / gemm, t->time_fb * 1e3, gemm);
}

/* ---- the networks ------------------------------------------------------- */

/* denoiser (docs/method.md §4): every conv is k 3, stride 1, pad 1 at length L */
static void bench_denoiser(size_t L, yardstick *y, pd_rng *rng) {
    static const size_t shapes[][3] = {
        /* cin, cout, occurrences in enc1..4 / dec1..4 */
        {1, 64, 1},    {64, 64, 3},   {64, 128, 1},  {128, 128, 2},
        {128, 256, 1}, {256, 256, 2}, {256, 512, 1}, {512, 512, 1},
        {512, 256, 1}, {256, 128, 1}, {128, 64, 1},  {64, 1, 1},
    };
    printf("denoiser L=%zu, batch %d\n", L, BATCH);
    totals t = {0, 0, 0, 0};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        layer l = {0, shapes[i][0], shapes[i][1], L, 3, 1, 1, (int)shapes[i][2]};
        bench_layer(&l, y, &t, rng);
    }
    char name[32];
    snprintf(name, sizeof name, "denoiser L=%zu", L);
    summary(name, &t, y);
}

/* autoencoder (docs/method.md §3) layer list for D, fold f, kernel k, channels */
static void bench_autoencoder(const char *name, size_t D, size_t f, size_t k,
                              const size_t enc[4], const size_t dec[4],
                              yardstick *y, pd_rng *rng) {
    size_t f4 = f * f * f * f, len = (D / f4 + 1) * f4;
    size_t ec[5] = {enc[0], enc[0], enc[1], enc[2], enc[3]};
    size_t dc[5] = {dec[0], dec[1], dec[2], dec[3], 1};
    printf("autoencoder %s: D=%zu f=%zu k=%zu padded length %zu, batch %d\n",
           name, D, f, k, len, BATCH);
    totals t = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        layer a = {0, i == 0 ? 1 : ec[i], ec[i], len, k, 1, 1, 1};
        bench_layer(&a, y, &t, rng);
        len = len + 2 - k + 1;
        layer b = {0, ec[i], ec[i + 1], len, k, f, 0, 1};
        bench_layer(&b, y, &t, rng);
        len = (len - k) / f + 1;
    }
    for (int i = 0; i < 4; i++) {
        layer a = {1, dc[i], dc[i], len, k, f, 0, 1};
        bench_layer(&a, y, &t, rng);
        len = (len - 1) * f + k;
        size_t pad = i == 3 ? f : f - 1;
        layer b = {0, dc[i], dc[i + 1], len, k, 1, pad, 1};
        bench_layer(&b, y, &t, rng);
        len = len + 2 * pad - k + 1;
    }
    char full[48];
    snprintf(full, sizeof full, "AE %s", name);
    summary(full, &t, y);
}

/* ---- yardstick and self-check ------------------------------------------- */

/* worst |a - b| / (1e-5 + 1e-4 |b|) */
static double worst(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs((double)a[i] - b[i]) / (1e-5 + 1e-4 * fabs((double)b[i]));
        if (!(r <= w)) w = r;
    }
    return w;
}

/* small conv1d (stride 1 and 2) and conv_transpose1d layers, forward +
 * backward, against the reference, once per algorithm */
static int verify(pd_rng *rng) {
    static const layer ls[3] = {{0, 5, 7, 37, 3, 1, 1, 1},
                                {0, 5, 7, 37, 3, 2, 1, 1},
                                {1, 6, 4, 19, 5, 5, 0, 1}};
    static const pd_conv_algo algos[5] = {PD_CONV_AUTO, PD_CONV_DIRECT, PD_CONV_SHIFT,
                                          PD_CONV_IM2COL, PD_CONV_SAMPLE};
    int ok = 1;
    for (int a = 0; a < 5; a++) {
        bench_algo = algos[a];
        for (int i = 0; i < 3; i++) {
            layer_run r;
            run_setup(&r, &ls[i], rng);
            size_t nb = ls[i].cout;
            float *y = falloc(r.ny), *dx = falloc(r.nx), *dw = falloc(r.nw);
            float *db = falloc(nb);
            run_forward(&r);
            if (r.transposed) pd_ref_convt1d_forward(y, r.x, r.w, r.b, &r.ts);
            else pd_ref_conv1d_forward(y, r.x, r.w, r.b, &r.cs);
            double e = worst(r.y, y, r.ny);
            run_backward(&r); /* dy = y; gradients start at zero */
            if (r.transposed)
                pd_ref_convt1d_backward(dx, dw, db, r.y, r.x, r.w, &r.ts);
            else
                pd_ref_conv1d_backward(dx, dw, db, r.y, r.x, r.w, &r.cs);
            double ex = worst(r.dx, dx, r.nx), ew = worst(r.dw, dw, r.nw);
            double eb = worst(r.db, db, nb);
            if (!(e <= 1 && ex <= 1 && ew <= 1 && eb <= 1)) {
                fprintf(stderr,
                        "bench_conv: layer %d algorithm %d mismatch vs "
                        "reference (%g %g %g %g)\n",
                        i, (int)algos[a], e, ex, ew, eb);
                ok = 0;
            }
            pd_free(y);
            pd_free(dx);
            pd_free(dw);
            pd_free(db);
            run_free(&r);
        }
    }
    bench_algo = PD_CONV_AUTO;
    return ok;
}

int main(int argc, char **argv) {
    const char *group = argc > 1 ? argv[1] : "all";
    int den = !strcmp(group, "all") || !strcmp(group, "den");
    int ae = !strcmp(group, "all") || !strcmp(group, "ae");
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    /* optional: force one algorithm for every layer (where it applies) */
    static const char *const algo_names[] = {"auto", "shift", "im2col", "direct",
                                             "sample"};
    static const pd_conv_algo algo_ids[] = {PD_CONV_AUTO, PD_CONV_SHIFT, PD_CONV_IM2COL,
                                            PD_CONV_DIRECT, PD_CONV_SAMPLE};
    int algo = argc > 3 ? -1 : 0;
    for (int i = 0; argc > 3 && i < 5; i++)
        if (!strcmp(argv[3], algo_names[i])) algo = i;
    if ((!den && !ae) || threads < 1 || algo < 0) {
        fprintf(stderr, "usage: bench_conv [all|den|ae [threads [auto|shift|im2col|direct|sample]]]\n");
        return 2;
    }
    pd_set_threads(threads);
    pd_rng rng;
    pd_rng_seed(&rng, 1234, 0);
    if (!verify(&rng)) return 1;
    printf("verified conv1d and conv_transpose1d (every algorithm) against the "
           "reference\n");
    yardstick y = {falloc((size_t)YARD_N * YARD_N), falloc((size_t)YARD_N * YARD_N),
                   falloc((size_t)YARD_N * YARD_N), {0}, 0};
    fill(&rng, y.a, (size_t)YARD_N * YARD_N);
    fill(&rng, y.b, (size_t)YARD_N * YARD_N);
    yard_sample(&y, 1); /* warm-up */
    y.ns = 0;
    double gemm = yard_sample(&y, 7);
    y.ns = 0;
    printf("threads %d, OpenBLAS sgemm 1024^3: %.1f GFLOP/s, algorithm %s\n",
           pd_threads(), gemm, algo_names[algo]);
    bench_algo = algo_ids[algo];
    if (den) {
        bench_denoiser(12, &y, &rng);
        bench_denoiser(52, &y, &rng);
    }
    if (ae) {
        const size_t se[4] = {2, 2, 2, 2}, sd[4] = {2, 64, 64, 8};
        const size_t me[4] = {4, 4, 4, 4}, md[4] = {4, 256, 256, 8};
        bench_autoencoder("small", 2048, 3, 3, se, sd, &y, &rng);
        bench_autoencoder("medium", 2048, 5, 5, me, md, &y, &rng);
    }
    pd_free(y.a);
    pd_free(y.b);
    pd_free(y.c);
    return 0;
}
