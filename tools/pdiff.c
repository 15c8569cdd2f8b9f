/*
 * pdiff.c — entry point of the pdiff tool: dispatches to the subcommands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dist.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"collect", cmd_collect, "train task networks and save K checkpoints of a parameter subset"},
    {"train", cmd_train, "train the parameter autoencoder, then the latent DDPM"},
    {"generate", cmd_generate, "sample N new parameter sets and write them as checkpoints"},
    {"eval", cmd_eval, "original / ensemble / p-diff tables, similarity, figures"},
    {"run", cmd_run, "collect → train → generate → eval with defaults"},
    {"ablate", cmd_ablate, "run the paper's ablations on shared checkpoints"},
    {"inspect", cmd_inspect, "list a safetensors file's tensors and metadata"},
};

static void usage(void) {
    printf("pdiff %s — Neural Network Diffusion (Wang et al., 2024) on the CPU\n\n"
           "usage: pdiff COMMAND [options]   (pdiff COMMAND --help for its options)\n\n",
           PDIFF_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        printf("  %-10s %s\n", commands[i].name, commands[i].help);
    printf("\nEnvironment: PDIFF_THREADS sets the thread count (or --threads N).\n");
}

int main(int argc, char **argv) {
    /* OpenMP threads that spin long between parallel regions starve BLAS
     * and the rest of a 2-core machine under any other load; threads that
     * sleep at once (PASSIVE) pay a futex wake-up per region instead (one
     * epoch of collect 12.8 / 12.5 s against 11.0 / 10.9 s with a short
     * spin; train and eval unchanged). So a short spin, 10 000 rounds,
     * where the user set neither; libgomp reads it before main runs, so
     * set it and start again once. */
    int restart = 0;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
        setenv("GOMP_SPINCOUNT", "10000", 1);
        restart = 1;
    }
    /* OpenBLAS chose its slow generic kernels for a CPU model it does not
     * know (src/engine/core/cpu.c): name the right ones, which it reads at load */
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : pd_blas_core_suggestion();
    if (core) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        restart = 1;
    }
    if (restart) execv("/proc/self/exe", argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    /* under mpirun, one rank of a job (dist.h); rank 0 alone prints */
    pd_dist_init(&argc, &argv);
    if (!pd_dist_root()) { /* errors still get through (cli_error) */
        FILE *err = fdopen(dup(2), "w");
        if (!err || !freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            pd_dist_abort(1);
        cli_set_error_stream(err);
    }
    if (!strcmp(argv[1], "--version")) {
        printf("pdiff %s (OpenBLAS kernels: %s; %s)\n", PDIFF_VERSION, pd_blas_core(),
               cli_mpi_build() ? "MPI" : "no MPI");
        pd_dist_finalize();
        return 0;
    }
    pd_set_threads(0);
    int rc = -1;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0] && rc < 0; i++)
        if (!strcmp(argv[1], commands[i].name)) rc = commands[i].fn(argc, argv);
    if (rc < 0) {
        fprintf(stderr, "pdiff: unknown command '%s' (see pdiff --help)\n", argv[1]);
        rc = 2;
    }
    /* a rank that stops early would leave the others waiting for it */
    if (rc != 0 && pd_dist_size() > 1) pd_dist_abort(rc);
    pd_dist_finalize();
    return rc;
}
