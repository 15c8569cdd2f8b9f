/*
 * conv_dnnl.c — conv1d, conv_transpose1d and conv2d through oneDNN (Debian
 * libdnnl, the library inside PyTorch's CPU convolutions): its JIT kernels
 * for the CPU at hand,
 * in fp32 or in bf16 mixed precision (bf16 inputs and weights, fp32
 * accumulation and outputs). See conv_dnnl.h.
 *
 * oneDNN's fast kernels want blocked layouts (nCw16c, ...), so each call
 * reorders our plain NCL / NCHW tensors into the layouts the primitive chose and
 * back, as PyTorch does for plain tensors; the reorders into dx and dw
 * carry a sum post-op, which keeps the "backward adds" convention.
 * Primitives and their buffers are made once per shape and kept (a small
 * table per thread: a process trains a handful of shapes).
 */
#include "engine/ops/conv_dnnl.h"

/* what a plan is made for: a convolution with 1 or 2 spatial axes, or a
 * transposed one (oneDNN's deconvolution, 1-D), x (n, cin, in...) →
 * y (n, cout, out...). pool > 0 makes an inference plan for conv2d: ReLU
 * fused into the convolution, then max-pooling pool × pool (stride
 * pool_stride); y is then the pooled output. */
typedef struct {
    int nd; /* spatial axes */
    size_t n, cin, cout, k, stride;
    size_t in[2], out[2];
    long pad_l[2], pad_r[2];
    pd_math math;
    int transposed;
    size_t pool, pool_stride;
} geom;

/* the right padding that makes oneDNN's output extent ours */
static long right_pad(size_t in, size_t out, size_t k, size_t stride, size_t pad) {
    return (long)((out - 1) * stride + k) - (long)in - (long)pad;
}

static geom conv_geom(const pd_conv1d_shape *s) {
    const size_t lout = pd_conv1d_lout(s);
    geom g = {1, s->n, s->cin, s->cout, s->k, s->stride, {s->lin, 1}, {lout, 1},
              {(long)s->pad, 0}, {right_pad(s->lin, lout, s->k, s->stride, s->pad), 0},
              s->math, 0, 0, 0};
    return g;
}

/* PyTorch's output_padding adds to the right end: oneDNN's right padding
 * shrinks by it */
static geom convt_geom(const pd_convt1d_shape *s) {
    geom g = {1, s->n, s->cin, s->cout, s->k, s->stride, {s->lin, 1}, {pd_convt1d_lout(s), 1},
              {(long)s->pad, 0}, {(long)s->pad - (long)s->out_pad, 0}, s->math, 1, 0, 0};
    return g;
}

static geom conv2d_geom(const pd_conv2d_shape *s, size_t pool, size_t pool_stride) {
    const size_t ho = pd_conv2d_hout(s), wo = pd_conv2d_wout(s);
    geom g = {2, s->n, s->cin, s->cout, s->k, s->stride, {s->h, s->w}, {ho, wo},
              {(long)s->pad, (long)s->pad},
              {right_pad(s->h, ho, s->k, s->stride, s->pad),
               right_pad(s->w, wo, s->k, s->stride, s->pad)},
              s->math, 0, pool, pool_stride};
    return g;
}

#ifdef PDIFF_DNNL

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* pooled extent (floor mode, no padding, as pd_maxpool2d) */
static size_t pooled(size_t len, size_t k, size_t stride) {
    return len < k || stride == 0 ? 0 : (len - k) / stride + 1;
}

/* a training plan has the first three; an inference plan FWD and POOL */
enum { FWD, BWD_DATA, BWD_WEIGHTS, POOL, NPRIM };
enum { MAX_PLANS = 96 };

/* a reorder between a plain user tensor and a primitive's layout */
typedef struct {
    dnnl_memory_t user, prim; /* prim == user when the layouts agree */
    dnnl_primitive_t to_prim, to_user;
} port;

