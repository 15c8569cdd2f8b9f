/*
 * rng.c — xoshiro256** (Blackman & Vigna) seeded through splitmix64.
 * (seed, stream) pairs give independent, reproducible sequences: the state
 * is four splitmix64 outputs of seed mixed with the stream number.
 * Normals use Box–Muller in double, returning the spare on the next call.
 */
#include <math.h>

#include "pdiff.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void pd_rng_seed(pd_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t mix = stream * 0xD1B54A32D192ED03ull;
    uint64_t x = seed ^ splitmix64(&mix);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0.0f;
}

uint64_t pd_rng_u64(pd_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float pd_rng_uniform(pd_rng *r) {
    return (float)(pd_rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

float pd_rng_normal(pd_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* u1 in (0, 1] so log never sees 0 */
    double u1 = ((double)(pd_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(pd_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    double rad = sqrt(-2.0 * log(u1));
    r->spare = (float)(rad * sin(6.283185307179586 * u2));
    r->has_spare = 1;
    return (float)(rad * cos(6.283185307179586 * u2));
}

uint32_t pd_rng_below(pd_rng *r, uint32_t n) {
    /* Lemire's multiply-shift; the tiny bias is irrelevant for shuffling */
    return (uint32_t)(((pd_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

void pd_rng_fill_normal(pd_rng *r, float *x, size_t n, float std) {
    for (size_t i = 0; i < n; i++) x[i] = std * pd_rng_normal(r);
}

void pd_rng_shuffle(pd_rng *r, int32_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = pd_rng_below(r, (uint32_t)i);
        int32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
