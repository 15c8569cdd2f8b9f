/*
 * figures.c — see figures.h. Each figure is a pair of writers: the data
 * (TSV, "%.9g", non-finite points left out) and a gnuplot script that
 * draws it with the pngcairo terminal (gnuplot.h runs it).
 *
 * The embedding is PCA rather than the paper's t-SNE: it is deterministic,
 * has no perplexity to tune and needs no neighbour search, and its axes
 * mean something (the share of variance each explains is in the labels).
 */
#include "figures.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gnuplot.h"
#include "loss_log.h"
#include "pca.h"
#include "pdiff_io.h"

#define HIST_BINS 20          /* accuracy histogram */
#define HEAT_ROWS 10          /* models per block in heatmap.png */
#define HEAT_MAX_COLS 4096    /* parameters shown in heatmap.png */
#define EMBED_NOISE 0.05f     /* std of the noise added to originals (embedding) */
#define RNG_STREAM_NOISE 0x5ca2ull
#define RNG_STREAM_INIT 0x5ca3ull

/* ---- the figures' shared context ------------------------------------------ */

typedef struct {
    const pd_figures_in *in;
    char dir[PD_GP_PATH];     /* out_dir/figures */
    char gnuplot[PD_GP_PATH]; /* absolute path of the executable; "" = none */
} fig_ctx;

static int row_finite(const float *x, size_t d) {
    for (size_t j = 0; j < d; j++)
        if (!isfinite(x[j])) return 0;
    return 1;
}

/* pointers to the finite rows of A (n, d); returns how many (at most cap) */
static size_t finite_rows(const float **out, size_t cap, const float *A, size_t n, size_t d) {
    size_t m = 0;
    for (size_t i = 0; i < n && m < cap; i++)
        if (row_finite(A + i * d, d)) out[m++] = A + i * d;
    return m;
}

/* ---- accuracy.png (Fig. 6a) --------------------------------------------- */

/* Two overlaid histograms on shared bins spanning all finite accuracies.
 * Bars are the share of each group (in %), not counts, since K and N
 * usually differ (200 vs 100); the legend gives each group's size and mean. */

static pd_status fig_accuracy(const fig_ctx *c, int *drawn) {
    const pd_figures_in *in = c->in;
    const double *acc[2] = {in->orig_test_acc, in->gen_test_acc};
    size_t n[2] = {in->K, in->N}, m[2] = {0, 0};
    double lo = INFINITY, hi = -INFINITY, mean[2] = {0, 0};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; acc[s] && i < n[s]; i++)
            if (isfinite(acc[s][i])) {
                m[s]++;
                mean[s] += acc[s][i];
                lo = fmin(lo, acc[s][i]);
                hi = fmax(hi, acc[s][i]);
            }
    if (m[0] + m[1] == 0) return PD_OK;
    if (hi - lo < 1e-9) {
        lo -= 0.5;
        hi += 0.5;
    }
    double width = (hi - lo) / HIST_BINS, cnt[2][HIST_BINS] = {{0}};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; acc[s] && i < n[s]; i++) {
            if (!isfinite(acc[s][i])) continue;
            size_t b = (size_t)((acc[s][i] - lo) / width);
            cnt[s][b < HIST_BINS ? b : HIST_BINS - 1] += 1;
        }
        if (m[s]) mean[s] /= (double)m[s];
    }
    pd_gp_file d, g;
    pd_status st = pd_gp_open(&d, c->dir, "accuracy.tsv");
    if (st) return st;
    if ((st = pd_gp_open(&g, c->dir, "accuracy.gp"))) {
        pd_gp_close(&d);
        return st;
    }
    fprintf(d.f, "# bin centre: test accuracy (%%)\toriginals (%% of %zu)\tgenerated (%% of %zu)\n",
            m[0], m[1]);
    for (size_t b = 0; b < HIST_BINS; b++) {
        fprintf(d.f, "%.9g\t", lo + ((double)b + 0.5) * width);
        pd_gp_num(d.f, m[0] ? 100.0 * cnt[0][b] / (double)m[0] : NAN, '\t');
        pd_gp_num(d.f, m[1] ? 100.0 * cnt[1][b] / (double)m[1] : NAN, '\n');
    }
    pd_gp_begin(g.f, "accuracy", 900, 560);
    size_t skipped = 0;
    for (size_t i = 0; in->gen_test_acc && i < in->N; i++) skipped += !isfinite(in->gen_test_acc[i]);
    fprintf(g.f, "set title \"Test accuracy of the original and p-diff generated models (cf. Fig. 6a)%s\"\n",
            skipped ? "\\n(generated models with unknown accuracy left out)" : "");
    fprintf(g.f, "set xlabel 'test accuracy (%%)'\nset ylabel 'share of models (%%)'\n");
    fprintf(g.f, "set grid ytics lc rgb '#cccccc'\nset key top left box opaque\n");
    fprintf(g.f, "set boxwidth %.9g absolute\nset style fill transparent solid 0.45 border\n",
            width);
    fprintf(g.f, "set yrange [0:*]\nset xrange [%.9g:%.9g]\n", lo - width, hi + width);
    const char *sep = "plot ";
    if (m[0]) {
        fprintf(g.f, "%s'accuracy.tsv' using 1:2 with boxes lc rgb '#4c72b0' "
                     "title sprintf('originals (%zu, mean %%.2f%%%%)', %.9g)",
                sep, m[0], mean[0]);
        sep = ", \\\n     ";
    }
    if (m[1])
        fprintf(g.f, "%s'accuracy.tsv' using 1:3 with boxes lc rgb '#d62728' "
                     "title sprintf('p-diff generated (%zu, mean %%.2f%%%%)', %.9g)",
                sep, m[1], mean[1]);
    fprintf(g.f, "\n");
    *drawn = 1;
    return pd_gp_close2(&d, &g);
}