typedef struct {
    geom s;
    int ok;
    dnnl_primitive_t p[NPRIM];
    /* forward: x, w, y (an inference plan's y: the pooled output);
     * backward data: dy, w, dx; backward weights: x, dy, dw */
    port fx, fw, fy, bdy, bw, bdx, wx, wdy, wdw;
    dnnl_memory_t conv_out; /* an inference plan's: ReLU(conv), pooled next */
    dnnl_memory_t bias, dbias; /* plain, f32 */
    float *db_tmp, *zero_bias; /* cout each: db before adding; a missing bias */
    float *dw_tmp;             /* dw when only db is asked for (made on use) */
    dnnl_memory_t scratch[NPRIM]; /* each primitive's scratchpad, in `pad` */
    size_t scratch_bytes[NPRIM];
} plan;

/* the engine is shared; everything that executes is per thread (workers,
 * pd_run_workers, run convolutions at once): a stream, the plans and one
 * scratchpad for all of them — oneDNN's own scratchpad would be allocated
 * and page-faulted in afresh on every call (a quarter of a bf16 denoiser
 * step went to clearing pages) */
typedef struct {
    dnnl_stream_t stream;
    plan plans[MAX_PLANS];
    size_t nplans, next_victim;
    void *pad;
    size_t pad_bytes;
} cache;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* engine creation */
static dnnl_engine_t engine;
static _Atomic int engine_state; /* 0 untried, 1 ready, -1 unavailable */
static pthread_key_t cache_key;  /* frees a thread's cache when it ends */
static _Thread_local cache *mine;
static void cache_free(void *p);

/* PDIFF_DNNL=0 in the environment switches oneDNN off (comparisons) */
static int ready(void) {
    if (engine_state != 0) return engine_state == 1;
    pthread_mutex_lock(&lock);
    if (engine_state == 0 && getenv("PDIFF_DNNL") && !strcmp(getenv("PDIFF_DNNL"), "0"))
        engine_state = -1;
    if (engine_state == 0) {
        engine_state = pthread_key_create(&cache_key, cache_free) == 0 &&
                               dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success
                           ? 1
                           : -1;
    }
    pthread_mutex_unlock(&lock);
    return engine_state == 1;
}

/* this thread's cache (made on first use); NULL without oneDNN */
static cache *my_cache(void) {
    if (mine || !ready()) return mine;
    cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (dnnl_stream_create(&c->stream, engine, dnnl_stream_default_flags) != dnnl_success ||
        pthread_setspecific(cache_key, c) != 0) {
        if (c->stream) dnnl_stream_destroy(c->stream);
        free(c);
        return NULL;
    }
    return mine = c;
}

static int same_geom(const geom *a, const geom *b) {
    int same = a->nd == b->nd && a->n == b->n && a->cin == b->cin && a->cout == b->cout &&
               a->k == b->k && a->stride == b->stride && a->math == b->math &&
               a->transposed == b->transposed && a->pool == b->pool &&
               a->pool_stride == b->pool_stride;
    for (int i = 0; i < a->nd && same; i++)
        same = a->in[i] == b->in[i] && a->out[i] == b->out[i] && a->pad_l[i] == b->pad_l[i] &&
               a->pad_r[i] == b->pad_r[i];
    return same;
}


static int md_plain(dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims,
                    dnnl_format_tag_t tag) {
    return dnnl_memory_desc_init_by_tag(md, nd, dims, dnnl_f32, tag) == dnnl_success;
}

static int reorder(dnnl_primitive_t *out, dnnl_memory_t from, dnnl_memory_t to, int add) {
    const dnnl_memory_desc_t *a, *b;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    int ok = dnnl_memory_get_memory_desc(from, &a) == dnnl_success &&
             dnnl_memory_get_memory_desc(to, &b) == dnnl_success;
    if (ok && add)
        ok = dnnl_primitive_attr_create(&attr) == dnnl_success &&
             dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_sum(po, 1.0f) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    ok = ok && dnnl_reorder_primitive_desc_create(&pd, a, engine, b, engine, attr) ==
                   dnnl_success;
    ok = ok && dnnl_primitive_create(out, pd) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return ok;
}

