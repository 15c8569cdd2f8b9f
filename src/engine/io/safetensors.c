/*
 * safetensors.c — safetensors reader (F32/F16/BF16/F64/integers → float32)
 * and F32 writer. See pdiff_io.h for the format and the API.
 *
 * Reading happens in two passes: parse_header() checks the JSON header
 * completely (types, dtypes, shapes with overflow-checked products, byte
 * lengths, offsets tiling the buffer exactly, unique names) and only then
 * is the float buffer allocated and the tensor bytes decoded — from memory
 * (pd_st_parse) or streamed from the file in offset order (pd_st_read), so
 * a file never has to fit in memory twice.
 */
#include "pdiff_io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


/* 2^53: largest integer every JSON reader stores exactly in a double */
#define MAX_JSON_INT 9007199254740992.0

/* Known dtypes: header spelling and bytes per element, indexed by
 * pd_st_dtype. Anything else (F8_*, C64, U16, ...) is rejected by name. */
static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {
    [PD_ST_F32] = {"F32", 4}, [PD_ST_F16] = {"F16", 2}, [PD_ST_BF16] = {"BF16", 2},
    [PD_ST_F64] = {"F64", 8}, [PD_ST_I64] = {"I64", 8}, [PD_ST_I32] = {"I32", 4},
    [PD_ST_I16] = {"I16", 2}, [PD_ST_I8] = {"I8", 1},   [PD_ST_U8] = {"U8", 1},
    [PD_ST_BOOL] = {"BOOL", 1},
};
#define N_DTYPES (sizeof DTYPES / sizeof DTYPES[0])

const char *pd_st_dtype_name(pd_st_dtype d) {
    return (size_t)d < N_DTYPES ? DTYPES[d].name : "?";
}

/* "<label>: <formatted problem>" as a PD_ERR_FORMAT */
#define bad(label, ...) pd_fail_at(PD_ERR_FORMAT, (label), __VA_ARGS__)

/* ---- small helpers ------------------------------------------------------ */

/* 1 on little-endian hosts, where F32 payloads are copied as they are */
static int host_is_le(void) {
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

/* unsigned little-endian integer of nbytes (<= 8) bytes */
static uint64_t load_le(const uint8_t *p, size_t nbytes) {
    uint64_t v = 0;
    for (size_t i = nbytes; i-- > 0;) v = (v << 8) | p[i];
    return v;
}

/* reinterpret IEEE-754 binary32 bits (memcpy: no aliasing UB) */
static float bits_to_float(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* IEEE binary16 → binary32, exact (subnormals, inf and NaN included) */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0) {
        float f = (float)mant * 5.9604644775390625e-8f; /* mant * 2^-24 */
        return sign ? -f : f;
    }
    if (exp == 31) return bits_to_float(sign | 0x7f800000u | (mant << 13));
    return bits_to_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* Strict UTF-8 check (no overlongs, no surrogates, <= U+10FFFF), as the
 * reference reader requires of the whole header. */
static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1fu; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0fu; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07u; }
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0u) != 0x80u) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

/* A tensor name is 1..PD_ST_NAME_MAX-1 bytes without control characters. */
static const char *name_problem(const char *s) {
    size_t n = strlen(s);
    if (n == 0) return "empty tensor name";
    if (n >= PD_ST_NAME_MAX) return "tensor name too long";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return "control character in tensor name";
    if (!utf8_valid((const uint8_t *)s, n)) return "tensor name is not UTF-8";
    return NULL;
}

/* JSON number that is an exact non-negative integer <= 2^53 */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d <= MAX_JSON_INT) || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

/* *r = a * b; returns 1 (leaving *r) when the product wraps */
static int mul_ovf(uint64_t a, uint64_t b, uint64_t *r) {
    if (a != 0 && b > UINT64_MAX / a) return 1;
    *r = a * b;
    return 0;
}

/* ---- header parsing ----------------------------------------------------- */

/* a tensor's byte range in the buffer, and its index in pd_st_file.t */
typedef struct {
    uint64_t begin, end;
    size_t idx;
} span;

