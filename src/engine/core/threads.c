/*
 * threads.c — one thread count for OpenMP and OpenBLAS.
 * Most kernels call BLAS outside OpenMP regions, so OpenMP's team and
 * BLAS's threads run one after the other. conv1d's per-sample algorithm
 * (SAMPLE) calls BLAS inside an OpenMP loop: safe only with OpenBLAS built
 * on OpenMP, which runs such calls on the calling thread; with the pthread
 * build each call would start its own threads (oversubscription), so the
 * shape rule uses SAMPLE only when pd_blas_nests_in_openmp() says so.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "engine/core/threads.h"
#include "pdiff.h"

void openblas_set_num_threads(int n); /* from OpenBLAS (cblas.h variant-safe) */
int openblas_get_parallel(void);       /* 0 sequential, 1 pthreads, 2 OpenMP */

static int current_threads = 1;

int pd_set_threads(int n) {
    if (n <= 0) {
        const char *env = getenv("PDIFF_THREADS");
        n = env ? atoi(env) : 0;
    }
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    current_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    openblas_set_num_threads(n);
    return n;
}

int pd_threads(void) { return current_threads; }

int pd_blas_nests_in_openmp(void) { return openblas_get_parallel() != 1; }

/* ---- workers ------------------------------------------------------------- */

/* workers start together, or not at all: code that waits for every worker
 * (a barrier) must never run with one missing */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go; /* 0 wait, 1 run, -1 do not run */
} gate;

typedef struct {
    pd_status (*fn)(int w, void *ctx);
    void *ctx;
    int w;
    gate *gate;
    pd_status st;
    char msg[512]; /* the worker's pd_last_error (thread-local) */
} worker;

/* set on a worker's thread: a pd_run_workers inside a worker leaves the
 * thread settings to the outer one */
static _Thread_local int in_worker;

static void run_worker(worker *k) {
#ifdef _OPENMP
    omp_set_num_threads(1); /* this thread's own setting: its kernels run serially */
#endif
    const int outer = in_worker;
    in_worker = 1;
    k->st = k->fn(k->w, k->ctx);
    in_worker = outer;
    if (k->st) snprintf(k->msg, sizeof k->msg, "%s", pd_last_error());
}

static void *worker_main(void *arg) {
    worker *k = arg;
    pthread_mutex_lock(&k->gate->mu);
    while (k->gate->go == 0) pthread_cond_wait(&k->gate->cv, &k->gate->mu);
    int go = k->gate->go;
    pthread_mutex_unlock(&k->gate->mu);
    if (go > 0) run_worker(k);
    return NULL;
}

