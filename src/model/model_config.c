/*
 * model_config.c — pd_model_config (pdiff.h): defaults, the paper's
 * recipe, and one table of fields that setting by name
 * (pd_model_config_set), range checking (pd_model_config_check) and
 * reading config.json (pd_model_config_parse) all go through, so every
 * error names the field it is about.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ae.h"

void pd_model_config_default(pd_model_config *c, size_t D) {
    memset(c, 0, sizeof *c);
    c->normalize = PD_NORMALIZE_DIM;
    pd_ae_preset(&c->ae, "small", D);
    snprintf(c->ae_preset, sizeof c->ae_preset, "small");
    const size_t half[4] = {32, 64, 128, 256};
    memcpy(c->den_ch, half, sizeof half);
    c->T = 1000;
    c->beta0 = 1e-4;
    c->beta1 = 2e-2;
    c->ae_steps = 2500;
    c->ddpm_steps = 2000;
    c->lr = 1e-3f;
    c->weight_decay = 2e-6f;
    c->ema_decay = 0.9999f;
    c->ckpt_every = 500;
    c->log_every = 50;
    c->seed = 0;
}

pd_model_config *pd_model_config_new(size_t D) {
    pd_model_config *c = malloc(sizeof *c);
    if (c) pd_model_config_default(c, D);
    else pd_fail(PD_ERR_NOMEM, "out of memory");
    return c;
}

void pd_model_config_free(pd_model_config *c) { free(c); }

void pd_model_config_set_tensors(pd_model_config *c, const size_t *sizes, size_t n) {
    c->tensor_sizes = sizes;
    c->ntensors = sizes ? n : 0;
}

void pd_model_config_set_state_dir(pd_model_config *c, const char *dir) { c->state_dir = dir; }

pd_status pd_model_config_recipe(pd_model_config *c, const char *name) {
    if (!name || strcmp(name, "paper") != 0)
        return pd_fail(PD_ERR_ARG, "recipe: only 'paper' is known, not '%s'",
                       name ? name : "(null)");
    const size_t full[4] = {64, 128, 256, 512};
    memcpy(c->den_ch, full, sizeof full);
    c->normalize = PD_NORMALIZE_NONE;
    c->ae_steps = 30000;
    c->ddpm_steps = 30000;
    c->lr = 1e-3f;
    c->weight_decay = 2e-6f;
    c->ema_decay = 0.9999f;
    c->T = 1000;
    return PD_OK;
}

/* a preset sets the autoencoder's kind and sizes (fold, kernel, channels,
 * chunk sizes) and its input noise; the latent noise and the ablation
 * switches chosen before are kept (set a preset first, then the rest) */
static const char *const preset_names[] = {"small", "medium", "whole", NULL};
static int enum_index(const char *const *names, const char *s);

static pd_status set_preset(pd_model_config *c, const char *name) {
    if (enum_index(preset_names, name) < 0)
        return pd_fail(PD_ERR_ARG, "preset: unknown autoencoder preset '%s' (small, medium, "
                                   "whole)", name);
    pd_ae_config keep = c->ae;
    pd_ae_preset(&c->ae, name, keep.D);
    c->ae.lat_noise = keep.lat_noise;
    c->ae.additive_noise = keep.additive_noise;
    c->ae.norm = keep.norm;
    c->ae.groups = keep.groups;
    c->ae.fc = keep.fc;
    c->ae.vae = keep.vae;
    c->ae.kl_weight = keep.kl_weight;
    snprintf(c->ae_preset, sizeof c->ae_preset, "%s", name);
    return PD_OK;
}

/* ---- the field table ------------------------------------------------------ */
typedef enum { F_INT, F_SIZE, F_LONG, F_FLOAT, F_DOUBLE, F_BOOL, F_SIZES4, F_ENUM, F_SEED,
               F_PRESET } ftype;

static const char *const normalize_names[] = {"none", "tensor", "dim", NULL};
static const char *const norm_names[] = {"instance", "batch", "group", "none", NULL};
static const char *const precision_names[] = {"fp32", "bf16", NULL};