/* by begin, then end: a zero-length tensor sorts before one starting at
 * the same byte, so it does not look like an overlap */
static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_strp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* frees the metadata pairs (also on partially filled arrays) */
static void free_meta(pd_st_file *f) {
    for (size_t i = 0; i < f->meta_count; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    f->meta_keys = f->meta_vals = NULL;
    f->meta_count = 0;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* "__metadata__": null or an object of string values, keys unique */
static pd_status parse_metadata(const cJSON *m, const char *label,
                                pd_st_file *out) {
    if (cJSON_IsNull(m)) return PD_OK;
    if (!cJSON_IsObject(m)) return bad(label, "__metadata__ is not an object");
    size_t n = 0;
    for (const cJSON *c = m->child; c; c = c->next) n++;
    if (n == 0) return PD_OK;
    out->meta_keys = calloc(n, sizeof(char *));
    out->meta_vals = calloc(n, sizeof(char *));
    if (!out->meta_keys || !out->meta_vals)
        return pd_fail(PD_ERR_NOMEM, "%s: out of memory", label);
    for (const cJSON *c = m->child; c; c = c->next) {
        if (!cJSON_IsString(c) || !c->valuestring)
            return bad(label, "__metadata__ value of '%.64s' is not a string",
                       c->string ? c->string : "");
        for (size_t k = 0; k < out->meta_count; k++)
            if (strcmp(out->meta_keys[k], c->string) == 0)
                return bad(label, "duplicate __metadata__ key '%.64s'", c->string);
        size_t k = out->meta_count;
        out->meta_keys[k] = dup_str(c->string);
        out->meta_vals[k] = dup_str(c->valuestring);
        out->meta_count++;
        if (!out->meta_keys[k] || !out->meta_vals[k])
            return pd_fail(PD_ERR_NOMEM, "%s: out of memory", label);
    }
    return PD_OK;
}

/* Fills one tensor's name/shape/dtype from its header entry and its span;
 * checks byte length against shape and dtype. */
static pd_status parse_entry(const cJSON *e, const char *label,
                             uint64_t buf_len, pd_st_tensor *t, span *sp) {
    const char *name = e->string ? e->string : "";
    const char *np = name_problem(name);
    if (np) return bad(label, "%s '%.64s'", np, name);
    memcpy(t->name, name, strlen(name) + 1);
    if (!cJSON_IsObject(e)) return bad(label, "tensor '%s': entry is not an object", name);

    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!dt) return bad(label, "tensor '%s': missing \"dtype\"", name);
    if (!sh) return bad(label, "tensor '%s': missing \"shape\"", name);
    if (!of) return bad(label, "tensor '%s': missing \"data_offsets\"", name);
    if (!cJSON_IsString(dt) || !dt->valuestring)
        return bad(label, "tensor '%s': \"dtype\" is not a string", name);

    /* dtype: one of the table, else an error that names it */
    size_t d = 0;
    while (d < N_DTYPES && strcmp(DTYPES[d].name, dt->valuestring) != 0) d++;
    if (d == N_DTYPES)
        return bad(label,
                   "tensor '%s': unsupported dtype '%.32s' (supported: F32, F16, "
                   "BF16, F64, I64, I32, I16, I8, U8, BOOL)",
                   name, dt->valuestring);
    t->dtype = (pd_st_dtype)d;

    /* shape: up to 8 exact integers; product checked at every step */
    if (!cJSON_IsArray(sh)) return bad(label, "tensor '%s': \"shape\" is not an array", name);
    int nd = cJSON_GetArraySize(sh);
    if (nd > PD_ST_MAX_DIMS)
        return bad(label, "tensor '%s': %d dimensions (at most %d)", name, nd,
                   PD_ST_MAX_DIMS);
    uint64_t numel = 1;
    int k = 0;
    for (const cJSON *c = sh->child; c; c = c->next, k++) {
        uint64_t dim;
        if (!json_uint(c, &dim))
            return bad(label, "tensor '%s': shape[%d] is not a non-negative integer",
                       name, k);
        if (mul_ovf(numel, dim, &numel) || numel > SIZE_MAX)
            return bad(label, "tensor '%s': shape product overflows", name);
        t->shape[k] = (size_t)dim;
    }
    t->ndim = nd;
    t->numel = (size_t)numel;
    uint64_t nbytes;
    if (mul_ovf(numel, DTYPES[d].size, &nbytes))
        return bad(label, "tensor '%s': byte size overflows", name);

    /* data_offsets: [begin, end] inside the buffer, end - begin = nbytes */
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2)
        return bad(label, "tensor '%s': \"data_offsets\" is not [begin, end]", name);
    if (!json_uint(of->child, &sp->begin) || !json_uint(of->child->next, &sp->end))
        return bad(label, "tensor '%s': data_offsets are not non-negative integers",
                   name);
    if (sp->begin > sp->end)
        return bad(label, "tensor '%s': data_offsets [%llu, %llu] are reversed", name,
                   (unsigned long long)sp->begin, (unsigned long long)sp->end);
    if (sp->end > buf_len)
        return bad(label,
                   "tensor '%s': data_offsets end %llu is past the %llu-byte buffer "
                   "(file truncated?)",
                   name, (unsigned long long)sp->end, (unsigned long long)buf_len);
    if (sp->end - sp->begin != nbytes)
        return bad(label,
                   "tensor '%s': data_offsets span %llu bytes but shape x %s needs %llu",
                   name, (unsigned long long)(sp->end - sp->begin), DTYPES[d].name,
                   (unsigned long long)nbytes);
    return PD_OK;
}

