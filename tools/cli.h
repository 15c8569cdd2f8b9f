/*
 * cli.h — what the subcommands of the pdiff tool share: option parsing,
 * progress rendering, error reporting. The CLI is the only part of pdiff
 * that prints to the user and exits.
 */
#ifndef PD_CLI_H
#define PD_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "pdiff.h"

/* one option of a subcommand; value NULL for flags */
typedef struct {
    const char *name;  /* "--lr" or "-K" */
    const char *arg;   /* metavar shown in help, NULL: a flag */
    const char *help;
    const char *value; /* set by cli_parse (flag: "1") */
} cli_opt;

/* parses argv[first..] into opts; positional arguments go to pos (up to
 * maxpos). Returns 0, or prints a one-line error and returns 2. "--help"
 * prints usage and returns 1. */
int cli_parse(int argc, char **argv, int first, cli_opt *opts, const char *usage,
              const char **pos, int maxpos, int *npos);
const char *cli_get(const cli_opt *opts, const char *name);
/* typed getters: a malformed number is reported and exits 2 */
long cli_long(const cli_opt *opts, const char *name, long dflt);
double cli_double(const cli_opt *opts, const char *name, double dflt);
int cli_flag(const cli_opt *opts, const char *name);
/* comma-separated list into at most max strings (pointers into a copy) */
size_t cli_list(const char *s, const char **out, size_t max);
void cli_usage(const char *usage, const cli_opt *opts);
/* options saved in a run's config.json ({"options": {name: value}}) fill
 * those not given on the command line; strict: unknown names are an error,
 * else skipped. Returns 0 or an exit code (message printed). */
int cli_apply_config(const char *path, cli_opt *opts, int strict);

/* prints "pdiff: <last error>" and returns 1 */
/* prints the last error; under mpirun (dist.h) it names the rank and stops
 * the job instead of returning */
int cli_error(pd_status st);
/* where cli_error writes (default stderr; a rank other than 0 of an MPI
 * job keeps its real stderr here and silences the rest) */
void cli_set_error_stream(FILE *f);
/* 1 when built with -DPDIFF_MPI=ON */
int cli_mpi_build(void);
/* a progress renderer for library jobs */
pd_progress cli_progress(void);
double cli_now(void);

int cmd_collect(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ablate(int argc, char **argv);

#endif