/* a user tensor (plain f32) and the primitive's `which` memory; reorders
 * in the direction(s) asked (to_prim: feed it; to_user: read it, adding
 * when add) */
static int make_port(port *pt, const dnnl_memory_desc_t *user_md, dnnl_primitive_desc_t pd,
                     dnnl_query_t which, int to_prim, int to_user, int add) {
    const dnnl_memory_desc_t *pm = dnnl_primitive_desc_query_md(pd, which, 0);
    if (!pm) return 0;
    if (dnnl_memory_create(&pt->user, user_md, engine, DNNL_MEMORY_NONE) != dnnl_success)
        return 0;
    if (dnnl_memory_desc_equal(pm, user_md) && !add) {
        pt->prim = pt->user;
        return 1;
    }
    if (dnnl_memory_create(&pt->prim, pm, engine, DNNL_MEMORY_ALLOCATE) != dnnl_success)
        return 0;
    return (!to_prim || reorder(&pt->to_prim, pt->user, pt->prim, 0)) &&
           (!to_user || reorder(&pt->to_user, pt->prim, pt->user, add));
}

/* oneDNN's reference kernels are far slower than ours: a shape that only
 * gets those is not oneDNN's */
static int jit_impl(dnnl_primitive_desc_t pd) {
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
        !impl)
        return 0;
    return strncmp(impl, "ref", 3) != 0;
}

/* scratchpad sizes and memories of a plan's primitives */
static int scratch_of(plan *pl, dnnl_primitive_desc_t const *pds) {
    int ok = 1;
    for (int i = 0; i < NPRIM && ok; i++) {
        if (!pds[i]) continue;
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pds[i],
                                                                     dnnl_query_scratchpad_md, 0);
        pl->scratch_bytes[i] = md ? dnnl_memory_desc_get_size(md) : 0;
        ok = !md || dnnl_memory_create(&pl->scratch[i], md, engine, DNNL_MEMORY_NONE) ==
                        dnnl_success;
    }
    return ok;
}

/* an inference plan: ReLU(conv + b) (a post-op), then max-pooling, each in
 * the layouts oneDNN chooses; only x, w and the pooled y are plain */
