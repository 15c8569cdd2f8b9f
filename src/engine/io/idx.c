/*
 * idx.c — IDX reader, plain or gzip (see idx.h).
 *
 * Both encodings go through one byte source: plain memory is copied out,
 * gzip is inflated on demand (multi-member streams allowed, trailing
 * garbage rejected). The header is read and validated first; the payload
 * buffer then grows with the bytes the source really delivers, capped at
 * the size the dims announce, and the source must end exactly there.
 */
#define ZLIB_CONST
#include "engine/io/idx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pdiff_io.h"

#define ZCHUNK (1u << 30) /* zlib counts in unsigned int: feed <= 1 GiB */

/* "<label>: <formatted problem>" as a PD_ERR_FORMAT */
#define bad(label, ...) pd_fail_at(PD_ERR_FORMAT, (label), __VA_ARGS__)

/* ---- byte source: plain memory or inflating gzip ------------------------ */

typedef struct {
    const uint8_t *src; /* input not yet handed to zlib (or not yet copied) */
    size_t left;
    int gz, zinit, eof;
    z_stream zs;
    const char *label;
    pd_status err; /* sticky; set with a message on corrupt input */
} source;

/* byte i of the input zlib has not consumed yet (zs.next_in, then src) */
static int peek(const source *s, size_t i, uint8_t *b) {
    if (i < s->zs.avail_in) {
        *b = s->zs.next_in[i];
        return 1;
    }
    i -= s->zs.avail_in;
    if (i < s->left) {
        *b = s->src[i];
        return 1;
    }
    return 0;
}

static size_t gz_read(source *s, uint8_t *dst, size_t n) {
    size_t got = 0;
    while (got < n && !s->eof && !s->err) {
        if (s->zs.avail_in == 0 && s->left) {
            size_t k = s->left < ZCHUNK ? s->left : ZCHUNK;
            s->zs.next_in = s->src;
            s->zs.avail_in = (uInt)k;
            s->src += k;
            s->left -= k;
        }
        size_t want = n - got < ZCHUNK ? n - got : ZCHUNK;
        s->zs.next_out = dst + got;
        s->zs.avail_out = (uInt)want;
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        got += want - s->zs.avail_out;
        if (rc == Z_STREAM_END) {
            uint8_t b0, b1;
            if (!peek(s, 0, &b0)) {
                s->eof = 1;
            } else if (peek(s, 1, &b1) && b0 == 0x1f && b1 == 0x8b) {
                inflateReset(&s->zs); /* next gzip member */
            } else {
                s->err = bad(s->label, "trailing garbage after the gzip stream");
            }
        } else if (rc == Z_BUF_ERROR) {
            /* no progress possible with output space left: input exhausted
             * (more is fed on the next turn when some is left) */
            if (s->zs.avail_in != 0 || s->left == 0)
                s->err = bad(s->label, "truncated gzip stream");
        } else if (rc != Z_OK) {
            s->err = bad(s->label, "corrupt gzip data (%s)",
                         s->zs.msg ? s->zs.msg : "inflate failed");
        }
    }
    return got;
}

/* up to n bytes into dst; fewer only at end of data or on error */
static size_t src_read(source *s, uint8_t *dst, size_t n) {
    if (!s->gz) {
        size_t k = n < s->left ? n : s->left;
        memcpy(dst, s->src, k);
        s->src += k;
        s->left -= k;
        return k;
    }
    return gz_read(s, dst, n);
}

static pd_status src_open(source *s, const uint8_t *bytes, size_t len,
                          const char *label) {
    memset(s, 0, sizeof *s);
    s->src = bytes;
    s->left = len;
    s->label = label;
    s->gz = len >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
    if (s->gz) {
        if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK) /* gzip wrapper only */
            return pd_fail(PD_ERR_NOMEM, "%s: cannot initialise zlib", label);
        s->zinit = 1;
    }
    return PD_OK;
}

static void src_close(source *s) {
    if (s->zinit) inflateEnd(&s->zs);
    s->zinit = 0;
}

/* ---- IDX ---------------------------------------------------------------- */

static const char *type_name(uint8_t t) {
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0b: return "int16";
    case 0x0c: return "int32";
    case 0x0d: return "float32";
    case 0x0e: return "float64";
    }
    return "unknown";
}

