/* temporary: commands not yet wired */
#include "cli.h"
int cmd_run(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "pdiff: run not built yet\n"); return 1; }
int cmd_ablate(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "pdiff: ablate not built yet\n"); return 1; }
