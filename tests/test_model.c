/*
 * test_model.c — the public model API of pdiff.h: training on an in-memory
 * K × D matrix, sampling (finite, reproducible, the same bits after save
 * and load), training in memory and with a state directory giving the same
 * model, encode/decode/reconstruct against the diagnostics; configs set by
 * name and read from JSON with errors that name the field; and the review's
 * defects: a state file that does not match (or cannot be read) is an
 * error naming it and changes nothing, an unknown "norm" in config.json is
 * rejected, a loss log that cannot be written fails the training.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "pdiff_io.h"
#include "model/train_state.h"

enum { K = 8, D = 100, N = 5 };

/* K vectors around a centre: what K checkpoints of one network look like */
static float *make_data(void) {
    float *V = tu_falloc(K * D);
    pd_rng r;
    pd_rng_seed(&r, 3, 0);
    float centre[D];
    tu_fill(&r, centre, D, -1, 1);
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < D; j++) V[k * D + j] = centre[j] + 0.05f * pd_rng_normal(&r);
    return V;
}

static void small_config(pd_model_config *c) {
    pd_model_config_default(c, D);
    assert_int_equal(pd_model_config_set(c, "ae_steps", "30"), PD_OK);
    assert_int_equal(pd_model_config_set(c, "ddpm_steps", "30"), PD_OK);
    assert_int_equal(pd_model_config_set(c, "den_channels", "4,4,4,4"), PD_OK);
    assert_int_equal(pd_model_config_set(c, "T", "50"), PD_OK);
    assert_int_equal(pd_model_config_set(c, "ckpt_every", "10"), PD_OK);
    assert_int_equal(pd_model_config_set(c, "log_every", "5"), PD_OK);
    assert_int_equal(pd_model_config_set(c, "seed", "7"), PD_OK);
}

static char *scratch(const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "/tmp/pdiff_test_model_%d_%s", (int)getpid(), name);
    tu_rm_tree(path);
    return path;
}

/* a model of small_config trained on V */
static pd_model *train_small(const float *V) {
    pd_model_config c;
    small_config(&c);
    pd_model *m = NULL;
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &m), PD_OK);
    return m;
}

static void test_train_sample_save_load(void **state) {
    (void)state;
    float *V = make_data();
    pd_model *m = train_small(V);
    assert_int_equal(pd_model_dim(m), D);
    assert_int_equal(pd_model_train_count(m), K);
    float *a = tu_falloc(N * D), *b = tu_falloc(N * D), *c2 = tu_falloc(N * D);
    assert_int_equal(pd_model_sample(m, N, 11, a), PD_OK);
    for (size_t i = 0; i < N * D; i++) assert_true(isfinite(a[i]));
    assert_int_equal(pd_model_sample(m, N, 11, b), PD_OK);
    assert_memory_equal(a, b, N * D * sizeof(float));
    assert_int_equal(pd_model_sample(m, N, 12, c2), PD_OK); /* another seed: other vectors */
    assert_true(memcmp(a, c2, N * D * sizeof(float)) != 0);

    char *dir = scratch("saved");
    assert_int_equal(pd_model_save(m, dir), PD_OK);
    pd_model *l = NULL;
    assert_int_equal(pd_model_load(dir, &l), PD_OK);
    assert_int_equal(pd_model_sample(l, N, 11, b), PD_OK);
    assert_memory_equal(a, b, N * D * sizeof(float));
    pd_ae_diag d1, d2;
    assert_int_equal(pd_model_diagnostics(m, &d1), PD_OK);
    assert_int_equal(pd_model_diagnostics(l, &d2), PD_OK);
    assert_float_equal(d1.recon_ratio, d2.recon_ratio, 1e-6 * d1.recon_ratio);
    assert_int_equal(d1.K, K);

    /* reconstruct = decode(encode(V)) without noise, and its RMSE is the
     * diagnostic's */
    size_t L = pd_model_latent_dim(l);
    float *Z = tu_falloc(K * L), *R1 = tu_falloc(K * D), *R2 = tu_falloc(K * D);
    assert_int_equal(pd_model_encode(l, V, K, Z), PD_OK);
    assert_int_equal(pd_model_decode(l, Z, K, R1), PD_OK);
    assert_int_equal(pd_model_reconstruct(l, R2), PD_OK);
    TU_ASSERT_CLOSE(R1, R2, K * D, 1e-5, 1e-6);
    double se = 0;
    for (size_t i = 0; i < K * D; i++) se += (double)(R2[i] - V[i]) * (R2[i] - V[i]);
    assert_float_equal(sqrt(se / (K * D)), d1.recon_rmse, 1e-4 * d1.recon_rmse);
    pd_model_free(l);
    pd_model_free(m);
    tu_rm_tree(dir);
    free(Z), free(R1), free(R2), free(a), free(b), free(c2), free(V);
}

