/*
 * train_state.h — what lets an interrupted training resume and reproduce
 * the uninterrupted one bit for bit: a state file per phase (weights, AdamW
 * moments, EMA, step, RNG, the partial loss average) and the loss log,
 * kept in memory and appended to STATE_DIR/train_log.jsonl at the moments
 * a state file is written, so a resumed run neither loses nor repeats
 * lines.
 */
#ifndef PD_TRAIN_STATE_H
#define PD_TRAIN_STATE_H

#include <stddef.h>

#include "pdiff.h"

typedef struct {
    pd_params *p;
    float *ema;          /* may be NULL */
    pd_rng *rng;
    long step;
    double run;          /* loss sum and count since the last log line */
    long nrun;
    long long log_bytes; /* train_log.jsonl's size when the state was saved */
} pd_train_state;

/* atomic write of params, m, v (and ema) with the counters as metadata */
pd_status pd_train_state_save(const char *path, const pd_train_state *s);
/* *found = 0 when there is no file. A file that cannot be read, or whose
 * tensors or metadata do not match s's shapes, is an error naming the file,
 * and s is left untouched: every check runs before anything is copied. */
pd_status pd_train_state_load(const char *path, pd_train_state *s, int *found);

typedef struct {
    char *buf;        /* every line so far */
    size_t len, cap;
    size_t flushed;   /* bytes of buf already in the file */
    char path[4096];  /* STATE_DIR/train_log.jsonl; "" = memory only */
} pd_train_log;

/* dir NULL: memory only. Otherwise the file is cut back to the size the
 * newest of the state files recorded (ae_state, den_state in dir; none:
 * empty) and read in, so the log continues where the state does. */
pd_status pd_train_log_open(pd_train_log *l, const char *dir);
pd_status pd_train_log_line(pd_train_log *l, const char *stage, long step, double loss);
/* append what is not yet in the file; no-op in memory */
pd_status pd_train_log_flush(pd_train_log *l);
void pd_train_log_free(pd_train_log *l);

#endif
