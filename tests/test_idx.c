/*
 * test_idx.c — IDX (plain and gzip), CIFAR-10/100 batches and dataset
 * directories, on small synthetic files written into a temp dir: exact
 * values, layout, every malformed case (bad magic, type, dims, truncation,
 * trailing data, corrupt gzip, count mismatch, labels out of range, missing
 * files) with the path in the message, random corruption, normalisation,
 * and the real Fashion-MNIST when it is installed.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "engine/io/cifar.h"
#include "pdiff_net.h"
#include "engine/io/idx.h"
#include "testutil.h"

/* ---- temp dir and file helpers ----------------------------------------- */

static char tmpdir[64];


static int setup_dir(void **state) {
    (void)state;
    strcpy(tmpdir, "/tmp/pd_idx_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    tu_rm_tree(tmpdir);
    return 0;
}

static char *tpath(const char *name) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static void spit(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* gzip bytes into a malloc'd buffer (one member) */
static uint8_t *gz(const uint8_t *src, size_t n, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    uint8_t *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

/* IDX bytes: 00 00 type ndim, BE dims, payload[i] = (i * 7 + seed) & 255 */
static uint8_t *make_idx(uint8_t type, int ndim, const uint32_t *dims, int seed,
                         size_t *len) {
    size_t count = 1;
    for (int k = 0; k < ndim; k++) count *= dims[k];
    *len = 4 + 4 * (size_t)ndim + count;
    uint8_t *b = malloc(*len);
    b[0] = b[1] = 0;
    b[2] = type;
    b[3] = (uint8_t)ndim;
    for (int k = 0; k < ndim; k++)
        for (int j = 0; j < 4; j++) b[4 + 4 * k + j] = (uint8_t)(dims[k] >> (24 - 8 * j));
    for (size_t i = 0; i < count; i++) b[4 + 4 * ndim + i] = (uint8_t)((i * 7 + (size_t)seed) & 255);
    return b;
}

static void write_idx(const char *name, int gzipped, int ndim, const uint32_t *dims,
                      int seed) {
    size_t len;
    uint8_t *b = make_idx(0x08, ndim, dims, seed, &len);
    if (gzipped) {
        size_t zl;
        uint8_t *z = gz(b, len, &zl);
        spit(tpath(name), z, zl);
        free(z);
    } else {
        spit(tpath(name), b, len);
    }
    free(b);
}

/* expect PD_ERR_FORMAT (or st) from parsing bytes, message has label + want */
static void expect_idx_bad(const uint8_t *b, size_t len, const char *want) {
    pd_idx x;
    pd_status st = pd_idx_parse(b, len, "lbl.idx", &x);
    if (st != PD_ERR_FORMAT || !strstr(pd_last_error(), want) ||
        strncmp(pd_last_error(), "lbl.idx: ", 9) != 0)
        fail_msg("status %d, message '%s', wanted '%s'", st, pd_last_error(), want);
    assert_null(x.data);
}

/* ---- IDX ---------------------------------------------------------------- */

static void test_idx_plain_and_gzip(void **state) {
    (void)state;
    const uint32_t dims[3] = {2, 3, 4};
    size_t len;
    uint8_t *b = make_idx(0x08, 3, dims, 5, &len);
    pd_idx x;
    assert_int_equal(pd_idx_parse(b, len, "m", &x), PD_OK);
    assert_int_equal(x.ndim, 3);
    assert_int_equal(x.dims[0], 2);
    assert_int_equal(x.dims[1], 3);
    assert_int_equal(x.dims[2], 4);
    assert_int_equal(x.count, 24);
    assert_memory_equal(x.data, b + 16, 24);
    pd_idx_free(&x);

    size_t zl;
    uint8_t *z = gz(b, len, &zl);
    assert_int_equal(pd_idx_parse(z, zl, "m.gz", &x), PD_OK);
    assert_int_equal(x.count, 24);
    assert_memory_equal(x.data, b + 16, 24);
    pd_idx_free(&x);

    /* through files, name without .gz: detection is by magic */
    spit(tpath("a"), z, zl);
    assert_int_equal(pd_idx_read(tpath("a"), &x), PD_OK);
    assert_memory_equal(x.data, b + 16, 24);
    pd_idx_free(&x);

    /* two gzip members concatenated (as `cat a.gz b.gz` makes) */
    size_t l1, l2;
    uint8_t *z1 = gz(b, 10, &l1), *z2 = gz(b + 10, len - 10, &l2);
    uint8_t *cat = malloc(l1 + l2);
    memcpy(cat, z1, l1);
    memcpy(cat + l1, z2, l2);
    assert_int_equal(pd_idx_parse(cat, l1 + l2, "cat", &x), PD_OK);
    assert_memory_equal(x.data, b + 16, 24);
    pd_idx_free(&x);

    /* a bigger gzip payload exercises buffer growth: 300000 bytes */
    const uint32_t big[2] = {1000, 300};
    size_t bl;
    uint8_t *bb = make_idx(0x08, 2, big, 1, &bl), *bz;
    size_t bzl;
    bz = gz(bb, bl, &bzl);
    assert_int_equal(pd_idx_parse(bz, bzl, "big", &x), PD_OK);
    assert_int_equal(x.count, 300000);
    assert_memory_equal(x.data, bb + 12, 300000);
    pd_idx_free(&x);

    /* zero-sized payload is valid */
    const uint32_t zero[1] = {0};
    size_t el;
    uint8_t *e = make_idx(0x08, 1, zero, 0, &el);
    assert_int_equal(pd_idx_parse(e, el, "empty", &x), PD_OK);
    assert_int_equal(x.count, 0);
    pd_idx_free(&x);
    free(e);
    free(bb);
    free(bz);
    free(z1);
    free(z2);
    free(cat);
    free(z);
    free(b);
}

static void test_idx_malformed(void **state) {
    (void)state;
    const uint32_t dims[2] = {3, 5};
    size_t len;
    uint8_t *b = make_idx(0x08, 2, dims, 0, &len);
    uint8_t *c = malloc(len + 8);

    expect_idx_bad(b, 0, "truncated");
    expect_idx_bad(b, 3, "truncated");
    memcpy(c, b, len), c[0] = 1;
    expect_idx_bad(c, len, "bad magic");
    memcpy(c, b, len), c[2] = 0x0d;
    expect_idx_bad(c, len, "0x0d (float32)");
    memcpy(c, b, len), c[3] = 0;
    expect_idx_bad(c, len, "0 dimensions");
    memcpy(c, b, len), c[3] = 9;
    expect_idx_bad(c, len, "9 dimensions");
    expect_idx_bad(b, 9, "truncated header");
    expect_idx_bad(b, len - 1, "dims say 15");
    memcpy(c, b, len), c[len] = 0;
    expect_idx_bad(c, len + 1, "trailing data");
    /* dims whose product is far beyond the bound: rejected, nothing allocated */
    const uint8_t huge[16] = {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                              0xff, 0xff, 0xff, 0xff};
    expect_idx_bad(huge, sizeof huge, "more than");

    /* gzip: truncated, payload short or long, trailing garbage, corrupt */
    size_t zl;
    uint8_t *z = gz(b, len, &zl);
    expect_idx_bad(z, zl - 12, "truncated");
    expect_idx_bad(z, 5, "truncated");
    size_t sl;
    uint8_t *zs = gz(b, len - 1, &sl);
    expect_idx_bad(zs, sl, "dims say 15");
    memcpy(c, b, len), c[len] = 9;
    uint8_t *zlong = gz(c, len + 1, &sl);
    expect_idx_bad(zlong, sl, "longer than");
    uint8_t *zt = malloc(zl + 3);
    memcpy(zt, z, zl);
    memcpy(zt + zl, "abc", 3);
    expect_idx_bad(zt, zl + 3, "trailing garbage");
    zt[zl - 6] ^= 0xff; /* CRC-32 / length trailer */
    expect_idx_bad(zt, zl, "corrupt gzip");
    memcpy(zt, z, zl);
    zt[10] = 0xff; /* invalid deflate block type */
    pd_idx x;
    assert_int_equal(pd_idx_parse(zt, zl, "lbl.idx", &x), PD_ERR_FORMAT);

    /* file errors name the path */
    assert_int_equal(pd_idx_read(tpath("missing-idx"), &x), PD_ERR_IO);
    assert_non_null(strstr(pd_last_error(), tpath("missing-idx")));
    spit(tpath("bad"), c, 7);
    assert_int_equal(pd_idx_read(tpath("bad"), &x), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), tpath("bad")));
    free(zt);
    free(zlong);
    free(zs);
    free(z);
    free(c);
    free(b);
}

/* random flips/truncations of plain and gzip files: OK or a clean error */
static void test_idx_random_corruption(void **state) {
    (void)state;
    const uint32_t dims[3] = {4, 6, 5};
    size_t len, zl;
    uint8_t *plain = make_idx(0x08, 3, dims, 3, &len);
    uint8_t *z = gz(plain, len, &zl);
    pd_rng r;
    pd_rng_seed(&r, 99, 0);
    int bad = 0;
    for (int it = 0; it < 600; it++) {
        const uint8_t *src = it & 1 ? z : plain;
        size_t n = it & 1 ? zl : len;
        uint8_t *b = malloc(n);
        memcpy(b, src, n);
        int flips = 1 + (int)pd_rng_below(&r, 3);
        for (int k = 0; k < flips; k++)
            b[pd_rng_below(&r, (uint32_t)(n < 40 ? n : 40))] ^= (uint8_t)(1 + pd_rng_below(&r, 255));
        if (pd_rng_below(&r, 2)) n = pd_rng_below(&r, (uint32_t)n);
        pd_idx x;
        pd_status st = pd_idx_parse(b, n, "rnd", &x);
        if (st == PD_OK) {
            size_t p = 1;
            for (int k = 0; k < x.ndim; k++) p *= x.dims[k];
            assert_int_equal(p, x.count);
            assert_non_null(x.data);
            pd_idx_free(&x);
        } else {
            bad++;
            if (st != PD_ERR_FORMAT) fail_msg("status %d: %s", st, pd_last_error());
            assert_true(strncmp(pd_last_error(), "rnd: ", 5) == 0);
        }
        free(b);
    }
    assert_true(bad > 300);
    free(z);
    free(plain);
}

/* ---- dataset directories ------------------------------------------------ */

static void test_dataset_idx(void **state) {
    (void)state;
    const uint32_t im[3] = {5, 4, 3}, lb[1] = {5};
    write_idx("train-images-idx3-ubyte", 0, 3, im, 0);
    write_idx("train-labels-idx1-ubyte.gz", 1, 1, lb, 2); /* labels 2, 9, 16.. */
    pd_dataset d;
    assert_int_equal(pd_dataset_load(tmpdir, 1, &d), PD_OK);
    assert_int_equal(d.n, 5);
    assert_int_equal(d.c, 1);
    assert_int_equal(d.h, 4);
    assert_int_equal(d.w, 3);
    for (size_t i = 0; i < 60; i++) assert_true(d.x[i] == (float)((i * 7) & 255) / 255.0f);
    for (size_t i = 0; i < 5; i++) assert_int_equal(d.y[i], (int)(i * 7 + 2));
    assert_int_equal(d.classes, 31); /* max label 30 + 1 */
    pd_dataset_free(&d);
    assert_null(d.x);

    /* test split missing entirely: message names dir and expected files */
    assert_int_equal(pd_dataset_load(tmpdir, 0, &d), PD_ERR_IO);
    assert_non_null(strstr(pd_last_error(), tmpdir));
    assert_non_null(strstr(pd_last_error(), "t10k-images-idx3-ubyte"));
    assert_non_null(strstr(pd_last_error(), "test_batch.bin"));

    /* images without labels */
    write_idx("t10k-images-idx3-ubyte.gz", 1, 3, im, 0);
    assert_int_equal(pd_dataset_load(tmpdir, 0, &d), PD_ERR_IO);
    assert_non_null(strstr(pd_last_error(), "t10k-labels-idx1-ubyte"));

    /* count mismatch */
    const uint32_t lb4[1] = {4};
    write_idx("t10k-labels-idx1-ubyte", 0, 1, lb4, 0);
    assert_int_equal(pd_dataset_load(tmpdir, 0, &d), PD_ERR_SHAPE);
    assert_non_null(strstr(pd_last_error(), tpath("t10k-images-idx3-ubyte.gz")));
    assert_null(d.x);

    /* labels with 2 dims */
    const uint32_t lb2[2] = {5, 1};
    write_idx("t10k-labels-idx1-ubyte", 0, 2, lb2, 0);
    assert_int_equal(pd_dataset_load(tmpdir, 0, &d), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), tpath("t10k-labels-idx1-ubyte")));

    /* images with 2 dims */
    const uint32_t im2[2] = {5, 12};
    write_idx("t10k-labels-idx1-ubyte", 0, 1, lb, 0);
    write_idx("t10k-images-idx3-ubyte.gz", 1, 2, im2, 0);
    assert_int_equal(pd_dataset_load(tmpdir, 0, &d), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), "3 dims"));

    /* truncated gzip image file */
    spit(tpath("t10k-images-idx3-ubyte.gz"), "\x1f\x8b\x08\x00", 4);
    assert_int_equal(pd_dataset_load(tmpdir, 0, &d), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), tpath("t10k-images-idx3-ubyte.gz")));

    assert_int_equal(pd_dataset_load(tpath("no-such-dir"), 1, &d), PD_ERR_IO);
    assert_non_null(strstr(pd_last_error(), "no-such-dir"));
}

