/*
 * pca.h — the first two principal axes of a set of rows, for the
 * embedding figure (figures.h): block power iteration on the smaller of
 * Xc Xcᵀ and Xcᵀ Xc (Xc the centred data), then a Rayleigh–Ritz step;
 * deterministic for a seed. Each axis's sign makes its largest-magnitude
 * component positive; a direction with no variance gives zero scores.
 */
#ifndef PD_PCA_H
#define PD_PCA_H

#include <stddef.h>
#include <stdint.h>

#include "pdiff.h"

#define PD_PCA_MAX_SIDE 4096 /* the Gram matrix is min(n, d)² doubles */

typedef struct {
    size_t d;
    double *mean;  /* (d) */
    double *v;     /* (2, d) unit axes; a zero row means "no variance left" */
    double var[2]; /* sum of squared scores along each axis */
    double total;  /* sum of squared centred norms (total variance × n) */
} pd_pca_basis;

/* top-2 principal axes of the n rows (each of length d); PD_ERR_ARG when
 * both n and d exceed PD_PCA_MAX_SIDE */
pd_status pd_pca_fit(pd_pca_basis *b, const float *const *rows, size_t n, size_t d,
                     uint64_t seed);
/* s[k] = (x − mean) · v_k for both axes; x (d) */
void pd_pca_project(const pd_pca_basis *b, const float *x, double s[2]);
void pd_pca_free(pd_pca_basis *b);

/* the scores of the rows of X on its first two principal axes:
 *   out (n, 2) ← X (n, d) */
pd_status pd_pca2(float *out, const float *X, size_t n, size_t d, uint64_t seed);

#endif
