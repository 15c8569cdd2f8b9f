/*
 * manifest.c — see manifest.h. JSON through cJSON; every field's type is
 * checked before use, and errors name the manifest file.
 */
#include "manifest.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdiff_io.h"

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

pd_status pd_manifest_write_collect(const pd_collect_opts *o, const pd_net *net,
                                    const pd_dataset *train, const pd_dataset *test,
                                    const pd_collect_report *rep) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "pdiff-collect");
    cJSON_AddStringToObject(root, "version", PDIFF_VERSION);
    cJSON_AddStringToObject(root, "mode", pd_collect_mode_name(o->mode));
    cJSON *jn = cJSON_AddObjectToObject(root, "network");
    cJSON_AddStringToObject(jn, "arch", net->cfg.arch);
    cJSON_AddNumberToObject(jn, "width", net->cfg.width);
    cJSON_AddNumberToObject(jn, "in_c", (double)net->cfg.in_c);
    cJSON_AddNumberToObject(jn, "in_h", (double)net->cfg.in_h);
    cJSON_AddNumberToObject(jn, "in_w", (double)net->cfg.in_w);
    cJSON_AddNumberToObject(jn, "classes", (double)net->cfg.classes);
    cJSON *jd = cJSON_AddObjectToObject(root, "dataset");
    cJSON_AddStringToObject(jd, "dir", o->data_dir);
    cJSON_AddNumberToObject(jd, "train", (double)train->n);
    cJSON_AddNumberToObject(jd, "test", (double)test->n);
    cJSON *jt = cJSON_AddObjectToObject(root, "training");
    cJSON_AddNumberToObject(jt, "epochs", o->epochs);
    cJSON_AddNumberToObject(jt, "batch", (double)o->batch);
    cJSON_AddNumberToObject(jt, "lr", o->lr);
    cJSON_AddNumberToObject(jt, "momentum", o->momentum);
    cJSON_AddNumberToObject(jt, "weight_decay", o->weight_decay);
    cJSON_AddNumberToObject(jt, "subset_lr", o->subset_lr);
    cJSON_AddNumberToObject(jt, "every", (double)o->every);
    cJSON_AddBoolToObject(jt, "augment", o->augment);
    /* how the snapshots treat BatchNorm's running statistics (README, docs/method.md §1) */
    cJSON_AddStringToObject(jt, "bn_running_stats",
                            o->mode == PD_COLLECT_SEEDS ? "each network's own, in the vector"
                                                        : "frozen at the base network's");
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    cJSON_AddStringToObject(root, "seed", seed);
    cJSON *jp = cJSON_AddArrayToObject(root, "params");
    for (size_t i = 0; i < net->params.count; i++)
        if (net->params.t[i].flags & PD_SELECTED)
            cJSON_AddItemToArray(jp, cJSON_CreateString(net->params.t[i].name));
    cJSON_AddNumberToObject(root, "D", (double)pd_params_selected_size(&net->params));
    if (rep) {
        cJSON *jr = cJSON_AddObjectToObject(root, "report");
        cJSON_AddNumberToObject(jr, "spread_rms", rep->spread_rms);
        cJSON_AddNumberToObject(jr, "test_acc_min", rep->acc_min);
        cJSON_AddNumberToObject(jr, "test_acc_max", rep->acc_max);
        cJSON_AddNumberToObject(jr, "one_test_sample", rep->acc_step);
        cJSON_AddNumberToObject(jr, "wrong_iou_mean", rep->iou_mean);
        cJSON_AddBoolToObject(jr, "effectively_one_model", rep->one_model);
    }
    cJSON *jc = cJSON_AddArrayToObject(root, "checkpoints");
    pd_status st = PD_OK;
    for (size_t k = 0; k < o->K && !st; k++) {
        char name[64], path[4096];
        snprintf(name, sizeof name, "ckpt_%03zu.safetensors", k);
        snprintf(path, sizeof path, "%s/%s", o->out_dir, name);
        pd_st_file f;
        st = pd_st_read(path, &f);
        if (st) break;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "file", name);
        const char *tr = pd_st_meta(&f, "train_acc"), *te = pd_st_meta(&f, "test_acc");
        const char *sd = pd_st_meta(&f, "seed");
        cJSON_AddNumberToObject(e, "train_acc", tr ? atof(tr) : NAN);
        cJSON_AddNumberToObject(e, "test_acc", te ? atof(te) : NAN);
        if (sd) cJSON_AddStringToObject(e, "seed", sd);
        cJSON_AddItemToArray(jc, e);
        pd_st_free(&f);
    }
    char *text = st ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    if (st) return st;
    if (!text) return pd_fail(PD_ERR_NOMEM, "out of memory writing manifest");
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", o->out_dir);
    st = pd_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