/* ---- similarity.png (Fig. 4b) ------------------------------------------- */

/* One scatter series per kind of model; a point needs both its max IoU and
 * its accuracy. p-diff is plotted last so it lies on top of the baselines. */

static pd_status fig_similarity(const fig_ctx *c, int *drawn) {
    const pd_figures_in *in = c->in;
    pd_gp_file d, g;
    pd_status st = pd_gp_open(&d, c->dir, "similarity.tsv");
    if (st) return st;
    fprintf(d.f, "# blocks (gnuplot index): x = max IoU of wrong predictions to the "
                 "originals, y = test accuracy (%%)\n");
    pd_gp_plot pl = {.len = 0, .blocks = 0};
    /* light to dark blues for the noise amplitudes, then distinct hues */
    static const char *const col[] = {"#c6dbef", "#9ecae1", "#6baed6", "#4292c6",
                                      "#2171b5", "#08306b", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    const char *f = "similarity.tsv";
    size_t pts = 0;
    pts += pd_gp_add_series(&pl, d.f, f, in->orig_max_iou, in->orig_test_acc, in->K, "original",
                      "pt 7 ps 0.8 lc rgb '#7f7f7f'");
    for (size_t k = 0; in->baselines && k < in->n_baselines; k++) {
        const pd_fig_series *b = &in->baselines[k];
        char style[64];
        snprintf(style, sizeof style, "pt %d ps 0.7 lc rgb '%s'", 5 + 2 * (int)(k % 4),
                 col[k % (sizeof col / sizeof *col)]);
        pts += pd_gp_add_series(&pl, d.f, f, b->x, b->y, b->n, b->name, style);
    }
    pts += pd_gp_add_series(&pl, d.f, f, in->gen_max_iou, in->gen_test_acc, in->N, "p-diff",
                      "pt 9 ps 1.1 lc rgb '#d62728'");
    if (pts == 0) {
        pd_gp_close(&d);
        return PD_OK;
    }
    if ((st = pd_gp_open(&g, c->dir, "similarity.gp"))) {
        pd_gp_close(&d);
        return st;
    }
    pd_gp_begin(g.f, "similarity", 1000, 600);
    fprintf(g.f, "set title \"Accuracy vs similarity to the originals (cf. Fig. 4b)\\n"
                 "noise and finetune: from each generated model's nearest original; "
                 "average: mean of 16 originals;\\ngaussian: each coordinate from the "
                 "originals' mean and sd\"\n");
    fprintf(g.f, "set xlabel 'max IoU of wrong predictions with any original'\n");
    fprintf(g.f, "set ylabel 'test accuracy (%%)'\nset grid lc rgb '#cccccc'\n");
    fprintf(g.f, "set key outside right top box title 'models (count)'\n");
    fprintf(g.f, "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\n");
    fprintf(g.f, "%s\n", pl.cmd);
    *drawn = 1;
    return pd_gp_close2(&d, &g);
}

static int cmp_ascending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- memorization.png ---------------------------------------------------- */

/* Histograms of log10 nearest-original distance: generated vectors against
 * the originals' own nearest-neighbour distances. Generated models far
 * closer to an original than the originals are to each other are copies. */

static pd_status fig_memorization(const fig_ctx *c, int *drawn) {
    const pd_figures_in *in = c->in;
    const double *v[2] = {in->orig_nn_l2, in->gen_nn_l2};
    size_t n[2] = {in->K, in->N}, m[2] = {0, 0}, zeros[2] = {0, 0};
    if (!v[0] || !v[1]) return PD_OK;
    /* exact copies (distance 0) cannot go on a log axis: they are drawn in
     * the first bin, at the smallest positive distance */
    double minpos = INFINITY;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < n[s]; i++)
            if (isfinite(v[s][i]) && v[s][i] > 0) minpos = fmin(minpos, v[s][i]);
    if (!isfinite(minpos)) minpos = 1e-6;
#define DIST(s, i) (v[s][i] > 0 ? v[s][i] : minpos)
    double lo = INFINITY, hi = -INFINITY, med[2] = {NAN, NAN};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < n[s]; i++)
            if (isfinite(v[s][i]) && v[s][i] >= 0) {
                m[s]++;
                zeros[s] += v[s][i] == 0;
                lo = fmin(lo, log10(DIST(s, i)));
                hi = fmax(hi, log10(DIST(s, i)));
            }
    if (!m[0] || !m[1]) return PD_OK;
    if (hi - lo < 1e-9) {
        lo -= 0.5;
        hi += 0.5;
    }
    double width = (hi - lo) / HIST_BINS, cnt[2][HIST_BINS] = {{0}};
    for (int s = 0; s < 2; s++) {
        double *sorted = malloc(m[s] * sizeof(double));
        if (!sorted) return pd_fail(PD_ERR_NOMEM, "out of memory");
        size_t q = 0;
        for (size_t i = 0; i < n[s]; i++) {
            if (!(isfinite(v[s][i]) && v[s][i] >= 0)) continue;
            sorted[q++] = v[s][i];
            size_t b = (size_t)((log10(DIST(s, i)) - lo) / width);
            cnt[s][b < HIST_BINS ? b : HIST_BINS - 1] += 1;
        }
#undef DIST
        qsort(sorted, q, sizeof *sorted, cmp_ascending); /* the legend's median */
        med[s] = q % 2 ? sorted[q / 2] : 0.5 * (sorted[q / 2 - 1] + sorted[q / 2]);
        free(sorted);
    }
    pd_gp_file d, g;
    pd_status st = pd_gp_open(&d, c->dir, "memorization.tsv");
    if (st) return st;
    if ((st = pd_gp_open(&g, c->dir, "memorization.gp"))) {
        pd_gp_close(&d);
        return st;
    }
    fprintf(d.f, "# bin centre: L2 to the nearest original\toriginals (%% of %zu)\t"
                 "generated (%% of %zu)\n", m[0], m[1]);
    for (size_t b = 0; b < HIST_BINS; b++) {
        fprintf(d.f, "%.9g\t", pow(10.0, lo + ((double)b + 0.5) * width));
        pd_gp_num(d.f, 100.0 * cnt[0][b] / (double)m[0], '\t');
        pd_gp_num(d.f, 100.0 * cnt[1][b] / (double)m[1], '\n');
    }
    pd_gp_begin(g.f, "memorization", 900, 560);
    fprintf(g.f, "set title \"Distance to the nearest original: generated vectors vs the "
                 "originals among themselves%s\"\n",
            zeros[0] + zeros[1] ? "\\n(exact copies, distance 0, are drawn in the first bin)" : "");
    fprintf(g.f, "set xlabel 'L2 distance to the nearest (other) original (log scale)'\n"
                 "set ylabel 'share of vectors (%%)'\nset logscale x\n"
                 "set grid ytics lc rgb '#cccccc'\nset key top left box opaque\n"
                 "set style fill transparent solid 0.45 border\nset yrange [0:*]\n");
    double f = pow(10.0, width);
    fprintf(g.f, "plot 'memorization.tsv' using 1:2:($1/%.9g):($1*%.9g):(0):2 with boxxy lc rgb "
                 "'#4c72b0' title sprintf('originals (%zu, median %%.3g)', %.9g), \\\n"
                 "     'memorization.tsv' using 1:3:($1/%.9g):($1*%.9g):(0):3 with boxxy lc rgb "
                 "'#d62728' title sprintf('p-diff generated (%zu, median %%.3g)', %.9g)\n",
            sqrt(f), sqrt(f), m[0], med[0], sqrt(f), sqrt(f), m[1], med[1]);
    *drawn = 1;
    return pd_gp_close2(&d, &g);
}

