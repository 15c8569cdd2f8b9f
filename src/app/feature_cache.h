/*
 * feature_cache.h — a dataset's images as samples, and the frozen
 * prefix's outputs for a whole dataset, cached once by collect and eval
 * (pd_compute_features), a slice at a time so a long cache (ResNet-18:
 * minutes) reports progress.
 */
#ifndef PD_APP_FEATURE_CACHE_H
#define PD_APP_FEATURE_CACHE_H

#include "pdiff.h"
#include "pdiff_net.h"

/* a dataset's images as samples entering stage 0 */
pd_feats pd_images_of(const pd_dataset *d);

/* pd_compute_features of f (entering at stage 0) up to stage `to`, with
 * `what` reported through progress after each slice; *out malloc'd */
pd_status pd_cache_features(pd_net *net, pd_graph *g, const pd_feats *f, int to,
                            const pd_progress *progress, const char *what, float **out,
                            pd_feats *feat);

#endif
