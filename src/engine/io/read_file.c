/*
 * read_file.c — bounded whole-file read (see pdiff_io.h). Every step
 * (open, fstat, size bound, fread) is checked and reported as one line
 * naming the file.
 */
#include "pdiff_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

pd_status pd_read_file(const char *path, uint64_t max_bytes, uint8_t **data,
                       size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return pd_fail(PD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return pd_fail(PD_ERR_IO, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size > max_bytes || size > SIZE_MAX - 1) {
        fclose(f);
        return pd_fail(PD_ERR_FORMAT, "%s: file is %llu bytes, over the %llu-byte limit",
                       path, (unsigned long long)size, (unsigned long long)max_bytes);
    }
    uint8_t *buf = malloc(size ? (size_t)size : 1);
    if (!buf) {
        fclose(f);
        return pd_fail(PD_ERR_NOMEM, "%s: out of memory for %llu bytes", path,
                       (unsigned long long)size);
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    int err = ferror(f);
    fclose(f);
    if (got != size || err) {
        free(buf);
        return pd_fail(PD_ERR_IO, "%s: read failed after %zu of %llu bytes", path, got,
                       (unsigned long long)size);
    }
    *data = buf;
    *len = (size_t)size;
    return PD_OK;
}
