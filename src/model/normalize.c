/*
 * normalize.c — see normalize.h. Statistics in double; the transform is
 * one subtract and one divide per value so that invert(apply(x)) returns x
 * to float rounding.
 */
#include "model/normalize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdiff_io.h"
#include "pdiff.h"

static const char *const kind_names[] = {"none", "tensor", "dim"};

const char *pd_normalize_name(pd_normalize_kind k) {
    return (unsigned)k < 3 ? kind_names[k] : "?";
}

int pd_normalize_parse(const char *name) {
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, kind_names[i])) return i;
    return -1;
}

static pd_status alloc_vectors(pd_normalizer *n, pd_normalize_kind kind, size_t D) {
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->D = D;
    n->shift = malloc((D ? D : 1) * sizeof(float));
    n->scale = malloc((D ? D : 1) * sizeof(float));
    if (!n->shift || !n->scale) {
        pd_normalizer_free(n);
        return pd_fail(PD_ERR_NOMEM, "out of memory");
    }
    return PD_OK;
}

/* mean and standard deviation of columns [j0, j1) of V, all rows together
 * (one tensor's values) */
static void block_moments(const float *V, size_t K, size_t D, size_t j0, size_t j1,
                          double *mean, double *sd) {
    double s = 0, s2 = 0, n = (double)K * (double)(j1 - j0);
    for (size_t k = 0; k < K; k++)
        for (size_t j = j0; j < j1; j++) s += V[k * D + j];
    double m = n > 0 ? s / n : 0;
    for (size_t k = 0; k < K; k++)
        for (size_t j = j0; j < j1; j++) {
            double d = V[k * D + j] - m;
            s2 += d * d;
        }
    *mean = m;
    *sd = n > 0 ? sqrt(s2 / n) : 0;
}

/* raise standard deviations below 1e-3 of their mean (1 when all are 0) */
static void floor_scales(float *scale, size_t D) {
    double mean = 0;
    for (size_t j = 0; j < D; j++) mean += scale[j];
    mean = D ? mean / (double)D : 0;
    float floor = mean > 0 ? (float)(1e-3 * mean) : 1.0f;
    for (size_t j = 0; j < D; j++)
        if (!(scale[j] >= floor)) scale[j] = floor;
}

pd_status pd_normalizer_fit(pd_normalizer *n, pd_normalize_kind kind, const float *V,
                            size_t K, size_t D, const size_t *tensor_sizes, size_t ntensors) {
    if ((unsigned)kind > PD_NORMALIZE_DIM)
        return pd_fail(PD_ERR_ARG, "unknown normalization kind %d", (int)kind);
    if (kind == PD_NORMALIZE_TENSOR && tensor_sizes) {
        size_t sum = 0;
        for (size_t t = 0; t < ntensors; t++) sum += tensor_sizes[t];
        if (sum != D)
            return pd_fail(PD_ERR_SHAPE, "normalize: tensor sizes sum to %zu, not D = %zu", sum, D);
    }
    pd_status st = alloc_vectors(n, kind, D);
    if (st) return st;
    if (kind == PD_NORMALIZE_NONE) {
        for (size_t j = 0; j < D; j++) {
            n->shift[j] = 0.0f;
            n->scale[j] = 1.0f;
        }
    } else if (kind == PD_NORMALIZE_DIM) {
        pd_column_moments(V, K, D, n->shift, n->scale);
        floor_scales(n->scale, D);
    } else {
        size_t one = D, nt = tensor_sizes ? ntensors : 1;
        const size_t *sizes = tensor_sizes ? tensor_sizes : &one;
        size_t j0 = 0;
        for (size_t t = 0; t < nt; t++) {
            double m, sd;
            block_moments(V, K, D, j0, j0 + sizes[t], &m, &sd);
            for (size_t j = j0; j < j0 + sizes[t]; j++) {
                n->shift[j] = (float)m;
                n->scale[j] = (float)sd;
            }
            j0 += sizes[t];
        }
        floor_scales(n->scale, D);
    }
    return PD_OK;
}

void pd_normalizer_apply(const pd_normalizer *n, float *V, size_t K) {
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < n->D; j++) {
            float *x = &V[k * n->D + j];
            *x = (*x - n->shift[j]) / n->scale[j];
        }
}

void pd_normalizer_invert(const pd_normalizer *n, float *V, size_t K) {
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < n->D; j++) {
            float *x = &V[k * n->D + j];
            *x = *x * n->scale[j] + n->shift[j];
        }
}

pd_status pd_normalizer_save(const pd_normalizer *n, const char *path) {
    pd_st_tensor t[2];
    memset(t, 0, sizeof t);
    snprintf(t[0].name, sizeof t[0].name, "shift");
    snprintf(t[1].name, sizeof t[1].name, "scale");
    for (int i = 0; i < 2; i++) {
        t[i].ndim = 1;
        t[i].shape[0] = t[i].numel = n->D;
    }
    t[0].data = n->shift;
    t[1].data = n->scale;
    const char *keys[] = {"kind"};
    const char *vals[] = {pd_normalize_name(n->kind)};
    return pd_st_write(path, t, 2, keys, vals, 1);
}

pd_status pd_normalizer_load(pd_normalizer *n, const char *path, size_t D) {
    memset(n, 0, sizeof *n);
    pd_st_file f;
    pd_status st = pd_st_read(path, &f);
    if (st) return st;
    const pd_st_tensor *sh = pd_st_find(&f, "shift"), *sc = pd_st_find(&f, "scale");
    int kind = pd_normalize_parse(pd_st_meta(&f, "kind"));
    if (kind < 0)
        st = pd_fail(PD_ERR_FORMAT, "%s: metadata 'kind' is missing or not none/tensor/dim", path);
    else if (!sh || !sc || sh->numel != D || sc->numel != D)
        st = pd_fail(PD_ERR_SHAPE, "%s: expected tensors 'shift' and 'scale' of %zu values", path, D);
    if (!st) st = alloc_vectors(n, (pd_normalize_kind)kind, D);
    if (!st) {
        memcpy(n->shift, sh->data, D * sizeof(float));
        memcpy(n->scale, sc->data, D * sizeof(float));
        for (size_t j = 0; j < D && !st; j++)
            if (!isfinite(n->shift[j]) || !(n->scale[j] > 0) || !isfinite(n->scale[j]))
                st = pd_fail(PD_ERR_FORMAT, "%s: element %zu of shift/scale is not a finite "
                                            "shift and positive scale", path, j);
        if (st) pd_normalizer_free(n);
    }
    pd_st_free(&f);
    return st;
}

void pd_normalizer_free(pd_normalizer *n) {
    free(n->shift);
    free(n->scale);
    n->shift = n->scale = NULL;
}
