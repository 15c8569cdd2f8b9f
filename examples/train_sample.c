/*
 * train_sample.c — libpdiff's model API from a program outside the tree:
 * train on K synthetic "checkpoints" (K × D), sample N new vectors, save
 * the model, load it back and sample again with the same seed: the same
 * bits.
 *
 *   cc train_sample.c $(pkg-config --cflags --libs pdiff) -o train_sample
 *   ./train_sample [MODEL_DIR]
 */
#include <math.h>
#include <pdiff.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K = 16, D = 200, N = 10 };

static void progress(void *ctx, const char *phase, long done, long total, const char *info) {
    (void)ctx;
    if (done == total) fprintf(stderr, "%s: %ld/%ld %s\n", phase, done, total, info ? info : "");
}

static int fail(const char *what) {
    fprintf(stderr, "train_sample: %s: %s\n", what, pd_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "train_sample_model";
    pd_set_threads(0);
    /* K vectors scattered around one centre, like snapshots of one network */
    static float V[K * D], a[N * D], b[N * D];
    pd_rng r;
    pd_rng_seed(&r, 1, 0);
    for (size_t j = 0; j < D; j++) V[j] = pd_rng_normal(&r);
    for (size_t k = 1; k < K; k++)
        for (size_t j = 0; j < D; j++) V[k * D + j] = V[j] + 0.05f * pd_rng_normal(&r);

    pd_model_config c;
    pd_model_config_default(&c, D);
    c.ae_steps = 200;
    c.ddpm_steps = 200;
    c.seed = 1;
    if (pd_model_config_set(&c, "den_channels", "8,8,8,8")) return fail("config");
    pd_progress p = {progress, NULL};
    pd_model *m;
    if (pd_model_train(&c, V, K, D, &p, &m)) return fail("train");
    pd_ae_diag d;
    if (pd_model_diagnostics(m, &d) == PD_OK)
        printf("autoencoder: recon_ratio %.3f, dev_corr %.3f\n", d.recon_ratio, d.dev_corr);
    if (pd_model_sample(m, N, 42, a)) return fail("sample");
    for (size_t i = 0; i < N * D; i++)
        if (!isfinite(a[i])) {
            fprintf(stderr, "train_sample: sample %zu is not finite\n", i / D);
            return 1;
        }
    if (pd_model_save(m, dir)) return fail("save");
    pd_model_free(m);
    if (pd_model_load(dir, &m)) return fail("load");
    if (pd_model_sample(m, N, 42, b)) return fail("sample after load");
    pd_model_free(m);
    if (memcmp(a, b, sizeof a) != 0) {
        fprintf(stderr, "train_sample: the loaded model sampled other bits\n");
        return 1;
    }
    printf("sampled %d finite vectors of D = %d; the same bits after save and load (%s)\n", N,
           D, dir);
    return 0;
}
