/*
 * feature_cache.c — see feature_cache.h. Slices are whole multiples of the feature
 * batch, so the batches (and the cached numbers) are those of one call.
 */
#include "feature_cache.h"

#include <stdlib.h>
#include <string.h>

enum { FEATURE_BATCH = 500, SLICE = 10 * FEATURE_BATCH };

pd_feats pd_images_of(const pd_dataset *d) {
    return (pd_feats){.x = d->x, .y = d->y, .n = d->n, .ndim = 3, .shape = {d->c, d->h, d->w},
                      .stride = d->c * d->h * d->w};
}

pd_status pd_cache_features(pd_net *net, pd_graph *g, const pd_feats *f, int to,
                            const pd_progress *progress, const char *what, float **out,
                            pd_feats *feat) {
    float *buf = NULL;
    *out = NULL;
    if (f->n == 0) return pd_compute_features(net, g, f, to, FEATURE_BATCH, out, feat);
    pd_report(progress, what, 0, (long)f->n, NULL);
    for (size_t s0 = 0; s0 < f->n; s0 += SLICE) {
        pd_feats part = *f;
        part.x = f->x + s0 * f->stride;
        part.y = f->y + s0;
        part.n = f->n - s0 < SLICE ? f->n - s0 : SLICE;
        float *pbuf = NULL;
        pd_feats pf;
        pd_status st = pd_compute_features(net, g, &part, to, FEATURE_BATCH, &pbuf, &pf);
        if (!st && !buf) {
            buf = malloc(f->n * pf.stride * sizeof(float));
            if (!buf)
                st = pd_fail(PD_ERR_NOMEM, "out of memory: %zu cached features", f->n * pf.stride);
            *feat = pf;
            feat->x = buf;
            feat->y = f->y;
            feat->n = f->n;
        }
        if (st) {
            free(pbuf);
            free(buf);
            return st;
        }
        memcpy(buf + s0 * pf.stride, pbuf, part.n * pf.stride * sizeof(float));
        free(pbuf);
        pd_report(progress, what, (long)(s0 + part.n), (long)f->n, NULL);
    }
    *out = buf;
    return PD_OK;
}
