/*
 * cmd_inspect.c — `pdiff inspect FILE`: tensors (name, dtype, shape,
 * min/max/mean, NaN count) and metadata of a safetensors file. A file that
 * fails validation is refused with a one-line error.
 */
#include <math.h>

#include "cli.h"
#include "pdiff_io.h"

int cmd_inspect(int argc, char **argv) {
    cli_opt opts[] = {{0}};
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, 2, opts, "usage: pdiff inspect FILE.safetensors", pos, 1, &npos);
    if (rc) return rc == 1 ? 0 : rc;
    if (npos != 1) {
        fprintf(stderr, "pdiff: inspect needs one file (see --help)\n");
        return 2;
    }
    pd_st_file f;
    pd_status st = pd_st_read(pos[0], &f);
    if (st) return cli_error(st);
    printf("%s: %zu tensors\n", pos[0], f.count);
    printf("%-40s %-5s %-18s %12s %12s %12s %6s\n", "name", "dtype", "shape", "min", "max", "mean", "nan");
    for (size_t i = 0; i < f.count; i++) {
        const pd_st_tensor *t = &f.t[i];
        char shape[64] = "(";
        size_t len = 1;
        for (int d = 0; d < t->ndim && len < sizeof shape - 12; d++)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%zu", d ? ", " : "", t->shape[d]);
        snprintf(shape + len, sizeof shape - len, ")");
        double mn = INFINITY, mx = -INFINITY, sum = 0;
        size_t nan = 0, fin = 0;
        for (size_t j = 0; j < t->numel; j++) {
            float v = t->data[j];
            if (isnan(v)) { nan++; continue; }
            if (v < mn) mn = v;
            if (v > mx) mx = v;
            if (isfinite(v)) { sum += v; fin++; }
        }
        printf("%-40s %-5s %-18s %12.5g %12.5g %12.5g %6zu\n", t->name, pd_st_dtype_name(t->dtype),
               shape, mn, mx, fin ? sum / (double)fin : NAN, nan);
    }
    if (f.meta_count) printf("metadata:\n");
    for (size_t i = 0; i < f.meta_count; i++) printf("  %s = %s\n", f.meta_keys[i], f.meta_vals[i]);
    pd_st_free(&f);
    return 0;
}