static int build_inference(plan *pl, const dnnl_memory_desc_t *ux, const dnnl_memory_desc_t *uw,
                           const dnnl_memory_desc_t *ax, const dnnl_memory_desc_t *aw,
                           const dnnl_memory_desc_t *ab, const dnnl_memory_desc_t *ay,
                           const dnnl_dims_t st, const dnnl_dims_t pl_, const dnnl_dims_t pr) {
    const geom *s = &pl->s;
    dnnl_dims_t pd_dims = {(dnnl_dim_t)s->n, (dnnl_dim_t)s->cout,
                           (dnnl_dim_t)pooled(s->out[0], s->pool, s->pool_stride),
                           (dnnl_dim_t)pooled(s->out[1], s->pool, s->pool_stride)};
    dnnl_dims_t pk = {(dnnl_dim_t)s->pool, (dnnl_dim_t)s->pool},
                ps = {(dnnl_dim_t)s->pool_stride, (dnnl_dim_t)s->pool_stride}, p0 = {0, 0};
    dnnl_memory_desc_t uy, apy;
    if (!md_plain(&uy, 4, pd_dims, dnnl_nchw) ||
        dnnl_memory_desc_init_by_tag(&apy, 4, pd_dims, dnnl_f32, dnnl_format_tag_any))
        return 0;
    dnnl_convolution_desc_t cf;
    dnnl_pooling_desc_t pool;
    dnnl_primitive_desc_t pf = NULL, pp = NULL;
    dnnl_primitive_attr_t attr = NULL, pool_attr = NULL;
    dnnl_post_ops_t po = NULL;
    int ok = dnnl_primitive_attr_create(&attr) == dnnl_success &&
             dnnl_primitive_attr_create(&pool_attr) == dnnl_success &&
             dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) ==
                 dnnl_success &&
             dnnl_primitive_attr_set_scratchpad_mode(pool_attr, dnnl_scratchpad_mode_user) ==
                 dnnl_success &&
             dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f) ==
                 dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    ok = ok && dnnl_convolution_forward_desc_init(&cf, dnnl_forward_inference,
                                                  dnnl_convolution_direct, ax, aw, ab, ay, st,
                                                  pl_, pr) == dnnl_success &&
         dnnl_primitive_desc_create(&pf, &cf, attr, engine, NULL) == dnnl_success && jit_impl(pf);
    const dnnl_memory_desc_t *cy = ok ? dnnl_primitive_desc_query_md(pf, dnnl_query_dst_md, 0)
                                      : NULL;
    ok = ok && cy &&
         dnnl_pooling_forward_desc_init(&pool, dnnl_forward_inference, dnnl_pooling_max, cy,
                                        &apy, ps, pk, p0, p0) == dnnl_success &&
         dnnl_primitive_desc_create(&pp, &pool, pool_attr, engine, NULL) == dnnl_success &&
         jit_impl(pp);
    dnnl_primitive_desc_t pds[NPRIM] = {pf, NULL, NULL, pp};
    ok = ok && scratch_of(pl, pds) && dnnl_primitive_create(&pl->p[FWD], pf) == dnnl_success &&
         dnnl_primitive_create(&pl->p[POOL], pp) == dnnl_success &&
         dnnl_memory_create(&pl->conv_out, cy, engine, DNNL_MEMORY_ALLOCATE) == dnnl_success &&
         make_port(&pl->fx, ux, pf, dnnl_query_src_md, 1, 0, 0) &&
         make_port(&pl->fw, uw, pf, dnnl_query_weights_md, 1, 0, 0) &&
         make_port(&pl->fy, &uy, pp, dnnl_query_dst_md, 0, 1, 0);
    if (pf) dnnl_primitive_desc_destroy(pf);
    if (pp) dnnl_primitive_desc_destroy(pp);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (pool_attr) dnnl_primitive_attr_destroy(pool_attr);
    return ok;
}