/* ---- iou_matrix.png (Fig. 4a) ------------------------------------------- */

/* The matrix as an image (row 0 at the top) and, when the originals /
 * generated split is known, the paper's four bars recomputed from it. */

static pd_status fig_iou(const fig_ctx *c, int *drawn) {
    const pd_figures_in *in = c->in;
    size_t n = in->iou_n, k = in->iou_k;
    const float *M = in->iou_matrix;
    if (!M || n < 2) return PD_OK;
    if (k >= n) k = 0; /* no boundary known */
    /* the paper's four averaged comparisons, over the models in the matrix */
    static const char *const label[4] = {"original vs original", "p-diff vs p-diff",
                                         "p-diff vs original", "p-diff vs nearest original"};
    double sum[4] = {0, 0, 0, 0};
    size_t cnt[4] = {0, 0, 0, 0};
    for (size_t i = 0; k && i < n; i++) {
        double best = -INFINITY;
        for (size_t j = 0; j < n; j++) {
            double v = M[i * n + j];
            if (i == j || !isfinite(v)) continue;
            int cls = i < k && j < k ? 0 : i >= k && j >= k ? 1 : i >= k ? 2 : -1;
            if (cls < 0) continue;
            sum[cls] += v;
            cnt[cls]++;
            if (cls == 2) best = fmax(best, v);
        }
        if (isfinite(best)) {
            sum[3] += best;
            cnt[3]++;
        }
    }
    int bars = cnt[0] + cnt[1] + cnt[2] + cnt[3] > 0;
    pd_gp_file d, g, b = {.f = NULL};
    pd_status st = pd_gp_open(&d, c->dir, "iou_matrix.tsv");
    if (st) return st;
    if ((st = pd_gp_open(&g, c->dir, "iou_matrix.gp"))) {
        pd_gp_close(&d);
        return st;
    }
    if (bars && (st = pd_gp_open(&b, c->dir, "iou_matrix_bars.tsv"))) {
        pd_gp_close2(&d, &g);
        return st;
    }
    fprintf(d.f, "# IoU of wrong predictions, %zu x %zu; first %zu rows/columns are originals\n",
            n, n, k);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) pd_gp_num(d.f, M[i * n + j], j + 1 < n ? '\t' : '\n');
    for (int q = 0; bars && q < 4; q++)
        if (cnt[q]) fprintf(b.f, "%s\t%.9g\n", label[q], sum[q] / (double)cnt[q]);
    pd_gp_begin(g.f, "iou_matrix", bars ? 1300 : 800, 650);
    fprintf(g.f, "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', "
                 "0.75 '#5ec962', 1 '#fde725')\n");
    if (bars) fprintf(g.f, "set multiplot title 'Similarity of wrong predictions (cf. Fig. 4a)'\n"
                           "set origin 0, 0\nset size 0.58, 0.95\n");
    fprintf(g.f, "set title '%s'\n", bars ? "IoU between models" :
                                            "IoU of wrong predictions between models (cf. Fig. 4a)");
    fprintf(g.f, "set xrange [-0.5:%zu.5]\nset yrange [%zu.5:-0.5]\nset size ratio -1\n",
            n - 1, n - 1);
    fprintf(g.f, "set cblabel 'IoU'\nunset key\n");
    if (k) {
        fprintf(g.f, "set xtics ('originals' %.1f, 'p-diff' %.1f) scale 0\n", (k - 1) / 2.0,
                (double)(k + n - 1) / 2.0);
        fprintf(g.f, "set ytics ('originals' %.1f, 'p-diff' %.1f) rotate by 90 center scale 0\n",
                (k - 1) / 2.0, (double)(k + n - 1) / 2.0);
        fprintf(g.f, "set arrow 1 from %zu.5, -0.5 to %zu.5, %zu.5 nohead front lc rgb 'white' lw 2\n",
                k - 1, k - 1, n - 1);
        fprintf(g.f, "set arrow 2 from -0.5, %zu.5 to %zu.5, %zu.5 nohead front lc rgb 'white' lw 2\n",
                k - 1, n - 1, k - 1);
    } else {
        fprintf(g.f, "set xlabel 'model'\nset ylabel 'model'\n");
    }
    fprintf(g.f, "plot 'iou_matrix.tsv' matrix with image\n");
    if (bars) {
        fprintf(g.f, "unset arrow\nunset xlabel\nunset ylabel\nset size noratio\n");
        fprintf(g.f, "set origin 0.58, 0.05\nset size 0.42, 0.85\n");
        fprintf(g.f, "set title \"mean IoU over pairs; nearest: each p-diff model's max over originals\"\n");
        fprintf(g.f, "set xrange [-0.6:%d.6]\nset yrange [0:1.1]\nset ytics auto norotate\n",
                (int)(cnt[0] != 0) + (cnt[1] != 0) + (cnt[2] != 0) + (cnt[3] != 0) - 1);
        fprintf(g.f, "set xtics rotate by 20 right scale 0\nset ylabel 'IoU'\n");
        fprintf(g.f, "set grid ytics lc rgb '#cccccc'\nset boxwidth 0.6\nset style fill solid 0.7\n");
        fprintf(g.f, "plot 'iou_matrix_bars.tsv' using 0:2:xtic(1) with boxes lc rgb '#4c72b0', \\\n"
                     "     '' using 0:($2 + 0.04):(sprintf('%%.3f', $2)) with labels\n");
        fprintf(g.f, "unset multiplot\n");
    }
    *drawn = 1;
    st = pd_gp_close2(&d, &g);
    pd_status sb = pd_gp_close(&b);
    return st ? st : sb;
}