static pd_status read_text(const char *path, char **out) {
    FILE *f = fopen(path, "rb");
    if (!f) return pd_fail(PD_ERR_IO, "%s: cannot open (no manifest: run 'pdiff collect' or pass --params)", path);
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return pd_fail(PD_ERR_IO, "%s: cannot seek", path);
    }
    long size = ftell(f);
    rewind(f);
    if (size < 0 || size > (64l << 20)) {
        fclose(f);
        return pd_fail(PD_ERR_FORMAT, "%s: size %ld out of bounds", path, size);
    }
    char *buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        fclose(f);
        return pd_fail(PD_ERR_IO, "%s: read failed", path);
    }
    buf[size] = 0;
    fclose(f);
    *out = buf;
    return PD_OK;
}

static int get_num(const cJSON *o, const char *key, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x)) return 0;
    *v = x->valuedouble;
    return 1;
}

static int get_size(const cJSON *o, const char *key, size_t *v, size_t max) {
    double d;
    if (!get_num(o, key, &d) || !(d >= 0 && d <= (double)max) || d != floor(d)) return 0;
    *v = (size_t)d;
    return 1;
}

pd_status pd_manifest_parse(const char *text, const char *label, pd_manifest *m) {
    memset(m, 0, sizeof *m);
    cJSON *root = cJSON_Parse(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return pd_fail(PD_ERR_FORMAT, "%s: not a JSON object", label);
    }
    pd_status st = PD_OK;
#define BAD(...) do { st = pd_fail(PD_ERR_FORMAT, __VA_ARGS__); goto done; } while (0)
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(root, "mode");
    if (!cJSON_IsString(mode)) BAD("%s: 'mode' missing or not a string", label);
    snprintf(m->mode, sizeof m->mode, "%s", mode->valuestring);
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(root, "network");
    if (cJSON_IsObject(jn)) {
        const cJSON *arch = cJSON_GetObjectItemCaseSensitive(jn, "arch");
        double w;
        if (!cJSON_IsString(arch) || !get_num(jn, "width", &w) ||
            !get_size(jn, "in_c", &m->net.in_c, 4096) || !get_size(jn, "in_h", &m->net.in_h, 65536) ||
            !get_size(jn, "in_w", &m->net.in_w, 65536) || !get_size(jn, "classes", &m->net.classes, 1 << 20) ||
            !(w >= 0 && w <= 4096))
            BAD("%s: 'network' needs arch, width, in_c, in_h, in_w, classes", label);
        snprintf(m->net.arch, sizeof m->net.arch, "%s", arch->valuestring);
        m->net.width = (int)w;
        m->has_net = 1;
    }
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(root, "dataset");
    const cJSON *dd = cJSON_IsObject(jd) ? cJSON_GetObjectItemCaseSensitive(jd, "dir") : NULL;
    if (cJSON_IsString(dd)) snprintf(m->data_dir, sizeof m->data_dir, "%s", dd->valuestring);
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (cJSON_IsString(seed)) m->seed = strtoull(seed->valuestring, NULL, 10);
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(root, "params");
    if (!cJSON_IsArray(jp) || cJSON_GetArraySize(jp) < 1)
        BAD("%s: 'params' must be a non-empty array of tensor names", label);
    m->nparams = (size_t)cJSON_GetArraySize(jp);
    m->params = calloc(m->nparams, sizeof(char *));
    if (!m->params) BAD("%s: out of memory", label);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, jp) {
        if (!cJSON_IsString(e)) BAD("%s: 'params' entry %zu is not a string", label, i);
        m->params[i++] = dup_str(e->valuestring);
    }
    if (!get_size(root, "D", &m->D, (size_t)1 << 32) || m->D == 0) BAD("%s: 'D' missing or invalid", label);
    const cJSON *jr = cJSON_GetObjectItemCaseSensitive(root, "report");
    pd_collect_report *rp = &m->report;
    if (cJSON_IsObject(jr) && get_num(jr, "spread_rms", &rp->spread_rms) &&
        get_num(jr, "test_acc_min", &rp->acc_min) && get_num(jr, "test_acc_max", &rp->acc_max) &&
        get_num(jr, "one_test_sample", &rp->acc_step) && get_num(jr, "wrong_iou_mean", &rp->iou_mean)) {
        rp->one_model = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(jr, "effectively_one_model"));
        m->has_report = 1;
    }
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(root, "checkpoints");
    if (!cJSON_IsArray(jc) || cJSON_GetArraySize(jc) < 1)
        BAD("%s: 'checkpoints' must be a non-empty array", label);
    m->K = (size_t)cJSON_GetArraySize(jc);
    m->files = calloc(m->K, sizeof(char *));
    m->train_acc = calloc(m->K, sizeof(double));
    m->test_acc = calloc(m->K, sizeof(double));
    if (!m->files || !m->train_acc || !m->test_acc) BAD("%s: out of memory", label);
    rp->K = m->K;
    rp->D = m->D;
    i = 0;
    cJSON_ArrayForEach(e, jc) {
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(e, "file");
        if (!cJSON_IsString(file) || strchr(file->valuestring, '/') || !file->valuestring[0])
            BAD("%s: checkpoint %zu has no plain 'file' name", label, i);
        m->files[i] = dup_str(file->valuestring);
        if (!get_num(e, "train_acc", &m->train_acc[i])) m->train_acc[i] = NAN;
        if (!get_num(e, "test_acc", &m->test_acc[i])) m->test_acc[i] = NAN;
        i++;
    }