typedef struct {
    const char *key;     /* pd_model_config_set's name */
    const char *section; /* config.json object (NULL: the root) */
    const char *json;    /* key inside it */
    ftype type;
    double lo, hi;       /* numbers: the range; sizes: each element's */
    size_t off;          /* offsetof(pd_model_config, ...) */
    const char *const *names; /* F_ENUM */
    int optional;        /* may be absent from config.json (older files) */
} field;

#define OFF(m) offsetof(pd_model_config, m)
#define BATCH_THREADS_MAX 1024
static const field fields[] = {
    {"normalize", NULL, "normalize", F_ENUM, 0, 0, OFF(normalize), normalize_names, 1},
    {"preset", "autoencoder", "preset", F_PRESET, 0, 0, OFF(ae_preset), NULL, 0},
    {"fold", "autoencoder", "fold", F_INT, 2, 64, OFF(ae.fold), NULL, 0},
    {"kernel", "autoencoder", "kernel", F_INT, 1, 64, OFF(ae.k), NULL, 0},
    {"enc", "autoencoder", "enc", F_SIZES4, 1, 65536, OFF(ae.enc), NULL, 0},
    {"dec", "autoencoder", "dec", F_SIZES4, 1, 65536, OFF(ae.dec), NULL, 0},
    {"in_noise", "autoencoder", "in_noise", F_FLOAT, 0, 10, OFF(ae.in_noise), NULL, 0},
    {"latent_noise", "autoencoder", "latent_noise", F_FLOAT, 0, 10, OFF(ae.lat_noise), NULL, 0},
    {"additive_noise", "autoencoder", "additive_noise", F_BOOL, 0, 1, OFF(ae.additive_noise),
     NULL, 1},
    {"norm", "autoencoder", "norm", F_ENUM, 0, 0, OFF(ae.norm), norm_names, 0},
    {"groups", "autoencoder", "groups", F_SIZE, 0, 4096, OFF(ae.groups), NULL, 0},
    {"fc", "autoencoder", "fc", F_BOOL, 0, 1, OFF(ae.fc), NULL, 1},
    {"vae", "autoencoder", "vae", F_BOOL, 0, 1, OFF(ae.vae), NULL, 1},
    {"kl_weight", "autoencoder", "kl_weight", F_FLOAT, 0, 1e6, OFF(ae.kl_weight), NULL, 0},
    {"den_channels", "denoiser", "channels", F_SIZES4, 1, 65536, OFF(den_ch), NULL, 0},
    {"T", "diffusion", "T", F_SIZE, 2, 1e6, OFF(T), NULL, 0},
    {"beta_start", "diffusion", "beta_start", F_DOUBLE, 1e-12, 1, OFF(beta0), NULL, 0},
    {"beta_end", "diffusion", "beta_end", F_DOUBLE, 1e-12, 1, OFF(beta1), NULL, 0},
    {"ae_steps", "training", "ae_steps", F_LONG, 0, 1e9, OFF(ae_steps), NULL, 0},
    {"ddpm_steps", "training", "ddpm_steps", F_LONG, 0, 1e9, OFF(ddpm_steps), NULL, 0},
    {"lr", "training", "lr", F_FLOAT, 0, 10, OFF(lr), NULL, 0},
    {"weight_decay", "training", "weight_decay", F_FLOAT, 0, 10, OFF(weight_decay), NULL, 0},
    {"ema_decay", "training", "ema_decay", F_FLOAT, 0, 1, OFF(ema_decay), NULL, 0},
    {"ckpt_every", "training", "ckpt_every", F_LONG, 1, 1e9, OFF(ckpt_every), NULL, 0},
    /* absent (fp32) in configs written before it existed */
    {"precision", "training", "precision", F_ENUM, 0, 0, OFF(precision), precision_names, 1},
    {"log_every", "training", "log_every", F_LONG, 1, 1e9, OFF(log_every), NULL, 1},
    {"seed", "training", "seed", F_SEED, 0, 0, OFF(seed), NULL, 0},
    /* the whole-network kind; absent (0) in configs of the paper's kind */
    {"chunk", "autoencoder", "chunk", F_SIZE, 0, 1 << 20, OFF(ae.chunk), NULL, 1},
    {"chunk_code", "autoencoder", "chunk_code", F_SIZE, 0, 4096, OFF(ae.chunk_code), NULL, 1},
    {"hidden", "autoencoder", "hidden", F_SIZE, 0, 65536, OFF(ae.hidden), NULL, 1},
    {"latent", "autoencoder", "latent", F_SIZE, 0, 65536, OFF(ae.latent), NULL, 1},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static void *at(pd_model_config *c, const field *f) { return (char *)c + f->off; }

/* the stored number of a numeric or boolean field */
static double get_num(const pd_model_config *c, const field *f) {
    const void *p = (const char *)c + f->off;
    switch (f->type) {
    case F_INT: case F_BOOL: return *(const int *)p;
    case F_SIZE: return (double)*(const size_t *)p;
    case F_LONG: return (double)*(const long *)p;
    case F_FLOAT: return *(const float *)p;
    case F_DOUBLE: return *(const double *)p;
    default: return 0;
    }
}

static void put_num(pd_model_config *c, const field *f, double v) {
    void *p = at(c, f);
    switch (f->type) {
    case F_INT: case F_BOOL: *(int *)p = (int)v; break;
    case F_SIZE: *(size_t *)p = (size_t)v; break;
    case F_LONG: *(long *)p = (long)v; break;
    case F_FLOAT: *(float *)p = (float)v; break;
    case F_DOUBLE: *(double *)p = v; break;
    default: break;
    }
}

static int is_integer_type(ftype t) {
    return t == F_INT || t == F_SIZE || t == F_LONG || t == F_BOOL;
}

/* the field's name as an error names it: "training.ae_steps" in a file,
 * "ae_steps" for pd_model_config_set */
static void field_name(const field *f, int json, char *out, size_t n) {
    if (json && f->section) snprintf(out, n, "%s.%s", f->section, f->json);
    else snprintf(out, n, "%s", json ? f->json : f->key);
}

static pd_status check_num(const field *f, const char *label, int json, double v) {
    int whole = !is_integer_type(f->type) || v == floor(v);
    if (v >= f->lo && v <= f->hi && whole) return PD_OK;
    char name[64];
    field_name(f, json, name, sizeof name);
    return pd_fail(PD_ERR_ARG, "%s%s%s: %g is %s (%g .. %g)", label ? label : "",
                   label ? ": " : "", name, v, whole ? "out of range" : "not a whole number",
                   f->lo, f->hi);
}

static int enum_index(const char *const *names, const char *s) {
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

static pd_status enum_error(const field *f, const char *label, int json, const char *v) {
    char name[64], list[96] = "";
    field_name(f, json, name, sizeof name);
    for (int i = 0; f->names[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 f->names[i]);
    return pd_fail(PD_ERR_ARG, "%s%s%s: unknown value '%s' (%s)", label ? label : "",
                   label ? ": " : "", name, v, list);
}

/* ---- by name ------------------------------------------------------------- */
static int parse_double(const char *s, double *v) {
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return end != s && *end == 0 && errno == 0;
}

/* how training runs, not what it makes: not a field of config.json */
static pd_status set_batch_threads(pd_model_config *c, const char *value) {
    char *end;
    errno = 0;
    long n = value ? strtol(value, &end, 10) : -1;
    if (!value || end == value || *end || errno || n < 0 || n > BATCH_THREADS_MAX)
        return pd_fail(PD_ERR_ARG, "batch_threads: '%s' is not a count of threads (0 .. %d; 0: "
                                   "one per thread)", value ? value : "", BATCH_THREADS_MAX);
    c->batch_threads = (int)n;
    return PD_OK;
}

pd_status pd_model_config_set(pd_model_config *c, const char *key, const char *value) {
    if (!strcmp(key, "batch_threads")) return set_batch_threads(c, value);
    const field *f = NULL;
    for (size_t i = 0; i < NFIELDS && !f; i++)
        if (!strcmp(fields[i].key, key)) f = &fields[i];
    if (!f) return pd_fail(PD_ERR_NOTFOUND, "unknown model config key '%s'", key);
    if (!value) return pd_fail(PD_ERR_ARG, "%s: no value", key);
    double v;
    switch (f->type) {
    case F_PRESET:
        return set_preset(c, value);
    case F_ENUM: {
        int k = enum_index(f->names, value);
        if (k < 0) return enum_error(f, NULL, 0, value);
        *(int *)at(c, f) = k;
        return PD_OK;
    }
    case F_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1")) put_num(c, f, 1);
        else if (!strcmp(value, "false") || !strcmp(value, "0")) put_num(c, f, 0);
        else return pd_fail(PD_ERR_ARG, "%s: '%s' is not a boolean (0, 1, true, false)", key, value);
        return PD_OK;
    case F_SEED: {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(value, &end, 10);
        if (end == value || *end || errno || value[0] == '-')
            return pd_fail(PD_ERR_ARG, "seed: '%s' is not a non-negative integer", value);
        c->seed = s;
        return PD_OK;
    }
    case F_SIZES4: {
        size_t out[4];
        const char *p = value;
        for (int i = 0; i < 4; i++) {
            char *end;
            double x = strtod(p, &end);
            if (end == p || !(x >= f->lo && x <= f->hi) || x != floor(x))
                return pd_fail(PD_ERR_ARG, "%s: '%s' is not four channel counts a,b,c,d "
                                           "(each 1..65536)", key, value);
            out[i] = (size_t)x;
            p = end;
            if (i < 3 && *p++ != ',')
                return pd_fail(PD_ERR_ARG, "%s: '%s' is not four channel counts a,b,c,d", key,
                               value);
        }
        if (*p) return pd_fail(PD_ERR_ARG, "%s: '%s' is not four channel counts a,b,c,d", key,
                               value);
        memcpy(at(c, f), out, sizeof out);
        return PD_OK;
    }
    default:
        if (!parse_double(value, &v))
            return pd_fail(PD_ERR_ARG, "%s: '%s' is not a number", key, value);
        pd_status st = check_num(f, NULL, 0, v);
        if (!st) put_num(c, f, v);
        return st;
    }
}

pd_status pd_model_config_check(const pd_model_config *c) {
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        pd_status st = PD_OK;
        if (f->type == F_ENUM) {
            int k = *(const int *)((const char *)c + f->off), n = 0;
            while (f->names[n]) n++;
            if (k < 0 || k >= n) st = pd_fail(PD_ERR_ARG, "%s: %d is not a known value", f->key, k);
        } else if (f->type == F_SIZES4) {
            const size_t *v = (const size_t *)((const char *)c + f->off);
            for (int j = 0; j < 4 && !st; j++)
                if (v[j] < f->lo || v[j] > f->hi)
                    st = pd_fail(PD_ERR_ARG, "%s: channel count %zu out of range (1..65536)",
                                 f->key, v[j]);
        } else if (f->type != F_SEED && f->type != F_PRESET) {
            st = check_num(f, NULL, 0, get_num(c, f));
        }
        if (st) return st;
    }
    if (!(c->beta0 < c->beta1))
        return pd_fail(PD_ERR_ARG, "beta_start (%g) must be below beta_end (%g)", c->beta0,
                       c->beta1);
    if (c->batch_threads < 0 || c->batch_threads > BATCH_THREADS_MAX)
        return pd_fail(PD_ERR_ARG, "batch_threads: %d is out of range (0 .. %d)",
                       c->batch_threads, BATCH_THREADS_MAX);
    return PD_OK;
}

/* ---- JSON ---------------------------------------------------------------- */
static void add_sizes(cJSON *o, const char *key, const size_t *v, int n) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
}

/* the key order is what existing config.json files hold: a resumed
 * training compares the text byte for byte */
char *pd_model_config_json(const pd_model_config *c, size_t D) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "format", "pdiff-model");
    cJSON_AddStringToObject(r, "version", PDIFF_VERSION);
    if (D) cJSON_AddNumberToObject(r, "D", (double)D);
    cJSON_AddStringToObject(r, "normalize", pd_normalize_name(c->normalize));
    cJSON *ae = cJSON_AddObjectToObject(r, "autoencoder");
    cJSON_AddStringToObject(ae, "preset", c->ae_preset);
    cJSON_AddNumberToObject(ae, "fold", c->ae.fold);
    cJSON_AddNumberToObject(ae, "kernel", c->ae.k);
    add_sizes(ae, "enc", c->ae.enc, 4);
    add_sizes(ae, "dec", c->ae.dec, 4);
    cJSON_AddNumberToObject(ae, "in_noise", c->ae.in_noise);
    cJSON_AddNumberToObject(ae, "latent_noise", c->ae.lat_noise);
    cJSON_AddBoolToObject(ae, "additive_noise", c->ae.additive_noise);
    cJSON_AddStringToObject(ae, "norm", norm_names[c->ae.norm]);
    cJSON_AddNumberToObject(ae, "groups", (double)c->ae.groups);
    cJSON_AddBoolToObject(ae, "fc", c->ae.fc);
    cJSON_AddBoolToObject(ae, "vae", c->ae.vae);
    cJSON_AddNumberToObject(ae, "kl_weight", c->ae.kl_weight);
    if (c->ae.chunk) { /* only then: configs of the paper's kind stay as they were */
        cJSON_AddNumberToObject(ae, "chunk", (double)c->ae.chunk);
        cJSON_AddNumberToObject(ae, "chunk_code", (double)c->ae.chunk_code);
        cJSON_AddNumberToObject(ae, "hidden", (double)c->ae.hidden);
        cJSON_AddNumberToObject(ae, "latent", (double)c->ae.latent);
    }
    cJSON *dn = cJSON_AddObjectToObject(r, "denoiser");
    add_sizes(dn, "channels", c->den_ch, 4);
    cJSON *df = cJSON_AddObjectToObject(r, "diffusion");
    cJSON_AddNumberToObject(df, "T", (double)c->T);
    cJSON_AddNumberToObject(df, "beta_start", c->beta0);
    cJSON_AddNumberToObject(df, "beta_end", c->beta1);
    cJSON *tr = cJSON_AddObjectToObject(r, "training");
    cJSON_AddNumberToObject(tr, "ae_steps", (double)c->ae_steps);
    cJSON_AddNumberToObject(tr, "ddpm_steps", (double)c->ddpm_steps);
    cJSON_AddNumberToObject(tr, "lr", c->lr);
    cJSON_AddNumberToObject(tr, "weight_decay", c->weight_decay);
    cJSON_AddNumberToObject(tr, "ema_decay", c->ema_decay);
    cJSON_AddNumberToObject(tr, "ckpt_every", (double)c->ckpt_every);
    cJSON_AddNumberToObject(tr, "log_every", (double)c->log_every);
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    cJSON_AddStringToObject(tr, "seed", seed);
    char *text = cJSON_Print(r);
    cJSON_Delete(r);
    return text;
}

