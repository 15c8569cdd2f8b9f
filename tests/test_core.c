/*
 * test_core.c — RNG determinism and streams, parameter buffer layout,
 * gather/scatter, glob matching, pd_run_workers.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static void test_rng_repeatable_and_streams(void **state) {
    (void)state;
    pd_rng a, b, c;
    pd_rng_seed(&a, 7, 0);
    pd_rng_seed(&b, 7, 0);
    pd_rng_seed(&c, 7, 1);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = pd_rng_u64(&a), y = pd_rng_u64(&b), z = pd_rng_u64(&c);
        assert_true(x == y);
        same_c += x == z;
    }
    assert_true(same_c < 2);
}

static void test_rng_moments(void **state) {
    (void)state;
    pd_rng r;
    pd_rng_seed(&r, 1, 0);
    double s = 0, s2 = 0, u = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = pd_rng_normal(&r);
        s += x;
        s2 += x * x;
        double v = pd_rng_uniform(&r);
        assert_true(v >= 0.0 && v < 1.0);
        u += v;
    }
    assert_true(fabs(s / n) < 0.01);
    assert_true(fabs(s2 / n - 1.0) < 0.02);
    assert_true(fabs(u / n - 0.5) < 0.01);
}

static void test_shuffle_is_permutation(void **state) {
    (void)state;
    pd_rng r;
    pd_rng_seed(&r, 3, 0);
    int32_t a[101];
    int seen[101] = {0};
    for (int i = 0; i < 101; i++) a[i] = i;
    pd_rng_shuffle(&r, a, 101);
    int moved = 0;
    for (int i = 0; i < 101; i++) {
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 101; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 50);
}

static void test_params_selected_contiguous(void **state) {
    (void)state;
    pd_params p;
    pd_params_init(&p);
    assert_int_equal(pd_params_add(&p, "a.weight", 2, (size_t[]){3, 5}, PD_TRAINABLE), PD_OK);
    assert_int_equal(pd_params_add(&p, "bn.weight", 1, (size_t[]){7}, PD_TRAINABLE), PD_OK);
    assert_int_equal(pd_params_add(&p, "c.weight", 1, (size_t[]){9}, PD_TRAINABLE), PD_OK);
    assert_int_equal(pd_params_add(&p, "bn.bias", 1, (size_t[]){7}, PD_TRAINABLE), PD_OK);
    assert_int_not_equal(pd_params_add(&p, "bn.bias", 1, (size_t[]){7}, 0), PD_OK);
    int sel[4] = {0, 1, 0, 1};
    assert_int_equal(pd_params_finalize(&p, sel), PD_OK);
    assert_int_equal(pd_params_selected_size(&p), 14);
    pd_tensor *w = pd_params_find(&p, "bn.weight"), *b = pd_params_find(&p, "bn.bias");
    assert_true(b->data == w->data + 7);
    for (int i = 0; i < 7; i++) { w->data[i] = (float)i; b->data[i] = 100.0f + i; }
    float v[14];
    pd_params_gather(&p, v);
    assert_true(v[0] == 0.0f && v[6] == 6.0f && v[7] == 100.0f && v[13] == 106.0f);
    for (int i = 0; i < 14; i++) v[i] = -1.0f;
    pd_params_scatter(&p, v);
    assert_true(b->data[6] == -1.0f);
    /* unselected tensors must not overlap the range */
    pd_tensor *a = pd_params_find(&p, "a.weight"), *c = pd_params_find(&p, "c.weight");
    assert_true(a->offset >= p.sel_end && c->offset >= p.sel_end);
    assert_true(a->data[0] == 0.0f && c->data[8] == 0.0f);
    pd_params_free(&p);
}

static void test_glob(void **state) {
    (void)state;
    assert_true(pd_glob_match("layer4.1.bn*", "layer4.1.bn2.weight"));
    assert_true(pd_glob_match("*.weight", "fc.weight"));
    assert_false(pd_glob_match("*.weight", "fc.bias"));
    assert_true(pd_glob_match("a?c", "abc"));
    assert_false(pd_glob_match("a?c", "abbc"));
    assert_true(pd_glob_match("*", ""));
}

/* pd_run_workers: every worker runs once, at the same time (a barrier
 * between them completes), each with one OpenMP thread; a worker's failure
 * comes back with its message; nested workers leave the outer settings
 * alone; and the thread count is restored afterwards */
