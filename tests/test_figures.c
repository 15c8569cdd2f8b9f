/*
 * test_figures.c — pdiff eval's figures: PCA recovers known axes (scores
 * correlate with the true coordinates, do not depend on the seed, stay
 * finite on degenerate data); pd_figures_write on small synthetic inputs
 * in a temp dir writes every expected PNG (checked by magic bytes), its
 * TSV with the right number of rows (non-finite generated rows left out),
 * skips figures without inputs (removing a stale PNG), handles N = 0,
 * K = 1 and all-NaN inputs, reports a missing gnuplot as PD_ERR_NOTFOUND
 * with data and scripts still written, and rejects bad arguments.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "figures.h"
#include "pca.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

static char tmpdir[64];
static int have_gnuplot;


static int setup_dir(void **state) {
    (void)state;
    strcpy(tmpdir, "/tmp/pd_fig_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    tu_rm_tree(tmpdir);
    return 0;
}

static int file_exists(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/figures/%s", tmpdir, name);
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* the file is there, non-empty and starts with the PNG signature */
static void assert_png(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/figures/%s", tmpdir, name);
    FILE *f = fopen(p, "rb");
    if (!f) fail_msg("%s was not written", p);
    unsigned char sig[8] = {0};
    size_t got = fread(sig, 1, 8, f);
    fclose(f);
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (got != 8 || memcmp(sig, png, 8) != 0) fail_msg("%s is not a PNG", p);
}

/* data lines (not comments, not blank) in block `index` of a TSV file;
 * blocks are separated by two blank lines; index < 0 counts all blocks */
static size_t tsv_rows(const char *name, int index, size_t *cols) {
    char p[512], line[1 << 16];
    snprintf(p, sizeof p, "%s/figures/%s", tmpdir, name);
    FILE *f = fopen(p, "r");
    if (!f) fail_msg("%s missing", p);
    size_t rows = 0;
    int block = 0, blank = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '\n') {
            if (++blank == 2) block++;
            continue;
        }
        blank = 0;
        if (line[0] == '#') continue;
        if (index >= 0 && block != index) continue;
        rows++;
        if (strstr(line, "nan") || strstr(line, "inf")) fail_msg("%s: non-finite value", p);
        if (cols) {
            *cols = 1;
            for (char *c = line; *c; c++) *cols += *c == '\t';
        }
    }
    fclose(f);
    return rows;
}

static double corr(const float *a, size_t stride, const double *b, size_t n) {
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i * stride];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double x = a[i * stride] - ma, y = b[i] - mb;
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    return sab / sqrt(saa * sbb);
}

/* ---- PCA ----------------------------------------------------------------- */

/* points = c + 3 a u + b w + 0.01 noise: PC1 ~ a, PC2 ~ b */
static void test_pca_axes(void **state) {
    (void)state;
    enum { n = 200, d = 50 };
    pd_rng r;
    pd_rng_seed(&r, 7, 0);
    float u[d], w[d], *X = malloc(n * d * sizeof *X), *s1 = malloc(2 * n * sizeof *s1),
                       *s2 = malloc(2 * n * sizeof *s2);
    double a[n], b[n], nu = 0, dot = 0, nw = 0;
    for (size_t j = 0; j < d; j++) u[j] = pd_rng_normal(&r), nu += (double)u[j] * u[j];
    for (size_t j = 0; j < d; j++) u[j] /= (float)sqrt(nu);
    for (size_t j = 0; j < d; j++) w[j] = pd_rng_normal(&r), dot += (double)w[j] * u[j];
    for (size_t j = 0; j < d; j++) w[j] -= (float)dot * u[j], nw += (double)w[j] * w[j];
    for (size_t j = 0; j < d; j++) w[j] /= (float)sqrt(nw);
    for (size_t i = 0; i < n; i++) {
        a[i] = pd_rng_normal(&r);
        b[i] = pd_rng_normal(&r);
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = 5.0f + (float)(3 * a[i]) * u[j] + (float)b[i] * w[j] +
                           0.01f * pd_rng_normal(&r);
    }
    assert_int_equal(pd_pca2(s1, X, n, d, 1), PD_OK);
    double c1 = corr(s1, 2, a, n), c2 = corr(s1 + 1, 2, b, n);
    if (!(fabs(c1) > 0.99)) fail_msg("PC1 vs true axis: |corr| = %g", fabs(c1));
    if (!(fabs(c2) > 0.99)) fail_msg("PC2 vs second axis: |corr| = %g", fabs(c2));
    /* scores are centred and scaled like the data (std of 3 a is ~3) */
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += s1[2 * i];
    for (size_t i = 0; i < n; i++) v += (double)s1[2 * i] * s1[2 * i];
    assert_true(fabs(m / n) < 1e-3);
    assert_true(sqrt(v / n) > 2.0 && sqrt(v / n) < 4.0);
    /* another seed: the same axes and, by the sign convention, the same signs */
    assert_int_equal(pd_pca2(s2, X, n, d, 99), PD_OK);
    TU_ASSERT_CLOSE(s2, s1, 2 * n, 1e-3, 1e-3);
    free(X);
    free(s1);
    free(s2);
}

