/*
 * params_io.c — pd_params to and from safetensors files (pdiff_io.h).
 */
#include "pdiff_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pd_status pd_params_save(const pd_params *p, const char *path,
                         const char *const *meta_keys,
                         const char *const *meta_vals, size_t meta_count) {
    pd_st_tensor *ts = calloc(p->count ? p->count : 1, sizeof *ts);
    if (!ts) return pd_fail(PD_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < p->count; i++) {
        const pd_tensor *t = &p->t[i];
        snprintf(ts[i].name, sizeof ts[i].name, "%s", t->name);
        ts[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) ts[i].shape[d] = t->shape[d];
        ts[i].numel = t->numel;
        ts[i].dtype = PD_ST_F32;
        ts[i].data = t->data;
    }
    pd_status st = pd_st_write(path, ts, p->count, meta_keys, meta_vals, meta_count);
    free(ts);
    return st;
}

pd_status pd_params_load_file(pd_params *p, const pd_st_file *f, const char *label,
                              int allow_extra) {
    for (size_t i = 0; i < p->count; i++) {
        pd_tensor *t = &p->t[i];
        const pd_st_tensor *s = pd_st_find(f, t->name);
        if (!s) return pd_fail(PD_ERR_NOTFOUND, "%s: tensor '%s' is missing", label, t->name);
        int same = s->numel == t->numel && (s->ndim == t->ndim || t->numel == 1);
        for (int d = 0; same && d < t->ndim && t->numel != 1; d++)
            same = s->shape[d] == t->shape[d];
        if (!same)
            return pd_fail(PD_ERR_SHAPE, "%s: tensor '%s' has %zu values in %d dims, expected %zu",
                           label, t->name, s->numel, s->ndim, t->numel);
        memcpy(t->data, s->data, t->numel * sizeof(float));
    }
    if (!allow_extra)
        for (size_t i = 0; i < f->count; i++)
            if (!pd_params_find(p, f->t[i].name))
                return pd_fail(PD_ERR_NOTFOUND, "%s: unexpected tensor '%s' for this network",
                               label, f->t[i].name);
    return PD_OK;
}

pd_status pd_params_load(pd_params *p, const char *path, int allow_extra) {
    pd_st_file f;
    pd_status st = pd_st_read(path, &f);
    if (st) return st;
    st = pd_params_load_file(p, &f, path, allow_extra);
    pd_st_free(&f);
    return st;
}

pd_status pd_save_matrix(const char *path, const char *name, const float *data,
                         size_t rows, size_t cols) {
    pd_st_tensor t = {0};
    snprintf(t.name, sizeof t.name, "%s", name);
    t.ndim = 2;
    t.shape[0] = rows;
    t.shape[1] = cols;
    t.numel = rows * cols;
    t.data = (float *)data;
    return pd_st_write(path, &t, 1, NULL, NULL, 0);
}
