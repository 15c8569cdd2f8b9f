/*
 * pca.c — see pca.h.
 * The n × d centred data Xc has the same nonzero spectrum as both
 * Xc Xcᵀ (n × n) and Xcᵀ Xc (d × d); the smaller one is formed once (BLAS
 * syrk, in double on centred chunks, so a large mean costs no precision)
 * and power-iterated, which makes the cost independent of how slowly the
 * iteration converges. With the n × n form, the axes are Xcᵀ e / |Xcᵀ e|.
 */
#include "pca.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PCA_MAX_ITERS 1000
#define PCA_TOL 1e-12         /* 1 - |cos| between successive axes */
#define RNG_STREAM_PCA 0x5ca1ull
#define PCA_CHUNK 256


void pd_pca_free(pd_pca_basis *b) {
    free(b->mean);
    free(b->v);
    b->mean = b->v = NULL;
}

static double dotd(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* s[k] = (x - mean) · v_k for both axes;  x (d) */
void pd_pca_project(const pd_pca_basis *b, const float *x, double s[2]) {
    const double *v0 = b->v, *v1 = b->v + b->d;
    double a = 0, c = 0;
    for (size_t j = 0; j < b->d; j++) {
        double xc = (double)x[j] - b->mean[j];
        a += xc * v0[j];
        c += xc * v1[j];
    }
    s[0] = a;
    s[1] = c;
}

/* M (m, m) ← Xc Xcᵀ when n <= d (m = n), else Xcᵀ Xc (m = d); both halves
 * filled. Y: scratch of PCA_CHUNK × max(n, d) doubles. */
static void pca_gram(double *M, double *Y, const pd_pca_basis *b, const float *const *rows,
                     size_t n) {
    size_t d = b->d, m = n <= d ? n : d;
    memset(M, 0, m * m * sizeof *M);
    if (n <= d) {
        for (size_t j0 = 0; j0 < d; j0 += PCA_CHUNK) { /* column chunks: Y (n, B) */
            size_t B = d - j0 < PCA_CHUNK ? d - j0 : PCA_CHUNK;
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < B; j++) Y[i * B + j] = rows[i][j0 + j] - b->mean[j0 + j];
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)B, 1.0, Y, (int)B,
                        1.0, M, (int)n);
        }
    } else {
        for (size_t i0 = 0; i0 < n; i0 += PCA_CHUNK) { /* row chunks: Y (B, d) */
            size_t B = n - i0 < PCA_CHUNK ? n - i0 : PCA_CHUNK;
            for (size_t i = 0; i < B; i++)
                for (size_t j = 0; j < d; j++) Y[i * d + j] = rows[i0 + i][j] - b->mean[j];
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)B, 1.0, Y, (int)d,
                        1.0, M, (int)d);
        }
    }
    for (size_t i = 0; i < m; i++)
        for (size_t k = 0; k < i; k++) M[i * m + k] = M[k * m + i];
}

/* Gram–Schmidt on the two rows of w (2, m); a row whose norm is not above
 * thr becomes zero (the data has no variance left in that direction). */
static void orthonormalise(double *w, size_t m, double thr) {
    double *w0 = w, *w1 = w + m;
    double n0 = sqrt(dotd(w0, w0, m));
    if (!(n0 > thr)) {
        memset(w, 0, 2 * m * sizeof *w);
        return;
    }
    for (size_t j = 0; j < m; j++) w0[j] /= n0;
    for (int pass = 0; pass < 2; pass++) { /* twice: classical GS loses orthogonality */
        double p = dotd(w0, w1, m);
        for (size_t j = 0; j < m; j++) w1[j] -= p * w0[j];
    }
    double n1 = sqrt(dotd(w1, w1, m));
    if (!(n1 > thr)) memset(w1, 0, m * sizeof *w1);
    else
        for (size_t j = 0; j < m; j++) w1[j] /= n1;
}

/* 1 - |cos| between a new and an old vector; 0 when both are zero */
static double axis_change(const double *a, const double *b, size_t m) {
    double na = dotd(a, a, m), nb = dotd(b, b, m);
    if (na == 0 && nb == 0) return 0;
    if (na == 0 || nb == 0) return 1;
    return 1 - fabs(dotd(a, b, m)) / sqrt(na * nb);
}

/* w (2, m) ← M E for the two rows of E (2, m);  M (m, m) symmetric */
static void symv2(double *w, const double *M, const double *E, size_t m) {
    for (size_t i = 0; i < m; i++) {
        w[i] = dotd(M + i * m, E, m);
        w[m + i] = dotd(M + i * m, E + m, m);
    }
}

/* Top two eigenvectors E (2, m) and eigenvalues lam of the symmetric
 * positive semi-definite M (m, m): block power iteration, then Rayleigh–
 * Ritz within the two-vector subspace (exact eigenvectors there even if
 * the iteration stopped early). w: scratch (2, m). */