typedef struct {
    pthread_barrier_t bar;
    int ran[4], omp_threads[4], inner[4];
} workers_seen;

static pd_status inner_worker(int w, void *ctx) {
    ((int *)ctx)[w] = 1;
    return PD_OK;
}

static pd_status seen_worker(int w, void *ctx) {
    workers_seen *s = ctx;
    s->ran[w]++;
#ifdef _OPENMP
    s->omp_threads[w] = omp_get_max_threads();
#else
    s->omp_threads[w] = 1;
#endif
    pthread_barrier_wait(&s->bar); /* deadlocks unless all four run at once */
    int inner[2] = {0, 0};
    pd_status st = pd_run_workers(2, inner_worker, inner);
    s->inner[w] = inner[0] + inner[1];
#ifdef _OPENMP
    if (omp_get_max_threads() != 1) s->inner[w] = -1; /* the nested call changed it */
#endif
    return st;
}

static pd_status failing_worker(int w, void *ctx) {
    (void)ctx;
    return w == 2 ? pd_fail(PD_ERR_IO, "worker %d: disk full", w) : PD_OK;
}

static void test_run_workers(void **state) {
    (void)state;
    pd_set_threads(2);
    workers_seen s;
    memset(&s, 0, sizeof s);
    pthread_barrier_init(&s.bar, NULL, 4);
    assert_int_equal(pd_run_workers(4, seen_worker, &s), PD_OK);
    pthread_barrier_destroy(&s.bar);
    for (int w = 0; w < 4; w++) {
        assert_int_equal(s.ran[w], 1);
        assert_int_equal(s.omp_threads[w], 1);
        assert_int_equal(s.inner[w], 2);
    }
    assert_int_equal(pd_threads(), 2);
#ifdef _OPENMP
    assert_int_equal(omp_get_max_threads(), 2);
#endif
    assert_int_equal(pd_run_workers(3, failing_worker, NULL), PD_ERR_IO);
    assert_string_equal(pd_last_error(), "worker 2: disk full");
}

/* the pool: calls one after another reuse its threads (worker w runs on
 * the same thread each time; more workers than before grow it, fewer leave
 * threads idle), and two callers at once both finish (one on the pool, the
 * other on threads of its own) */
typedef struct {
    pthread_barrier_t bar;
    int n, rounds[8];
    pthread_t self[8];
    int moved;
} reuse_seen;

static pd_status reuse_worker(int w, void *ctx) {
    reuse_seen *s = ctx;
    if (s->rounds[w] && !pthread_equal(s->self[w], pthread_self())) s->moved = 1;
    s->self[w] = pthread_self();
    s->rounds[w]++;
    pthread_barrier_wait(&s->bar);
    return PD_OK;
}

static void reuse_rounds(reuse_seen *s, int n, int rounds) {
    pthread_barrier_init(&s->bar, NULL, (unsigned)n);
    for (int r = 0; r < rounds; r++) assert_int_equal(pd_run_workers(n, reuse_worker, s), PD_OK);
    pthread_barrier_destroy(&s->bar);
}

static void *other_caller(void *arg) {
    reuse_seen *s = arg;
    reuse_rounds(s, 3, 20);
    return NULL;
}

static void test_workers_pool(void **state) {
    (void)state;
    reuse_seen s;
    memset(&s, 0, sizeof s);
    reuse_rounds(&s, 3, 30);
    reuse_rounds(&s, 5, 30);
    reuse_rounds(&s, 2, 30);
    assert_int_equal(s.rounds[0], 90);
    assert_int_equal(s.rounds[1], 90);
    assert_int_equal(s.rounds[2], 60);
    assert_int_equal(s.rounds[3], 30);
    assert_int_equal(s.rounds[4], 30);
    assert_int_equal(s.moved, 0);
    /* two callers at once */
    reuse_seen a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_caller, &a), 0);
    reuse_rounds(&b, 4, 20);
    pthread_join(t, NULL);
    for (int w = 0; w < 3; w++) assert_int_equal(a.rounds[w], 20);
    for (int w = 0; w < 4; w++) assert_int_equal(b.rounds[w], 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_repeatable_and_streams),
        cmocka_unit_test(test_rng_moments),
        cmocka_unit_test(test_shuffle_is_permutation),
        cmocka_unit_test(test_params_selected_contiguous),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_run_workers),
        cmocka_unit_test(test_workers_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