/* CIFAR record r: label(s), then pixel k = (r * 13 + k) & 255 */
static uint8_t *make_cifar(int classes, size_t n, int first, size_t *len) {
    size_t rec = pd_cifar_record_size(classes), nl = rec - PD_CIFAR_PIXELS;
    *len = n * rec;
    uint8_t *b = malloc(*len);
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = b + i * rec;
        size_t r = (size_t)first + i;
        if (classes == 100) p[0] = (uint8_t)(r % 20);
        p[nl - 1] = (uint8_t)(r % (size_t)classes);
        for (size_t k = 0; k < PD_CIFAR_PIXELS; k++) p[nl + k] = (uint8_t)((r * 13 + k) & 255);
    }
    return b;
}

static void check_cifar(const pd_dataset *d, int classes, size_t n) {
    assert_int_equal(d->n, n);
    assert_int_equal(d->c, 3);
    assert_int_equal(d->h, 32);
    assert_int_equal(d->w, 32);
    assert_int_equal(d->classes, classes);
    for (size_t r = 0; r < n; r++) {
        assert_int_equal(d->y[r], (int)(r % (size_t)classes));
        /* channel 1 (green), row 2, col 5 */
        size_t k = 1024 + 2 * 32 + 5;
        assert_true(d->x[r * 3072 + k] == (float)((r * 13 + k) & 255) / 255.0f);
    }
}

