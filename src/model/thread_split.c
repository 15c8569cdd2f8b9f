/*
 * thread_split.c — see thread_split.h. The sum: every rank posts its
 * buffer, rank w adds up its slice of all of them in rank order into rank
 * 0's buffer, (rank 0 sums that over the outer job,) every rank copies the
 * result. Three barriers a sum; a broken group (a rank failed) releases
 * everyone with NaN instead of waiting for a rank that is gone.
 */
#include "model/thread_split.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct group group;

typedef struct {
    group *g;
    int w;
} member;

struct group {
    int W;
    const pd_data_parallel *outer;
    pd_rank_fn fn;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived, broken;
    unsigned long round;
    float **bufs; /* each rank's posted buffer */
    member *members;
    pd_data_parallel *dps;
    pd_status first; /* the first failure and its message */
    char msg[512];
};

/* 1 when all W arrived, 0 when the group broke */
static int barrier(group *g) {
    pthread_mutex_lock(&g->mu);
    if (!g->broken) {
        unsigned long round = g->round;
        if (++g->arrived == g->W) {
            g->arrived = 0;
            g->round++;
            pthread_cond_broadcast(&g->cv);
        } else {
            while (g->round == round && !g->broken) pthread_cond_wait(&g->cv, &g->mu);
        }
    }
    int ok = !g->broken;
    pthread_mutex_unlock(&g->mu);
    return ok;
}

static void member_sum(void *ctx, float *v, size_t n) {
    member *m = ctx;
    group *g = m->g;
    const int W = g->W, w = m->w;
    g->bufs[w] = v;
    if (!barrier(g)) goto broken;
    float *total = g->bufs[0];
    const size_t lo = n * (size_t)w / (size_t)W, hi = n * (size_t)(w + 1) / (size_t)W;
    for (int r = 1; r < W; r++) {
        const float *x = g->bufs[r];
        for (size_t j = lo; j < hi; j++) total[j] += x[j];
    }
    if (!barrier(g)) goto broken;
    if (g->outer && g->outer->size > 1) {
        if (w == 0) g->outer->sum(g->outer->ctx, total, n);
        if (!barrier(g)) goto broken;
    }
    if (w != 0) memcpy(v, total, n * sizeof(float));
    if (!barrier(g)) goto broken;
    return;
broken:
    for (size_t j = 0; j < n; j++) v[j] = NAN;
}

static pd_status member_main(int w, void *ctx) {
    group *g = ctx;
    pd_status st = g->fn(&g->dps[w], w, g->ctx);
    if (st) {
        pthread_mutex_lock(&g->mu);
        if (!g->broken) {
            g->broken = 1;
            g->first = st;
            snprintf(g->msg, sizeof g->msg, "%s", pd_last_error());
            pthread_cond_broadcast(&g->cv);
        }
        pthread_mutex_unlock(&g->mu);
    }
    return st;
}

pd_status pd_thread_split_run(int W, const pd_data_parallel *outer, pd_rank_fn fn, void *ctx) {
    if (W <= 1) return fn(outer, 0, ctx);
    group g = {W, outer, fn, ctx, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
               0, 0, 0, NULL, NULL, NULL, PD_OK, {0}};
    g.bufs = calloc((size_t)W, sizeof *g.bufs);
    g.members = calloc((size_t)W, sizeof *g.members);
    g.dps = calloc((size_t)W, sizeof *g.dps);
    pd_status st = PD_OK;
    if (!g.bufs || !g.members || !g.dps) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto done;
    }
    const int r0 = outer ? outer->rank : 0, R = outer ? outer->size : 1;
    for (int w = 0; w < W; w++) {
        g.members[w] = (member){&g, w};
        g.dps[w] = (pd_data_parallel){r0 * W + w, R * W, member_sum, &g.members[w]};
    }
    st = pd_run_workers(W, member_main, &g);
    if (g.first) st = pd_fail(g.first, "%s", g.msg);
done:
    free(g.bufs);
    free(g.members);
    free(g.dps);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
    return st;
}