/* equal rows, a single row and two rows (rank 1) give finite scores */
static void test_pca_degenerate(void **state) {
    (void)state;
    float X[3 * 4] = {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}, s[6];
    assert_int_equal(pd_pca2(s, X, 3, 4, 0), PD_OK);
    for (int i = 0; i < 6; i++) assert_true(s[i] == 0.0f);
    assert_int_equal(pd_pca2(s, X, 1, 4, 0), PD_OK);
    assert_true(s[0] == 0.0f && s[1] == 0.0f);
    float Y[2 * 3] = {0, 0, 0, 3, 4, 0}; /* distance 5: scores ±2.5, PC2 none */
    assert_int_equal(pd_pca2(s, Y, 2, 3, 0), PD_OK);
    assert_true(fabs(fabs(s[0]) - 2.5) < 1e-5 && fabs(s[0] + s[2]) < 1e-5);
    assert_true(fabs(s[1]) < 1e-5 && fabs(s[3]) < 1e-5);
}

/* ---- pd_figures_write ----------------------------------------------------- */

enum { K = 12, N = 8, D = 40, NI = 6 };

typedef struct {
    float O[K * D], G[N * D], iou[NI * NI];
    double oacc[K], gacc[N], oiou[K], giou[N], nacc[3][N], niou[3][N], facc[N], fiou[N];
    double onn[K], gnn[N];
    pd_fig_series base[4];
    size_t tsz[3];
    char model_dir[128];
    pd_figures_in in;
} fixture;

/* K originals near a two-level pattern (20 values near 1, 20 near 0),
 * N generated ones (row 2 diverged: a NaN), plausible accuracies / IoUs,
 * a 6 × 6 IoU matrix (3 originals), a loss log with a cut-off line. */
