/*
 * cli.c — option parsing, progress bars and error lines for the pdiff tool.
 */
#include "cli.h"
#include "dist.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pdiff_io.h"

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_usage(const char *usage, const cli_opt *opts) {
    printf("%s\n\nOptions:\n", usage);
    for (const cli_opt *o = opts; o->name; o++) {
        char left[48];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        printf("  %-26s %s\n", left, o->help);
    }
    printf("  %-26s %s\n", "--threads N", "threads for OpenMP and BLAS (default: PDIFF_THREADS or all cores)");
}

static cli_opt *find_opt(cli_opt *opts, const char *name, size_t len) {
    for (cli_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

int cli_parse(int argc, char **argv, int first, cli_opt *opts, const char *usage,
              const char **pos, int maxpos, int *npos) {
    *npos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_usage(usage, opts);
            return 1;
        }
        if (!strcmp(a, "--threads")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pdiff: --threads needs a value\n");
                return 2;
            }
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 1024) {
                fprintf(stderr, "pdiff: --threads: '%s' is not a thread count\n", argv[i]);
                return 2;
            }
            pd_set_threads((int)n);
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            cli_opt *o = find_opt(opts, a, len);
            if (!o) {
                fprintf(stderr, "pdiff: unknown option '%.*s' (see --help)\n", (int)len, a);
                return 2;
            }
            if (!o->arg) {
                o->value = "1";
            } else if (eq) {
                o->value = eq + 1;
            } else if (i + 1 < argc) {
                o->value = argv[++i];
            } else {
                fprintf(stderr, "pdiff: option %s needs a value (%s)\n", o->name, o->arg);
                return 2;
            }
            continue;
        }
        if (*npos >= maxpos) {
            fprintf(stderr, "pdiff: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
        pos[(*npos)++] = a;
    }
    return 0;
}

const char *cli_get(const cli_opt *opts, const char *name) {
    for (const cli_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name)) return o->value;
    return NULL;
}

long cli_long(const cli_opt *opts, const char *name, long dflt) {
    const char *v = cli_get(opts, name);
    if (!v) return dflt;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v) {
        fprintf(stderr, "pdiff: %s: '%s' is not an integer\n", name, v);
        exit(2);
    }
    return x;
}

double cli_double(const cli_opt *opts, const char *name, double dflt) {
    const char *v = cli_get(opts, name);
    if (!v) return dflt;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || end == v || !isfinite(x)) {
        fprintf(stderr, "pdiff: %s: '%s' is not a number\n", name, v);
        exit(2);
    }
    return x;
}

int cli_flag(const cli_opt *opts, const char *name) { return cli_get(opts, name) != NULL; }

/* copies made by cli_list live until exit, like argv */
static char *list_copies[64];
static size_t nlist_copies;

static void free_list_copies(void) {
    for (size_t i = 0; i < nlist_copies; i++) free(list_copies[i]);
}

size_t cli_list(const char *s, const char **out, size_t max) {
    if (!s || !*s || nlist_copies == sizeof list_copies / sizeof list_copies[0]) return 0;
    char *copy = strdup(s);
    if (!copy) return 0;
    if (nlist_copies == 0) atexit(free_list_copies);
    list_copies[nlist_copies++] = copy;
    size_t n = 0;
    for (char *tok = strtok(copy, ","); tok && n < max; tok = strtok(NULL, ",")) out[n++] = tok;
    return n;
}

static FILE *error_stream;

void cli_set_error_stream(FILE *f) { error_stream = f; }

int cli_error(pd_status st) {
    int code = st == PD_ERR_ARG ? 2 : 1;
    FILE *to = error_stream ? error_stream : stderr;
    if (pd_dist_size() == 1) {
        fprintf(to, "pdiff: %s\n", pd_last_error());
        return code;
    }
    /* the other ranks may be waiting for this one: stop the job */
    fprintf(to, "pdiff: rank %d of %d: %s (stopping the job)\n", pd_dist_rank(),
            pd_dist_size(), pd_last_error());
    fflush(to);
    pd_dist_abort(code);
}

int cli_mpi_build(void) {
#ifdef PDIFF_MPI
    return 1;
#else
    return 0;
#endif
}

/* ---- progress --------------------------------------------------------- */
typedef struct {
    int tty;
    char phase[32];
    double start, last_print;
    long last_done;
    long start_done; /* done at the first report of the phase (> 0 on resume) */
} progress_state;

static progress_state prog;

static void fmt_time(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e6) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void progress_fn(void *ctx, const char *phase, long done, long total, const char *info) {
    (void)ctx;
    double now = cli_now();
    if (strcmp(prog.phase, phase) != 0 || done < prog.last_done) {
        if (prog.tty && prog.phase[0]) fputc('\n', stderr);
        snprintf(prog.phase, sizeof prog.phase, "%s", phase);
        prog.start = now;
        prog.start_done = done;
        prog.last_print = 0;
    }
    prog.last_done = done;
    double frac = total > 0 ? (double)done / (double)total : 0.0;
    /* the rate since the phase's first report (a resumed phase starts
     * part-way); unknown (--:--) until there is a rate */
    double eta = done > prog.start_done
                     ? (now - prog.start) / (double)(done - prog.start_done) *
                           (double)(total - done)
                     : -1;
    char e[64], el[64];
    fmt_time(e, sizeof e, eta);
    fmt_time(el, sizeof el, now - prog.start);
    if (prog.tty) {
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '-';
        bar[30] = 0;
        fprintf(stderr, "\r%-12s [%s] %3.0f%% %ld/%ld %s ETA %s  %s\033[K", phase, bar,
                100 * frac, done, total, el, e, info ? info : "");
        if (done >= total) {
            fputc('\n', stderr);
            prog.phase[0] = 0;
        }
    } else if (done >= total || now - prog.last_print >= 10.0) {
        fprintf(stderr, "%s: %ld/%ld (%.0f%%) elapsed %s ETA %s %s\n", phase, done, total,
                100 * frac, el, e, info ? info : "");
        prog.last_print = now;
    }
    fflush(stderr);
}

pd_progress cli_progress(void) {
    prog.tty = isatty(2);
    /* under mpirun rank 0 reports for the job */
    return pd_dist_root() ? (pd_progress){progress_fn, NULL} : (pd_progress){NULL, NULL};
}

/* see cli.h */
int cli_apply_config(const char *path, cli_opt *opts, int strict) {
    uint8_t *text = NULL;
    size_t len = 0;
    pd_status st = pd_read_file(path, 1 << 20, &text, &len);
    if (st) return cli_error(st);
    cJSON *root = cJSON_ParseWithLength((const char *)text, len);
    free(text);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "options");
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(root);
        fprintf(stderr, "pdiff: %s: not a pdiff run config (no \"options\" object)\n", path);
        return 2;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, o) {
        cli_opt *hit = NULL;
        for (cli_opt *x = opts; x->name; x++)
            if (!strcmp(x->name, e->string)) hit = x;
        if (!hit && !strict) continue;
        if (!hit || !cJSON_IsString(e)) {
            fprintf(stderr, "pdiff: %s: unknown or non-string option '%s'\n", path, e->string);
            cJSON_Delete(root);
            return 2;
        }
        if (!hit->value) hit->value = strdup(e->valuestring);
    }
    cJSON_Delete(root);
    return 0;
}