/* Tensors must tile [0, buf_len) exactly and have unique names. */
static pd_status check_layout(const pd_st_file *out, span *sp, const char *label,
                              uint64_t buf_len) {
    size_t n = out->count;
    qsort(sp, n, sizeof *sp, cmp_span);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = out->t[sp[i].idx].name;
        if (sp[i].begin > pos)
            return bad(label, "gap before tensor '%s': bytes [%llu, %llu) unused", name,
                       (unsigned long long)pos, (unsigned long long)sp[i].begin);
        if (sp[i].begin < pos)
            return bad(label, "tensor '%s' at byte %llu overlaps the previous tensor "
                       "(which ends at %llu)",
                       name, (unsigned long long)sp[i].begin, (unsigned long long)pos);
        pos = sp[i].end;
    }
    if (pos != buf_len)
        return bad(label, "tensors cover %llu bytes but the data buffer has %llu",
                   (unsigned long long)pos, (unsigned long long)buf_len);

    /* unique names: sort a pointer array, compare neighbours (O(n log n),
     * so a header with a million entries cannot stall the check) */
    if (n > 1) {
        const char **names = malloc(n * sizeof *names);
        if (!names) return pd_fail(PD_ERR_NOMEM, "%s: out of memory", label);
        for (size_t i = 0; i < n; i++) names[i] = out->t[i].name;
        qsort(names, n, sizeof *names, cmp_strp);
        for (size_t i = 1; i < n; i++)
            if (strcmp(names[i - 1], names[i]) == 0) {
                pd_status st = bad(label, "duplicate tensor name '%s'", names[i]);
                free(names);
                return st;
            }
        free(names);
    }
    return PD_OK;
}

/* Parses hdr[0..hlen) into out (names, shapes, dtypes, metadata; no data)
 * and returns the spans sorted by offset in *spans_out (caller frees). */
