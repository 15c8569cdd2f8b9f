/*
 * gnuplot.c — see gnuplot.h. gnuplot runs as a child process (fork +
 * execv of the executable found on PATH, working directory the figures
 * folder, stdio on /dev/null); its exit status and the PNG it leaves are
 * both checked.
 */
#include "gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

pd_status pd_gp_open(pd_gp_file *ff, const char *dir, const char *name) {
    ff->f = NULL;
    int k = snprintf(ff->path, sizeof ff->path, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= sizeof ff->path)
        return pd_fail(PD_ERR_ARG, "%s: path too long", dir);
    ff->f = fopen(ff->path, "w");
    if (!ff->f) return pd_fail(PD_ERR_IO, "%s: cannot create: %s", ff->path, strerror(errno));
    return PD_OK;
}

/* closes and reports any earlier write error (full disk) */
pd_status  pd_gp_close(pd_gp_file *ff) {
    if (!ff->f) return PD_OK;
    int bad = ferror(ff->f) != 0;
    bad |= fclose(ff->f) != 0;
    ff->f = NULL;
    return bad ? pd_fail(PD_ERR_IO, "%s: write failed (disk full?)", ff->path) : PD_OK;
}

/* closes both; the first error wins */
pd_status  pd_gp_close2(pd_gp_file *a, pd_gp_file *b) {
    pd_status s1 = pd_gp_close(a), s2 = pd_gp_close(b);
    return s1 ? s1 : s2;
}

/* the script's first lines: output file, size, fonts, TSV input */
void  pd_gp_begin(FILE *f, const char *name, int w, int h) {
    fprintf(f, "# written by pdiff eval; redraw with: cd <this folder> && gnuplot %s.gp\n",
            name);
    fprintf(f, "set terminal pngcairo size %d,%d enhanced font 'Sans,11'\n", w, h);
    fprintf(f, "set output '%s.png'\n", name);
    fprintf(f, "set datafile separator \"\\t\"\n");
}

/* the number as gnuplot reads it ("NaN" for non-finite) */
void  pd_gp_num(FILE *f, double x, char sep) {
    if (isfinite(x)) fprintf(f, "%.9g%c", x, sep);
    else fprintf(f, "NaN%c", sep);
}

/* absolute path of prog on PATH (as execvp would find it); 0 if absent */
int  pd_gp_find_program(char *out, size_t cap, const char *prog) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char cwd[PD_GP_PATH];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    for (const char *p = path;;) {
        const char *q = strchr(p, ':');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        const char *dir = len ? p : ".";
        int dlen = len ? (int)len : 1;
        int k = dir[0] == '/' ? snprintf(out, cap, "%.*s/%s", dlen, dir, prog)
                              : snprintf(out, cap, "%s/%.*s/%s", cwd, dlen, dir, prog);
        struct stat sb;
        if (k > 0 && (size_t)k < cap && stat(out, &sb) == 0 && S_ISREG(sb.st_mode) &&
            access(out, X_OK) == 0)
            return 1;
        if (!q) break;
        p = q + 1;
    }
    out[0] = '\0';
    return 0;
}

/* runs `gnuplot NAME.gp` inside the figures folder; checks NAME.png */
pd_status pd_gp_run(const char *gnuplot, const char *dir, const char *name) {
    char script[64], png[PD_GP_PATH + 64];
    snprintf(script, sizeof script, "%s.gp", name);
    snprintf(png, sizeof png, "%s/%s.png", dir, name);
    pid_t pid = fork();
    if (pid < 0) return pd_fail(PD_ERR_IO, "cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) { /* child: only async-signal-safe calls until exec */
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
            if (fd > 2) close(fd);
        }
        if (chdir(dir) != 0) _exit(126);
        char arg0[] = "gnuplot";
        char *argv[] = {arg0, script, NULL};
        execv(gnuplot, argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return pd_fail(PD_ERR_IO, "waiting for gnuplot on %s/%s: %s", dir, script,
                           strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        remove(png); /* a half-drawn image would pass for a figure */
        return pd_fail(PD_ERR_IO,
                       "gnuplot failed on %s/%s (%s %d); run `cd %s && gnuplot %s` to see why",
                       dir, script, WIFEXITED(status) ? "exit status" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), dir,
                       script);
    }
    struct stat sb;
    if (stat(png, &sb) != 0 || sb.st_size == 0)
        return pd_fail(PD_ERR_IO, "gnuplot ran %s/%s but left no %s", dir, script, png);
    return PD_OK;
}

/* removes what an earlier run left for a figure that is now skipped */
void pd_gp_remove_outputs(const char *dir, const char *name) {
    static const char *const suffix[] = {".png", ".tsv", ".gp", "_bars.tsv"};
    char p[PD_GP_PATH + 64];
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        snprintf(p, sizeof p, "%s/%s%s", dir, name, suffix[i]);
        remove(p);
    }
}



void  pd_gp_plot_add(pd_gp_plot *pl, const char *fmt, ...) {
    if (pl->len >= sizeof pl->cmd) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(pl->cmd + pl->len, sizeof pl->cmd - pl->len, fmt, ap);
    va_end(ap);
    if (k > 0) pl->len += (size_t)k;
}

/* Writes the points (x[i], y[i]) with both finite as one data block and
 * adds a plot clause for it; nothing when there are none. x, y (n). */
size_t  pd_gp_add_series(pd_gp_plot *pl, FILE *data, const char *file, const double *x,
                         const double *y, size_t n, const char *title, const char *style) {
    if (!x || !y) return 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += isfinite(x[i]) && isfinite(y[i]);
    if (m == 0) return 0;
    fprintf(data, "# %s\n", title);
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) fprintf(data, "%.9g\t%.9g\n", x[i], y[i]);
    fprintf(data, "\n\n");
    pd_gp_plot_add(pl, "%s'%s' index %d using 1:2 with points %s title '%s (%zu)'",
           pl->blocks ? ", \\\n     " : "plot ", file, pl->blocks, style, title, m);
    pl->blocks++;
    return m;
}
