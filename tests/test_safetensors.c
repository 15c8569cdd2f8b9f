/*
 * test_safetensors.c — safetensors writer/reader: round trip, F16/BF16/F64
 * and integer decoding from hand-built bytes, every malformed-header case
 * (each must give one PD_ERR_FORMAT line naming the file), random byte
 * flips and truncations, atomic writes (a full disk leaves no file).
 *
 * Two extra modes drive the numpy cross-check (tests/safetensors_numpy.sh):
 *   PD_ST_EXPORT=<file>  write a file of known formula values and exit;
 *   PD_ST_IMPORT=<file>  read a file written by numpy and check every
 *                        tensor "<x>" against its F32 twin "<x>_expect".
 */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pdiff_io.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static char tmpdir[64];

static int setup_dir(void **state) {
    (void)state;
    strcpy(tmpdir, "/tmp/pd_st_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        remove(p);
    }
    closedir(d);
    return rmdir(tmpdir);
}

static size_t dir_entries(void) {
    DIR *d = opendir(tmpdir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void tmp_path(char *out, const char *name) {
    snprintf(out, 256, "%s/%s", tmpdir, name);
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* 8-byte LE length + header text + buffer */
static uint8_t *build(const char *hdr, const void *buf, size_t blen, size_t *len) {
    size_t h = strlen(hdr);
    *len = 8 + h + blen;
    uint8_t *b = malloc(*len + 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(b + 8, hdr, h);
    if (blen) memcpy(b + 8 + h, buf, blen);
    return b;
}

/* parse hdr+buf from memory and expect a format error mentioning `want` */
static void expect_bad(const char *hdr, size_t blen, const char *want) {
    uint8_t zeros[256] = {0};
    assert_true(blen <= sizeof zeros);
    size_t len;
    uint8_t *b = build(hdr, zeros, blen, &len);
    pd_st_file f;
    pd_status st = pd_st_parse(b, len, "mem.safetensors", &f);
    if (st != PD_ERR_FORMAT || !strstr(pd_last_error(), want) ||
        strncmp(pd_last_error(), "mem.safetensors: ", 17) != 0)
        fail_msg("header %s: status %d, message '%s', wanted '%s'", hdr, st,
                 pd_last_error(), want);
    assert_null(f.t);
    assert_int_equal(f.count, 0);
    free(b);
}

/* the tensors used by the round trip and the numpy export */
typedef struct {
    float a[12], b[5], c[1], s[1];
    pd_st_tensor t[5];
} sample;

static void make_sample(sample *S) {
    memset(S, 0, sizeof *S);
    for (int i = 0; i < 12; i++) S->a[i] = (float)i * 0.5f - 3.0f;
    for (int i = 0; i < 5; i++) S->b[i] = (float)sin((double)i);
    S->c[0] = 42.0f;
    S->s[0] = 7.25f;
    pd_st_tensor *t = S->t;
    strcpy(t[0].name, "layer.a");
    t[0].ndim = 2, t[0].shape[0] = 3, t[0].shape[1] = 4, t[0].numel = 12, t[0].data = S->a;
    strcpy(t[1].name, "b \"quoted\"\\");
    t[1].ndim = 1, t[1].shape[0] = 5, t[1].numel = 5, t[1].data = S->b;
    strcpy(t[2].name, "c");
    t[2].ndim = 1, t[2].shape[0] = 1, t[2].numel = 1, t[2].data = S->c;
    strcpy(t[3].name, "scalar");
    t[3].ndim = 0, t[3].numel = 1, t[3].data = S->s;
    strcpy(t[4].name, "empty");
    t[4].ndim = 2, t[4].shape[0] = 0, t[4].shape[1] = 3, t[4].numel = 0, t[4].data = NULL;
}

static const char *const MK[] = {"format", "producer"};
static const char *const MV[] = {"pt", "pdiff-test \"v1\""};

/* ---- tests -------------------------------------------------------------- */

static void test_round_trip(void **state) {
    (void)state;
    sample S;
    make_sample(&S);
    char path[256];
    tmp_path(path, "rt.safetensors");
    assert_int_equal(pd_st_write(path, S.t, 5, MK, MV, 2), PD_OK);
    assert_int_equal(dir_entries(), 1); /* no temp file left behind */

    /* layout as the reference writes it: padded header, exact size */
    size_t len;
    uint8_t *raw = slurp(path, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | raw[i];
    assert_int_equal(n % 8, 0);
    assert_int_equal(len, 8 + n + 4 * (12 + 5 + 1 + 1));
    assert_int_equal(raw[8], '{');
    free(raw);

    pd_st_file f;
    assert_int_equal(pd_st_read(path, &f), PD_OK);
    assert_int_equal(f.count, 5);
    for (size_t i = 0; i < 5; i++) {
        const pd_st_tensor *t = &f.t[i], *w = &S.t[i];
        assert_string_equal(t->name, w->name); /* header order kept */
        assert_int_equal(t->ndim, w->ndim);
        assert_int_equal(t->numel, w->numel);
        assert_int_equal(t->dtype, PD_ST_F32);
        for (int k = 0; k < t->ndim; k++) assert_int_equal(t->shape[k], w->shape[k]);
        if (t->numel) assert_memory_equal(t->data, w->data, t->numel * sizeof(float));
    }
    assert_ptr_equal(pd_st_find(&f, "c"), &f.t[2]);
    assert_null(pd_st_find(&f, "nope"));
    assert_int_equal(f.meta_count, 2);
    assert_string_equal(pd_st_meta(&f, "producer"), MV[1]);
    assert_null(pd_st_meta(&f, "absent"));

    /* the in-memory parser agrees with the file reader */
    pd_st_file g;
    raw = slurp(path, &len);
    assert_int_equal(pd_st_parse(raw, len, path, &g), PD_OK);
    assert_int_equal(g.count, 5);
    assert_memory_equal(g.t[1].data, S.b, sizeof S.b);
    pd_st_free(&g);
    free(raw);
    pd_st_free(&f);
    assert_null(f.t);
}

static void test_write_rejects_bad_args(void **state) {
    (void)state;
    sample S;
    make_sample(&S);
    char path[256];
    tmp_path(path, "old.safetensors");
    assert_int_equal(pd_st_write(path, S.t, 1, NULL, NULL, 0), PD_OK);
    size_t len0;
    uint8_t *before = slurp(path, &len0);

    strcpy(S.t[1].name, "layer.a"); /* duplicate */
    assert_int_equal(pd_st_write(path, S.t, 2, NULL, NULL, 0), PD_ERR_ARG);
    assert_non_null(strstr(pd_last_error(), "duplicate"));
    make_sample(&S);
    S.t[0].numel = 11; /* disagrees with the shape */
    assert_int_equal(pd_st_write(path, S.t, 1, NULL, NULL, 0), PD_ERR_SHAPE);
    make_sample(&S);
    S.t[0].ndim = 9;
    assert_int_equal(pd_st_write(path, S.t, 1, NULL, NULL, 0), PD_ERR_ARG);
    make_sample(&S);
    strcpy(S.t[0].name, "__metadata__");
    assert_int_equal(pd_st_write(path, S.t, 1, NULL, NULL, 0), PD_ERR_ARG);
    make_sample(&S);
    strcpy(S.t[0].name, "bad\nname");
    assert_int_equal(pd_st_write(path, S.t, 1, NULL, NULL, 0), PD_ERR_ARG);
    const char *const dk[] = {"k", "k"}, *const dv[] = {"1", "2"};
    make_sample(&S);
    assert_int_equal(pd_st_write(path, S.t, 1, dk, dv, 2), PD_ERR_ARG);

    /* the previous file is untouched, no temp files remain */
    size_t len1;
    uint8_t *after = slurp(path, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    assert_int_equal(dir_entries(), 1);
    free(before);
    free(after);

    /* unwritable destination: an I/O error naming the path */
    assert_int_equal(pd_st_write("/nonexistent-dir/x.safetensors", S.t, 1, NULL, NULL, 0),
                     PD_ERR_IO);
    assert_non_null(strstr(pd_last_error(), "/nonexistent-dir/x.safetensors"));
}

/* A file-size limit makes write() fail like a full disk: the result must be
 * an error, no destination file and no temp file. */
static void test_full_disk_gives_error(void **state) {
    (void)state;
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    size_t n = 100000;
    float *big = calloc(n, sizeof(float));
    pd_st_tensor t = {.ndim = 1, .shape = {n}, .numel = n, .data = big};
    strcpy(t.name, "big");
    char path[256];
    tmp_path(path, "full.safetensors");
    lim = old;
    lim.rlim_cur = 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    pd_status st = pd_st_write(path, &t, 1, NULL, NULL, 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    free(big);
    assert_int_equal(st, PD_ERR_IO);
    assert_non_null(strstr(pd_last_error(), path));
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0);
    assert_int_equal(dir_entries(), 0);
}

static void test_half_bfloat_and_other_dtypes(void **state) {
    (void)state;
    /* F16 (2, 4): 1, -2, 65504, 2^-24, -0, inf, 0x3555, 2^-14 */
    const uint16_t h[8] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x3555, 0x0400};
    const float hx[8] = {1.0f, -2.0f, 65504.0f, 5.9604644775390625e-8f, -0.0f, INFINITY,
                         0.333251953125f, 6.103515625e-5f};
    /* BF16 (3,): 1, -3, pi truncated */
    const uint16_t bf[3] = {0x3f80, 0xc040, 0x4049};
    const float bx[3] = {1.0f, -3.0f, 3.140625f};
    const double d[2] = {0.1, -1e300};
    const int64_t i64[2] = {-5, 1234567};
    const uint8_t u8[3] = {0, 7, 255}, bl[2] = {0, 1};
    uint8_t buf[16 + 6 + 16 + 16 + 3 + 2];
    size_t o = 0;
    /* the buffer is little-endian; this host is too (x86/arm) */
    memcpy(buf + o, bf, 6), o += 6;
    memcpy(buf + o, h, 16), o += 16;
    memcpy(buf + o, d, 16), o += 16;
    memcpy(buf + o, i64, 16), o += 16;
    memcpy(buf + o, u8, 3), o += 3;
    memcpy(buf + o, bl, 2), o += 2;
    assert_int_equal(o, sizeof buf);
    /* header order differs from buffer order on purpose */
    const char *hdr =
        "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,4],\"data_offsets\":[6,22]},"
        "\"bf\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]},"
        "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[22,38]},"
        "\"n\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[38,54]},"
        "\"u\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[54,57]},"
        "\"b\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[57,59]}}  ";
    size_t len;
    uint8_t *b = build(hdr, buf, sizeof buf, &len);
    pd_st_file f;
    assert_int_equal(pd_st_parse(b, len, "mixed", &f), PD_OK);
    const pd_st_tensor *t = pd_st_find(&f, "h");
    assert_int_equal(t->dtype, PD_ST_F16);
    for (int i = 0; i < 8; i++) {
        assert_true(t->data[i] == hx[i]);
        assert_int_equal(signbit(t->data[i]) != 0, signbit(hx[i]) != 0);
    }
    t = pd_st_find(&f, "bf");
    assert_int_equal(t->dtype, PD_ST_BF16);
    assert_memory_equal(t->data, bx, sizeof bx);
    t = pd_st_find(&f, "d");
    assert_true(t->data[0] == 0.1f && isinf(t->data[1]) && t->data[1] < 0);
    t = pd_st_find(&f, "n");
    assert_int_equal(t->dtype, PD_ST_I64);
    assert_true(t->data[0] == -5.0f && t->data[1] == 1234567.0f);
    t = pd_st_find(&f, "u");
    assert_true(t->data[0] == 0.0f && t->data[1] == 7.0f && t->data[2] == 255.0f);
    t = pd_st_find(&f, "b");
    assert_true(t->data[0] == 0.0f && t->data[1] == 1.0f);
    assert_string_equal(pd_st_dtype_name(PD_ST_BF16), "BF16");
    pd_st_free(&f);

    /* the file reader streams the same conversions */
    char path[256];
    tmp_path(path, "mixed.safetensors");
    spit(path, b, len);
    assert_int_equal(pd_st_read(path, &f), PD_OK);
    assert_true(pd_st_find(&f, "h")->data[6] == hx[6]);
    assert_memory_equal(pd_st_find(&f, "bf")->data, bx, sizeof bx);
    pd_st_free(&f);
    free(b);
}

static void test_bad_sizes(void **state) {
    (void)state;
    char path[256];
    pd_st_file f;
    tmp_path(path, "empty.safetensors");
    spit(path, "", 0);
    assert_int_equal(pd_st_read(path, &f), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), path));
    assert_non_null(strstr(pd_last_error(), "too short"));

    tmp_path(path, "seven.safetensors");
    spit(path, "\x10\0\0\0\0\0\0", 7);
    assert_int_equal(pd_st_read(path, &f), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), path));

    /* header length larger than the file */
    uint8_t b[12] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    tmp_path(path, "long.safetensors");
    spit(path, b, sizeof b);
    assert_int_equal(pd_st_read(path, &f), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), path));
    assert_non_null(strstr(pd_last_error(), "larger than"));
    assert_int_equal(pd_st_parse(b, sizeof b, "m", &f), PD_ERR_FORMAT);

    /* huge header length: rejected before any allocation */
    uint64_t huge = 1ull << 62;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(huge >> (8 * i));
    spit(path, b, sizeof b);
    assert_int_equal(pd_st_read(path, &f), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), "limit"));
    assert_int_equal(pd_st_parse(b, sizeof b, "m", &f), PD_ERR_FORMAT);

    /* a directory is not a file */
    assert_int_equal(pd_st_read(tmpdir, &f), PD_ERR_IO);
    tmp_path(path, "absent.safetensors");
    assert_int_equal(pd_st_read(path, &f), PD_ERR_IO);
    assert_non_null(strstr(pd_last_error(), path));

    /* valid empty file: "{}" padded, no tensors */
    assert_int_equal(pd_st_parse((const uint8_t *)"\x08\0\0\0\0\0\0\0{}      ", 16, "m",
                                 &f),
                     PD_OK);
    assert_int_equal(f.count, 0);
    pd_st_free(&f);
}

