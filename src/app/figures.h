/*
 * figures.h — the figures of `pdiff eval`, drawn by gnuplot (pngcairo).
 *
 * pd_figures_write() puts, for every figure, a data file (NAME.tsv) and a
 * gnuplot script (NAME.gp) into out_dir/figures/ and then runs gnuplot on
 * each script, giving NAME.png. The scripts name their data files without
 * a directory, so `cd DIR/figures && gnuplot NAME.gp` redraws one by hand.
 *
 *   accuracy.png    test accuracy of originals vs generated (paper Fig. 6a)
 *   similarity.png  max IoU to the originals vs test accuracy: originals,
 *                   p-diff and every baseline given (Fig. 4b)
 *   memorization.png  distance of each generated vector to its nearest
 *                   original against the originals' own nearest-neighbour
 *                   distances (histograms on a log scale)
 *   iou_matrix.png  IoU heat map + the four averaged comparisons (Fig. 4a);
 *                   only when iou_matrix is given
 *   embedding.png   PCA of the parameter vectors: originals, generated and
 *                   noise-added originals (Fig. 4c uses t-SNE of latents)
 *   heatmap.png     parameters of 10 originals, 10 generated and 10
 *                   random-init vectors, each tensor min-max normalised to
 *                   the originals' range (Fig. 3, 6b)
 *   loss.png        autoencoder and DDPM training loss, log scale; only when
 *                   model_dir/train_log.jsonl exists
 *
 * A figure whose inputs are missing or too few is skipped (and its old PNG
 * removed). Non-finite generated rows / accuracies are left out.
 */
#ifndef PD_FIGURES_H
#define PD_FIGURES_H

#include <stddef.h>
#include <stdint.h>

#include "pdiff.h"

/* one kind of model in a scatter: n points (x[i], y[i]), non-finite skipped */
typedef struct {
    const char *name;
    const double *x, *y;
    size_t n;
} pd_fig_series;

typedef struct {
    const char *out_dir;      /* figures go to out_dir/figures/ (created) */
    const float *O;           /* original subset vectors (K, D) */
    size_t K;
    const float *G;           /* generated vectors (N, D); non-finite rows skipped */
    size_t N;
    size_t D;
    const double *orig_test_acc, *gen_test_acc; /* (K), (N) percent, NaN = unknown */
    const double *orig_max_iou, *gen_max_iou;   /* (K), (N) max IoU to any (other) original */
    /* baselines drawn beside p-diff in similarity.png, in order (may be
     * NULL / 0); see pd_fig_series */
    const pd_fig_series *baselines;
    size_t n_baselines;
    /* memorization.png: L2 of each generated vector to its nearest
     * original (N) and of each original to its nearest other (K); NULL:
     * the figure is skipped */
    const double *gen_nn_l2, *orig_nn_l2;
    const float *iou_matrix;  /* (iou_n, iou_n): first originals, then generated; may be NULL */
    size_t iou_n;
    const char *model_dir;    /* may be NULL: holds train_log.jsonl */
    uint64_t seed;
    /* optional extras (zero = unknown) */
    size_t iou_k;             /* how many leading iou_matrix rows are originals */
    const size_t *tensor_sizes; /* (n_tensors) sizes of the subset's tensors, in order,
                                 * summing to D: each is normalised on its own */
    size_t n_tensors;
} pd_figures_in;

/* Writes the figures. PD_ERR_NOTFOUND (a warning for the caller) when
 * gnuplot is not on PATH: the data and scripts are written all the same.
 * PD_ERR_IO when a file cannot be written or gnuplot fails on a script. */
pd_status pd_figures_write(const pd_figures_in *in);

/* (the embedding's PCA is app/pca.h) */

#endif