/* a state directory changes where the state goes, not the model */
static void test_state_dir_same_model(void **state) {
    (void)state;
    float *V = make_data();
    pd_model_config c;
    small_config(&c);
    pd_model *mem = NULL, *dis = NULL, *again = NULL;
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &mem), PD_OK);
    c.state_dir = scratch("state");
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &dis), PD_OK);
    /* trained again over a complete state: resumes at the end, same model */
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &again), PD_OK);
    float *a = tu_falloc(N * D), *b = tu_falloc(N * D), *e = tu_falloc(N * D);
    assert_int_equal(pd_model_sample(mem, N, 5, a), PD_OK);
    assert_int_equal(pd_model_sample(dis, N, 5, b), PD_OK);
    assert_int_equal(pd_model_sample(again, N, 5, e), PD_OK);
    assert_memory_equal(a, b, N * D * sizeof(float));
    assert_memory_equal(a, e, N * D * sizeof(float));
    /* another config in the same directory is refused */
    pd_model_config other = c;
    other.ddpm_steps = 31;
    pd_model *x = NULL;
    assert_int_equal(pd_model_train(&other, V, K, D, NULL, &x), PD_ERR_ARG);
    assert_null(x);
    assert_non_null(strstr(pd_last_error(), "config.json"));
    tu_rm_tree(c.state_dir);
    pd_model_free(mem), pd_model_free(dis), pd_model_free(again);
    free(a), free(b), free(e), free(V);
}

/* defect: load_state copied the tensors before validating the metadata,
 * and an unreadable state file counted as "no state": a fresh run then
 * trained on the half-loaded weights */
static void rewrite_state_without(const char *path, const char *drop_key) {
    pd_st_file f;
    assert_int_equal(pd_st_read(path, &f), PD_OK);
    const char *keys[16], *vals[16];
    size_t n = 0;
    for (size_t i = 0; i < f.meta_count && n < 16; i++)
        if (strcmp(f.meta_keys[i], drop_key) != 0) {
            keys[n] = f.meta_keys[i];
            vals[n++] = f.meta_vals[i];
        }
    assert_int_equal(pd_st_write(path, f.t, f.count, keys, vals, n), PD_OK);
    pd_st_free(&f);
}

static void test_bad_state_is_an_error(void **state) {
    (void)state;
    float *V = make_data();
    pd_model_config c;
    small_config(&c);
    c.state_dir = scratch("badstate");
    pd_model *m = NULL;
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &m), PD_OK);
    pd_model_free(m);
    char path[512];
    snprintf(path, sizeof path, "%s/ae_state.safetensors", c.state_dir);
    rewrite_state_without(path, "rng0");
    m = NULL;
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &m), PD_ERR_FORMAT);
    assert_null(m);
    assert_non_null(strstr(pd_last_error(), "ae_state.safetensors"));
    /* cut short: unreadable, an error too (it was "no state") */
    assert_int_equal(truncate(path, 100), 0);
    assert_true(pd_model_train(&c, V, K, D, NULL, &m) != PD_OK);
    assert_null(m);
    assert_non_null(strstr(pd_last_error(), "ae_state.safetensors"));
    tu_rm_tree(c.state_dir);
    free(V);
}