static int build(plan *pl) {
    const geom *s = &pl->s;
    const dnnl_data_type_t in_t = s->math == PD_MATH_BF16 ? dnnl_bf16 : dnnl_f32;
    const int nd = 2 + s->nd;
    dnnl_dims_t xd = {(dnnl_dim_t)s->n, (dnnl_dim_t)s->cin},
                wd = {(dnnl_dim_t)s->cout, (dnnl_dim_t)s->cin},
                bd = {(dnnl_dim_t)s->cout}, yd = {(dnnl_dim_t)s->n, (dnnl_dim_t)s->cout};
    dnnl_dims_t st, pl_, pr;
    for (int i = 0; i < s->nd; i++) {
        xd[2 + i] = (dnnl_dim_t)s->in[i];
        wd[2 + i] = (dnnl_dim_t)s->k;
        yd[2 + i] = (dnnl_dim_t)s->out[i];
        st[i] = (dnnl_dim_t)s->stride;
        pl_[i] = (dnnl_dim_t)s->pad_l[i];
        pr[i] = (dnnl_dim_t)s->pad_r[i];
    }
    /* weights are (out, in, k...) to oneDNN; PyTorch keeps a transposed
     * conv's as (in, out, k) */
    const dnnl_format_tag_t atag = s->nd == 1 ? dnnl_ncw : dnnl_nchw;
    const dnnl_format_tag_t wtag = s->transposed ? dnnl_bac /* (in, out, k) */
                                   : s->nd == 1  ? dnnl_oiw
                                                 : dnnl_oihw;
    dnnl_memory_desc_t ux, uw, ub, uy, ax, aw, ab, ay, agx, agw, agy;
    if (!md_plain(&ux, nd, xd, atag) || !md_plain(&uw, nd, wd, wtag) ||
        !md_plain(&ub, 1, bd, dnnl_x) || !md_plain(&uy, nd, yd, atag))
        return 0;
    if (dnnl_memory_desc_init_by_tag(&ax, nd, xd, in_t, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&aw, nd, wd, in_t, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&ab, 1, bd, dnnl_f32, dnnl_x) ||
        dnnl_memory_desc_init_by_tag(&ay, nd, yd, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&agx, nd, xd, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&agw, nd, wd, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&agy, nd, yd, in_t, dnnl_format_tag_any))
        return 0;
    if (s->pool) {
        return build_inference(pl, &ux, &uw, &ax, &aw, &ab, &ay, st, pl_, pr) &&
               dnnl_memory_create(&pl->bias, &ub, engine, DNNL_MEMORY_NONE) == dnnl_success &&
               (pl->zero_bias = calloc(s->cout, sizeof(float))) != NULL;
    }
    dnnl_convolution_desc_t cf, cd, cw;
    dnnl_primitive_desc_t pf = NULL, pd = NULL, pw = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int ok = dnnl_primitive_attr_create(&attr) == dnnl_success &&
             dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) ==
                 dnnl_success;
    if (s->transposed) {
        ok = ok && dnnl_deconvolution_forward_desc_init(&cf, dnnl_forward_training,
                                                        dnnl_deconvolution_direct, &ax, &aw, &ab,
                                                        &ay, st, pl_, pr) == dnnl_success;
        ok = ok && dnnl_deconvolution_backward_data_desc_init(
                       &cd, dnnl_deconvolution_direct, &agx, &aw, &agy, st, pl_, pr) ==
                       dnnl_success;
        ok = ok && dnnl_deconvolution_backward_weights_desc_init(
                       &cw, dnnl_deconvolution_direct, &ax, &agw, &ab, &agy, st, pl_, pr) ==
                       dnnl_success;
    } else {
        ok = ok && dnnl_convolution_forward_desc_init(&cf, dnnl_forward_training,
                                                      dnnl_convolution_direct, &ax, &aw, &ab,
                                                      &ay, st, pl_, pr) == dnnl_success;
        ok = ok && dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &agx,
                                                            &aw, &agy, st, pl_,
                                                            pr) == dnnl_success;
        ok = ok && dnnl_convolution_backward_weights_desc_init(&cw, dnnl_convolution_direct,
                                                               &ax, &agw, &ab, &agy, st, pl_,
                                                               pr) == dnnl_success;
    }
    ok = ok && dnnl_primitive_desc_create(&pf, &cf, attr, engine, NULL) == dnnl_success &&
         jit_impl(pf);
    ok = ok && dnnl_primitive_desc_create(&pd, &cd, attr, engine, pf) == dnnl_success &&
         jit_impl(pd);
    ok = ok && dnnl_primitive_desc_create(&pw, &cw, attr, engine, pf) == dnnl_success &&
         jit_impl(pw);
    if (attr) dnnl_primitive_attr_destroy(attr);
    dnnl_primitive_desc_t pds[NPRIM] = {pf, pd, pw, NULL};
    ok = ok && scratch_of(pl, pds);
    ok = ok && dnnl_primitive_create(&pl->p[FWD], pf) == dnnl_success &&
         dnnl_primitive_create(&pl->p[BWD_DATA], pd) == dnnl_success &&
         dnnl_primitive_create(&pl->p[BWD_WEIGHTS], pw) == dnnl_success;
    ok = ok && make_port(&pl->fx, &ux, pf, dnnl_query_src_md, 1, 0, 0) &&
         make_port(&pl->fw, &uw, pf, dnnl_query_weights_md, 1, 0, 0) &&
         make_port(&pl->fy, &uy, pf, dnnl_query_dst_md, 0, 1, 0) &&
         make_port(&pl->bdy, &uy, pd, dnnl_query_diff_dst_md, 1, 0, 0) &&
         make_port(&pl->bw, &uw, pd, dnnl_query_weights_md, 1, 0, 0) &&
         make_port(&pl->bdx, &ux, pd, dnnl_query_diff_src_md, 0, 1, 1) &&
         make_port(&pl->wx, &ux, pw, dnnl_query_src_md, 1, 0, 0) &&
         make_port(&pl->wdy, &uy, pw, dnnl_query_diff_dst_md, 1, 0, 0) &&
         make_port(&pl->wdw, &uw, pw, dnnl_query_diff_weights_md, 0, 1, 1);
    ok = ok && dnnl_memory_create(&pl->bias, &ub, engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&pl->dbias, &ub, engine, DNNL_MEMORY_NONE) == dnnl_success &&
         (pl->db_tmp = malloc(s->cout * sizeof(float))) != NULL &&
         (pl->zero_bias = calloc(s->cout, sizeof(float))) != NULL;
    if (pf) dnnl_primitive_desc_destroy(pf);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (pw) dnnl_primitive_desc_destroy(pw);
    return ok;
}