static void test_bad_headers(void **state) {
    (void)state;
#define T(name, dt, shape, off) \
    "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" off "}"
    expect_bad("{abc", 0, "not valid JSON");
    expect_bad("", 0, "not valid JSON");
    expect_bad("[1,2]", 0, "not a JSON object");
    expect_bad("{} x", 0, "trailing bytes");
    expect_bad("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing \"dtype\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "missing \"shape\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing \"data_offsets\"");
    expect_bad("{\"a\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "not a string");
    expect_bad("{\"a\":5}", 0, "not an object");
    expect_bad("{" T("a", "F8_E4M3", "[1]", "[0,1]") "}", 1, "unsupported dtype 'F8_E4M3'");
    expect_bad("{" T("a", "C64", "[1]", "[0,8]") "}", 8, "'C64'");
    expect_bad("{" T("a", "F32", "[-1]", "[0,4]") "}", 4, "shape[0]");
    expect_bad("{" T("a", "F32", "[2.5]", "[0,10]") "}", 10, "non-negative integer");
    expect_bad("{" T("a", "F32", "[\"2\"]", "[0,8]") "}", 8, "shape[0]");
    expect_bad("{" T("a", "F32", "3", "[0,12]") "}", 12, "not an array");
    expect_bad("{" T("a", "F32", "[4294967296,4294967296,4294967296]", "[0,4]") "}", 4,
               "overflows");
    expect_bad("{" T("a", "F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, "9 dimensions");
    expect_bad("{" T("a", "F32", "[1]", "[0,400]") "}", 4, "past the 4-byte buffer");
    expect_bad("{" T("a", "F32", "[1]", "[4,0]") "}", 4, "reversed");
    expect_bad("{" T("a", "F32", "[1]", "[0]") "}", 4, "[begin, end]");
    expect_bad("{" T("a", "F32", "[1]", "[0,-4]") "}", 4, "non-negative");
    expect_bad("{" T("a", "F32", "[2]", "[0,4]") "}", 4, "needs 8");
    expect_bad("{" T("a", "F16", "[2]", "[0,8]") "}", 8, "needs 4");
    expect_bad("{" T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[1]", "[4,8]") "}", 8,
               "overlaps");
    expect_bad("{" T("a", "F32", "[1]", "[0,4]") "," T("b", "F32", "[1]", "[8,12]") "}",
               12, "gap");
    expect_bad("{" T("a", "F32", "[1]", "[0,4]") "}", 8, "cover 4 bytes");
    expect_bad("{" T("a", "F32", "[1]", "[0,4]") "," T("a", "F32", "[1]", "[4,8]") "}", 8,
               "duplicate tensor name 'a'");
    expect_bad("{" T("", "F32", "[1]", "[0,4]") "}", 4, "empty tensor name");
    expect_bad("{" T("a\\n", "F32", "[1]", "[0,4]") "}", 4, "control character");
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, "not a string");
    expect_bad("{\"__metadata__\":[]}", 0, "not an object");
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate __metadata__");
    expect_bad("{\"a\xff\":{}}", 0, "UTF-8");
#undef T
}

static void test_truncated_file(void **state) {
    (void)state;
    sample S;
    make_sample(&S);
    char path[256];
    tmp_path(path, "t.safetensors");
    assert_int_equal(pd_st_write(path, S.t, 5, MK, MV, 2), PD_OK);
    size_t len;
    uint8_t *b = slurp(path, &len);
    assert_int_equal(truncate(path, (off_t)len - 1), 0);
    pd_st_file f;
    assert_int_equal(pd_st_read(path, &f), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), path));
    assert_non_null(strstr(pd_last_error(), "truncated"));
    /* one byte too many */
    uint8_t *c = malloc(len + 1);
    memcpy(c, b, len);
    c[len] = 0;
    spit(path, c, len + 1);
    assert_int_equal(pd_st_read(path, &f), PD_ERR_FORMAT);
    assert_non_null(strstr(pd_last_error(), "cover"));
    free(c);
    free(b);
}

