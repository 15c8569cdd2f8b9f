/*
 * train_state.c — see train_state.h.
 */
#include "model/train_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pdiff_io.h"

static const char *const tensor_names[4] = {"params", "m", "v", "ema"};

pd_status pd_train_state_save(const char *path, const pd_train_state *s) {
    pd_st_tensor t[4];
    float *bufs[4] = {s->p->data, s->p->m, s->p->v, s->ema};
    size_t n = s->ema ? 4 : 3;
    for (size_t i = 0; i < n; i++) {
        memset(&t[i], 0, sizeof t[i]);
        snprintf(t[i].name, sizeof t[i].name, "%s", tensor_names[i]);
        t[i].ndim = 1;
        t[i].shape[0] = t[i].numel = s->p->total;
        t[i].data = bufs[i];
    }
    char step[32], rng[4][32], spare[48], run[48], nrun[32], logb[32];
    snprintf(step, sizeof step, "%ld", s->step);
    snprintf(run, sizeof run, "%a", s->run);
    snprintf(nrun, sizeof nrun, "%ld", s->nrun);
    snprintf(logb, sizeof logb, "%lld", s->log_bytes);
    for (int i = 0; i < 4; i++) snprintf(rng[i], sizeof rng[i], "%" PRIu64, s->rng->s[i]);
    snprintf(spare, sizeof spare, "%d %a", s->rng->has_spare, (double)s->rng->spare);
    const char *keys[] = {"step", "rng0", "rng1", "rng2", "rng3", "spare",
                          "log_sum", "log_n", "log_bytes"};
    const char *vals[] = {step, rng[0], rng[1], rng[2], rng[3], spare, run, nrun, logb};
    return pd_st_write(path, t, n, keys, vals, 9);
}

/* whole decimal integers (the metadata the state file holds) */
static int parse_u64(const char *s, uint64_t *v) {
    char *end;
    if (!s || !*s || *s == '-') return 0;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return *end == 0 && errno == 0;
}

static int parse_ll(const char *s, long long *v) {
    char *end;
    if (!s || !*s) return 0;
    *v = strtoll(s, &end, 10);
    return *end == 0;
}

pd_status pd_train_state_load(const char *path, pd_train_state *s, int *found) {
    *found = 0;
    if (!pd_file_exists(path)) return PD_OK;
    pd_st_file f;
    pd_status st = pd_st_read(path, &f);
    if (st) return st; /* names the file */
    const pd_st_tensor *t[4] = {NULL};
    int n = s->ema ? 4 : 3;
    for (int i = 0; i < n && !st; i++) {
        t[i] = pd_st_find(&f, tensor_names[i]);
        if (!t[i] || t[i]->dtype != PD_ST_F32 || t[i]->numel != s->p->total)
            st = pd_fail(PD_ERR_SHAPE, "%s: tensor '%s' missing or not %zu float32 values: the "
                                       "state of another model? (remove it to start over)",
                         path, tensor_names[i], s->p->total);
    }
    long long step = 0, nrun = 0;
    uint64_t rng[4];
    int has_spare = 0;
    double spare = 0, run = 0;
    const char *r[4] = {pd_st_meta(&f, "rng0"), pd_st_meta(&f, "rng1"), pd_st_meta(&f, "rng2"),
                        pd_st_meta(&f, "rng3")};
    const char *sp = pd_st_meta(&f, "spare"), *ls = pd_st_meta(&f, "log_sum"),
               *ln = pd_st_meta(&f, "log_n");
    int ok = parse_ll(pd_st_meta(&f, "step"), &step) && step >= 0 && sp &&
             sscanf(sp, "%d %la", &has_spare, &spare) == 2;
    for (int i = 0; i < 4; i++) ok = ok && parse_u64(r[i], &rng[i]);
    /* the partial log average is absent in older state files: 0 */
    if (ls) ok = ok && sscanf(ls, "%la", &run) == 1;
    if (ln) ok = ok && parse_ll(ln, &nrun) && nrun >= 0;
    if (!st && !ok)
        st = pd_fail(PD_ERR_FORMAT, "%s: step, RNG or log metadata missing or malformed "
                                    "(remove it to start over)", path);
    if (!st) { /* everything checked: now copy */
        float *bufs[4] = {s->p->data, s->p->m, s->p->v, s->ema};
        for (int i = 0; i < n; i++) memcpy(bufs[i], t[i]->data, t[i]->numel * sizeof(float));
        s->step = (long)step;
        for (int i = 0; i < 4; i++) s->rng->s[i] = rng[i];
        s->rng->has_spare = has_spare;
        s->rng->spare = (float)spare;
        s->run = run;
        s->nrun = (long)nrun;
        *found = 1;
    }
    pd_st_free(&f);
    return st;
}

