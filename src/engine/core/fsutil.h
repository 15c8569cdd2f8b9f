/*
 * fsutil.h — small file-system helpers shared by the stages.
 */
#ifndef PD_FSUTIL_H
#define PD_FSUTIL_H

#include "pdiff.h"

/* a regular file exists at path */
int pd_file_exists(const char *path);
/* mkdir -p; error names the directory */
pd_status pd_mkdir_p(const char *dir);

#endif