/* one field of config.json into c; absent optional fields keep c's value */
static pd_status parse_field(const cJSON *root, const field *f, const char *label,
                             pd_model_config *c) {
    const cJSON *sec = f->section ? cJSON_GetObjectItemCaseSensitive(root, f->section) : root;
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(sec, f->json);
    char name[64];
    field_name(f, 1, name, sizeof name);
    if (!x) return f->optional ? PD_OK : pd_fail(PD_ERR_FORMAT, "%s: %s: missing", label, name);
    switch (f->type) {
    case F_ENUM:
    case F_PRESET: {
        if (!cJSON_IsString(x)) return pd_fail(PD_ERR_FORMAT, "%s: %s: not a string", label, name);
        if (f->type == F_PRESET) {
            if (enum_index(preset_names, x->valuestring) < 0)
                return pd_fail(PD_ERR_FORMAT, "%s: %s: unknown value '%s' (small, medium, whole)",
                               label, name, x->valuestring);
            snprintf(c->ae_preset, sizeof c->ae_preset, "%s", x->valuestring);
            return PD_OK;
        }
        int k = enum_index(f->names, x->valuestring);
        if (k < 0) {
            enum_error(f, label, 1, x->valuestring); /* records the message */
            return PD_ERR_FORMAT;
        }
        *(int *)at(c, f) = k;
        return PD_OK;
    }
    case F_BOOL:
        if (!cJSON_IsBool(x)) return pd_fail(PD_ERR_FORMAT, "%s: %s: not true or false", label, name);
        put_num(c, f, cJSON_IsTrue(x));
        return PD_OK;
    case F_SEED: {
        char *end;
        if (!cJSON_IsString(x) || !x->valuestring[0] || x->valuestring[0] == '-')
            return pd_fail(PD_ERR_FORMAT, "%s: %s: not an unsigned integer in a string", label, name);
        errno = 0;
        c->seed = strtoull(x->valuestring, &end, 10);
        if (*end || errno)
            return pd_fail(PD_ERR_FORMAT, "%s: %s: '%s' is not an unsigned integer", label, name,
                           x->valuestring);
        return PD_OK;
    }
    case F_SIZES4: {
        if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 4)
            return pd_fail(PD_ERR_FORMAT, "%s: %s: not an array of 4 channel counts", label, name);
        size_t *v = at(c, f);
        for (int i = 0; i < 4; i++) {
            const cJSON *e = cJSON_GetArrayItem(x, i);
            if (!cJSON_IsNumber(e) || !(e->valuedouble >= f->lo && e->valuedouble <= f->hi) ||
                e->valuedouble != floor(e->valuedouble))
                return pd_fail(PD_ERR_FORMAT, "%s: %s[%d]: not a channel count (1..65536)", label,
                               name, i);
            v[i] = (size_t)e->valuedouble;
        }
        return PD_OK;
    }
    default:
        if (!cJSON_IsNumber(x)) return pd_fail(PD_ERR_FORMAT, "%s: %s: not a number", label, name);
        if (check_num(f, label, 1, x->valuedouble)) return PD_ERR_FORMAT; /* named */
        put_num(c, f, x->valuedouble);
        return PD_OK;
    }
}

