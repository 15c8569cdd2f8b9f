/*
 * manifest.h — DIR/manifest.json of a collect run: which network and data
 * the checkpoints come from, the subset's tensor names in flattening order,
 * and each checkpoint's file and accuracies. Also loads the K×D matrix of
 * subset vectors that the autoencoder trains on, from a manifest or from
 * any directory of safetensors checkpoints plus name patterns.
 */
#ifndef PD_MANIFEST_H
#define PD_MANIFEST_H

#include "pdiff_net.h"
#include "pdiff_net.h"
#include "collect.h"

typedef struct {
    char mode[16];          /* subset | seeds | external */
    int has_net;            /* network known (pdiff collect) */
    pd_net_config net;
    char data_dir[4096];
    uint64_t seed;
    size_t nparams;         /* subset tensors, flattening order */
    char **params;
    size_t D;
    size_t K;
    char **files;           /* checkpoint file names (relative to dir) */
    double *train_acc, *test_acc; /* per checkpoint, percent (NaN unknown) */
    int has_report;         /* collect's report (collect_report.h) was there */
    pd_collect_report report;
} pd_manifest;

pd_status pd_manifest_write_collect(const pd_collect_opts *o, const pd_net *net,
                                    const pd_dataset *train, const pd_dataset *test,
                                    const pd_collect_report *report);
/* parses manifest JSON text; label names the source in errors */
pd_status pd_manifest_parse(const char *text, const char *label, pd_manifest *m);
/* reads DIR/manifest.json; validates types and counts */
pd_status pd_manifest_read(const char *dir, pd_manifest *m);
/* a directory of *.safetensors without a manifest: every file (sorted by
 * name) is a checkpoint and `patterns` select the subset */
pd_status pd_manifest_scan(const char *dir, const char *const *patterns,
                           size_t npatterns, pd_manifest *m);
void pd_manifest_free(pd_manifest *m);

/* V (K × D), each row the subset of one checkpoint in manifest order; the
 * tensors must exist with consistent sizes in every file */
pd_status pd_manifest_load_vectors(const pd_manifest *m, const char *dir, float **V);
/* sizes[nparams] (malloc'd): each subset tensor's element count, read from
 * the first checkpoint */
pd_status pd_manifest_tensor_sizes(const pd_manifest *m, const char *dir, size_t **sizes);

#endif