/* ---- the loss log ---------------------------------------------------------- */

/* train_log.jsonl's size as a state file recorded it; -1 when unknown */
static long long state_log_bytes(const char *path) {
    pd_st_file f;
    if (!pd_file_exists(path) || pd_st_read(path, &f)) return -1;
    long long n = -1;
    if (!parse_ll(pd_st_meta(&f, "log_bytes"), &n)) n = -1;
    pd_st_free(&f);
    return n;
}

pd_status pd_train_log_open(pd_train_log *l, const char *dir) {
    memset(l, 0, sizeof *l);
    if (!dir) return PD_OK;
    char state[4096];
    snprintf(l->path, sizeof l->path, "%s/train_log.jsonl", dir);
    snprintf(state, sizeof state, "%s/den_state.safetensors", dir);
    long long keep = state_log_bytes(state);
    if (keep < 0) {
        snprintf(state, sizeof state, "%s/ae_state.safetensors", dir);
        keep = state_log_bytes(state);
    }
    if (keep < 0) keep = 0;
    /* a run killed between appending log lines and renaming its state file
     * left lines the resumed run writes again: cut them */
    struct stat sb;
    if (stat(l->path, &sb) != 0) return PD_OK;
    if ((long long)sb.st_size > keep && truncate(l->path, (off_t)keep) != 0)
        return pd_fail(PD_ERR_IO, "%s: cannot truncate to %lld bytes", l->path, keep);
    if (keep == 0) return PD_OK;
    uint8_t *text = NULL;
    size_t len = 0;
    pd_status st = pd_read_file(l->path, (uint64_t)keep, &text, &len);
    if (st) return st;
    l->buf = (char *)text;
    l->len = l->cap = l->flushed = len;
    return PD_OK;
}

pd_status pd_train_log_line(pd_train_log *l, const char *stage, long step, double loss) {
    if (l->len + 160 > l->cap) { /* a line is at most ~100 bytes */
        size_t cap = l->cap < (1 << 16) ? 1 << 16 : l->cap;
        while (l->len + 160 > cap) cap *= 2;
        char *b = realloc(l->buf, cap);
        if (!b) return pd_fail(PD_ERR_NOMEM, "training log: out of memory");
        l->buf = b;
        l->cap = cap;
    }
    l->len += (size_t)snprintf(l->buf + l->len, l->cap - l->len,
                               "{\"stage\":\"%s\",\"step\":%ld,\"loss\":%.8g}\n", stage, step,
                               loss);
    return PD_OK;
}

pd_status pd_train_log_flush(pd_train_log *l) {
    if (!l->path[0] || l->flushed == l->len) return PD_OK;
    FILE *f = fopen(l->path, "ab");
    if (!f) return pd_fail(PD_ERR_IO, "%s: cannot open for appending", l->path);
    size_t n = l->len - l->flushed;
    int bad = fwrite(l->buf + l->flushed, 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (bad) return pd_fail(PD_ERR_IO, "%s: write failed (disk full?)", l->path);
    l->flushed = l->len;
    return PD_OK;
}

void pd_train_log_free(pd_train_log *l) {
    free(l->buf);
    memset(l, 0, sizeof *l);
}