/* ---- embedding.png (Fig. 4c, PCA) --------------------------------------- */

/* The axes are fitted on originals + generated only; the noise-added
 * originals are projected onto them, so noise cannot tilt the view. */

static pd_status fig_embedding(const fig_ctx *c, int *drawn) {
    const pd_figures_in *in = c->in;
    size_t D = in->D, K = in->O ? in->K : 0, N = in->G ? in->N : 0;
    if (D == 0 || K + N < 2) return PD_OK;
    const float **rows = malloc((K + N) * sizeof *rows);
    float *noisy = malloc(D * sizeof *noisy);
    double *xy = malloc(2 * (2 * K + N + 1) * sizeof *xy); /* x then y per series */
    if (!rows || !noisy || !xy) {
        free(rows);
        free(noisy);
        free(xy);
        return pd_fail(PD_ERR_NOMEM, "embedding: out of memory");
    }
    size_t ko = finite_rows(rows, K, in->O, K, D);
    size_t ng = finite_rows(rows + ko, N, in->G, N, D);
    pd_pca_basis b = {0};
    pd_status st = PD_OK;
    if (ko + ng < 2) goto done; /* too few points to show */
    size_t nfit = ko + ng; /* PCA needs min(rows, D) <= PD_PCA_MAX_SIDE */
    if (nfit > PD_PCA_MAX_SIDE && D > PD_PCA_MAX_SIDE) nfit = PD_PCA_MAX_SIDE;
    if ((st = pd_pca_fit(&b, rows, nfit, D, in->seed))) goto done;
    /* scores: originals, generated, noise-added originals */
    size_t cnt[3] = {ko, ng, ko};
    double *sx[3], *sy[3];
    sx[0] = xy;
    sx[1] = sx[0] + ko;
    sx[2] = sx[1] + ng;
    sy[0] = sx[2] + ko;
    sy[1] = sy[0] + ko;
    sy[2] = sy[1] + ng;
    pd_rng r;
    pd_rng_seed(&r, in->seed, RNG_STREAM_NOISE);
    for (size_t i = 0; i < ko + ng; i++) {
        double s[2];
        pd_pca_project(&b, rows[i], s);
        int ser = i < ko ? 0 : 1;
        size_t at = i < ko ? i : i - ko;
        sx[ser][at] = s[0];
        sy[ser][at] = s[1];
    }
    for (size_t i = 0; i < ko; i++) {
        for (size_t j = 0; j < D; j++) noisy[j] = rows[i][j] + EMBED_NOISE * pd_rng_normal(&r);
        double s[2];
        pd_pca_project(&b, noisy, s);
        sx[2][i] = s[0];
        sy[2][i] = s[1];
    }
    pd_gp_file d, g;
    if ((st = pd_gp_open(&d, c->dir, "embedding.tsv"))) goto done;
    if ((st = pd_gp_open(&g, c->dir, "embedding.gp"))) {
        pd_gp_close(&d);
        goto done;
    }
    fprintf(d.f, "# PCA (fitted on originals + generated) of the %zu-parameter vectors: "
                 "PC1, PC2\n", D);
    pd_gp_plot pl = {.len = 0, .blocks = 0};
    char noise_title[64];
    snprintf(noise_title, sizeof noise_title, "original + N(0, %g^2) noise", (double)EMBED_NOISE);
    pd_gp_add_series(&pl, d.f, "embedding.tsv", sx[0], sy[0], cnt[0], "original",
               "pt 7 ps 0.9 lc rgb '#4c72b0'");
    pd_gp_add_series(&pl, d.f, "embedding.tsv", sx[2], sy[2], cnt[2], noise_title,
               "pt 6 ps 0.9 lc rgb '#ff7f0e'");
    pd_gp_add_series(&pl, d.f, "embedding.tsv", sx[1], sy[1], cnt[1], "p-diff generated",
               "pt 9 ps 1.1 lc rgb '#d62728'");
    double tot = b.total > 0 ? b.total : 1;
    pd_gp_begin(g.f, "embedding", 1100, 650);
    fprintf(g.f, "set title 'PCA of the parameter vectors (%zu parameters; cf. Fig. 4c, "
                 "which uses t-SNE of latents)'\n", D);
    fprintf(g.f, "set xlabel 'PC1 (%.1f%% of variance)'\n", 100 * b.var[0] / tot);
    fprintf(g.f, "set ylabel 'PC2 (%.1f%% of variance)'\n", 100 * b.var[1] / tot);
    fprintf(g.f, "set grid lc rgb '#cccccc'\nset key outside right top vertical box\n");
    fprintf(g.f, "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n");
    fprintf(g.f, "%s\n", pl.cmd);
    *drawn = 1;
    st = pd_gp_close2(&d, &g);
done:
    pd_pca_free(&b);
    free(rows);
    free(noisy);
    free(xy);
    return st;
}

