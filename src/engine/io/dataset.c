/*
 * dataset.c — find and load an image dataset directory (IDX or CIFAR
 * binary), and per-channel normalisation. See pdiff_net.h.
 */
#include "pdiff_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/io/cifar.h"
#include "engine/io/idx.h"
#include "pdiff_io.h"

#define PATH_CAP 4096
#define CIFAR_FILE_MAX (1ull << 30) /* a real batch is ~30 MB */

void pd_dataset_free(pd_dataset *d) {
    pd_free(d->x);
    pd_free(d->y);
    memset(d, 0, sizeof *d);
}

/* exists and is a regular file */
static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* out = dir[/sub]/name; 0 when it does not fit */
static int join(char *out, const char *dir, const char *sub, const char *name) {
    int n = sub && *sub ? snprintf(out, PATH_CAP, "%s/%s/%s", dir, sub, name)
                        : snprintf(out, PATH_CAP, "%s/%s", dir, name);
    return n > 0 && n < PATH_CAP;
}

/* dir/name or dir/name.gz, whichever exists (plain preferred) */
static int find_idx(char *out, const char *dir, const char *name) {
    char gz[PATH_CAP];
    if (join(out, dir, NULL, name) && is_file(out)) return 1;
    if (snprintf(gz, sizeof gz, "%s.gz", name) >= (int)sizeof gz) return 0;
    return join(out, dir, NULL, gz) && is_file(out);
}

/* ---- IDX ---------------------------------------------------------------- */

/* images (n, h, w) + labels (n) → dataset with c = 1, pixels / 255;
 * classes is the largest label + 1 (IDX files do not declare it) */
static pd_status load_idx(const char *img_path, const char *lbl_path,
                          pd_dataset *out) {
    pd_idx im, lb;
    pd_status st = pd_idx_read(img_path, &im);
    if (st) return st;
    st = pd_idx_read(lbl_path, &lb);
    if (st) {
        pd_idx_free(&im);
        return st;
    }
    if (im.ndim != 3)
        st = pd_fail(PD_ERR_FORMAT, "%s: images need 3 dims (n, h, w), file has %d",
                     img_path, im.ndim);
    else if (lb.ndim != 1)
        st = pd_fail(PD_ERR_FORMAT, "%s: labels need 1 dim (n), file has %d", lbl_path,
                     lb.ndim);
    else if (im.dims[0] != lb.dims[0])
        st = pd_fail(PD_ERR_SHAPE, "%s: %zu images but %s has %zu labels", img_path,
                     im.dims[0], lbl_path, lb.dims[0]);
    else if (im.count == 0)
        st = pd_fail(PD_ERR_FORMAT, "%s: no images (dims %zu x %zu x %zu)", img_path,
                     im.dims[0], im.dims[1], im.dims[2]);
    if (!st) {
        out->n = im.dims[0];
        out->c = 1;
        out->h = im.dims[1];
        out->w = im.dims[2];
        out->x = pd_alloc(im.count * sizeof(float));
        out->y = pd_alloc(out->n * sizeof(int32_t));
        if (!out->x || !out->y)
            st = pd_fail(PD_ERR_NOMEM, "%s: out of memory for %zu images", img_path,
                         out->n);
    }
    if (!st) {
        for (size_t i = 0; i < im.count; i++) out->x[i] = im.data[i] / 255.0f;
        int maxlab = 0;
        for (size_t i = 0; i < out->n; i++) {
            out->y[i] = lb.data[i]; /* unsigned byte: always in [0, 256) */
            if (lb.data[i] > maxlab) maxlab = lb.data[i];
        }
        out->classes = maxlab + 1;
    }
    pd_idx_free(&im);
    pd_idx_free(&lb);
    if (st) pd_dataset_free(out);
    return st;
}

/* ---- CIFAR -------------------------------------------------------------- */

/* Loads and concatenates nf batch files of one CIFAR variant. Sizes are
 * checked with stat first so the output is allocated once. */
static pd_status load_cifar(char paths[][PATH_CAP], int nf, int classes,
                            pd_dataset *out) {
    size_t rec = pd_cifar_record_size(classes), total = 0;
    size_t counts[8];
    for (int f = 0; f < nf; f++) {
        struct stat sb;
        if (stat(paths[f], &sb) != 0 || !S_ISREG(sb.st_mode))
            return pd_fail(PD_ERR_IO, "%s: missing CIFAR-%d batch", paths[f], classes);
        uint64_t size = (uint64_t)sb.st_size;
        if (size == 0 || size % rec != 0 || size > CIFAR_FILE_MAX)
            return pd_fail(PD_ERR_FORMAT,
                           "%s: %llu bytes is not a whole number of CIFAR-%d records "
                           "(%zu bytes each)",
                           paths[f], (unsigned long long)size, classes, rec);
        counts[f] = (size_t)(size / rec);
        total += counts[f];
    }
    out->x = pd_alloc(total * PD_CIFAR_PIXELS * sizeof(float));
    out->y = pd_alloc(total * sizeof(int32_t));
    if (!out->x || !out->y) {
        pd_dataset_free(out);
        return pd_fail(PD_ERR_NOMEM, "%s: out of memory for %zu images", paths[0], total);
    }
    /* decode each file straight into its slice of the output */
    size_t at = 0;
    for (int f = 0; f < nf; f++) {
        uint8_t *bytes;
        size_t len;
        pd_status st = pd_read_file(paths[f], CIFAR_FILE_MAX, &bytes, &len);
        if (!st && len != counts[f] * rec)
            st = pd_fail(PD_ERR_IO, "%s: file changed while loading", paths[f]);
        if (!st)
            st = pd_cifar_decode(out->x + at * PD_CIFAR_PIXELS, out->y + at, bytes, len,
                                 paths[f], classes);
        free(bytes);
        if (st) {
            pd_dataset_free(out);
            return st;
        }
        at += counts[f];
    }
    out->n = total;
    out->c = 3;
    out->h = out->w = 32;
    out->classes = classes;
    return PD_OK;
}