static void test_dataset_cifar10(void **state) {
    (void)state;
    const size_t per[5] = {2, 1, 1, 1, 3};
    int first = 0;
    for (int f = 0; f < 5; f++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
        size_t len;
        uint8_t *b = make_cifar(10, per[f], first, &len);
        spit(tpath(name), b, len);
        free(b);
        first += (int)per[f];
    }
    pd_dataset d;
    assert_int_equal(pd_dataset_load(tmpdir, 1, &d), PD_OK);
    check_cifar(&d, 10, 8);
    pd_dataset_free(&d);

    /* test batch in the archive's subfolder */
    mkdir(tpath("cifar-10-batches-bin"), 0700);
    size_t len;
    uint8_t *b = make_cifar(10, 3, 0, &len);
    spit(tpath("cifar-10-batches-bin/test_batch.bin"), b, len);
    assert_int_equal(pd_dataset_load(tmpdir, 0, &d), PD_OK);
    check_cifar(&d, 10, 3);
    pd_dataset_free(&d);

    /* label out of range: names file and record */
    b[3073 + 0] = 10;
    spit(tpath("cifar-10-batches-bin/test_batch.bin"), b, len);
    assert_int_equal(pd_dataset_load(tmpdir, 0, &d), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), "test_batch.bin: record 1: label 10"));
    assert_null(d.x);
    /* partial record */
    spit(tpath("cifar-10-batches-bin/test_batch.bin"), b, len - 1);
    assert_int_equal(pd_dataset_load(tmpdir, 0, &d), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), "whole number"));
    free(b);

    /* a missing training batch is named */
    remove(tpath("data_batch_3.bin"));
    assert_int_equal(pd_dataset_load(tmpdir, 1, &d), PD_ERR_IO);
    assert_non_null(strstr(pd_last_error(), tpath("data_batch_3.bin")));
}