static pd_status parse_header(const uint8_t *hdr, size_t hlen, uint64_t buf_len,
                              const char *label, pd_st_file *out,
                              span **spans_out) {
    *spans_out = NULL;
    if (!utf8_valid(hdr, hlen)) return bad(label, "header is not valid UTF-8");
    /* NUL-terminated private copy: cJSON then never reads past the end */
    char *text = malloc(hlen + 1);
    if (!text) return pd_fail(PD_ERR_NOMEM, "%s: out of memory", label);
    memcpy(text, hdr, hlen);
    text[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, hlen, &end, 0);
    pd_status st = PD_OK;
    span *sp = NULL;
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        st = bad(label, "header is not valid JSON (near byte %zu of %zu)", at, hlen);
        goto done;
    }
    /* only whitespace (the reference writer's padding) may follow */
    for (const char *p = end; p < text + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = bad(label, "trailing bytes after the JSON header (at byte %zu)",
                     (size_t)(p - text));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        st = bad(label, "header is not a JSON object");
        goto done;
    }

    /* first count the entries so the tensor array is allocated once */
    size_t n = 0, n_meta = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c->string && strcmp(c->string, "__metadata__") == 0) n_meta++;
        else n++;
    }
    if (n_meta > 1) {
        st = bad(label, "duplicate __metadata__ entry");
        goto done;
    }
    out->t = calloc(n ? n : 1, sizeof *out->t);
    sp = calloc(n ? n : 1, sizeof *sp);
    if (!out->t || !sp) {
        st = pd_fail(PD_ERR_NOMEM, "%s: out of memory", label);
        goto done;
    }
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c->string && strcmp(c->string, "__metadata__") == 0) {
            st = parse_metadata(c, label, out);
        } else {
            sp[out->count].idx = out->count;
            st = parse_entry(c, label, buf_len, &out->t[out->count], &sp[out->count]);
            out->count++;
        }
        if (st) goto done;
    }
    st = check_layout(out, sp, label, buf_len);

done:
    cJSON_Delete(root);
    free(text);
    if (st) free(sp);
    else *spans_out = sp;
    return st;
}

/* Allocates the float buffer for all tensors and points t[i].data into it. */
/* (all tensors share one 64-byte aligned buffer: one free) */
static pd_status alloc_data(pd_st_file *out, const char *label) {
    size_t total = 0;
    for (size_t i = 0; i < out->count; i++) {
        if (out->t[i].numel > SIZE_MAX / sizeof(float) - total)
            return pd_fail(PD_ERR_NOMEM, "%s: tensors too large", label);
        total += out->t[i].numel;
    }
    out->buf = pd_alloc(total * sizeof(float));
    if (!out->buf)
        return pd_fail(PD_ERR_NOMEM, "%s: out of memory for %zu floats", label, total);
    size_t off = 0;
    for (size_t i = 0; i < out->count; i++) {
        out->t[i].data = out->buf + off;
        off += out->t[i].numel;
    }
    return PD_OK;
}

/* dst (n) ← n little-endian elements of dtype at src. Every conversion is
 * exact except F64 (rounded) and wide integers beyond 2^24. */
static void decode(float *dst, const uint8_t *src, size_t n, pd_st_dtype dt) {
    switch (dt) {
    case PD_ST_F32:
        if (host_is_le()) memcpy(dst, src, n * 4);
        else
            for (size_t i = 0; i < n; i++)
                dst[i] = bits_to_float((uint32_t)load_le(src + 4 * i, 4));
        break;
    case PD_ST_F16: /* IEEE half, exact in float32 */
        for (size_t i = 0; i < n; i++)
            dst[i] = half_to_float((uint16_t)load_le(src + 2 * i, 2));
        break;
    case PD_ST_BF16: /* the upper half of a binary32 */
        for (size_t i = 0; i < n; i++)
            dst[i] = bits_to_float((uint32_t)load_le(src + 2 * i, 2) << 16);
        break;
    case PD_ST_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t b = load_le(src + 8 * i, 8);
            double v;
            memcpy(&v, &b, sizeof v);
            /* out-of-range doubles become ±inf explicitly, never UB */
            if (v > FLT_MAX) dst[i] = INFINITY;
            else if (v < -FLT_MAX) dst[i] = -INFINITY;
            else dst[i] = (float)v;
        }
        break;
    case PD_ST_I64: /* integers: exact up to 2^24, rounded beyond */
        for (size_t i = 0; i < n; i++) {
            uint64_t b = load_le(src + 8 * i, 8);
            int64_t v;
            memcpy(&v, &b, sizeof v);
            dst[i] = (float)v;
        }
        break;
    case PD_ST_I32:
        for (size_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)load_le(src + 4 * i, 4);
            int32_t v;
            memcpy(&v, &b, sizeof v);
            dst[i] = (float)v;
        }
        break;
    case PD_ST_I16:
        for (size_t i = 0; i < n; i++) {
            uint16_t b = (uint16_t)load_le(src + 2 * i, 2);
            int16_t v;
            memcpy(&v, &b, sizeof v);
            dst[i] = (float)v;
        }
        break;
    case PD_ST_I8:
        for (size_t i = 0; i < n; i++) dst[i] = (float)(int8_t)src[i];
        break;
    case PD_ST_U8:
        for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
        break;
    case PD_ST_BOOL: /* any non-zero byte is true */
        for (size_t i = 0; i < n; i++) dst[i] = src[i] ? 1.0f : 0.0f;
        break;
    }
}

