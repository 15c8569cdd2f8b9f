/*
 * cifar.c — CIFAR-10/100 binary batch decoding (see cifar.h).
 */
#include "engine/io/cifar.h"

#include <string.h>

/* label bytes (1 or 2) + 3072 pixel bytes */
size_t pd_cifar_record_size(int classes) {
    return classes == 10 ? 1 + PD_CIFAR_PIXELS
           : classes == 100 ? 2 + PD_CIFAR_PIXELS
                            : 0;
}

/* size check shared by decode and parse */
static pd_status check_len(size_t len, const char *label, int classes, size_t *n) {
    size_t rec = pd_cifar_record_size(classes);
    if (!rec)
        return pd_fail(PD_ERR_ARG, "%s: CIFAR classes must be 10 or 100, not %d", label,
                       classes);
    if (len == 0 || len % rec != 0)
        return pd_fail(PD_ERR_FORMAT,
                       "%s: %zu bytes is not a whole number of CIFAR-%d records "
                       "(%zu bytes each)", label, len, classes, rec);
    *n = len / rec;
    return PD_OK;
}

pd_status pd_cifar_decode(float *x, int32_t *y, const uint8_t *bytes, size_t len,
                          const char *label, int classes) {
    size_t n = 0;
    pd_status st = check_len(len, label, classes, &n);
    if (st) return st;
    size_t rec = pd_cifar_record_size(classes), nlab = rec - PD_CIFAR_PIXELS;
    /* one record per image: label byte(s) checked, pixels scaled to [0, 1];
     * the fine label is the last label byte in both variants */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = bytes + i * rec;
        if (classes == 100 && r[0] >= 20)
            return pd_fail(PD_ERR_FORMAT, "%s: record %zu: coarse label %d out of range "
                           "[0, 20)", label, i, r[0]);
        int lab = r[nlab - 1];
        if (lab >= classes)
            return pd_fail(PD_ERR_FORMAT, "%s: record %zu: label %d out of range [0, %d)",
                           label, i, lab, classes);
        y[i] = lab;
        float *xi = x + i * PD_CIFAR_PIXELS;
        for (size_t k = 0; k < PD_CIFAR_PIXELS; k++) xi[k] = r[nlab + k] / 255.0f;
    }
    return PD_OK;
}

pd_status pd_cifar_parse(const uint8_t *bytes, size_t len, const char *label,
                         int classes, pd_dataset *out) {
    memset(out, 0, sizeof *out);
    size_t n = 0;
    pd_status st = check_len(len, label, classes, &n);
    if (st) return st;
    /* n <= len / 3073, so these sizes cannot overflow */
    out->x = pd_alloc(n * PD_CIFAR_PIXELS * sizeof(float));
    out->y = pd_alloc(n * sizeof(int32_t));
    if (!out->x || !out->y) {
        pd_dataset_free(out);
        return pd_fail(PD_ERR_NOMEM, "%s: out of memory for %zu images", label, n);
    }
    st = pd_cifar_decode(out->x, out->y, bytes, len, label, classes);
    if (st) {
        pd_dataset_free(out);
        return st;
    }
    out->n = n;
    out->c = 3;
    out->h = out->w = 32;
    out->classes = classes;
    return PD_OK;
}