static void make_inputs(fixture *f) {
    pd_rng r;
    pd_rng_seed(&r, 3, 0);
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < D; j++)
            f->O[i * D + j] = (j < 20 ? 1.0f : 0.0f) + 0.05f * (float)i / K + 0.02f * pd_rng_normal(&r);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < D; j++)
            f->G[i * D + j] = (j < 20 ? 1.0f : 0.0f) + 0.04f * pd_rng_normal(&r);
    f->G[2 * D + 5] = NAN; /* a diverged generated model */
    for (size_t i = 0; i < K; i++) {
        f->oacc[i] = 90 + pd_rng_uniform(&r);
        f->oiou[i] = 0.8 + 0.1 * pd_rng_uniform(&r);
    }
    for (size_t i = 0; i < N; i++) {
        f->gacc[i] = i == 2 ? NAN : 89.5 + 2 * pd_rng_uniform(&r);
        f->giou[i] = i == 2 ? NAN : 0.6 + 0.2 * pd_rng_uniform(&r);
        for (int q = 0; q < 3; q++) {
            f->nacc[q][i] = 90 - q + pd_rng_uniform(&r);
            f->niou[q][i] = 0.95 - 0.05 * q;
        }
        f->facc[i] = 90.5 + 0.3 * pd_rng_uniform(&r);
        f->fiou[i] = 0.9 + 0.05 * pd_rng_uniform(&r);
    }
    for (size_t i = 0; i < NI; i++)
        for (size_t j = 0; j < NI; j++)
            f->iou[i * NI + j] = i == j ? 1.0f : (i < 3) == (j < 3) ? 0.8f : 0.6f;
    f->tsz[0] = 10, f->tsz[1] = 10, f->tsz[2] = 20;
    snprintf(f->model_dir, sizeof f->model_dir, "%s/model", tmpdir);
    mkdir(f->model_dir, 0777);
    char p[256];
    snprintf(p, sizeof p, "%s/train_log.jsonl", f->model_dir);
    FILE *lf = fopen(p, "w");
    assert_non_null(lf);
    for (int s = 50; s <= 500; s += 50)
        fprintf(lf, "{\"stage\":\"autoencoder\",\"step\":%d,\"loss\":%g}\n", s, 1.0 / s);
    fprintf(lf, "{\"stage\":\"autoencoder\",\"st\n"); /* a cut-off line */
    for (int s = 50; s <= 300; s += 50)
        fprintf(lf, "{\"stage\":\"ddpm\",\"step\":%d,\"loss\":%g}\n", s, 0.5 / s);
    fclose(lf);
    pd_figures_in *in = &f->in;
    in->out_dir = tmpdir;
    in->O = f->O, in->K = K, in->G = f->G, in->N = N, in->D = D;
    in->orig_test_acc = f->oacc, in->gen_test_acc = f->gacc;
    in->orig_max_iou = f->oiou, in->gen_max_iou = f->giou;
    static const char *const bname[4] = {"noise 0.01", "noise 0.05", "noise 0.1", "fine-tuned"};
    for (int q = 0; q < 4; q++)
        f->base[q] = (pd_fig_series){bname[q], q < 3 ? f->niou[q] : f->fiou,
                                     q < 3 ? f->nacc[q] : f->facc, N};
    in->baselines = f->base, in->n_baselines = 4;
    for (size_t k = 0; k < K; k++) f->onn[k] = 0.01 * (1.0 + (double)k);
    for (size_t i = 0; i < N; i++) f->gnn[i] = i == 3 ? NAN : 0.05 * (1.0 + (double)i);
    in->gen_nn_l2 = f->gnn, in->orig_nn_l2 = f->onn;
    in->iou_matrix = f->iou, in->iou_n = NI, in->iou_k = 3;
    in->model_dir = f->model_dir;
    in->seed = 1;
    in->tensor_sizes = f->tsz, in->n_tensors = 3;
}

static const char *const all_figs[] = {"accuracy", "similarity", "iou_matrix", "embedding",
                                       "heatmap",  "loss",       "memorization"};

/* Full inputs: every figure drawn; the data files hold exactly the finite
 * points. Then a rerun without the optional inputs removes their figures. */
static void test_all_figures(void **state) {
    (void)state;
    static fixture f;
    make_inputs(&f);
    pd_status st = pd_figures_write(&f.in);
    if (have_gnuplot && st != PD_OK) fail_msg("pd_figures_write: %s", pd_last_error());
    if (!have_gnuplot) {
        print_message("gnuplot absent: PNG checks skipped\n");
        assert_int_equal(st, PD_ERR_NOTFOUND);
    }
    char name[64];
    for (size_t i = 0; i < sizeof all_figs / sizeof *all_figs; i++) {
        snprintf(name, sizeof name, "%s.gp", all_figs[i]);
        assert_true(file_exists(name));
        snprintf(name, sizeof name, "%s.png", all_figs[i]);
        if (have_gnuplot) assert_png(name);
    }
    /* embedding blocks: 12 originals, 12 noisy originals, 7 finite generated */
    assert_int_equal(tsv_rows("embedding.tsv", 0, NULL), K);
    assert_int_equal(tsv_rows("embedding.tsv", 1, NULL), K);
    assert_int_equal(tsv_rows("embedding.tsv", 2, NULL), N - 1);
    /* heat map: 10 originals + 7 generated + 10 random rows, D columns */
    size_t cols = 0;
    assert_int_equal(tsv_rows("heatmap.tsv", -1, &cols), 10 + 7 + 10);
    assert_int_equal(cols, D);
    /* similarity: originals, 3 noise levels, fine-tuned, p-diff (7 finite) */
    assert_int_equal(tsv_rows("similarity.tsv", 0, NULL), K);
    assert_int_equal(tsv_rows("similarity.tsv", 5, NULL), N - 1);
    /* loss: the cut-off line is skipped */
    assert_int_equal(tsv_rows("loss.tsv", 0, NULL), 10);
    assert_int_equal(tsv_rows("loss.tsv", 1, NULL), 6);
    assert_int_equal(tsv_rows("iou_matrix_bars.tsv", -1, NULL), 4);
    /* memorization: one row per histogram bin */
    assert_true(tsv_rows("memorization.tsv", -1, NULL) > 0);

    /* second run without the optional inputs: their stale outputs go */
    f.in.iou_matrix = NULL;
    f.in.model_dir = NULL;
    f.in.n_baselines = 3; /* fine-tuned left out: similarity keeps 1 + 3 + 1 blocks */
    f.in.gen_nn_l2 = NULL;
    st = pd_figures_write(&f.in);
    assert_int_equal(st, have_gnuplot ? PD_OK : PD_ERR_NOTFOUND);
    assert_false(file_exists("iou_matrix.png") || file_exists("iou_matrix.tsv"));
    assert_false(file_exists("loss.png") || file_exists("loss.gp"));
    assert_false(file_exists("memorization.png") || file_exists("memorization.tsv"));
    assert_int_equal(tsv_rows("similarity.tsv", 4, NULL), N - 1); /* p-diff is block 4 now */
    if (have_gnuplot) assert_png("similarity.png");
}