/* ---- public readers ----------------------------------------------------- */

pd_status pd_st_parse(const uint8_t *bytes, size_t len, const char *label,
                      pd_st_file *out) {
    memset(out, 0, sizeof *out);
    if (len < 8)
        return bad(label, "%zu bytes is too short for a safetensors file (needs >= 8)",
                   len);
    /* header length: bounded, and inside the input, before any allocation */
    uint64_t hlen = load_le(bytes, 8);
    if (hlen > PD_ST_MAX_HEADER)
        return bad(label, "header length %llu exceeds the %u-byte limit",
                   (unsigned long long)hlen, PD_ST_MAX_HEADER);
    if (hlen > len - 8)
        return bad(label, "header length %llu is larger than the rest of the file "
                   "(%zu bytes)", (unsigned long long)hlen, len - 8);
    uint64_t buf_len = len - 8 - hlen;
    span *sp = NULL;
    pd_status st = parse_header(bytes + 8, (size_t)hlen, buf_len, label, out, &sp);
    if (!st) st = alloc_data(out, label);
    if (!st) {
        const uint8_t *buf = bytes + 8 + hlen;
        for (size_t i = 0; i < out->count; i++)
            decode(out->t[sp[i].idx].data, buf + sp[i].begin, out->t[sp[i].idx].numel,
                   out->t[sp[i].idx].dtype);
    }
    free(sp);
    if (st) pd_st_free(out);
    return st;
}

/* F32 on a little-endian host goes straight into place; other dtypes pass
 * through a 64 Ki-element staging buffer and are converted chunk by chunk.
 * Reads n elements of tensor t from f (positioned at its first byte). */
static pd_status read_tensor(FILE *f, pd_st_tensor *t, const char *path) {
    size_t esize = DTYPES[t->dtype].size;
    if (t->dtype == PD_ST_F32 && host_is_le()) {
        if (fread(t->data, 4, t->numel, f) != t->numel)
            return bad(path, "truncated while reading tensor '%s'", t->name);
        return PD_OK;
    }
    enum { CHUNK = 1 << 16 }; /* elements per staging read */
    uint8_t *stage = malloc(CHUNK * esize);
    if (!stage) return pd_fail(PD_ERR_NOMEM, "%s: out of memory", path);
    for (size_t done = 0; done < t->numel;) {
        size_t k = t->numel - done < CHUNK ? t->numel - done : CHUNK;
        if (fread(stage, esize, k, f) != k) {
            free(stage);
            return bad(path, "truncated while reading tensor '%s'", t->name);
        }
        decode(t->data + done, stage, k, t->dtype);
        done += k;
    }
    free(stage);
    return PD_OK;
}