static void top2_eig(double *E, double lam[2], double *w, const double *M, size_t m,
                     double thr, pd_rng *r) {
    for (size_t j = 0; j < 2 * m; j++) E[j] = pd_rng_normal(r);
    orthonormalise(E, m, 0);
    for (int it = 0; it < PCA_MAX_ITERS; it++) {
        symv2(w, M, E, m);
        orthonormalise(w, m, thr);
        double c0 = axis_change(w, E, m), c1 = axis_change(w + m, E + m, m);
        memcpy(E, w, 2 * m * sizeof *w);
        if (c0 < PCA_TOL && c1 < PCA_TOL) break;
    }
    symv2(w, M, E, m);
    double h00 = dotd(E, w, m), h01 = dotd(E, w + m, m), h11 = dotd(E + m, w + m, m);
    double th = 0.5 * atan2(2 * h01, h00 - h11), cs = cos(th), sn = sin(th);
    for (size_t j = 0; j < m; j++) {
        double a = E[j], c = E[m + j];
        E[j] = cs * a + sn * c;
        E[m + j] = -sn * a + cs * c;
    }
    lam[0] = cs * cs * h00 + 2 * sn * cs * h01 + sn * sn * h11;
    lam[1] = sn * sn * h00 - 2 * sn * cs * h01 + cs * cs * h11;
}

/* top-2 principal axes of the n rows (each of length d) */
pd_status pd_pca_fit(pd_pca_basis *b, const float *const *rows, size_t n, size_t d,
                         uint64_t seed) {
    memset(b, 0, sizeof *b);
    size_t m = n <= d ? n : d, big = n <= d ? d : n;
    if (m > PD_PCA_MAX_SIDE || big > (size_t)INT_MAX)
        return pd_fail(PD_ERR_ARG, "PCA: %zu rows of %zu values is too large (limit: rows or "
                       "values <= %d)", n, d, PD_PCA_MAX_SIDE);
    b->d = d;
    b->mean = calloc(d ? d : 1, sizeof *b->mean);
    b->v = calloc(d ? 2 * d : 1, sizeof *b->v);
    double *M = malloc((m ? m * m : 1) * sizeof *M);
    double *Y = malloc((size_t)PCA_CHUNK * (big ? big : 1) * sizeof *Y);
    double *E = malloc((m ? 2 * m : 1) * sizeof *E), *w = malloc((m ? 2 * m : 1) * sizeof *w);
    pd_status st = PD_OK;
    if (!b->mean || !b->v || !M || !Y || !E || !w) {
        st = pd_fail(PD_ERR_NOMEM, "PCA: out of memory for %zu rows of %zu values", n, d);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) b->mean[j] += rows[i][j];
    for (size_t j = 0; j < d && n; j++) b->mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double xc = (double)rows[i][j] - b->mean[j];
            b->total += xc * xc;
        }
    if (!(b->total > 0)) goto done; /* all rows equal: both axes zero, scores 0 */
    pca_gram(M, Y, b, rows, n);
    /* |M e| is about the eigenvalue; below 1e-12 of the trace is rounding */
    double thr = 1e-12 * b->total, lam[2];
    pd_rng r;
    pd_rng_seed(&r, seed, RNG_STREAM_PCA);
    top2_eig(E, lam, w, M, m, thr, &r);
    for (int k = 0; k < 2; k++) {
        double *v = b->v + (size_t)k * d, *e = E + (size_t)k * m;
        if (!(lam[k] > thr)) continue; /* no variance: zero axis */
        b->var[k] = lam[k];
        if (n <= d) { /* v = Xcᵀ e / |Xcᵀ e|, and |Xcᵀ e|² = eᵀ M e = λ */
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < d; j++) v[j] += e[i] * ((double)rows[i][j] - b->mean[j]);
            double nv = sqrt(dotd(v, v, d));
            for (size_t j = 0; j < d; j++) v[j] /= nv;
        } else {
            memcpy(v, e, d * sizeof *v);
        }
        /* sign convention: the largest-magnitude component is positive */
        double top = 0;
        for (size_t j = 0; j < d; j++)
            if (fabs(v[j]) > fabs(top)) top = v[j];
        if (top < 0)
            for (size_t j = 0; j < d; j++) v[j] = -v[j];
    }
done:
    free(M);
    free(Y);
    free(E);
    free(w);
    if (st) pd_pca_free(b);
    return st;
}

pd_status pd_pca2(float *out, const float *X, size_t n, size_t d, uint64_t seed) {
    if (n == 0) return PD_OK;
    if (!out || !X) return pd_fail(PD_ERR_ARG, "pd_pca2: NULL argument");
    const float **rows = malloc(n * sizeof *rows);
    if (!rows) return pd_fail(PD_ERR_NOMEM, "pd_pca2: out of memory for %zu rows", n);
    for (size_t i = 0; i < n; i++) rows[i] = X + i * d;
    pd_pca_basis b;
    pd_status st = pd_pca_fit(&b, rows, n, d, seed);
    if (st == PD_OK)
        for (size_t i = 0; i < n; i++) {
            double s[2];
            pd_pca_project(&b, rows[i], s);
            out[2 * i] = (float)s[0];
            out[2 * i + 1] = (float)s[1];
        }
    pd_pca_free(&b);
    free(rows);
    return st;
}