#undef BAD
done:
    cJSON_Delete(root);
    if (st) pd_manifest_free(m);
    return st;
}

pd_status pd_manifest_read(const char *dir, pd_manifest *m) {
    char path[4096], *text = NULL;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    pd_status st = read_text(path, &text);
    if (st) return st;
    st = pd_manifest_parse(text, path, m);
    free(text);
    return st;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

pd_status pd_manifest_scan(const char *dir, const char *const *patterns,
                           size_t npatterns, pd_manifest *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->mode, sizeof m->mode, "external");
    if (npatterns == 0)
        return pd_fail(PD_ERR_ARG, "%s: no manifest.json; pass --params to select tensors", dir);
    DIR *d = opendir(dir);
    if (!d) return pd_fail(PD_ERR_IO, "%s: cannot open directory", dir);
    size_t cap = 0;
    struct dirent *de;
    pd_status st = PD_OK;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        const char *ext = ".safetensors";
        if (len <= strlen(ext) || strcmp(de->d_name + len - strlen(ext), ext) != 0) continue;
        if (m->K == cap) {
            cap = cap ? 2 * cap : 64;
            char **f = realloc(m->files, cap * sizeof(char *));
            if (!f) { st = pd_fail(PD_ERR_NOMEM, "out of memory"); break; }
            m->files = f;
        }
        m->files[m->K++] = dup_str(de->d_name);
    }
    closedir(d);
    if (st) { pd_manifest_free(m); return st; }
    if (m->K == 0) return pd_fail(PD_ERR_NOTFOUND, "%s: no .safetensors files", dir);
    qsort(m->files, m->K, sizeof(char *), cmp_str);
    m->train_acc = malloc(m->K * sizeof(double));
    m->test_acc = malloc(m->K * sizeof(double));
    for (size_t k = 0; k < m->K && m->train_acc && m->test_acc; k++) m->train_acc[k] = m->test_acc[k] = NAN;
    /* the subset: tensors of the first file matching any pattern, in file order */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, m->files[0]);
    pd_st_file f;
    st = pd_st_read(path, &f);
    if (st) { pd_manifest_free(m); return st; }
    m->params = calloc(f.count ? f.count : 1, sizeof(char *));
    for (size_t i = 0; i < f.count && m->params; i++) {
        int hit = 0;
        for (size_t p = 0; p < npatterns; p++) hit |= pd_glob_match(patterns[p], f.t[i].name);
        if (hit) {
            m->params[m->nparams++] = dup_str(f.t[i].name);
            m->D += f.t[i].numel;
        }
    }
    pd_st_free(&f);
    if (m->nparams == 0) {
        pd_manifest_free(m);
        return pd_fail(PD_ERR_NOTFOUND, "%s: --params '%s'%s matches no tensor", path,
                       patterns[0], npatterns > 1 ? ",..." : "");
    }
    return PD_OK;
}