static void port_free(port *pt) {
    if (pt->to_prim) dnnl_primitive_destroy(pt->to_prim);
    if (pt->to_user) dnnl_primitive_destroy(pt->to_user);
    if (pt->prim && pt->prim != pt->user) dnnl_memory_destroy(pt->prim);
    if (pt->user) dnnl_memory_destroy(pt->user);
}

static void plan_free(plan *pl) {
    for (int i = 0; i < NPRIM; i++)
        if (pl->p[i]) dnnl_primitive_destroy(pl->p[i]);
    port *ports[] = {&pl->fx, &pl->fw, &pl->fy, &pl->bdy, &pl->bw,
                     &pl->bdx, &pl->wx, &pl->wdy, &pl->wdw};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) port_free(ports[i]);
    if (pl->conv_out) dnnl_memory_destroy(pl->conv_out);
    if (pl->bias) dnnl_memory_destroy(pl->bias);
    if (pl->dbias) dnnl_memory_destroy(pl->dbias);
    for (int i = 0; i < NPRIM; i++)
        if (pl->scratch[i]) dnnl_memory_destroy(pl->scratch[i]);
    free(pl->db_tmp);
    free(pl->zero_bias);
    free(pl->dw_tmp);
    memset(pl, 0, sizeof *pl);
}

/* the plan of shape s (made on first use; a full table gives up its
 * oldest entry); NULL when oneDNN cannot run it with a JIT kernel. A
 * failed build keeps its entry (ok = 0) so that it is not retried. */
static plan *plan_for(cache *c, const geom *s) {
    if (!c) return NULL;
    for (size_t i = 0; i < c->nplans; i++)
        if (same_geom(&c->plans[i].s, s)) return c->plans[i].ok ? &c->plans[i] : NULL;
    plan *pl;
    if (c->nplans < MAX_PLANS) {
        pl = &c->plans[c->nplans++];
        memset(pl, 0, sizeof *pl);
    } else {
        pl = &c->plans[c->next_victim];
        c->next_victim = (c->next_victim + 1) % MAX_PLANS;
        plan_free(pl);
    }
    pl->s = *s;
    int sane = s->cin > 0 && (!s->pool || s->nd == 2);
    for (int i = 0; i < s->nd; i++)
        sane = sane && s->out[i] > 0 && s->pad_r[i] >= 0 &&
               (!s->pool || pooled(s->out[i], s->pool, s->pool_stride) > 0);
    pl->ok = sane && build(pl);
    return pl->ok ? pl : NULL;
}

/* executes primitive i of pl with args, plus its scratchpad */
static int run(cache *c, plan *pl, int i, dnnl_exec_arg_t *args, int nargs) {
    if (pl->scratch[i]) {
        if (c->pad_bytes < pl->scratch_bytes[i]) {
            free(c->pad);
            c->pad_bytes = 0;
            if (!(c->pad = aligned_alloc(64, (pl->scratch_bytes[i] + 63) / 64 * 64))) return 0;
            c->pad_bytes = pl->scratch_bytes[i];
        }
        if (dnnl_memory_set_data_handle(pl->scratch[i], c->pad) != dnnl_success) return 0;
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, pl->scratch[i]};
    }
    return dnnl_primitive_execute(pl->p[i], c->stream, nargs, args) == dnnl_success;
}