/* ---- heatmap.png (Fig. 3, 6b) ------------------------------------------- */

/* mean and std of all values in m rows (D) */
static void block_stats(const float *const *rows, size_t m, size_t D, double *mean, double *sd) {
    double s = 0, s2 = 0, cnt = (double)m * (double)D;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < D; j++) s += rows[i][j];
    *mean = cnt > 0 ? s / cnt : NAN;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < D; j++) s2 += (rows[i][j] - *mean) * (rows[i][j] - *mean);
    *sd = cnt > 0 ? sqrt(s2 / cnt) : NAN;
}

/* Rows: up to 10 finite originals, up to 10 finite generated, 10 random
 * vectors. As in Fig. 3, each tensor is min-max normalised on its own (to
 * the range of all finite originals), so a tensor near 1 (BN weights) and
 * one near 0 (biases) both show their pattern. */
static pd_status fig_heatmap(const fig_ctx *c, int *drawn) {
    const pd_figures_in *in = c->in;
    size_t D = in->D, K = in->O ? in->K : 0, N = in->G ? in->N : 0;
    if (D == 0 || K == 0) return PD_OK;
    /* tensor boundaries, or the whole vector as one */
    size_t nseg = 1, one = D;
    const size_t *seg = &one;
    if (in->tensor_sizes && in->n_tensors) {
        size_t sum = 0;
        int ok = 1;
        for (size_t t = 0; t < in->n_tensors; t++) {
            ok &= in->tensor_sizes[t] > 0;
            sum += in->tensor_sizes[t];
        }
        if (ok && sum == D) {
            seg = in->tensor_sizes;
            nseg = in->n_tensors;
        }
    }
    const float **orig = malloc(K * sizeof *orig);
    float *rnd = malloc(HEAT_ROWS * D * sizeof *rnd);
    double *lo = malloc(nseg * sizeof *lo), *hi = malloc(nseg * sizeof *hi),
           *sd = malloc(nseg * sizeof *sd);
    const float *shown[3 * HEAT_ROWS];
    pd_status st = PD_OK;
    if (!orig || !rnd || !lo || !hi || !sd) {
        st = pd_fail(PD_ERR_NOMEM, "heatmap: out of memory");
        goto done;
    }
    size_t ko = finite_rows(orig, K, in->O, K, D);
    if (ko == 0) goto done;
    /* per tensor: the originals' range (for min-max) and std (random init) */
    for (size_t t = 0, at = 0; t < nseg; at += seg[t], t++) {
        double l = INFINITY, h = -INFINITY, s = 0, s2 = 0, cnt = (double)ko * (double)seg[t];
        for (size_t i = 0; i < ko; i++)
            for (size_t j = at; j < at + seg[t]; j++) {
                l = fmin(l, orig[i][j]);
                h = fmax(h, orig[i][j]);
                s += orig[i][j];
            }
        for (size_t i = 0; i < ko; i++)
            for (size_t j = at; j < at + seg[t]; j++)
                s2 += (orig[i][j] - s / cnt) * (orig[i][j] - s / cnt);
        lo[t] = l;
        hi[t] = h;
        sd[t] = sqrt(s2 / cnt);
    }
    pd_rng r;
    pd_rng_seed(&r, in->seed, RNG_STREAM_INIT);
    for (size_t i = 0; i < HEAT_ROWS; i++)
        for (size_t t = 0, at = 0; t < nseg; at += seg[t], t++)
            for (size_t j = at; j < at + seg[t]; j++)
                rnd[i * D + j] = (float)sd[t] * pd_rng_normal(&r);
    size_t m[3];
    m[0] = ko < HEAT_ROWS ? ko : HEAT_ROWS;
    memcpy(shown, orig, m[0] * sizeof *shown);
    m[1] = N ? finite_rows(shown + m[0], HEAT_ROWS, in->G, N, D) : 0;
    m[2] = HEAT_ROWS;
    for (size_t i = 0; i < HEAT_ROWS; i++) shown[m[0] + m[1] + i] = rnd + i * D;
    size_t rows = m[0] + m[1] + m[2], cols = D < HEAT_MAX_COLS ? D : HEAT_MAX_COLS;
    double mean[3], sdev[3];
    for (int q = 0, at = 0; q < 3; at += (int)m[q], q++)
        block_stats(shown + at, m[q], D, &mean[q], &sdev[q]);
    pd_gp_file d, g;
    if ((st = pd_gp_open(&d, c->dir, "heatmap.tsv"))) goto done;
    if ((st = pd_gp_open(&g, c->dir, "heatmap.gp"))) {
        pd_gp_close(&d);
        goto done;
    }
    fprintf(d.f, "# rows: %zu originals, %zu generated, %zu random-init; columns: parameters "
                 "0..%zu, each tensor min-max normalised to the originals' range, clipped "
                 "to [0, 1]\n", m[0], m[1], m[2], cols - 1);
    for (size_t i = 0; i < rows; i++)
        for (size_t t = 0, at = 0; t < nseg && at < cols; at += seg[t], t++)
            for (size_t j = at; j < at + seg[t] && j < cols; j++) {
                double v = hi[t] > lo[t] ? (shown[i][j] - lo[t]) / (hi[t] - lo[t]) : 0.5;
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                fprintf(d.f, "%.9g%c", v, j + 1 < cols ? '\t' : '\n');
            }
    pd_gp_begin(g.f, "heatmap", 1400, 620);
    /* title: the raw mean and std of each block shown, as in Fig. 6b */
    static const char *const what[3] = {"original", "p-diff",
                                        "random init N(0, s^2), s = originals' std per tensor"};
    fprintf(g.f, "set title \"Subset parameters (cf. Fig. 3, 6b): each tensor min-max "
                 "normalised to the originals' range\\n");
    for (int q = 0, first = 1; q < 3; q++) {
        if (!m[q]) continue;
        fprintf(g.f, "%s%s: mean %.3g, std %.3g", first ? "" : "   |   ", what[q], mean[q],
                sdev[q]);
        first = 0;
    }
    fprintf(g.f, "\"\n");
    fprintf(g.f, "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', "
                 "0.75 '#5ec962', 1 '#fde725')\n");
    fprintf(g.f, "set cbrange [0:1]\nset cblabel 'normalised value'\nunset key\n");
    fprintf(g.f, "set xrange [-0.5:%zu.5]\nset yrange [%zu.5:-0.5]\n", cols - 1, rows - 1);
    fprintf(g.f, "set xlabel 'parameter index%s'\n", cols < D ? " (first part of the vector)" : "");
    fprintf(g.f, "set ytics (");
    static const char *const block[3] = {"original", "p-diff", "random init"};
    for (int q = 0, at = 0, first = 1; q < 3; at += (int)m[q], q++) {
        if (!m[q]) continue;
        fprintf(g.f, "%s'%s' %.1f", first ? "" : ", ", block[q], at + (m[q] - 1) / 2.0);
        first = 0;
    }
    fprintf(g.f, ") scale 0\n");
    for (size_t q = 0, at = 0; q < 2; at += m[q], q++)
        if (at + m[q] < rows && m[q])
            fprintf(g.f, "set arrow from -0.5, %zu.5 to %zu.5, %zu.5 nohead front lc rgb "
                         "'white' lw 3\n", at + m[q] - 1, cols - 1, at + m[q] - 1);
    for (size_t t = 0, at = 0; nseg > 1 && nseg <= 64 && t + 1 < nseg; t++) {
        at += seg[t];
        if (at < cols)
            fprintf(g.f, "set arrow from %zu.5, graph 0 to %zu.5, graph 1 nohead front "
                         "lc rgb 'white' dt 2\n", at - 1, at - 1);
    }
    fprintf(g.f, "plot 'heatmap.tsv' matrix with image\n");
    *drawn = 1;
    st = pd_gp_close2(&d, &g);
done:
    free(orig);
    free(rnd);
    free(lo);
    free(hi);
    free(sd);
    return st;
}

