/*
 * atomic_file.c — temp-write-then-rename (see pdiff_io.h).
 *
 * Durability order: data written → fflush (stdio buffer to kernel) → fsync
 * (kernel to disk) → fclose → rename → fsync of the directory (best
 * effort, so the rename itself survives a crash). Errors such as ENOSPC or
 * EFBIG may surface at any of the first three steps, so each is checked.
 */
#include "pdiff_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static void release(pd_atomic_file *af) {
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    af->f = NULL;
}

pd_status pd_atomic_open(pd_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    if (n == 0) return pd_fail(PD_ERR_ARG, "empty output path");
    af->path = malloc(n + 1);
    af->tmp_path = malloc(n + 32);
    if (!af->path || !af->tmp_path) {
        release(af);
        return pd_fail(PD_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(af->path, path, n + 1);
    snprintf(af->tmp_path, n + 32, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp_path, "wb");
    if (!af->f) {
        int e = errno;
        pd_status st = pd_fail(PD_ERR_IO, "%s: cannot create temp file %s: %s",
                               path, af->tmp_path, strerror(e));
        release(af);
        return st;
    }
    return PD_OK;
}

pd_status pd_atomic_write(pd_atomic_file *af, const void *data, size_t len) {
    if (!af->f) return pd_fail(PD_ERR_ARG, "write to a closed atomic file");
    if (len == 0) return PD_OK;
    errno = 0;
    if (fwrite(data, 1, len, af->f) != len) {
        int e = errno;
        return pd_fail(PD_ERR_IO, "%s: write failed: %s", af->path,
                       e ? strerror(e) : "short write");
    }
    return PD_OK;
}

void pd_atomic_abort(pd_atomic_file *af) {
    if (af->f) fclose(af->f);
    if (af->tmp_path) remove(af->tmp_path);
    release(af);
}

/* fsync the directory holding path so the rename is durable; best effort
 * (some file systems refuse fsync on directories). */
static void sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1; /* "/file" → "/" */
        if (n >= sizeof dir) return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

pd_status pd_atomic_commit(pd_atomic_file *af) {
    if (!af->f) return pd_fail(PD_ERR_ARG, "commit of a closed atomic file");
    const char *step = NULL;
    int e = 0;
    errno = 0;
    if (fflush(af->f) != 0) step = "flush";
    else if (fsync(fileno(af->f)) != 0) step = "fsync";
    if (step) e = errno;
    /* fclose always releases the stream, even when it reports an error */
    int close_rc = fclose(af->f);
    af->f = NULL;
    if (!step && close_rc != 0) {
        step = "close";
        e = errno;
    }
    if (!step && rename(af->tmp_path, af->path) != 0) {
        step = "rename";
        e = errno;
    }
    if (step) {
        pd_status st = pd_fail(PD_ERR_IO, "%s: %s failed: %s", af->path, step,
                               strerror(e));
        remove(af->tmp_path);
        release(af);
        return st;
    }
    sync_parent_dir(af->path);
    release(af);
    return PD_OK;
}

pd_status pd_write_file_atomic(const char *path, const void *data, size_t len) {
    pd_atomic_file af;
    pd_status st = pd_atomic_open(&af, path);
    if (st) return st;
    st = pd_atomic_write(&af, data, len);
    if (st) {
        pd_atomic_abort(&af);
        return st;
    }
    return pd_atomic_commit(&af);
}

/* the pid of a temp file name "<name>.tmp.<digits>", or 0 */
static long tmp_pid(const char *name) {
    const char *t = strstr(name, ".tmp.");
    if (!t) return 0;
    const char *d = t + 5;
    while ((t = strstr(d, ".tmp."))) d = t + 5; /* the last ".tmp." */
    if (*d == '\0') return 0;
    long pid = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || pid > 100000000) return 0;
        pid = pid * 10 + (*d - '0');
    }
    return pid;
}

size_t pd_atomic_sweep(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t removed = 0;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d))) {
        long pid = tmp_pid(de->d_name);
        if (pid <= 0 || pid == (long)getpid()) continue;
        /* ESRCH: no such process, so no writer will rename this file */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        if (remove(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}
