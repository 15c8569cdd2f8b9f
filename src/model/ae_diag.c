/*
 * ae_diag.c — does the autoencoder encode each checkpoint? Compares the K
 * originals O with their reconstructions R (the decoded noise-free
 * latents), both K × D in the original units.
 *
 *   recon_rmse   sqrt(mean over k, j of (R − O)²)
 *   spread_rms   sqrt(mean over j of the variance of O[:, j] across k):
 *                how far the checkpoints differ from one another
 *   recon_ratio  recon_rmse / spread_rms; > 1 means the reconstructions
 *                are further from their originals than the originals are
 *                from their mean: the checkpoints are not resolved
 *   nn_identity  fraction of k whose R[k] is nearer to O[k] than to any
 *                other original
 *   nn_identity_iso  the same with R[k] replaced by O[k] plus isotropic
 *                Gaussian error of the same per-dimension RMSE: what an
 *                unbiased error of this size allows, given how close the
 *                originals lie to one another (neighbouring snapshots can
 *                be closer than any useful reconstruction error)
 *   nn_resolvable  fraction of k whose nearest other original lies farther
 *                from O[k] than R[k] does: the originals' own nearest-
 *                neighbour distances against the error actually made
 *   dev_corr     Pearson correlation, over all k and j, of R[k] − mean(R)
 *                with O[k] − mean(O): do the reconstructions keep what
 *                distinguishes the checkpoints?
 *
 * Everything in double; K × K distances, which is cheap beside training
 * for the K (≤ a few hundred) p-diff uses.
 */
#include "pdiff.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "pdiff_io.h"

static double sq_dist(const float *a, const float *b, size_t D) {
    double s = 0;
    for (size_t j = 0; j < D; j++) {
        double d = (double)a[j] - b[j];
        s += d * d;
    }
    return s;
}

/* 1 when x is strictly nearer to O[k] than to every other row of O */
static int nearest_is(const float *x, const float *O, size_t K, size_t D, size_t k) {
    double own = sq_dist(x, O + k * D, D);
    for (size_t j = 0; j < K; j++)
        if (j != k && sq_dist(x, O + j * D, D) <= own) return 0;
    return 1;
}

pd_status pd_ae_diagnose(const float *O, const float *R, size_t K, size_t D, uint64_t seed,
                         pd_ae_diag *d) {
    d->K = K;
    d->D = D;
    if (K == 0 || D == 0) return pd_fail(PD_ERR_ARG, "autoencoder diagnostics need K, D > 0");
    double *mo = calloc(D, sizeof(double)), *mr = calloc(D, sizeof(double));
    float *x = malloc(D * sizeof(float));
    if (!mo || !mr || !x) {
        free(mo);
        free(mr);
        free(x);
        return pd_fail(PD_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < D; j++) {
            mo[j] += O[k * D + j];
            mr[j] += R[k * D + j];
        }
    for (size_t j = 0; j < D; j++) {
        mo[j] /= (double)K;
        mr[j] /= (double)K;
    }
    double err = 0, var_o = 0, var_r = 0, cov = 0;
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < D; j++) {
            double o = O[k * D + j], r = R[k * D + j];
            double dev_o = o - mo[j], dev_r = r - mr[j];
            err += (r - o) * (r - o);
            var_o += dev_o * dev_o;
            var_r += dev_r * dev_r;
            cov += dev_o * dev_r;
        }
    double n = (double)K * (double)D;
    d->recon_rmse = sqrt(err / n);
    d->spread_rms = sqrt(var_o / n);
    d->recon_ratio = d->spread_rms > 0 ? d->recon_rmse / d->spread_rms : NAN;
    d->dev_corr = var_o > 0 && var_r > 0 ? cov / sqrt(var_o * var_r) : NAN;

    size_t hit = 0, hit_iso = 0, resolvable = 0;
    pd_rng rng;
    pd_rng_seed(&rng, seed, 40);
    for (size_t k = 0; k < K; k++) {
        hit += (size_t)nearest_is(R + k * D, O, K, D, k);
        double nn_k;
        pd_nearest_row(O + k * D, O, K, D, k, &nn_k);
        resolvable += nn_k > sqrt(sq_dist(R + k * D, O + k * D, D));
        for (size_t j = 0; j < D; j++)
            x[j] = O[k * D + j] + (float)d->recon_rmse * pd_rng_normal(&rng);
        hit_iso += (size_t)nearest_is(x, O, K, D, k);
    }
    d->nn_identity = (double)hit / (double)K;
    d->nn_identity_iso = (double)hit_iso / (double)K;
    d->nn_resolvable = (double)resolvable / (double)K;
    free(mo);
    free(mr);
    free(x);
    return PD_OK;
}

char *pd_ae_diag_json(const pd_ae_diag *d) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "recon_rmse", d->recon_rmse);
    cJSON_AddNumberToObject(o, "spread_rms", d->spread_rms);
    cJSON_AddNumberToObject(o, "recon_ratio", d->recon_ratio);
    cJSON_AddNumberToObject(o, "nn_identity", d->nn_identity);
    cJSON_AddNumberToObject(o, "nn_identity_iso", d->nn_identity_iso);
    cJSON_AddNumberToObject(o, "nn_resolvable", d->nn_resolvable);
    cJSON_AddNumberToObject(o, "dev_corr", d->dev_corr);
    cJSON_AddNumberToObject(o, "K", (double)d->K);
    cJSON_AddNumberToObject(o, "D", (double)d->D);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

pd_status pd_ae_diag_read(const char *path, pd_ae_diag *d) {
    uint8_t *text = NULL;
    size_t len = 0;
    pd_status st = pd_read_file(path, 1 << 20, &text, &len);
    if (st) return st;
    cJSON *o = cJSON_ParseWithLength((const char *)text, len);
    free(text);
    const char *keys[] = {"recon_rmse", "spread_rms", "recon_ratio", "nn_identity",
                          "nn_identity_iso", "nn_resolvable", "dev_corr", "K", "D"};
    double v[9];
    for (int i = 0; i < 9 && !st; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
        /* cJSON writes NaN as null */
        if (cJSON_IsNumber(x)) v[i] = x->valuedouble;
        else if (cJSON_IsNull(x) && i < 7) v[i] = NAN;
        else st = pd_fail(PD_ERR_FORMAT, "%s: field '%s' is missing or not a number", path, keys[i]);
    }
    cJSON_Delete(o);
    if (st) return st;
    *d = (pd_ae_diag){v[0], v[1], v[2], v[3], v[4], v[5], v[6], (size_t)v[7], (size_t)v[8]};
    return PD_OK;
}

void pd_ae_diag_print(const pd_ae_diag *d, const char *who, FILE *to) {
    fprintf(to,
            "%s: reconstruction RMSE %.3g, spread of the originals %.3g (ratio %.3f); "
            "nearest to its own original %.3f (isotropic error of that size: %.3f; "
            "nearest other original farther than the error: %.3f); "
            "deviation correlation %.3f\n",
            who, d->recon_rmse, d->spread_rms, d->recon_ratio, d->nn_identity,
            d->nn_identity_iso, d->nn_resolvable, d->dev_corr);
    if (d->recon_ratio > 1)
        fprintf(to, "%s: warning: the autoencoder does not resolve the checkpoints "
                        "(reconstruction error %.2f× their spread)\n", who, d->recon_ratio);
}