/* ---- loss.png: model_dir/train_log.jsonl -------------------------------- */

static pd_status fig_loss(const fig_ctx *c, int *drawn) {
    const pd_figures_in *in = c->in;
    if (!in->model_dir) return PD_OK;
    char path[PD_GP_PATH + 32];
    snprintf(path, sizeof path, "%s/train_log.jsonl", in->model_dir);
    static const char *const stage[2] = {"autoencoder", "ddpm"};
    pd_loss_curve cv[2];
    pd_status st = pd_loss_log_read(path, stage, 2, cv);
    int panels = (cv[0].n > 0) + (cv[1].n > 0);
    if (st || panels == 0) goto done;
    pd_gp_file d, g;
    if ((st = pd_gp_open(&d, c->dir, "loss.tsv"))) goto done;
    if ((st = pd_gp_open(&g, c->dir, "loss.gp"))) {
        pd_gp_close(&d);
        goto done;
    }
    pd_gp_begin(g.f, "loss", panels == 2 ? 1300 : 800, 520);
    fprintf(g.f, "set logscale y\nset grid lc rgb '#cccccc'\nunset key\nset xlabel 'step'\n"
                 "set ylabel 'training loss (log scale)'\nset format y '10^{%%L}'\n");
    if (panels == 2) fprintf(g.f, "set multiplot layout 1,2 title 'Training loss'\n");
    static const char *const title[2] = {"autoencoder (reconstruction MSE)",
                                         "DDPM (noise-prediction MSE)"};
    static const char *const col[2] = {"#4c72b0", "#d62728"};
    for (int q = 0, block = 0; q < 2; q++) {
        if (!cv[q].n) continue;
        fprintf(d.f, "# %s: step, loss\n", stage[q]);
        for (size_t i = 0; i < cv[q].n; i++)
            fprintf(d.f, "%.9g\t%.9g\n", cv[q].step[i], cv[q].loss[i]);
        fprintf(d.f, "\n\n");
        fprintf(g.f, "set title '%s%s'\n", panels == 2 ? "" : "Training loss: ", title[q]);
        fprintf(g.f, "plot 'loss.tsv' index %d using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 "
                     "lc rgb '%s'\n", block++, col[q]);
    }
    if (panels == 2) fprintf(g.f, "unset multiplot\n");
    *drawn = 1;
    st = pd_gp_close2(&d, &g);
done:
    for (int q = 0; q < 2; q++) pd_loss_curve_free(&cv[q]);
    return st;
}

