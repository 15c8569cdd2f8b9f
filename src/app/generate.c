/*
 * generate.c — see generate.h.
 */
#include "generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdiff_io.h"

pd_status pd_generate_write(const pd_manifest *m, const char *ckpt_dir,
                            const char *out_dir, const float *V, size_t N,
                            size_t *nonfinite) {
    pd_status st = pd_mkdir_p(out_dir);
    if (st) return st;
    pd_atomic_sweep(out_dir); /* temp files of a killed run */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ckpt_dir, m->files[0]);
    pd_st_file tmpl;
    if ((st = pd_st_read(path, &tmpl))) return st;
    /* where each subset tensor sits in the template and in a row of V */
    size_t *idx = malloc(m->nparams * sizeof(size_t)), off = 0;
    if (!idx) {
        pd_st_free(&tmpl);
        return pd_fail(PD_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->nparams && !st; i++) {
        const pd_st_tensor *t = pd_st_find(&tmpl, m->params[i]);
        if (!t) st = pd_fail(PD_ERR_NOTFOUND, "%s: template lacks tensor '%s'", path, m->params[i]);
        else {
            idx[i] = (size_t)(t - tmpl.t);
            off += t->numel;
        }
    }
    if (!st && off != m->D) st = pd_fail(PD_ERR_SHAPE, "%s: subset has %zu values, expected %zu", path, off, m->D);
    *nonfinite = 0;
    for (size_t r = 0; r < N && !st; r++) {
        const float *row = V + r * m->D;
        int finite = 1;
        for (size_t j = 0; j < m->D; j++) finite &= isfinite(row[j]) != 0;
        *nonfinite += !finite;
        off = 0;
        for (size_t i = 0; i < m->nparams; i++) {
            pd_st_tensor *t = &tmpl.t[idx[i]];
            memcpy(t->data, row + off, t->numel * sizeof(float));
            off += t->numel;
        }
        char name[4096], ix[32];
        snprintf(name, sizeof name, "%s/gen_%03zu.safetensors", out_dir, r);
        snprintf(ix, sizeof ix, "%zu", r);
        const char *keys[] = {"format", "generated", "index", "finite"};
        const char *vals[] = {"pdiff", "1", ix, finite ? "1" : "0"};
        st = pd_st_write(name, tmpl.t, tmpl.count, keys, vals, 4);
    }
    free(idx);
    pd_st_free(&tmpl);
    if (st) return st;
    snprintf(path, sizeof path, "%s/generated.safetensors", out_dir);
    return pd_save_matrix(path, "vectors", V, N, m->D);
}

pd_status pd_generated_read(const char *dir, size_t D, float **V, size_t *N) {
    char path[4096];
    snprintf(path, sizeof path, "%s/generated.safetensors", dir);
    pd_st_file f;
    pd_status st = pd_st_read(path, &f);
    if (st) return st;
    const pd_st_tensor *t = pd_st_find(&f, "vectors");
    if (!t || t->ndim != 2 || t->shape[1] != D) {
        pd_st_free(&f);
        return pd_fail(PD_ERR_SHAPE, "%s: expected tensor 'vectors' of shape (N, %zu)", path, D);
    }
    *V = malloc(t->numel * sizeof(float) + 1);
    if (!*V) {
        pd_st_free(&f);
        return pd_fail(PD_ERR_NOMEM, "out of memory");
    }
    memcpy(*V, t->data, t->numel * sizeof(float));
    *N = t->shape[0];
    pd_st_free(&f);
    return PD_OK;
}