void pd_manifest_free(pd_manifest *m) {
    for (size_t i = 0; m->params && i < m->nparams; i++) free(m->params[i]);
    for (size_t i = 0; m->files && i < m->K; i++) free(m->files[i]);
    free(m->params);
    free(m->files);
    free(m->train_acc);
    free(m->test_acc);
    memset(m, 0, sizeof *m);
}

pd_status pd_manifest_load_vectors(const pd_manifest *m, const char *dir, float **V) {
    float *out = malloc(m->K * m->D * sizeof(float));
    if (!out) return pd_fail(PD_ERR_NOMEM, "out of memory for %zu × %zu vectors", m->K, m->D);
    for (size_t k = 0; k < m->K; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, m->files[k]);
        pd_st_file f;
        pd_status st = pd_st_read(path, &f);
        if (st) { free(out); return st; }
        size_t off = 0;
        for (size_t i = 0; i < m->nparams && !st; i++) {
            const pd_st_tensor *t = pd_st_find(&f, m->params[i]);
            if (!t) st = pd_fail(PD_ERR_NOTFOUND, "%s: tensor '%s' is missing", path, m->params[i]);
            else if (off + t->numel > m->D)
                st = pd_fail(PD_ERR_SHAPE, "%s: tensor '%s' makes the subset longer than D = %zu", path, t->name, m->D);
            else {
                memcpy(out + k * m->D + off, t->data, t->numel * sizeof(float));
                off += t->numel;
            }
        }
        if (!st && off != m->D)
            st = pd_fail(PD_ERR_SHAPE, "%s: subset has %zu values, expected D = %zu", path, off, m->D);
        pd_st_free(&f);
        if (st) { free(out); return st; }
        for (size_t j = 0; j < m->D; j++)
            if (!isfinite(out[k * m->D + j])) {
                free(out);
                return pd_fail(PD_ERR_NAN, "%s: non-finite value in the subset (element %zu)", path, j);
            }
    }
    *V = out;
    return PD_OK;
}

pd_status pd_manifest_tensor_sizes(const pd_manifest *m, const char *dir, size_t **sizes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, m->K ? m->files[0] : "");
    pd_st_file f;
    pd_status st = pd_st_read(path, &f);
    if (st) return st;
    size_t *out = malloc((m->nparams ? m->nparams : 1) * sizeof(size_t));
    if (!out) st = pd_fail(PD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m->nparams && !st; i++) {
        const pd_st_tensor *t = pd_st_find(&f, m->params[i]);
        if (!t) st = pd_fail(PD_ERR_NOTFOUND, "%s: tensor '%s' is missing", path, m->params[i]);
        else out[i] = t->numel;
    }
    pd_st_free(&f);
    if (st) free(out);
    else *sizes = out;
    return st;
}