/* ---- driver -------------------------------------------------------------- */

/* A figure writer returns an error only for a failed write (which stops
 * everything); gnuplot failing on one script does not stop the others. */

typedef pd_status (*fig_fn)(const fig_ctx *c, int *drawn);

pd_status pd_figures_write(const pd_figures_in *in) {
    if (!in || !in->out_dir || !in->out_dir[0])
        return pd_fail(PD_ERR_ARG, "figures: no output directory");
    if ((in->K && !in->O) || (in->N && !in->G))
        return pd_fail(PD_ERR_ARG, "figures: K = %zu / N = %zu vectors but no data", in->K,
                       in->N);
    fig_ctx c;
    memset(&c, 0, sizeof c);
    c.in = in;
    int k = snprintf(c.dir, sizeof c.dir, "%s/figures", in->out_dir);
    if (k < 0 || (size_t)k >= sizeof c.dir)
        return pd_fail(PD_ERR_ARG, "%s: path too long", in->out_dir);
    pd_status st = pd_mkdir_p(c.dir);
    if (st) return st;
    int have = pd_gp_find_program(c.gnuplot, sizeof c.gnuplot, "gnuplot");
    static const struct {
        const char *name;
        fig_fn fn;
    } figs[] = {{"accuracy", fig_accuracy},     {"similarity", fig_similarity},
                {"iou_matrix", fig_iou},        {"embedding", fig_embedding},
                {"heatmap", fig_heatmap},       {"loss", fig_loss},
                {"memorization", fig_memorization}};
    pd_status plot_err = PD_OK;
    char first_msg[512] = "";
    for (size_t i = 0; i < sizeof figs / sizeof *figs; i++) {
        int drawn = 0;
        pd_gp_remove_outputs(c.dir, figs[i].name);
        if ((st = figs[i].fn(&c, &drawn))) return st;
        if (!drawn || !have) continue;
        if ((st = pd_gp_run(c.gnuplot, c.dir, figs[i].name)) && !plot_err) { /* keep going */
            plot_err = st;
            snprintf(first_msg, sizeof first_msg, "%s", pd_last_error());
        }
    }
    if (!have)
        return pd_fail(PD_ERR_NOTFOUND, "gnuplot not found: data and scripts are in %s", c.dir);
    if (plot_err) return pd_fail(plot_err, "%s", first_msg);
    return PD_OK;
}