pd_status pd_st_read(const char *path, pd_st_file *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return pd_fail(PD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    pd_status st = PD_OK;
    uint8_t *hdr = NULL;
    span *sp = NULL;
    /* the file size from fstat plays the role of len in pd_st_parse */
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = pd_fail(PD_ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    uint64_t size = (uint64_t)sb.st_size;
    uint8_t head[8];
    if (size < 8) {
        st = bad(path, "%llu bytes is too short for a safetensors file (needs >= 8)",
                 (unsigned long long)size);
        goto done;
    }
    if (fread(head, 1, 8, f) != 8) {
        st = bad(path, "cannot read the header length");
        goto done;
    }
    uint64_t hlen = load_le(head, 8);
    if (hlen > PD_ST_MAX_HEADER) {
        st = bad(path, "header length %llu exceeds the %u-byte limit",
                 (unsigned long long)hlen, PD_ST_MAX_HEADER);
        goto done;
    }
    if (hlen > size - 8) {
        st = bad(path, "header length %llu is larger than the rest of the file "
                 "(%llu bytes)", (unsigned long long)hlen,
                 (unsigned long long)(size - 8));
        goto done;
    }
    hdr = malloc(hlen ? (size_t)hlen : 1);
    if (!hdr) {
        st = pd_fail(PD_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(hdr, 1, (size_t)hlen, f) != hlen) {
        st = bad(path, "truncated header");
        goto done;
    }
    st = parse_header(hdr, (size_t)hlen, size - 8 - hlen, path, out, &sp);
    if (!st) st = alloc_data(out, path);
    /* tensors tile the buffer, so reading them in offset order is one
     * sequential pass over the rest of the file */
    for (size_t i = 0; !st && i < out->count; i++)
        st = read_tensor(f, &out->t[sp[i].idx], path);

done:
    free(hdr);
    free(sp);
    fclose(f);
    if (st) pd_st_free(out);
    return st;
}

void pd_st_free(pd_st_file *f) {
    free(f->t);
    pd_free(f->buf);
    free_meta(f);
    memset(f, 0, sizeof *f);
}

const pd_st_tensor *pd_st_find(const pd_st_file *f, const char *name) {
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

const char *pd_st_meta(const pd_st_file *f, const char *key) {
    for (size_t i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

/* ---- writer ------------------------------------------------------------- */

/* growable text buffer; oom is sticky */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* append a C string / a decimal integer */
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_u64(sbuf *b, uint64_t v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    sb_put(b, tmp, (size_t)n);
}

/* JSON string literal: quotes, backslashes and control bytes escaped */
static void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* Everything the reader would reject is refused before a byte is written
 * (PD_ERR_ARG / PD_ERR_SHAPE naming the destination and the tensor). */
static pd_status check_write_args(const char *path, const pd_st_tensor *t,
                                  size_t count, const char *const *mk,
                                  const char *const *mv, size_t mc) {
    for (size_t i = 0; i < count; i++) {
        if (!memchr(t[i].name, '\0', PD_ST_NAME_MAX))
            return pd_fail(PD_ERR_ARG, "%s: tensor %zu: name not terminated", path, i);
        const char *np = name_problem(t[i].name);
        if (np) return pd_fail(PD_ERR_ARG, "%s: tensor %zu: %s", path, i, np);
        if (strcmp(t[i].name, "__metadata__") == 0)
            return pd_fail(PD_ERR_ARG, "%s: '__metadata__' is reserved", path);
        if (t[i].ndim < 0 || t[i].ndim > PD_ST_MAX_DIMS)
            return pd_fail(PD_ERR_ARG, "%s: tensor '%s': rank %d out of range", path,
                           t[i].name, t[i].ndim);
        uint64_t numel = 1;
        for (int k = 0; k < t[i].ndim; k++)
            if (mul_ovf(numel, t[i].shape[k], &numel))
                return pd_fail(PD_ERR_ARG, "%s: tensor '%s': shape overflows", path,
                               t[i].name);
        if (numel != t[i].numel)
            return pd_fail(PD_ERR_SHAPE, "%s: tensor '%s': numel %zu != product of "
                           "shape %llu", path, t[i].name, t[i].numel,
                           (unsigned long long)numel);
        if (numel > (uint64_t)(MAX_JSON_INT / 4))
            return pd_fail(PD_ERR_ARG, "%s: tensor '%s' too large", path, t[i].name);
        if (numel && !t[i].data)
            return pd_fail(PD_ERR_ARG, "%s: tensor '%s' has no data", path, t[i].name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(t[i].name, t[j].name) == 0)
                return pd_fail(PD_ERR_ARG, "%s: duplicate tensor name '%s'", path,
                               t[i].name);
    }
    for (size_t i = 0; i < mc; i++) {
        if (!mk[i] || !mv[i])
            return pd_fail(PD_ERR_ARG, "%s: metadata pair %zu is NULL", path, i);
        if (!utf8_valid((const uint8_t *)mk[i], strlen(mk[i])) ||
            !utf8_valid((const uint8_t *)mv[i], strlen(mv[i])))
            return pd_fail(PD_ERR_ARG, "%s: metadata '%s' is not UTF-8", path, mk[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(mk[i], mk[j]) == 0)
                return pd_fail(PD_ERR_ARG, "%s: duplicate metadata key '%s'", path,
                               mk[i]);
    }
    return PD_OK;
}

/* Writes data (n floats) as little-endian float32. */
static pd_status write_f32(pd_atomic_file *af, const float *x, size_t n) {
    if (host_is_le()) return pd_atomic_write(af, x, n * sizeof(float));
    uint8_t stage[4096];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < sizeof stage / 4 && i < n; k++, i++) {
            uint32_t b;
            memcpy(&b, &x[i], 4);
            for (int j = 0; j < 4; j++) stage[4 * k + (size_t)j] = (uint8_t)(b >> (8 * j));
        }
        pd_status st = pd_atomic_write(af, stage, 4 * k);
        if (st) return st;
    }
    return PD_OK;
}

pd_status pd_st_write(const char *path, const pd_st_tensor *tensors, size_t count,
                      const char *const *meta_keys, const char *const *meta_vals,
                      size_t meta_count) {
    pd_status st = check_write_args(path, tensors, count, meta_keys, meta_vals,
                                    meta_count);
    if (st) return st;

    /* header: metadata first, then tensors in the given order with
     * consecutive offsets, as compact JSON */
    sbuf h = {0};
    sb_str(&h, "{");
    if (meta_count) {
        sb_str(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < meta_count; i++) {
            if (i) sb_str(&h, ",");
            sb_json_str(&h, meta_keys[i]);
            sb_str(&h, ":");
            sb_json_str(&h, meta_vals[i]);
        }
        sb_str(&h, "}");
    }
    uint64_t off = 0;
    for (size_t i = 0; i < count; i++) {
        const pd_st_tensor *t = &tensors[i];
        if (i || meta_count) sb_str(&h, ",");
        sb_json_str(&h, t->name);
        sb_str(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int k = 0; k < t->ndim; k++) {
            if (k) sb_str(&h, ",");
            sb_u64(&h, t->shape[k]);
        }
        sb_str(&h, "],\"data_offsets\":[");
        sb_u64(&h, off);
        sb_str(&h, ",");
        off += (uint64_t)t->numel * 4; /* numel <= 2^51: cannot wrap */
        if (off > (uint64_t)MAX_JSON_INT) {
            free(h.p);
            return pd_fail(PD_ERR_ARG, "%s: tensors too large", path);
        }
        sb_u64(&h, off);
        sb_str(&h, "]}");
    }
    sb_str(&h, "}");
    while (!h.oom && h.n % 8 != 0) sb_str(&h, " "); /* reference padding */
    if (h.oom) {
        free(h.p);
        return pd_fail(PD_ERR_NOMEM, "%s: out of memory building the header", path);
    }

    /* u64 length, header, then the raw data, through the temp file */
    uint8_t len8[8];
    for (int j = 0; j < 8; j++) len8[j] = (uint8_t)((uint64_t)h.n >> (8 * j));
    pd_atomic_file af;
    st = pd_atomic_open(&af, path);
    if (!st) st = pd_atomic_write(&af, len8, 8);
    if (!st) st = pd_atomic_write(&af, h.p, h.n);
    for (size_t i = 0; !st && i < count; i++)
        st = write_f32(&af, tensors[i].data, tensors[i].numel);
    free(h.p);
    if (st) {
        pd_atomic_abort(&af);
        return st;
    }
    return pd_atomic_commit(&af);
}
