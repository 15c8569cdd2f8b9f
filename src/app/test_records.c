/*
 * test_records.c — see test_records.h. The bitsets are stored as 16-bit
 * pieces in F32 (exact), four per 64-bit word: tensor "wrong16" (K,
 * 4·words); the fingerprints are metadata: "test_crc32" and "vector_crc32"
 * (K hexadecimal CRCs, comma-separated).
 */
#include "test_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pdiff_io.h"

#define RECORDS_FILE "test_records.safetensors"

static uint32_t crc_of(const void *p, size_t bytes) {
    uLong c = crc32(0L, Z_NULL, 0);
    const unsigned char *b = p;
    while (bytes > 0) { /* crc32 takes a uInt length */
        uInt n = bytes > (1u << 30) ? (1u << 30) : (uInt)bytes;
        c = crc32(c, b, n);
        b += n;
        bytes -= n;
    }
    return (uint32_t)c;
}

static uint32_t test_crc(const pd_feats *t) {
    uint32_t a = crc_of(t->x, t->n * t->stride * sizeof(float));
    uint32_t b = crc_of(t->y, t->n * sizeof(*t->y));
    uint32_t ab[2] = {a, b};
    return crc_of(ab, sizeof ab);
}

/* "xxxxxxxx,xxxxxxxx,..." of the K vectors (malloc'd) */
static char *vector_crcs(const float *V, size_t K, size_t D) {
    char *s = malloc(K * 9 + 1);
    if (!s) return NULL;
    s[0] = 0;
    for (size_t k = 0; k < K; k++)
        snprintf(s + k * 9, 10, "%08x%s", (unsigned)crc_of(V + k * D, D * sizeof(float)),
                 k + 1 < K ? "," : "");
    return s;
}

pd_status pd_test_records_write(const char *dir, const uint64_t *wrong, size_t K,
                                size_t words, const float *V, size_t D, const pd_feats *test) {
    float *pieces = malloc(K * words * 4 * sizeof(float) + 1);
    char *vcrc = vector_crcs(V, K, D);
    if (!pieces || !vcrc) {
        free(pieces), free(vcrc);
        return pd_fail(PD_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < K * words; i++)
        for (int q = 0; q < 4; q++) pieces[i * 4 + q] = (float)((wrong[i] >> (16 * q)) & 0xffff);
    pd_st_tensor t = {"wrong16", 2, {K, words * 4}, K * words * 4, PD_ST_F32, pieces};
    char tcrc[16], path[4096];
    snprintf(tcrc, sizeof tcrc, "%08x", (unsigned)test_crc(test));
    const char *keys[] = {"format", "test_crc32", "vector_crc32"};
    const char *vals[] = {"pdiff-test-records", tcrc, vcrc};
    snprintf(path, sizeof path, "%s/%s", dir, RECORDS_FILE);
    pd_status st = pd_st_write(path, &t, 1, keys, vals, 3);
    free(pieces);
    free(vcrc);
    return st;
}

int pd_test_records_read(const char *dir, size_t K, size_t words, const float *V, size_t D,
                         const pd_feats *test, uint64_t *wrong) {
    char path[4096], tcrc[16];
    snprintf(path, sizeof path, "%s/%s", dir, RECORDS_FILE);
    if (!pd_file_exists(path)) return 0;
    pd_st_file f;
    if (pd_st_read(path, &f)) return 0;
    const pd_st_tensor *t = pd_st_find(&f, "wrong16");
    const char *tc = pd_st_meta(&f, "test_crc32"), *vc = pd_st_meta(&f, "vector_crc32");
    snprintf(tcrc, sizeof tcrc, "%08x", (unsigned)test_crc(test));
    char *mine = vector_crcs(V, K, D);
    int ok = t && tc && vc && mine && t->ndim == 2 && t->shape[0] == K &&
             t->shape[1] == words * 4 && !strcmp(tc, tcrc) && !strcmp(vc, mine);
    for (size_t i = 0; ok && i < K * words; i++) {
        uint64_t w = 0;
        for (int q = 0; q < 4; q++) {
            float p = t->data[i * 4 + q];
            if (!(p >= 0.0f && p <= 65535.0f) || p != (float)(uint32_t)p) ok = 0;
            else w |= (uint64_t)(uint32_t)p << (16 * q);
        }
        wrong[i] = w;
    }
    free(mine);
    pd_st_free(&f);
    return ok;
}