/* CIFAR-10 in dir or its archive subfolder; 1 if found (st set), else 0 */
static int try_cifar10(const char *dir, int train, pd_dataset *out, pd_status *st) {
    static const char *const subs[] = {"", "cifar-10-batches-bin"};
    char paths[5][PATH_CAP];
    int nf = train ? 5 : 1;
    for (int s = 0; s < 2; s++) {
        int any = 0;
        for (int f = 0; f < nf; f++) {
            char name[32];
            if (train) snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
            else snprintf(name, sizeof name, "test_batch.bin");
            if (!join(paths[f], dir, subs[s], name)) return 0;
            any |= is_file(paths[f]);
        }
        if (any) {
            *st = load_cifar(paths, nf, 10, out);
            return 1;
        }
    }
    return 0;
}

/* CIFAR-100 train.bin / test.bin in dir or cifar-100-binary/ */
static int try_cifar100(const char *dir, int train, pd_dataset *out, pd_status *st) {
    static const char *const subs[] = {"", "cifar-100-binary"};
    char paths[1][PATH_CAP];
    for (int s = 0; s < 2; s++) {
        if (!join(paths[0], dir, subs[s], train ? "train.bin" : "test.bin")) return 0;
        if (is_file(paths[0])) {
            *st = load_cifar(paths, 1, 100, out);
            return 1;
        }
    }
    return 0;
}

pd_status pd_dataset_load(const char *dir, int train, pd_dataset *out) {
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return pd_fail(PD_ERR_IO, "%s: not a directory", dir);

    const char *pre = train ? "train" : "t10k";
    char iname[64], lname[64], ipath[PATH_CAP], lpath[PATH_CAP];
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", pre);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", pre);
    int hi = find_idx(ipath, dir, iname), hl = find_idx(lpath, dir, lname);
    /* IDX first: both files present loads, exactly one is an error */
    if (hi && hl) return load_idx(ipath, lpath, out);
    if (hi || hl)
        return pd_fail(PD_ERR_IO, "%s: found %s but not %s[.gz]", dir,
                       hi ? iname : lname, hi ? lname : iname);

    /* then CIFAR-10, then CIFAR-100; nothing found names all the options */
    pd_status st = PD_OK;
    if (try_cifar10(dir, train, out, &st)) return st;
    if (try_cifar100(dir, train, out, &st)) return st;
    return pd_fail(PD_ERR_IO,
                   "%s: no dataset found: expected %s[.gz] + %s[.gz] (IDX), %s "
                   "(CIFAR-10) or %s (CIFAR-100)",
                   dir, iname, lname,
                   train ? "data_batch_1.bin..data_batch_5.bin" : "test_batch.bin",
                   train ? "train.bin" : "test.bin");
}

/* ---- normalisation ------------------------------------------------------ */

pd_status pd_dataset_normalize(pd_dataset *train, pd_dataset *test) {
    size_t c = train->c, hw = train->h * train->w;
    if (c == 0 || train->n == 0 || hw == 0)
        return pd_fail(PD_ERR_ARG, "cannot normalise an empty dataset");
    if (test && test->c != c)
        return pd_fail(PD_ERR_SHAPE, "normalise: train has %zu channels, test %zu", c,
                       test->c);
    /* sums in double: 47M pixels of Fashion-MNIST would lose digits in float */
    double *sum = calloc(2 * c, sizeof(double));
    float *mean = malloc(2 * c * sizeof(float));
    if (!sum || !mean) {
        free(sum);
        free(mean);
        return pd_fail(PD_ERR_NOMEM, "normalise: out of memory");
    }
    double *sq = sum + c;
    float *inv = mean + c;
    for (size_t i = 0; i < train->n; i++)
        for (size_t ch = 0; ch < c; ch++) {
            const float *p = train->x + (i * c + ch) * hw;
            double s = 0, s2 = 0;
            for (size_t k = 0; k < hw; k++) {
                s += p[k];
                s2 += (double)p[k] * p[k];
            }
            sum[ch] += s;
            sq[ch] += s2;
        }
    /* population statistics, var = E[x^2] - mean^2 */
    double cnt = (double)train->n * (double)hw;
    for (size_t ch = 0; ch < c; ch++) {
        double m = sum[ch] / cnt, var = sq[ch] / cnt - m * m;
        double sd = var > 0 ? sqrt(var) : 0;
        mean[ch] = (float)m;
        inv[ch] = sd > 1e-6 ? (float)(1.0 / sd) : 1.0f; /* constant: centre only */
    }
    /* x ← (x - mean[ch]) / std[ch], train statistics for both splits */
    pd_dataset *sets[2] = {train, test};
    for (int s = 0; s < 2; s++) {
        pd_dataset *d = sets[s];
        if (!d) continue;
        size_t dhw = d->h * d->w;
        for (size_t i = 0; i < d->n; i++)
            for (size_t ch = 0; ch < c; ch++) {
                float *p = d->x + (i * c + ch) * dhw;
                for (size_t k = 0; k < dhw; k++) p[k] = (p[k] - mean[ch]) * inv[ch];
            }
    }
    free(sum);
    free(mean);
    return PD_OK;
}
