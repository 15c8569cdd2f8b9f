/*
 * gnuplot.h — what the figures share: their data (TSV) and script files,
 * written with every write error reported, the gnuplot child process that
 * draws a script into a PNG, and scatter plots built one data block per
 * series.
 */
#ifndef PD_GNUPLOT_H
#define PD_GNUPLOT_H

#include <stddef.h>
#include <stdio.h>

#include "pdiff.h"

#define PD_GP_PATH 4096

typedef struct {
    FILE *f;
    char path[PD_GP_PATH + 64];
} pd_gp_file;

/* dir/name for writing; errors name the file */
pd_status pd_gp_open(pd_gp_file *ff, const char *dir, const char *name);
/* closes and reports any earlier write error (full disk) */
pd_status pd_gp_close(pd_gp_file *ff);
/* closes both; the first error wins */
pd_status pd_gp_close2(pd_gp_file *a, pd_gp_file *b);
/* a script's first lines: output NAME.png, size, fonts, TSV input */
void pd_gp_begin(FILE *f, const char *name, int w, int h);
/* the number as gnuplot reads it ("NaN" for non-finite), then sep */
void pd_gp_num(FILE *f, double x, char sep);
/* absolute path of prog on PATH (as execvp would find it) into out; 0 if absent */
int pd_gp_find_program(char *out, size_t cap, const char *prog);
/* runs `gnuplot NAME.gp` (gnuplot: its absolute path) inside dir and
 * checks that NAME.png was drawn */
pd_status pd_gp_run(const char *gnuplot, const char *dir, const char *name);
/* removes NAME.png/.tsv/.gp/_bars.tsv an earlier run left in dir */
void pd_gp_remove_outputs(const char *dir, const char *name);

/* a "plot ..." command accumulated clause by clause */
typedef struct {
    char cmd[8192];
    size_t len;
    int blocks;     /* data blocks written so far = next index */
} pd_gp_plot;

void pd_gp_plot_add(pd_gp_plot *pl, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Writes the points (x[i], y[i]) with both finite as one data block of
 * `data` (the file named `file` in the script) and adds a plot clause for
 * it; nothing when there are none. Returns the number of points. */
size_t pd_gp_add_series(pd_gp_plot *pl, FILE *data, const char *file, const double *x,
                        const double *y, size_t n, const char *title, const char *style);

#endif