static int feed(cache *c, port *pt, const float *data) {
    if (dnnl_memory_set_data_handle(pt->user, (void *)data) != dnnl_success) return 0;
    if (!pt->to_prim) return 1;
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, pt->user}, {DNNL_ARG_TO, pt->prim}};
    return dnnl_primitive_execute(pt->to_prim, c->stream, 2, a) == dnnl_success;
}

static int take(cache *c, port *pt, float *data) {
    if (dnnl_memory_set_data_handle(pt->user, data) != dnnl_success) return 0;
    if (!pt->to_user) return 1;
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, pt->prim}, {DNNL_ARG_TO, pt->user}};
    return dnnl_primitive_execute(pt->to_user, c->stream, 2, a) == dnnl_success;
}

static void cache_free(void *p) {
    cache *c = p;
    if (!c) return;
    for (size_t i = 0; i < c->nplans; i++) plan_free(&c->plans[i]);
    if (c->stream) dnnl_stream_destroy(c->stream);
    free(c->pad);
    free(c);
    mine = NULL;
}

static int usable(const geom *s) { return plan_for(my_cache(), s) != NULL; }

static int forward(float *y, const float *x, const float *w, const float *b, const geom *s) {
    cache *c = my_cache();
    plan *pl = plan_for(c, s);
    int ok = pl && feed(c, &pl->fx, x) && feed(c, &pl->fw, w) &&
             dnnl_memory_set_data_handle(pl->fy.user, y) == dnnl_success &&
             dnnl_memory_set_data_handle(pl->bias, b ? (void *)b : (void *)pl->zero_bias) ==
                 dnnl_success;
    if (ok) {
        dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, pl->fx.prim},
                                {DNNL_ARG_WEIGHTS, pl->fw.prim},
                                {DNNL_ARG_BIAS, pl->bias},
                                {DNNL_ARG_DST, pl->fy.prim}};
        if (pl->s.pool) {
            a[3].memory = pl->conv_out;
            dnnl_exec_arg_t p[3] = {{DNNL_ARG_SRC, pl->conv_out}, {DNNL_ARG_DST, pl->fy.prim}};
            ok = run(c, pl, FWD, a, 4) && run(c, pl, POOL, p, 2);
        } else {
            ok = run(c, pl, FWD, a, 4);
        }
        ok = ok && take(c, &pl->fy, y) && dnnl_stream_wait(c->stream) == dnnl_success;
    }
    return ok;
}

static int backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                    const float *w, const geom *s) {
    cache *c = my_cache();
    plan *pl = plan_for(c, s);
    int ok = pl != NULL;
    if (ok && dx) {
        ok = feed(c, &pl->bdy, dy) && feed(c, &pl->bw, w);
        if (ok) {
            dnnl_exec_arg_t a[4] = {{DNNL_ARG_DIFF_DST, pl->bdy.prim},
                                    {DNNL_ARG_WEIGHTS, pl->bw.prim},
                                    {DNNL_ARG_DIFF_SRC, pl->bdx.prim}};
            ok = run(c, pl, BWD_DATA, a, 3) && take(c, &pl->bdx, dx);
        }
    }
    if (ok && (dw || db)) {
        /* the weights' gradient comes with the bias's: into a scratch when
         * only db is asked for */
        const size_t nw = s->cout * s->cin * (s->nd == 1 ? s->k : s->k * s->k);
        if (!dw && !pl->dw_tmp) ok = (pl->dw_tmp = malloc(nw * sizeof(float))) != NULL;
        if (!dw && ok) memset(pl->dw_tmp, 0, nw * sizeof(float));
        ok = ok && feed(c, &pl->wx, x) && feed(c, &pl->wdy, dy) &&
             dnnl_memory_set_data_handle(pl->dbias, pl->db_tmp) == dnnl_success;
        if (ok) {
            dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, pl->wx.prim},
                                    {DNNL_ARG_DIFF_DST, pl->wdy.prim},
                                    {DNNL_ARG_DIFF_WEIGHTS, pl->wdw.prim},
                                    {DNNL_ARG_DIFF_BIAS, pl->dbias}};
            ok = run(c, pl, BWD_WEIGHTS, a, 4) && take(c, &pl->wdw, dw ? dw : pl->dw_tmp) &&
                 dnnl_stream_wait(c->stream) == dnnl_success;
        }
        if (ok && db)
            for (size_t o = 0; o < s->cout; o++) db[o] += pl->db_tmp[o];
    }
    if (ok) ok = dnnl_stream_wait(c->stream) == dnnl_success;
    return ok;
}

