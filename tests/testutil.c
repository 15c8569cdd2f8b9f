/*
 * testutil.c — see testutil.h.
 */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tu_fill(pd_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * pd_rng_uniform(r);
}

double tu_close_ratio(const float *a, const float *b, size_t n, double rtol,
                      double atol) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double tol = atol + rtol * fabs((double)b[i]);
        double r = d / tol;
        if (!(r <= worst)) worst = r; /* NaN propagates as failure */
        if (isnan(r)) return INFINITY;
    }
    return worst;
}

double tu_dot(const float *y, const float *r, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)y[i] * (double)r[i];
    return s;
}

double tu_gradcheck(tu_loss_fn loss, void *ctx, float *x, const float *grad,
                    size_t n, size_t max_checks, float h, double floor) {
    double worst = 0.0;
    size_t step = n > max_checks ? n / max_checks : 1;
    for (size_t i = 0; i < n; i += step) {
        float keep = x[i];
        x[i] = keep + h;
        double lp = loss(ctx);
        x[i] = keep - h;
        double lm = loss(ctx);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * (double)h);
        double ana = grad[i];
        double denom = fabs(num) + fabs(ana);
        if (denom < floor) denom = floor;
        double err = fabs(num - ana) / denom;
        if (err > worst || isnan(err)) worst = isnan(err) ? INFINITY : err;
    }
    return worst;
}

float *tu_fixture(const char *file, const char *name, size_t *n) {
    FILE *f = fopen(file, "rb");
    if (!f) return NULL;
    char magic[4];
    uint32_t version, count;
    float *out = NULL;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "PDFX", 4) != 0) goto done;
    if (fread(&version, 4, 1, f) != 1 || fread(&count, 4, 1, f) != 1) goto done;
    for (uint32_t a = 0; a < count; a++) {
        uint32_t len, ndim, dims[8];
        char buf[256];
        if (fread(&len, 4, 1, f) != 1 || len >= sizeof buf) goto done;
        if (fread(buf, 1, len, f) != len) goto done;
        buf[len] = 0;
        if (fread(&ndim, 4, 1, f) != 1 || ndim > 8) goto done;
        if (fread(dims, 4, ndim, f) != ndim) goto done;
        size_t numel = 1;
        for (uint32_t d = 0; d < ndim; d++) numel *= dims[d];
        if (strcmp(buf, name) == 0) {
            out = malloc(numel * sizeof(float) + 1);
            if (out && fread(out, sizeof(float), numel, f) != numel) {
                free(out);
                out = NULL;
            }
            if (out) *n = numel;
            goto done;
        }
        if (fseek(f, (long)(numel * sizeof(float)), SEEK_CUR) != 0) goto done;
    }
done:
    fclose(f);
    return out;
}

void tu_rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) tu_rm_tree(p);
        else remove(p);
    }
    closedir(d);
    rmdir(dir);
}
