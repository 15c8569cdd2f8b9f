/*
 * test_crashers.c — every input that ever crashed a fuzz harness (or made
 * one report a sanitizer error) stays here as a regression input:
 * tests/fixtures/crashers/<parser>/<file>, parser one of manifest, config,
 * safetensors, idx, cifar (the names of fuzz/fuzz_<parser>.c). Each file
 * goes through the same calls as its harness and must come back with a
 * status, never a crash, leak or sanitizer report; accepted inputs must
 * also satisfy the harness's invariants.
 *
 * Under ASan, allocations too large to exist return NULL here (as they do
 * in a normal build) instead of aborting, so a model config that asks for
 * terabytes is checked to be refused with PD_ERR_NOMEM.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/cifar.h"
#include "engine/io/idx.h"
#include "pdiff_io.h"
#include "manifest.h"
#include "model/ae.h"
#include "testutil.h"

const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

#define CRASHERS PD_FIXTURES "/crashers"

/* the file as NUL-terminated text (the JSON parsers take C strings) */
static char *text_of(const uint8_t *data, size_t n) {
    char *t = malloc(n + 1);
    assert_non_null(t);
    memcpy(t, data, n);
    t[n] = 0;
    return t;
}

static void run_manifest(const uint8_t *data, size_t n) {
    char *t = text_of(data, n);
    pd_manifest m;
    pd_status st = pd_manifest_parse(t, "crasher", &m);
    free(t);
    if (st != PD_OK) {
        assert_null(m.params);
        assert_null(m.files);
        return;
    }
    assert_true(m.K >= 1 && m.nparams >= 1 && m.D >= 1);
    for (size_t k = 0; k < m.K; k++) {
        assert_non_null(m.files[k]);
        assert_null(strchr(m.files[k], '/'));
    }
    for (size_t i = 0; i < m.nparams; i++) assert_non_null(m.params[i]);
    pd_manifest_free(&m);
}

static void run_config(const uint8_t *data, size_t n) {
    char *t = text_of(data, n);
    pd_model_config c;
    size_t D = 0;
    pd_status st = pd_model_config_parse(t, "crasher", &c, &D);
    free(t);
    if (st != PD_OK) return;
    /* writer and reader agree */
    char *j1 = pd_model_config_json(&c, D);
    assert_non_null(j1);
    pd_model_config c2;
    size_t D2 = 0;
    assert_int_equal(pd_model_config_parse(j1, "roundtrip", &c2, &D2), PD_OK);
    char *j2 = pd_model_config_json(&c2, D2);
    assert_non_null(j2);
    assert_string_equal(j1, j2);
    free(j1);
    free(j2);
    /* building the autoencoder: a status, whatever the size asked for */
    pd_ae_config ac = c.ae;
    ac.D = D;
    pd_ae ae;
    st = pd_ae_create(&ae, &ac);
    if (st == PD_OK) pd_ae_free(&ae);
    else assert_non_null(pd_last_error());
}

static void run_safetensors(const uint8_t *data, size_t n) {
    pd_st_file f;
    if (pd_st_parse(data, n, "crasher", &f) != PD_OK) return;
    for (size_t i = 0; i < f.count; i++)
        for (size_t k = 0; k < f.t[i].numel; k++) (void)f.t[i].data[k];
    pd_st_free(&f);
}

static void run_idx(const uint8_t *data, size_t n) {
    pd_idx x;
    if (pd_idx_parse(data, n, "crasher", &x) != PD_OK) return;
    assert_true(x.count == 0 || x.data != NULL);
    pd_idx_free(&x);
}

static void run_cifar(const uint8_t *data, size_t n) {
    if (n < 1) return;
    pd_dataset d;
    if (pd_cifar_parse(data + 1, n - 1, "crasher", data[0] & 1 ? 100 : 10, &d) != PD_OK) return;
    pd_dataset_free(&d);
}

static const struct {
    const char *dir;
    void (*fn)(const uint8_t *, size_t);
} parsers[] = {{"manifest", run_manifest},
               {"config", run_config},
               {"safetensors", run_safetensors},
               {"idx", run_idx},
               {"cifar", run_cifar}};

/* feeds every file of every parser's directory; returns how many */
static size_t feed_all(void) {
    size_t total = 0;
    for (size_t p = 0; p < sizeof parsers / sizeof parsers[0]; p++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", CRASHERS, parsers[p].dir);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            uint8_t *data = NULL;
            size_t n = 0;
            if (pd_read_file(path, 1 << 24, &data, &n) != PD_OK)
                fail_msg("cannot read %s: %s", path, pd_last_error());
            print_message("%s/%s (%zu bytes)\n", parsers[p].dir, e->d_name, n);
            parsers[p].fn(data, n);
            free(data);
            total++;
        }
        closedir(d);
    }
    return total;
}

static void test_crashers(void **state) {
    (void)state;
    /* an empty or misplaced directory must not pass as "no crash" */
    assert_true(feed_all() >= 1);
}

/* the first crasher (fuzz_config): a valid config whose fully connected
 * autoencoder would hold (7.3M)² weights; refused with a status */
static void test_huge_fc_config_refused(void **state) {
    (void)state;
    uint8_t *data = NULL;
    size_t n = 0;
    assert_int_equal(pd_read_file(CRASHERS "/config/fc-huge-fold.json", 1 << 20, &data, &n), PD_OK);
    char *t = text_of(data, n);
    free(data);
    pd_model_config c;
    size_t D = 0;
    assert_int_equal(pd_model_config_parse(t, "crasher", &c, &D), PD_OK);
    free(t);
    assert_true(c.ae.fc);
    assert_int_equal(c.ae.fold, 52);
    pd_ae_config ac = c.ae;
    ac.D = D;
    pd_ae ae;
    assert_int_equal(pd_ae_create(&ae, &ac), PD_ERR_NOMEM);
    assert_non_null(strstr(pd_last_error(), "out of memory"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crashers),
        cmocka_unit_test(test_huge_fc_config_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