/* a loss log that cannot be appended fails the training, naming it */
static void test_unwritable_log_is_an_error(void **state) {
    (void)state;
    float *V = make_data();
    pd_model_config c;
    small_config(&c);
    c.state_dir = scratch("badlog");
    char path[512];
    snprintf(path, sizeof path, "%s/train_log.jsonl", c.state_dir);
    assert_int_equal(mkdir(c.state_dir, 0755), 0);
    assert_int_equal(mkdir(path, 0755), 0); /* a directory where the log goes */
    pd_model *m = NULL;
    assert_true(pd_model_train(&c, V, K, D, NULL, &m) != PD_OK);
    assert_null(m);
    assert_non_null(strstr(pd_last_error(), "train_log.jsonl"));
    tu_rm_tree(c.state_dir);
    free(V);
}

/* a resumed log that starts short keeps every later line whole (a resumed
 * training once wrote lines cut off at the first buffer growth: found by
 * tests/kill_resume.sh) */
static void test_resumed_log_grows(void **state) {
    (void)state;
    char *dir = scratch("log");
    assert_int_equal(mkdir(dir, 0755), 0);
    char path[512];
    const char *first = "{\"stage\":\"autoencoder\",\"step\":1,\"loss\":1}\n";
    snprintf(path, sizeof path, "%s/train_log.jsonl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(first, f);
    fputs("{\"stage\":\"autoencoder\",\"step\":2,\"loss\":9}\n", f); /* after the state */
    fclose(f);
    pd_params p;
    pd_params_init(&p);
    assert_int_equal(pd_params_add(&p, "w", 1, (size_t[]){3}, PD_TRAINABLE), PD_OK);
    assert_int_equal(pd_params_finalize(&p, NULL), PD_OK);
    assert_int_equal(pd_params_alloc_state(&p), PD_OK);
    pd_rng rng;
    pd_rng_seed(&rng, 1, 0);
    pd_train_state s = {&p, NULL, &rng, 1, 0.0, 0, (long long)strlen(first)};
    snprintf(path, sizeof path, "%s/ae_state.safetensors", dir);
    assert_int_equal(pd_train_state_save(path, &s), PD_OK);
    pd_train_log log;
    assert_int_equal(pd_train_log_open(&log, dir), PD_OK);
    assert_int_equal(log.len, strlen(first)); /* the line after the state is cut */
    for (long k = 2; k < 2000; k++)
        assert_int_equal(pd_train_log_line(&log, "autoencoder", k, 0.5), PD_OK);
    assert_int_equal(pd_train_log_flush(&log), PD_OK);
    char want[128];
    size_t at = strlen(first);
    for (long k = 2; k < 2000; k++) {
        int n = snprintf(want, sizeof want, "{\"stage\":\"autoencoder\",\"step\":%ld,\"loss\":0.5}\n", k);
        assert_true(at + (size_t)n <= log.len);
        if (memcmp(log.buf + at, want, (size_t)n) != 0) fail_msg("line %ld damaged", k);
        at += (size_t)n;
    }
    assert_int_equal(at, log.len);
    pd_train_log_free(&log);
    pd_params_free(&p);
    tu_rm_tree(dir);
}

static void test_config_by_name(void **state) {
    (void)state;
    pd_model_config c;
    pd_model_config_default(&c, 0);
    assert_int_equal(pd_model_config_set(&c, "norm", "group"), PD_OK);
    assert_int_equal(c.ae.norm, PD_NORM_GROUP);
    assert_int_equal(pd_model_config_set(&c, "normalize", "tensor"), PD_OK);
    assert_int_equal(c.normalize, PD_NORMALIZE_TENSOR);
    assert_int_equal(pd_model_config_set(&c, "enc", "3,4,5,6"), PD_OK);
    assert_int_equal(c.ae.enc[3], 6);
    assert_int_equal(pd_model_config_set(&c, "seed", "18446744073709551615"), PD_OK);
    assert_true(c.seed == UINT64_MAX);
    assert_int_equal(pd_model_config_set(&c, "vae", "true"), PD_OK);
    assert_int_equal(c.ae.vae, 1);
    /* the preset keeps switches set before it */
    assert_int_equal(pd_model_config_set(&c, "preset", "medium"), PD_OK);
    assert_int_equal(c.ae.fold, 5);
    assert_int_equal(c.ae.vae, 1);
    assert_int_equal(c.ae.norm, PD_NORM_GROUP);

    assert_int_equal(pd_model_config_set(&c, "precision", "bf16"), PD_OK);
    assert_int_equal(c.precision, PD_PRECISION_BF16);
    assert_int_equal(pd_model_config_set(&c, "precision", "fp16"), PD_ERR_ARG);
    assert_non_null(strstr(pd_last_error(), "precision: unknown value 'fp16'"));
    assert_int_equal(pd_model_config_set(&c, "bogus", "1"), PD_ERR_NOTFOUND);
    assert_non_null(strstr(pd_last_error(), "'bogus'"));
    assert_int_equal(pd_model_config_set(&c, "norm", "layer"), PD_ERR_ARG);
    assert_non_null(strstr(pd_last_error(), "norm: unknown value 'layer'"));
    assert_int_equal(pd_model_config_set(&c, "ae_steps", "2.5"), PD_ERR_ARG);
    assert_non_null(strstr(pd_last_error(), "ae_steps"));
    assert_int_equal(pd_model_config_set(&c, "T", "1"), PD_ERR_ARG);
    assert_non_null(strstr(pd_last_error(), "T: 1 is out of range"));
    assert_int_equal(pd_model_config_set(&c, "den_channels", "4,4,4"), PD_ERR_ARG);
    assert_int_equal(pd_model_config_set(&c, "lr", "fast"), PD_ERR_ARG);
    assert_int_equal(c.ae_steps, 2500); /* failed sets change nothing */
    assert_int_equal(pd_model_config_recipe(&c, "paper"), PD_OK);
    assert_int_equal(c.ae_steps, 30000);
    assert_int_equal(c.normalize, PD_NORMALIZE_NONE);
    assert_int_equal(pd_model_config_recipe(&c, "fast"), PD_ERR_ARG);
    assert_int_equal(pd_model_config_check(&c), PD_OK);
    c.beta0 = 0.5;
    assert_int_equal(pd_model_config_check(&c), PD_ERR_ARG);
}

/* bf16 mixed precision trains a model as good as fp32's on these data (a
 * CPU or build without bf16 kernels trains the fp32 model: the same test
 * holds) and samples finite vectors; sampling in bf16 too */
static void test_bf16_training(void **state) {
    (void)state;
    float *V = make_data();
    pd_model_config c;
    small_config(&c);
    pd_model *f32 = NULL, *b16 = NULL;
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &f32), PD_OK);
    c.precision = PD_PRECISION_BF16;
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &b16), PD_OK);
    pd_ae_diag d32, d16;
    assert_int_equal(pd_model_diagnostics(f32, &d32), PD_OK);
    assert_int_equal(pd_model_diagnostics(b16, &d16), PD_OK);
    assert_true(d16.recon_ratio < 1.25 * d32.recon_ratio + 0.05);
    float *a = tu_falloc(N * D);
    pd_sampler s = {0, 0, 0.0f, 0, PD_PRECISION_BF16};
    assert_int_equal(pd_model_sample_with(b16, &s, N, 3, NULL, a), PD_OK);
    for (size_t i = 0; i < N * D; i++) assert_true(isfinite(a[i]));
    pd_model_free(f32);
    pd_model_free(b16);
    free(a), free(V);
}