static void test_dataset_cifar100(void **state) {
    (void)state;
    size_t len;
    uint8_t *b = make_cifar(100, 120, 0, &len);
    spit(tpath("train.bin"), b, len);
    pd_dataset d;
    assert_int_equal(pd_dataset_load(tmpdir, 1, &d), PD_OK);
    check_cifar(&d, 100, 120); /* fine labels r % 100, not coarse r % 20 */
    pd_dataset_free(&d);

    b[5 * 3074 + 1] = 100; /* fine label of record 5 */
    assert_int_equal(pd_cifar_parse(b, len, "c100", 100, &d), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), "c100: record 5: label 100"));
    b[5 * 3074 + 1] = 1;
    b[5 * 3074] = 20; /* coarse label */
    assert_int_equal(pd_cifar_parse(b, len, "c100", 100, &d), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), "coarse"));
    assert_int_equal(pd_cifar_parse(b, len, "c100", 7, &d), PD_ERR_ARG);
    assert_int_equal(pd_cifar_parse(b, 0, "c100", 100, &d), PD_ERR_FORMAT);
    /* a CIFAR-100 file read as CIFAR-10: 3074 * 120 is not a multiple of 3073 */
    assert_int_equal(pd_cifar_parse(b, len, "c100", 10, &d), PD_ERR_FORMAT);
    free(b);
}