pd_status pd_model_config_parse(const char *text, const char *label, pd_model_config *c,
                                size_t *D) {
    pd_model_config_default(c, 0);
    /* model directories from before normalization existed trained on raw values */
    c->normalize = PD_NORMALIZE_NONE;
    cJSON *r = cJSON_Parse(text);
    pd_status st = PD_OK;
    if (!cJSON_IsObject(r)) {
        st = pd_fail(PD_ERR_FORMAT, "%s: not a JSON object", label);
        goto done;
    }
    const char *sections[] = {"autoencoder", "denoiser", "diffusion", "training"};
    for (int i = 0; i < 4; i++)
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(r, sections[i]))) {
            st = pd_fail(PD_ERR_FORMAT, "%s: \"%s\": missing or not an object (not a pdiff "
                                        "model config?)", label, sections[i]);
            goto done;
        }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "D");
    if (!cJSON_IsNumber(d) || !(d->valuedouble >= 1 && d->valuedouble <= 1e9) ||
        d->valuedouble != floor(d->valuedouble)) {
        st = pd_fail(PD_ERR_FORMAT, "%s: D: missing or not a length in 1..1e9", label);
        goto done;
    }
    *D = (size_t)d->valuedouble;
    for (size_t i = 0; i < NFIELDS && !st; i++) st = parse_field(r, &fields[i], label, c);
    if (!st && !(c->beta0 < c->beta1))
        st = pd_fail(PD_ERR_FORMAT, "%s: diffusion.beta_start (%g) must be below "
                                    "diffusion.beta_end (%g)", label, c->beta0, c->beta1);
    c->ae.D = *D;
done:
    cJSON_Delete(r);
    return st;
}