/* N = 0, K = 1, nothing optional: only the accuracy and heat map figures */
static void test_edge_sizes(void **state) {
    (void)state;
    float O[5] = {1, 2, 3, 4, 5};
    double acc = 91.0;
    pd_figures_in in;
    memset(&in, 0, sizeof in);
    in.out_dir = tmpdir, in.O = O, in.K = 1, in.D = 5, in.orig_test_acc = &acc;
    pd_status st = pd_figures_write(&in);
    assert_int_equal(st, have_gnuplot ? PD_OK : PD_ERR_NOTFOUND);
    if (have_gnuplot) {
        assert_png("accuracy.png");
        assert_png("heatmap.png");
    }
    assert_false(file_exists("embedding.png") || file_exists("similarity.png"));
    /* all generated rows and accuracies non-finite, D = 1 */
    float G[3] = {NAN, INFINITY, NAN};
    double gacc[3] = {NAN, NAN, NAN};
    memset(&in, 0, sizeof in);
    in.out_dir = tmpdir, in.G = G, in.N = 3, in.D = 1, in.gen_test_acc = gacc;
    in.gen_max_iou = gacc;
    st = pd_figures_write(&in);
    assert_int_equal(st, have_gnuplot ? PD_OK : PD_ERR_NOTFOUND);
    for (size_t i = 0; i < sizeof all_figs / sizeof *all_figs; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.png", all_figs[i]);
        assert_false(file_exists(name));
    }
}

/* no gnuplot on PATH: a distinct status, data and scripts still there */
static void test_no_gnuplot(void **state) {
    (void)state;
    static fixture f;
    make_inputs(&f);
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", "/nonexistent-pdiff-test", 1);
    pd_status st = pd_figures_write(&f.in);
    if (saved) setenv("PATH", saved, 1);
    else unsetenv("PATH");
    free(saved);
    assert_int_equal(st, PD_ERR_NOTFOUND);
    assert_non_null(strstr(pd_last_error(), "gnuplot not found"));
    assert_true(file_exists("heatmap.tsv") && file_exists("heatmap.gp"));
    assert_false(file_exists("heatmap.png"));
}

static void test_bad_args(void **state) {
    (void)state;
    pd_figures_in in;
    memset(&in, 0, sizeof in);
    assert_int_equal(pd_figures_write(NULL), PD_ERR_ARG);
    assert_int_equal(pd_figures_write(&in), PD_ERR_ARG); /* no out_dir */
    in.out_dir = tmpdir, in.K = 3, in.D = 2;                /* K rows, O NULL */
    assert_int_equal(pd_figures_write(&in), PD_ERR_ARG);
}

int main(void) {
    have_gnuplot = system("command -v gnuplot >/dev/null 2>&1") == 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pca_axes),
        cmocka_unit_test(test_pca_degenerate),
        cmocka_unit_test_setup_teardown(test_all_figures, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_edge_sizes, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_no_gnuplot, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_args, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