/* Random byte flips and truncations of a valid file: never a crash, always
 * OK or a clean format error naming the source; OK results are coherent. */
static void test_random_corruption(void **state) {
    (void)state;
    sample S;
    make_sample(&S);
    char path[256];
    tmp_path(path, "fuzz.safetensors");
    assert_int_equal(pd_st_write(path, S.t, 5, MK, MV, 2), PD_OK);
    size_t len;
    uint8_t *good = slurp(path, &len);
    uint8_t *b = malloc(len);
    pd_rng r;
    pd_rng_seed(&r, 1234, 0);
    int ok = 0, bad = 0;
    for (int it = 0; it < 800; it++) {
        memcpy(b, good, len);
        size_t n = len;
        int mode = (int)pd_rng_below(&r, 3);
        if (mode != 1) { /* flip 1..4 bytes; bias towards the header */
            int flips = 1 + (int)pd_rng_below(&r, 4);
            for (int k = 0; k < flips; k++) {
                uint32_t head = len < 308 ? (uint32_t)len : 308; /* len + JSON */
                size_t at = pd_rng_below(&r, 2) ? pd_rng_below(&r, (uint32_t)len)
                                                : pd_rng_below(&r, head);
                b[at] ^= (uint8_t)(1 + pd_rng_below(&r, 255));
            }
        }
        if (mode != 0) n = pd_rng_below(&r, (uint32_t)len);
        pd_st_file f;
        pd_status st = pd_st_parse(b, n, "fuzz.bin", &f);
        if (st == PD_OK) {
            ok++;
            for (size_t i = 0; i < f.count; i++) {
                size_t p = 1;
                for (int k = 0; k < f.t[i].ndim; k++) p *= f.t[i].shape[k];
                assert_int_equal(p, f.t[i].numel);
                assert_non_null(f.t[i].data);
            }
            pd_st_free(&f);
        } else {
            bad++;
            if (st != PD_ERR_FORMAT) fail_msg("status %d: %s", st, pd_last_error());
            assert_true(strncmp(pd_last_error(), "fuzz.bin: ", 10) == 0);
            assert_null(f.t);
        }
    }
    assert_true(bad > 400); /* most corruptions must be caught */
    (void)ok;
    free(b);
    free(good);
}