static void test_normalize(void **state) {
    (void)state;
    pd_dataset tr = {.n = 3, .c = 2, .h = 2, .w = 2}, te = {.n = 1, .c = 2, .h = 2, .w = 2};
    tr.x = pd_alloc(24 * sizeof(float));
    te.x = pd_alloc(8 * sizeof(float));
    pd_rng r;
    pd_rng_seed(&r, 5, 0);
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 4; k++) {
            tr.x[(i * 2 + 0) * 4 + k] = 0.25f + 0.1f * pd_rng_normal(&r);
            tr.x[(i * 2 + 1) * 4 + k] = 0.5f; /* constant channel */
        }
    double m = 0, s2 = 0;
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 4; k++) m += tr.x[i * 8 + k];
    m /= 12;
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 4; k++) s2 += (tr.x[i * 8 + k] - m) * (tr.x[i * 8 + k] - m);
    double sd = sqrt(s2 / 12);
    for (size_t k = 0; k < 8; k++) te.x[k] = 1.0f;
    assert_int_equal(pd_dataset_normalize(&tr, &te), PD_OK);
    double nm = 0, ns = 0;
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 4; k++) {
            nm += tr.x[i * 8 + k];
            ns += (double)tr.x[i * 8 + k] * tr.x[i * 8 + k];
            assert_true(tr.x[i * 8 + 4 + k] == 0.0f); /* centred, not divided by 0 */
        }
    assert_true(fabs(nm / 12) < 1e-6);
    assert_true(fabs(ns / 12 - 1.0) < 1e-5);
    assert_true(fabs(te.x[0] - (1.0 - m) / sd) < 1e-4); /* train statistics */
    assert_true(te.x[4] == 0.5f);
    pd_dataset bad = te;
    bad.c = 3;
    assert_int_equal(pd_dataset_normalize(&tr, &bad), PD_ERR_SHAPE);
    pd_dataset_free(&tr);
    pd_dataset_free(&te);
}

/* The installed Fashion-MNIST (Debian dataset-fashion-mnist), when present. */
static void test_fashion_mnist(void **state) {
    (void)state;
    struct stat sb;
    if (stat(PD_DATA_DIR_DEFAULT, &sb) != 0) skip();
    pd_dataset tr, te;
    assert_int_equal(pd_dataset_load(PD_DATA_DIR_DEFAULT, 1, &tr), PD_OK);
    assert_int_equal(pd_dataset_load(PD_DATA_DIR_DEFAULT, 0, &te), PD_OK);
    assert_int_equal(tr.n, 60000);
    assert_int_equal(te.n, 10000);
    assert_int_equal(tr.c, 1);
    assert_int_equal(tr.h, 28);
    assert_int_equal(tr.w, 28);
    assert_int_equal(tr.classes, 10);
    assert_int_equal(te.classes, 10);
    size_t hist[10] = {0};
    for (size_t i = 0; i < te.n; i++) hist[te.y[i]]++;
    for (int k = 0; k < 10; k++) assert_int_equal(hist[k], 1000); /* balanced */
    float lo = 1, hi = 0;
    for (size_t i = 0; i < tr.n * 784; i++) {
        lo = tr.x[i] < lo ? tr.x[i] : lo;
        hi = tr.x[i] > hi ? tr.x[i] : hi;
    }
    assert_true(lo == 0.0f && hi == 1.0f);
    assert_int_equal(pd_dataset_normalize(&tr, &te), PD_OK);
    double s = 0;
    for (size_t i = 0; i < tr.n * 784; i++) s += tr.x[i];
    assert_true(fabs(s / (double)(tr.n * 784)) < 1e-4);
    pd_dataset_free(&tr);
    pd_dataset_free(&te);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idx_plain_and_gzip, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_idx_malformed, setup_dir, teardown_dir),
        cmocka_unit_test(test_idx_random_corruption),
        cmocka_unit_test_setup_teardown(test_dataset_idx, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dataset_cifar10, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dataset_cifar100, setup_dir, teardown_dir),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
