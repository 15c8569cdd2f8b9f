/*
 * params.c — named tensors in one contiguous buffer (so that "a subset is
 * one memcpy"). Tensors are registered with PyTorch state_dict names; at
 * finalize the selected ones are laid out first, next to each other, so the
 * p-diff vector is the range [sel_begin, sel_end) of the buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "pdiff.h"

void *pd_alloc(size_t bytes) {
    void *p = NULL;
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded < bytes) return NULL; /* overflow */
    if (rounded == 0) rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0) return NULL;
    memset(p, 0, rounded);
    return p;
}

void pd_free(void *p) { free(p); }

void pd_params_init(pd_params *p) { memset(p, 0, sizeof *p); }

pd_status pd_params_add(pd_params *p, const char *name, int ndim,
                        const size_t *shape, int flags) {
    if (p->finalized)
        return pd_fail(PD_ERR_ARG, "cannot add tensor '%s' after finalize", name);
    if (ndim < 0 || ndim > PD_MAX_DIMS || strlen(name) >= PD_NAME_MAX)
        return pd_fail(PD_ERR_ARG, "tensor '%s': bad rank or name too long", name);
    if (pd_params_find(p, name))
        return pd_fail(PD_ERR_ARG, "tensor '%s' registered twice", name);
    if (p->count == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 32;
        pd_tensor *t = realloc(p->t, cap * sizeof *t);
        if (!t) return pd_fail(PD_ERR_NOMEM, "out of memory registering '%s'", name);
        p->t = t;
        p->cap = cap;
    }
    pd_tensor *t = &p->t[p->count++];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= shape[i];
    }
    t->flags = flags;
    return PD_OK;
}

pd_status pd_params_finalize(pd_params *p, const int *selected) {
    size_t off = 0;
    /* pass 0 places the selected tensors, pass 1 the rest */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < p->count; i++) {
            int sel = selected && selected[i];
            if ((pass == 0) != (sel != 0)) continue;
            pd_tensor *t = &p->t[i];
            if (sel) t->flags |= PD_SELECTED; else t->flags &= ~PD_SELECTED;
            t->offset = off;
            /* selected tensors touch (one range); others start 64-byte aligned */
            off += sel ? t->numel : (t->numel + 15) / 16 * 16;
        }
        if (pass == 0) {
            p->sel_end = off;
            off = (off + 15) / 16 * 16;
        }
    }
    p->sel_begin = 0;
    p->total = off;
    p->data = pd_alloc(off * sizeof(float));
    p->grad = pd_alloc(off * sizeof(float));
    if (!p->data || !p->grad)
        return pd_fail(PD_ERR_NOMEM, "out of memory allocating %zu parameters", off);
    for (size_t i = 0; i < p->count; i++) {
        p->t[i].data = p->data + p->t[i].offset;
        p->t[i].grad = p->grad + p->t[i].offset;
    }
    p->finalized = 1;
    return PD_OK;
}

pd_tensor *pd_params_find(const pd_params *p, const char *name) {
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->t[i].name, name) == 0) return &p->t[i];
    return NULL;
}

size_t pd_params_selected_size(const pd_params *p) { return p->sel_end - p->sel_begin; }

void pd_params_gather(const pd_params *p, float *vec) {
    memcpy(vec, p->data + p->sel_begin, pd_params_selected_size(p) * sizeof(float));
}

void pd_params_scatter(pd_params *p, const float *vec) {
    memcpy(p->data + p->sel_begin, vec, pd_params_selected_size(p) * sizeof(float));
}

pd_status pd_params_alloc_state(pd_params *p) {
    if (p->m) return PD_OK;
    p->m = pd_alloc(p->total * sizeof(float));
    p->v = pd_alloc(p->total * sizeof(float));
    if (!p->m || !p->v) return pd_fail(PD_ERR_NOMEM, "out of memory for optimizer state");
    return PD_OK;
}

void pd_params_zero_grad(pd_params *p) {
    if (p->grad) memset(p->grad, 0, p->total * sizeof(float));
}

void pd_params_free(pd_params *p) {
    free(p->t);
    pd_free(p->data);
    pd_free(p->grad);
    pd_free(p->m);
    pd_free(p->v);
    memset(p, 0, sizeof *p);
}

int pd_glob_match(const char *pat, const char *s) {
    /* iterative matcher with one backtrack point for '*' */
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '?' || *pat == *s) {
            pat++;
            s++;
        } else if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*pat == '*') pat++;
    return *pat == '\0';
}