int pd_dnnl_available(void) { return ready(); }

#else /* built without oneDNN: every shape goes to pdiff's own algorithms */

int pd_dnnl_available(void) { return 0; }
static int usable(const geom *s) {
    (void)s;
    return 0;
}
static int forward(float *y, const float *x, const float *w, const float *b, const geom *s) {
    (void)y, (void)x, (void)w, (void)b, (void)s;
    return 0;
}
static int backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                    const float *w, const geom *s) {
    (void)dx, (void)dw, (void)db, (void)dy, (void)x, (void)w, (void)s;
    return 0;
}

#endif

int pd_conv1d_dnnl_usable(const pd_conv1d_shape *s) {
    const geom g = conv_geom(s);
    return usable(&g);
}
int pd_conv1d_dnnl_forward(float *y, const float *x, const float *w, const float *b,
                           const pd_conv1d_shape *s) {
    const geom g = conv_geom(s);
    return forward(y, x, w, b, &g);
}
int pd_conv1d_dnnl_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const pd_conv1d_shape *s) {
    const geom g = conv_geom(s);
    return backward(dx, dw, db, dy, x, w, &g);
}
int pd_convt1d_dnnl_usable(const pd_convt1d_shape *s) {
    const geom g = convt_geom(s);
    return usable(&g);
}
int pd_convt1d_dnnl_forward(float *y, const float *x, const float *w, const float *b,
                            const pd_convt1d_shape *s) {
    const geom g = convt_geom(s);
    return forward(y, x, w, b, &g);
}
int pd_convt1d_dnnl_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w, const pd_convt1d_shape *s) {
    const geom g = convt_geom(s);
    return backward(dx, dw, db, dy, x, w, &g);
}

int pd_conv2d_dnnl_forward(float *y, const float *x, const float *w, const float *b,
                           const pd_conv2d_shape *s) {
    const geom g = conv2d_geom(s, 0, 0);
    return forward(y, x, w, b, &g);
}
int pd_conv2d_dnnl_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const pd_conv2d_shape *s) {
    const geom g = conv2d_geom(s, 0, 0);
    return backward(dx, dw, db, dy, x, w, &g);
}

/* samples per call of the fused plan: its convolution's output (the
 * largest tensor, never plain) stays within about 1 MiB, a core's L2
 * (measured for ConvNet-3 on one thread: 10 000 images in 0.51 s at 500
 * a call, 0.32 s at 10) */
#define FUSED_CHUNK_FLOATS (1u << 18)

int pd_conv2d_relu_maxpool_dnnl(float *y, const float *x, const float *w, const float *b,
                                const pd_conv2d_shape *s, size_t k, size_t stride) {
    const size_t ho = pd_conv2d_hout(s), wo = pd_conv2d_wout(s);
    if (!s->n || !ho || !wo || !s->cout || !k || !stride || ho < k || wo < k) return 0;
    const size_t po = ((ho - k) / stride + 1) * ((wo - k) / stride + 1);
    size_t chunk = FUSED_CHUNK_FLOATS / (s->cout * ho * wo);
    if (chunk < 1) chunk = 1;
    if (chunk > s->n) chunk = s->n;
    const size_t in_sample = s->cin * s->h * s->w, out_sample = s->cout * po;
    for (size_t s0 = 0; s0 < s->n; s0 += chunk) {
        pd_conv2d_shape part = *s;
        part.n = s->n - s0 < chunk ? s->n - s0 : chunk;
        const geom g = conv2d_geom(&part, k, stride);
        if (!forward(y + s0 * out_sample, x + s0 * in_sample, w, b, &g)) return 0;
    }
    return 1;
}