/* ---- numpy cross-check modes -------------------------------------------- */

static int export_file(const char *path) {
    sample S;
    make_sample(&S);
    pd_status st = pd_st_write(path, S.t, 5, MK, MV, 2);
    if (st) fprintf(stderr, "export: %s\n", pd_last_error());
    return st != PD_OK;
}

static int import_file(const char *path) {
    pd_st_file f;
    if (pd_st_read(path, &f)) {
        fprintf(stderr, "import: %s\n", pd_last_error());
        return 1;
    }
    int errors = 0, pairs = 0;
    for (size_t i = 0; i < f.count; i++) {
        const pd_st_tensor *e = &f.t[i];
        size_t nl = strlen(e->name);
        if (nl < 7 || strcmp(e->name + nl - 7, "_expect") != 0) continue;
        char base[PD_ST_NAME_MAX];
        memcpy(base, e->name, nl - 7);
        base[nl - 7] = '\0';
        const pd_st_tensor *t = pd_st_find(&f, base);
        if (!t || t->numel != e->numel || t->ndim != e->ndim) {
            fprintf(stderr, "import: %s missing or shape differs\n", base);
            errors++;
            continue;
        }
        pairs++;
        for (size_t k = 0; k < t->numel; k++)
            if (memcmp(&t->data[k], &e->data[k], sizeof(float)) != 0) {
                fprintf(stderr, "import: %s[%zu] (%s) = %.9g, numpy says %.9g\n", base, k,
                        pd_st_dtype_name(t->dtype), t->data[k], e->data[k]);
                errors++;
                break;
            }
    }
    const char *m = pd_st_meta(&f, "writer");
    if (!m || strcmp(m, "numpy") != 0) errors++;
    pd_st_free(&f);
    if (pairs < 4) {
        fprintf(stderr, "import: only %d checked pairs\n", pairs);
        errors++;
    }
    printf("import: %d tensor pairs checked, %d errors\n", pairs, errors);
    return errors != 0;
}

int main(void) {
    const char *ex = getenv("PD_ST_EXPORT"), *im = getenv("PD_ST_IMPORT");
    if (ex) return export_file(ex);
    if (im) return import_file(im);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_write_rejects_bad_args, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_full_disk_gives_error, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_half_bfloat_and_other_dtypes, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_sizes, setup_dir, teardown_dir),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test_setup_teardown(test_truncated_file, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_random_corruption, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
