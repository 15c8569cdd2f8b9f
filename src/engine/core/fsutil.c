/*
 * fsutil.c — small file-system helpers shared by the stages.
 */
#include "pdiff_io.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int pd_file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

pd_status pd_mkdir_p(const char *dir) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return pd_fail(PD_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
            *p = c;
        }
        if (c == '\0') break;
    }
    return PD_OK;
}

