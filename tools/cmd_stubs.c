/* temporary: commands not yet wired */
#include "cli.h"
int cmd_ablate(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "pdiff: ablate not built yet\n"); return 1; }