static void open_gate(gate *g, int go) {
    pthread_mutex_lock(&g->mu);
    g->go = go;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* workers on threads of their own, started for this call and joined: for a
 * call inside a worker, or beside another thread's pool call */
static pd_status run_spawned(int n, pd_status (*fn)(int w, void *ctx), void *ctx) {
    worker *ks = calloc((size_t)n, sizeof *ks);
    pthread_t *tids = calloc((size_t)n, sizeof *tids);
    if (!ks || !tids) {
        free(ks), free(tids);
        return pd_fail(PD_ERR_NOMEM, "out of memory starting %d workers", n);
    }
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    for (int w = 0; w < n; w++) ks[w] = (worker){fn, ctx, w, &g, PD_OK, {0}};
    int made = 1;
    while (made < n && pthread_create(&tids[made], NULL, worker_main, &ks[made]) == 0) made++;
    pd_status st = PD_OK;
    if (made < n) {
        open_gate(&g, -1);
        st = pd_fail(PD_ERR_NOMEM, "could not start worker thread %d of %d", made, n);
    } else {
        const int restore = current_threads, nested = in_worker;
        /* BLAS's count is global: one thread for everybody while workers run */
        if (!nested) openblas_set_num_threads(1);
        open_gate(&g, 1);
        worker_main(&ks[0]);
        for (int w = 1; w < n; w++) pthread_join(tids[w], NULL);
        if (!nested) pd_set_threads(restore); /* (a worker's own count stays 1) */
        for (int w = 0; w < n && !st; w++)
            if (ks[w].st) st = pd_fail(ks[w].st, "%s", ks[w].msg);
        made = 1; /* joined */
    }
    for (int w = 1; w < made; w++) pthread_join(tids[w], NULL);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
    free(ks), free(tids);
    return st;
}

/* ---- the pool -------------------------------------------------------------
 * Worker threads that outlive a call. Sampling calls pd_run_workers once
 * per denoising step: threads started and ended each time cost their
 * thread-local state every step (oneDNN plans, a malloc arena whose large
 * blocks are returned to the kernel and faulted back in: a fifth of a bf16
 * DDIM call in the kernel, 740-810 -> 524-533 ms with the pool). The pool
 * serves one call at a time, from any thread but a worker; other calls
 * spawn as before. Its threads end at exit, so their thread-local
 * destructors run. */
enum { POOL_MAX = 256 };

static struct {
    pthread_mutex_t busy; /* held by the call using the pool */
    pthread_mutex_t mu;   /* guards the fields below */
    pthread_cond_t job, done;
    pthread_t tids[POOL_MAX];
    unsigned long born[POOL_MAX]; /* the round each thread was started in */
    int threads;          /* started: worker indices 1 .. threads */
    unsigned long round;  /* bumped for each call */
    int n, pending, stop;
    worker *ks;
    int exit_hook;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, {0}, {0}, 0, 0, 0, 0, 0, NULL, 0};

static void *pool_main(void *arg) {
    const int index = (int)(intptr_t)arg;
    pthread_mutex_lock(&pool.mu);
    unsigned long seen = pool.born[index - 1]; /* it waits for the round after */
    for (;;) {
        while (pool.round == seen && !pool.stop) pthread_cond_wait(&pool.job, &pool.mu);
        if (pool.stop) break;
        seen = pool.round;
        if (index >= pool.n) continue; /* not needed this round */
        worker *k = &pool.ks[index];
        pthread_mutex_unlock(&pool.mu);
        run_worker(k);
        pthread_mutex_lock(&pool.mu);
        if (--pool.pending == 0) pthread_cond_signal(&pool.done);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

static void pool_shutdown(void) {
    pthread_mutex_lock(&pool.mu);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.job);
    const int started = pool.threads;
    pthread_mutex_unlock(&pool.mu);
    for (int i = 1; i <= started; i++) pthread_join(pool.tids[i - 1], NULL);
    pool.threads = 0;
}

/* threads for workers 1 .. n-1; 0 when they cannot be started */
static int pool_grow(int n) {
    if (n - 1 > POOL_MAX) return 0;
    if (!pool.exit_hook) pool.exit_hook = atexit(pool_shutdown) == 0;
    if (!pool.exit_hook) return 0;
    while (pool.threads < n - 1) {
        const int index = pool.threads + 1;
        pool.born[index - 1] = pool.round; /* the round is only bumped by busy's holder */
        if (pthread_create(&pool.tids[index - 1], NULL, pool_main, (void *)(intptr_t)index))
            return 0;
        pool.threads = index; /* only the caller holding busy writes it */
    }
    return 1;
}

pd_status pd_run_workers(int n, pd_status (*fn)(int w, void *ctx), void *ctx) {
    if (n <= 1) return fn(0, ctx);
    if (in_worker || pthread_mutex_trylock(&pool.busy) != 0) return run_spawned(n, fn, ctx);
    if (!pool_grow(n)) {
        pthread_mutex_unlock(&pool.busy);
        return run_spawned(n, fn, ctx); /* it reports a thread that cannot start */
    }
    worker *ks = calloc((size_t)n, sizeof *ks);
    if (!ks) {
        pthread_mutex_unlock(&pool.busy);
        return pd_fail(PD_ERR_NOMEM, "out of memory starting %d workers", n);
    }
    for (int w = 0; w < n; w++) ks[w] = (worker){fn, ctx, w, NULL, PD_OK, {0}};
    const int restore = current_threads;
    openblas_set_num_threads(1); /* BLAS's count is global: one thread for everybody */
    pthread_mutex_lock(&pool.mu);
    pool.ks = ks;
    pool.n = n;
    pool.pending = n - 1;
    pool.round++;
    pthread_cond_broadcast(&pool.job);
    pthread_mutex_unlock(&pool.mu);
    run_worker(&ks[0]);
    pthread_mutex_lock(&pool.mu);
    while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pool.ks = NULL;
    pool.n = 0;
    pthread_mutex_unlock(&pool.mu);
    pd_set_threads(restore); /* (a worker's own count stays 1) */
    pd_status st = PD_OK;
    for (int w = 0; w < n && !st; w++)
        if (ks[w].st) st = pd_fail(ks[w].st, "%s", ks[w].msg);
    free(ks);
    pthread_mutex_unlock(&pool.busy);
    return st;
}