/* replace the first occurrence of `from` in text (room for the longer) */
static void replace(char *text, size_t cap, const char *from, const char *to) {
    char *p = strstr(text, from);
    assert_non_null(p);
    size_t tail = strlen(p + strlen(from));
    assert_true(strlen(text) - strlen(from) + strlen(to) < cap);
    memmove(p + strlen(to), p + strlen(from), tail + 1);
    memcpy(p, to, strlen(to));
}

/* defect: "norm": "bogus" became instance norm; every error said only "a
 * field is missing or out of range" */
static void test_config_json_names_the_field(void **state) {
    (void)state;
    pd_model_config c, back;
    pd_model_config_default(&c, 0);
    pd_model_config_set(&c, "norm", "batch");
    pd_model_config_set(&c, "seed", "99");
    char *json = pd_model_config_json(&c, 384);
    size_t Dback = 0;
    assert_int_equal(pd_model_config_parse(json, "m/config.json", &back, &Dback), PD_OK);
    assert_int_equal(Dback, 384);
    assert_int_equal(back.ae.norm, PD_NORM_BATCH);
    assert_true(back.seed == 99);
    char *again = pd_model_config_json(&back, Dback);
    assert_string_equal(json, again);
    free(again);

    char text[4096];
    const struct {
        const char *from, *to, *error;
    } cases[] = {
        {"\"norm\":\t\"batch\"", "\"norm\":\t\"bogus\"",
         "m/config.json: autoencoder.norm: unknown value 'bogus' (instance, batch, group, none)"},
        {"\"ae_steps\":\t2500", "\"ae_steps\":\t-3", "m/config.json: training.ae_steps: -3 is out of range"},
        {"\"ae_steps\":\t2500", "\"ae_steps\":\t\"many\"", "m/config.json: training.ae_steps: not a number"},
        {"\"kernel\":\t3,", "", "m/config.json: autoencoder.kernel: missing"},
        {"\"normalize\":\t\"dim\"", "\"normalize\":\t\"layer\"", "m/config.json: normalize: unknown value 'layer'"},
        {"\"T\":\t1000", "\"T\":\t1", "m/config.json: diffusion.T: 1 is out of range"},
        {"\"seed\":\t\"99\"", "\"seed\":\t99", "m/config.json: training.seed: not an unsigned integer"},
        {"\"preset\":\t\"small\"", "\"preset\":\t\"huge\"", "m/config.json: autoencoder.preset: unknown value 'huge'"},
        {"\"D\":\t384", "\"D\":\t0", "m/config.json: D: missing or not a length"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s", json);
        replace(text, sizeof text, cases[i].from, cases[i].to);
        assert_int_equal(pd_model_config_parse(text, "m/config.json", &back, &Dback), PD_ERR_FORMAT);
        if (!strstr(pd_last_error(), cases[i].error))
            fail_msg("case %zu: '%s' does not contain '%s'", i, pd_last_error(), cases[i].error);
    }
    free(json);
}

/* batch_threads: W threads each train on their rows of every batch (the
 * threads-as-ranks sum is checked against mpirun in tests/mpi.sh). Same W →
 * the same bits; another W → another (equally valid) rounding; what cannot
 * be split is refused; a rank that fails stops the others instead of
 * leaving them waiting */
static void test_batch_threads(void **state) {
    (void)state;
    float *V = make_data();
    pd_model_config c;
    small_config(&c);
    assert_int_equal(pd_model_config_set(&c, "batch_threads", "2"), PD_OK);
    pd_model *m2 = NULL, *again = NULL, *m1 = NULL;
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &m2), PD_OK);
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &again), PD_OK);
    c.batch_threads = 1;
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &m1), PD_OK);
    float *a = tu_falloc(N * D), *b = tu_falloc(N * D), *e = tu_falloc(N * D);
    assert_int_equal(pd_model_sample(m2, N, 5, a), PD_OK);
    assert_int_equal(pd_model_sample(again, N, 5, b), PD_OK);
    assert_int_equal(pd_model_sample(m1, N, 5, e), PD_OK);
    assert_memory_equal(a, b, N * D * sizeof(float));
    assert_true(memcmp(a, e, N * D * sizeof(float)) != 0);
    for (size_t i = 0; i < N * D; i++) assert_true(isfinite(a[i]));
    pd_model_free(m2), pd_model_free(again), pd_model_free(m1);

    pd_model *x = NULL;
    assert_int_equal(pd_model_config_set(&c, "batch_threads", "-1"), PD_ERR_ARG);
    assert_non_null(strstr(pd_last_error(), "batch_threads"));
    c.batch_threads = K + 1; /* a thread without a row */
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &x), PD_ERR_ARG);
    assert_non_null(strstr(pd_last_error(), "at most one per vector"));
    c.batch_threads = 2;
    assert_int_equal(pd_model_config_set(&c, "norm", "batch"), PD_OK);
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &x), PD_ERR_ARG);
    assert_non_null(strstr(pd_last_error(), "batch norm"));
    c.batch_threads = 0; /* automatic: one thread on the whole batch then */
    assert_int_equal(pd_model_train(&c, V, K, D, NULL, &x), PD_OK);
    pd_model_free(x);
    x = NULL;

    /* rank 0 fails (its log cannot be written) while rank 1 trains on: rank
     * 1 stops at its next sum, and the error is rank 0's */
    small_config(&c);
    c.batch_threads = 2;
    c.state_dir = scratch("rank0fails");
    char path[512];
    snprintf(path, sizeof path, "%s/train_log.jsonl", c.state_dir);
    assert_int_equal(mkdir(c.state_dir, 0755), 0);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_true(pd_model_train(&c, V, K, D, NULL, &x) != PD_OK);
    assert_null(x);
    assert_non_null(strstr(pd_last_error(), "train_log.jsonl"));
    tu_rm_tree(c.state_dir);
    free(a), free(b), free(e), free(V);
}

