/*
 * testutil.h — shared helpers for the cmocka tests: random fills, tolerant
 * comparisons, central finite-difference gradient checks, fixture reading.
 */
#ifndef PD_TESTUTIL_H
#define PD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pdiff.h"

/* zeroed floats (at least one), failing the test when out of memory */
float *tu_falloc(size_t n);

/* uniform in [lo, hi) from a fixed-seed rng */
void tu_fill(pd_rng *r, float *x, size_t n, float lo, float hi);
/* max over i of |a-b| / (atol + rtol |b|); <= 1 means "close" */
double tu_close_ratio(const float *a, const float *b, size_t n, double rtol,
                      double atol);
#define TU_ASSERT_CLOSE(a, b, n, rtol, atol)                                   \
    do {                                                                       \
        double r_ = tu_close_ratio((a), (b), (n), (rtol), (atol));             \
        if (!(r_ <= 1.0)) fail_msg("not close: ratio %g (%s vs %s)", r_, #a, #b); \
    } while (0)

/* Loss of a forward pass as a function of the current inputs: returns
 * sum(out * r) in double, r being a fixed random projection chosen by the
 * caller. */
typedef double (*tu_loss_fn)(void *ctx);

/* Central-difference check of an analytic gradient `grad` of `loss` with
 * respect to x[0..n): perturbs up to `max_checks` elements (spread across
 * the array) by ±h and compares. Returns the worst relative error
 * |num - ana| / max(|num| + |ana|, floor). */
double tu_gradcheck(tu_loss_fn loss, void *ctx, float *x, const float *grad,
                    size_t n, size_t max_checks, float h, double floor);

/* Statistical gradient check for whole networks, whose loss is too rough
 * (instance norm over few positions, LeakyReLU kinks) for element-wise
 * agreement in fp32: up to 60 elements of x are checked with step 2e-4;
 * at most 15 % may exceed relative error 5e-2 and the median must stay
 * below max_median. The denominator floor is 0.2 × the gradient's RMS or
 * the loss's float noise (1e-6 × loss_scale(ctx) / h), whichever is larger.
 * loss_scale: Σ|y·r|, the size of the terms the loss sums. */
void tu_gradcheck_stats(tu_loss_fn loss, tu_loss_fn loss_scale, void *ctx, float *x,
                        const float *grad, size_t n, const char *what, double max_median);

/* rm -r dir (test scratch directories) */
void tu_rm_tree(const char *dir);

/* sum(y * r) in double */
double tu_dot(const float *y, const float *r, size_t n);
/* sum(|y * r|) in double: the scale of tu_dot's rounding noise (the dot
 * itself can be near zero by cancellation) */
double tu_dot_abs(const float *y, const float *r, size_t n);

/* Fixture files written by scripts/make_fixtures.py: a sequence of named
 * float32 arrays. Format: magic "PDFX", u32 version 1, u32 count, then per
 * array: u32 name length, name bytes, u32 ndim, u32 dims[ndim], float data.
 * Returns a malloc'd copy of array `name` (NULL if absent), its size in *n. */
float *tu_fixture(const char *file, const char *name, size_t *n);
/* array `name` of fixture `file`, which must exist and, when want != 0,
 * hold want values; fails the test otherwise (caller frees) */
float *tu_fixture_need(const char *file, const char *name, size_t want);

#endif