static pd_status parse_header(source *s, const char *label, pd_idx *out) {
    uint8_t m[4];
    size_t got = src_read(s, m, 4);
    if (s->err) return s->err;
    if (got < 4) return bad(label, "truncated: %zu bytes, an IDX header needs 4", got);
    if (m[0] != 0 || m[1] != 0)
        return bad(label, "bad magic %02x %02x %02x %02x (an IDX file starts 00 00)",
                   m[0], m[1], m[2], m[3]);
    if (m[2] != 0x08)
        return bad(label, "IDX type 0x%02x (%s) not supported: only unsigned byte "
                   "(0x08)", m[2], type_name(m[2]));
    if (m[3] == 0 || m[3] > PD_IDX_MAX_DIMS)
        return bad(label, "%d dimensions (expected 1 to %d)", m[3], PD_IDX_MAX_DIMS);
    out->ndim = m[3];
    uint8_t d[4 * PD_IDX_MAX_DIMS];
    size_t need = 4u * (size_t)out->ndim;
    got = src_read(s, d, need);
    if (s->err) return s->err;
    if (got < need)
        return bad(label, "truncated header: %d dims need %zu bytes, got %zu",
                   out->ndim, need, got);
    uint64_t count = 1;
    for (int k = 0; k < out->ndim; k++) {
        const uint8_t *p = d + 4 * k;
        uint64_t dim = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 |
                       (uint64_t)p[2] << 8 | p[3];
        out->dims[k] = (size_t)dim;
        /* dims <= 2^32 and count <= 2^32 after each step: no overflow */
        count *= dim;
        if (count > PD_IDX_MAX_BYTES)
            return bad(label, "dims describe more than %llu bytes",
                       (unsigned long long)PD_IDX_MAX_BYTES);
    }
    out->count = (size_t)count;
    return PD_OK;
}

pd_status pd_idx_parse(const uint8_t *bytes, size_t len, const char *label,
                       pd_idx *out) {
    memset(out, 0, sizeof *out);
    source s;
    pd_status st = src_open(&s, bytes, len, label);
    if (st) return st;
    st = parse_header(&s, label, out);
    if (!st && !s.gz && s.left != out->count) {
        /* plain: the exact size is known before allocating */
        st = s.left < out->count
                 ? bad(label, "truncated: payload has %zu bytes, dims say %zu", s.left,
                       out->count)
                 : bad(label, "%zu bytes of trailing data after the %zu-byte payload",
                       s.left - out->count, out->count);
    }
    /* payload: grow with the data delivered, never past out->count */
    size_t have = 0, cap = 0;
    while (!st) {
        if (have == cap) {
            if (cap == out->count) break;
            size_t ncap = cap ? cap * 2 : (size_t)1 << 16;
            if (ncap > out->count || s.left >= out->count) ncap = out->count;
            uint8_t *p = realloc(out->data, ncap ? ncap : 1);
            if (!p) {
                st = pd_fail(PD_ERR_NOMEM, "%s: out of memory for %zu bytes", label, ncap);
                break;
            }
            out->data = p;
            cap = ncap;
        }
        size_t got = src_read(&s, out->data + have, cap - have);
        have += got;
        if (s.err) st = s.err;
        else if (got == 0)
            st = bad(label, "truncated: payload has %zu bytes, dims say %zu", have,
                     out->count);
    }
    if (!st && !out->data) { /* empty payload: keep data non-NULL */
        out->data = malloc(1);
        if (!out->data) st = pd_fail(PD_ERR_NOMEM, "%s: out of memory", label);
    }
    if (!st && s.gz) {
        uint8_t extra;
        if (src_read(&s, &extra, 1) != 0)
            st = bad(label, "decompressed data is longer than the %zu bytes the dims "
                     "say", out->count);
        else if (s.err)
            st = s.err;
    }
    src_close(&s);
    if (st) pd_idx_free(out);
    return st;
}

pd_status pd_idx_read(const char *path, pd_idx *out) {
    memset(out, 0, sizeof *out);
    uint8_t *bytes;
    size_t len;
    /* plain: header + payload; deflate expands incompressible data < 1/64 */
    pd_status st = pd_read_file(path, PD_IDX_MAX_BYTES + PD_IDX_MAX_BYTES / 64, &bytes, &len);
    if (st) return st;
    st = pd_idx_parse(bytes, len, path, out);
    free(bytes);
    return st;
}

void pd_idx_free(pd_idx *x) {
    free(x->data);
    memset(x, 0, sizeof *x);
}