/* sampling splits its rows over one worker per thread: the same thread
 * count gives the same bits; another count another rounding (BLAS's small-
 * matrix kernels sum in an order that depends on the rows), close */
static void test_sampling_threads(void **state) {
    (void)state;
    float *V = make_data();
    pd_model *m = train_small(V);
    float *a = tu_falloc(N * D), *b = tu_falloc(N * D), *e = tu_falloc(N * D);
    pd_set_threads(3);
    assert_int_equal(pd_model_sample(m, N, 5, a), PD_OK);
    assert_int_equal(pd_model_sample(m, N, 5, b), PD_OK);
    assert_memory_equal(a, b, N * D * sizeof(float));
    pd_set_threads(1);
    assert_int_equal(pd_model_sample(m, N, 5, e), PD_OK);
    pd_set_threads(2);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < N * D; i++) {
        worst = fmax(worst, fabs((double)a[i] - e[i]));
        scale = fmax(scale, fabs((double)e[i]));
    }
    assert_true(worst <= 1e-5 * scale); /* measured: 6e-8 of 1.03 */
    pd_model_free(m);
    free(a), free(b), free(e), free(V);
}

int main(void) {
    pd_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_sample_save_load),
        cmocka_unit_test(test_state_dir_same_model),
        cmocka_unit_test(test_bad_state_is_an_error),
        cmocka_unit_test(test_unwritable_log_is_an_error),
        cmocka_unit_test(test_resumed_log_grows),
        cmocka_unit_test(test_config_by_name),
        cmocka_unit_test(test_bf16_training),
        cmocka_unit_test(test_config_json_names_the_field),
        cmocka_unit_test(test_batch_threads),
        cmocka_unit_test(test_sampling_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
