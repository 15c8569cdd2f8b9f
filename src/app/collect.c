/*
 * collect.c — see collect.h. Resumable: checkpoints and the small state
 * file are written atomically, and every snapshot's batches depend only on
 * (seed, snapshot index), so a resumed run repeats the uninterrupted one.
 */
#include "collect.h"
#include "dist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdiff_io.h"
#include "pdiff_net.h"
#include "feature_cache.h"
#include "manifest.h"
#include "test_records.h"

const char *pd_collect_mode_name(pd_collect_mode m) {
    return m == PD_COLLECT_SEEDS ? "seeds" : m == PD_COLLECT_FULL ? "full" : "subset";
}

int pd_collect_mode_parse(const char *name) {
    for (int m = PD_COLLECT_SUBSET; m <= PD_COLLECT_FULL; m++)
        if (name && !strcmp(name, pd_collect_mode_name((pd_collect_mode)m))) return m;
    return -1;
}

void pd_collect_defaults(pd_collect_opts *o) {
    memset(o, 0, sizeof *o);
    o->data_dir = PD_DATA_DIR_DEFAULT;
    o->out_dir = "collect";
    snprintf(o->net.arch, sizeof o->net.arch, "cnn");
    o->mode = PD_COLLECT_SUBSET;
    o->K = 200;
    o->epochs = 6;
    o->batch = 128;
    o->lr = 0.05f;
    o->momentum = 0.9f;
    o->weight_decay = 5e-4f;
    o->subset_lr = 0.05f; /* README "Fidelity": 0.01 left an easy dataset's checkpoints one model */
    o->every = 10;
    o->eval_train = 10000;
    o->seed = 0;
}

/* metadata of a checkpoint: accuracies as text, as safetensors wants */
static pd_status save_ckpt(pd_net *net, const char *path, double train_acc,
                           double test_acc, long step, uint64_t seed) {
    char a[32], b[32], c[32], d[32];
    snprintf(a, sizeof a, "%.4f", train_acc);
    snprintf(b, sizeof b, "%.4f", test_acc);
    snprintf(c, sizeof c, "%ld", step);
    snprintf(d, sizeof d, "%llu", (unsigned long long)seed);
    const char *keys[] = {"format", "arch", "train_acc", "test_acc", "step", "seed"};
    const char *vals[] = {"pdiff", net->cfg.arch, a, b, c, d};
    return pd_params_save(&net->params, path, keys, vals, 6);
}

static void ckpt_path(char *buf, size_t size, const char *dir, size_t k) {
    snprintf(buf, size, "%s/ckpt_%03zu.safetensors", dir, k);
}

/* train a fresh network on images for o->epochs (all parameters, BN in
 * training mode, cosine lr) */
static pd_status train_base(pd_net *net, pd_graph *g, const pd_feats *train,
                            const pd_collect_opts *o, uint64_t seed, const char *phase,
                            const pd_progress *progress) {
    pd_rng rng;
    pd_rng_seed(&rng, seed, 1);
    pd_net_init(net, &rng);
    pd_net_set_trainable(net, 0);
    pd_status st = pd_params_alloc_state(&net->params);
    if (st) return st;
    memset(net->params.m, 0, net->params.total * sizeof(float));
    int32_t *order = malloc(train->n * sizeof(int32_t));
    if (!order) return pd_fail(PD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < train->n; i++) order[i] = (int32_t)i;
    pd_rng_shuffle(&rng, order, train->n);
    long per_epoch = (long)(train->n / o->batch);
    pd_fit_opts fo = {{o->lr, o->momentum, 0.0f, o->weight_decay, 0}, o->batch,
                      per_epoch * o->epochs, 1, o->augment};
    size_t cursor = 0;
    long step = 0;
    const long chunk = 20;
    while (step < fo.total_steps && !st) {
        long n = fo.total_steps - step < chunk ? fo.total_steps - step : chunk;
        double loss;
        st = pd_fit_steps(net, g, train, &fo, &rng, order, &cursor, &step, n, &loss);
        char info[64];
        snprintf(info, sizeof info, "loss %.4f", loss);
        pd_report(progress, phase, step, fo.total_steps, info);
    }
    free(order);
    return st;
}

/* what the report of collect_report.h needs of each checkpoint: its wrong
 * test predictions, test accuracy and subset vector. Checkpoints collected
 * in this process are recorded as they are made; those of an earlier,
 * interrupted run are evaluated again from their files at the end. */
typedef struct {
    size_t K, D, words;
    uint64_t *wrong;
    double *acc;
    float *V;
    unsigned char *have;
} report_data;

static pd_status report_init(report_data *rd, size_t K, size_t D, size_t ntest) {
    rd->K = K;
    rd->D = D;
    rd->words = (ntest + 63) / 64;
    /* zeros where nothing is recorded: what the ranks' merge needs */
    rd->wrong = calloc(K * rd->words + 1, sizeof(uint64_t));
    rd->acc = calloc(K + 1, sizeof(double));
    rd->V = calloc(K * D + 1, sizeof(float));
    rd->have = calloc(K + 1, 1);
    if (rd->wrong && rd->acc && rd->V && rd->have) return PD_OK;
    return pd_fail(PD_ERR_NOMEM, "out of memory");
}

/* checkpoint k is the network as it is, pred its test predictions (every
 * k is recorded once: workers may record different k at once) */
static void report_record(report_data *rd, const pd_net *net, const pd_feats *test, size_t k,
                          double acc, const int32_t *pred) {
    pd_bits_mark_wrong(rd->wrong + k * rd->words, pred, test->y, test->n);
    rd->acc[k] = acc;
    pd_params_gather(&net->params, rd->V + k * rd->D);
    rd->have[k] = 1;
}

static void report_free(report_data *rd) {
    free(rd->wrong);
    free(rd->acc);
    free(rd->V);
    free(rd->have);
}

/* resume state of the subset phase: snapshots done + the momentum buffer */
static size_t load_state(const char *dir, pd_net *net, size_t K) {
    char path[4096];
    snprintf(path, sizeof path, "%s/collect_state.safetensors", dir);
    pd_st_file f;
    if (pd_st_read(path, &f)) return 0;
    size_t done = 0;
    const char *d = pd_st_meta(&f, "done");
    const pd_st_tensor *m = pd_st_find(&f, "momentum");
    size_t D = pd_params_selected_size(&net->params);
    if (d && m && m->numel == D) {
        done = (size_t)strtoull(d, NULL, 10);
        memcpy(net->params.m + net->params.sel_begin, m->data, D * sizeof(float));
    }
    pd_st_free(&f);
    if (done > K) done = K;
    /* the state may run ahead of the files only if a file was removed */
    for (size_t k = 0; k < done; k++) {
        ckpt_path(path, sizeof path, dir, k);
        if (!pd_file_exists(path)) return 0;
    }
    if (done > 0) {
        ckpt_path(path, sizeof path, dir, done - 1);
        if (pd_params_load(&net->params, path, 0)) return 0;
    }
    return done;
}

static pd_status save_state(const char *dir, const pd_net *net, size_t done) {
    char path[4096], d[32];
    snprintf(path, sizeof path, "%s/collect_state.safetensors", dir);
    snprintf(d, sizeof d, "%zu", done);
    pd_st_tensor t = {0};
    snprintf(t.name, sizeof t.name, "momentum");
    t.ndim = 1;
    t.shape[0] = t.numel = pd_params_selected_size(&net->params);
    t.data = net->params.m + net->params.sel_begin;
    const char *keys[] = {"done"};
    const char *vals[] = {d};
    return pd_st_write(path, &t, 1, keys, vals, 1);
}

/* the network with every trainable tensor selected (buffers, the frozen
 * BatchNorm statistics, stay out of the vector) */
static pd_status create_all_trainable(pd_net *net, const pd_net_config *cfg) {
    const char *all[] = {"*"};
    pd_status st = pd_net_create(net, cfg, all, 1); /* to learn the names */
    if (st) return st;
    size_t n = 0;
    const char **names = malloc(net->params.count * sizeof *names + 1);
    char *store = malloc(net->params.count * PD_NAME_MAX + 1);
    if (!names || !store) st = pd_fail(PD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < net->params.count; i++)
        if (!(net->params.t[i].flags & PD_BUFFER)) {
            snprintf(store + n * PD_NAME_MAX, PD_NAME_MAX, "%s", net->params.t[i].name);
            names[n] = store + n * PD_NAME_MAX;
            n++;
        }
    pd_net_free(net);
    if (!st) st = pd_net_create(net, cfg, names, n);
    free(names);
    free(store);
    return st;
}

/* the network a collect of this mode trains (cfg: the data's shape set) */
static pd_status create_net(const pd_collect_opts *o, const pd_net_config *cfg, pd_net *net) {
    const char *all[] = {"*"};
    if (o->mode == PD_COLLECT_SEEDS) return pd_net_create(net, cfg, all, 1);
    if (o->mode == PD_COLLECT_FULL) return create_all_trainable(net, cfg);
    return pd_net_create(net, cfg, o->patterns, o->npatterns);
}

/* The workers of a collect (pd_run_workers, one thread each): a network
 * of the collect's structure, a graph and a prediction buffer per worker.
 * Subset and full mode evaluate their snapshots W at a time on them (a
 * snapshot's evaluation does not wait for the next one's training, and
 * short rows run faster that way); seeds mode trains whole networks on
 * them. A worker's numbers are those of one thread, the same at any
 * worker count. */
typedef struct {
    int W;
    pd_net *nets;
    pd_graph **gs;
    int32_t **preds;
    float *snaps; /* W × total: the snapshots' parameters and buffers (not
                     in seeds mode) */
    double *acc;
    long *steps;
    size_t n, total;
    const pd_feats *test;
} snap_eval;

static void snap_eval_free(snap_eval *se) {
    for (int w = 0; w < se->W; w++) {
        if (se->nets && se->nets[w].params.data) pd_net_free(&se->nets[w]);
        if (se->gs) pd_graph_free(se->gs[w]);
        if (se->preds) free(se->preds[w]);
    }
    free(se->nets), free(se->gs), free(se->preds), free(se->snaps), free(se->acc),
        free(se->steps);
    memset(se, 0, sizeof *se);
}

static pd_status snap_eval_init(snap_eval *se, const pd_collect_opts *o, const pd_net *net,
                                const pd_feats *test) {
    memset(se, 0, sizeof *se);
    se->W = pd_threads() > 0 ? pd_threads() : 1;
    se->total = net->params.total;
    se->test = test;
    const size_t W = (size_t)se->W;
    se->nets = calloc(W, sizeof *se->nets);
    se->gs = calloc(W, sizeof *se->gs);
    se->preds = calloc(W, sizeof *se->preds);
    /* the snapshots' buffer: subset and full mode only */
    se->snaps = o->mode == PD_COLLECT_SEEDS ? NULL : malloc(W * se->total * sizeof(float));
    se->acc = calloc(W, sizeof *se->acc);
    se->steps = calloc(W, sizeof *se->steps);
    pd_status st = se->nets && se->gs && se->preds && se->acc && se->steps &&
                           (se->snaps || o->mode == PD_COLLECT_SEEDS)
                       ? PD_OK
                       : pd_fail(PD_ERR_NOMEM, "out of memory");
    for (size_t w = 0; w < W && !st; w++) {
        st = create_net(o, &net->cfg, &se->nets[w]);
        se->gs[w] = pd_graph_new();
        se->preds[w] = malloc(test->n * sizeof(int32_t) + 1);
        if (!st && (!se->gs[w] || !se->preds[w])) st = pd_fail(PD_ERR_NOMEM, "out of memory");
        if (!st && se->nets[w].params.total != se->total)
            st = pd_fail(PD_ERR_SHAPE, "collect: a worker's network has %zu values, not %zu",
                         se->nets[w].params.total, se->total);
    }
    if (st) snap_eval_free(se);
    return st;
}

static pd_status snap_eval_worker(int w, void *ctx) {
    snap_eval *se = ctx;
    if ((size_t)w >= se->n) return PD_OK;
    pd_net *net = &se->nets[w];
    memcpy(net->params.data, se->snaps + (size_t)w * se->total, se->total * sizeof(float));
    return pd_evaluate(net, se->gs[w], se->test, 1000, &se->acc[w], NULL, se->preds[w]);
}

/* checkpoints not recorded in this process (an interrupted run's) are
 * read back and evaluated on the workers, then the report is made and the
 * record for eval written. se->test: what the networks are evaluated on
 * (cached features in subset mode); images: the test images themselves,
 * which test_records.h fingerprints */
typedef struct {
    report_data *rd;
    snap_eval *se;
    const pd_collect_opts *o;
    const size_t *missing;
    size_t nmissing, batch;
    _Atomic long done;
    _Atomic int stop;
} refill_job;

static pd_status refill_worker(int w, void *ctx) {
    refill_job *j = ctx;
    snap_eval *se = j->se;
    pd_status st = PD_OK;
    for (size_t i = (size_t)w; i < j->nmissing && !st && !j->stop; i += (size_t)se->W) {
        const size_t k = j->missing[i];
        char path[4096];
        ckpt_path(path, sizeof path, j->o->out_dir, k);
        double acc;
        st = pd_params_load(&se->nets[w].params, path, 0);
        if (!st) st = pd_evaluate(&se->nets[w], se->gs[w], se->test, j->batch, &acc, NULL,
                                  se->preds[w]);
        if (!st) report_record(j->rd, &se->nets[w], se->test, k, acc, se->preds[w]);
        long c = ++j->done;
        if (w == 0) pd_report(&j->o->progress, "report", c, (long)j->nmissing, NULL);
    }
    if (st) j->stop = 1;
    return st;
}

static pd_status report_finish(report_data *rd, const pd_collect_opts *o, snap_eval *se,
                               size_t batch, const pd_feats *images, pd_collect_report *rep) {
    size_t *missing = malloc(rd->K * sizeof(size_t) + 1), n = 0;
    if (!missing) return pd_fail(PD_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < rd->K; k++)
        if (!rd->have[k]) missing[n++] = k;
    refill_job job = {rd, se, o, missing, n, batch, 0, 0};
    pd_status st = n ? pd_run_workers(se->W, refill_worker, &job) : PD_OK;
    free(missing);
    if (!st)
        pd_collect_report_make(rd->wrong, rd->words, rd->acc, rd->V, rd->K, rd->D,
                               se->test->n, rep);
    /* for eval, which then need not run the originals over the test set */
    if (!st)
        st = pd_test_records_write(o->out_dir, rd->wrong, rd->K, rd->words, rd->V, rd->D, images);
    return st;
}

/* seeds mode: whole networks, dealt to the workers (one thread each, within
 * this rank's share under mpirun); each network is trained on one thread,
 * so it does not depend on the worker count */
typedef struct {
    const pd_collect_opts *o;
    snap_eval *se;
    report_data *rd;
    const pd_feats *train, *test, *train_eval;
    _Atomic int stop;
} seeds_job;

static pd_status seeds_worker(int w, void *ctx) {
    seeds_job *j = ctx;
    const pd_collect_opts *o = j->o;
    const size_t R = (size_t)pd_dist_size(), W = (size_t)j->se->W;
    pd_net *net = &j->se->nets[w];
    pd_graph *g = j->se->gs[w];
    const pd_progress *progress = w == 0 ? &o->progress : NULL;
    char path[4096], phase[64];
    pd_status st = PD_OK;
    for (size_t k = 0; k < o->K && !st && !j->stop; k++) {
        if (!pd_dist_owns(k) || (k / R) % W != (size_t)w) continue; /* another's seed */
        ckpt_path(path, sizeof path, o->out_dir, k);
        if (pd_file_exists(path)) continue; /* finished earlier (atomic write) */
        snprintf(phase, sizeof phase, "net %zu/%zu", k + 1, o->K);
        st = train_base(net, g, j->train, o, o->seed + k, phase, progress);
        double tr, te;
        if (!st) st = pd_evaluate(net, g, j->test, 500, &te, NULL, j->se->preds[w]);
        if (!st) report_record(j->rd, net, j->test, k, te, j->se->preds[w]);
        if (!st) st = pd_evaluate(net, g, j->train_eval, 500, &tr, NULL, NULL);
        if (!st) st = save_ckpt(net, path, tr, te, 0, o->seed + k);
        if (st) break;
        char info[64];
        snprintf(info, sizeof info, "test acc %.2f%%", te);
        pd_report(progress, "collect", (long)k + 1, (long)o->K, info);
    }
    if (st) j->stop = 1;
    return st;
}

static pd_status collect_seeds(const pd_collect_opts *o, pd_net *net, const pd_feats *train,
                               const pd_feats *test, const pd_feats *train_eval,
                               pd_collect_report *rep) {
    report_data rd;
    snap_eval se;
    pd_status st = report_init(&rd, o->K, pd_params_selected_size(&net->params), test->n);
    if (!st) st = snap_eval_init(&se, o, net, test);
    if (st) {
        report_free(&rd);
        return st;
    }
    seeds_job job = {o, &se, &rd, train, test, train_eval, 0};
    st = pd_run_workers(se.W, seeds_worker, &job);
    if (!st && pd_dist_size() > 1) { /* every rank's records, on rank 0 */
        pd_dist_merge_or_u64(rd.wrong, rd.K * rd.words);
        pd_dist_merge_double(rd.acc, rd.K);
        pd_dist_merge_float(rd.V, rd.K * rd.D);
        pd_dist_merge_or_u8(rd.have, rd.K);
    }
    if (!st && pd_dist_root()) st = report_finish(&rd, o, &se, 500, test, rep);
    snap_eval_free(&se);
    report_free(&rd);
    return st;
}

static pd_status collect_subset(const pd_collect_opts *o, pd_net *net, pd_graph *g,
                                const pd_feats *train, const pd_feats *test,
                                const pd_feats *train_eval, pd_collect_report *rep) {
    char path[4096];
    snprintf(path, sizeof path, "%s/base.safetensors", o->out_dir);
    pd_status st;
    double tr, te;
    if (pd_file_exists(path)) {
        st = pd_params_load(&net->params, path, 0);
        if (st) return st;
    } else {
        st = train_base(net, g, train, o, o->seed, "train", &o->progress);
        /* a whole-network pass over both sets: a minute or more for ResNet-18 */
        const long sets = (long)(test->n + train_eval->n);
        if (!st) pd_report(&o->progress, "base eval", 0, sets, NULL);
        if (!st) st = pd_evaluate(net, g, test, 500, &te, NULL, NULL);
        if (!st) pd_report(&o->progress, "base eval", (long)test->n, sets, NULL);
        if (!st) st = pd_evaluate(net, g, train_eval, 500, &tr, NULL, NULL);
        if (!st) {
            char info[64];
            snprintf(info, sizeof info, "test acc %.2f%%", te);
            pd_report(&o->progress, "base eval", sets, sets, info);
        }
        if (!st) st = save_ckpt(net, path, tr, te, 0, o->seed);
        if (st) return st;
    }
    /* frozen prefix: cache its output once (full mode: none, the whole
     * network trains) */
    int cut = o->mode == PD_COLLECT_FULL ? 0 : pd_net_cut_stage(net);
    float *ftrain = NULL, *ftest = NULL;
    pd_feats ctrain, ctest;
    const pd_progress *p = &o->progress;
    st = pd_cache_features(net, g, train, cut, p, "features (train)", &ftrain, &ctrain);
    if (!st) st = pd_cache_features(net, g, test, cut, p, "features (test)", &ftest, &ctest);
    if (st) goto done;

    pd_net_set_trainable(net, 1);
    if ((st = pd_params_alloc_state(&net->params))) goto done;
    memset(net->params.m, 0, net->params.total * sizeof(float));
    size_t k0 = load_state(o->out_dir, net, o->K);
    int32_t *order = malloc(ctrain.n * sizeof(int32_t));
    if (!order) {
        st = pd_fail(PD_ERR_NOMEM, "out of memory");
        goto done;
    }
    report_data rd;
    if ((st = report_init(&rd, o->K, pd_params_selected_size(&net->params), ctest.n))) {
        free(order);
        report_free(&rd);
        goto done;
    }
    /* no augmentation here: the cached prefix activations assume fixed inputs */
    pd_fit_opts fo = {{o->subset_lr, o->momentum, 0.0f, o->weight_decay, 0}, o->batch, 0, 0, 0};
    snap_eval se;
    if ((st = snap_eval_init(&se, o, net, &ctest))) {
        free(order);
        report_free(&rd);
        goto done;
    }
    for (size_t k = k0; k < o->K && !st; k += se.n) {
        /* the next W snapshots of the trajectory ... */
        se.n = o->K - k < (size_t)se.W ? o->K - k : (size_t)se.W;
        for (size_t j = 0; j < se.n && !st; j++) {
            pd_rng rng;
            pd_rng_seed(&rng, o->seed, 1000 + k + j);
            for (size_t i = 0; i < ctrain.n; i++) order[i] = (int32_t)i;
            pd_rng_shuffle(&rng, order, ctrain.n);
            size_t cursor = 0;
            long step = (long)(k + j) * o->every;
            st = pd_fit_steps(net, g, &ctrain, &fo, &rng, order, &cursor, &step, o->every, NULL);
            se.steps[j] = step;
            memcpy(se.snaps + j * se.total, net->params.data, se.total * sizeof(float));
        }
        /* ... evaluated at once, then written in order */
        if (!st) st = pd_run_workers(se.W, snap_eval_worker, &se);
        for (size_t j = 0; j < se.n && !st; j++) {
            te = se.acc[j];
            report_record(&rd, &se.nets[j], &ctest, k + j, te, se.preds[j]);
            /* the training-set accuracy of a snapshot is `pdiff eval`'s to
             * measure (its selection rule needs it for every model anyway):
             * measuring it here too cost a third of the default collect */
            ckpt_path(path, sizeof path, o->out_dir, k + j);
            st = save_ckpt(&se.nets[j], path, NAN, te, se.steps[j], o->seed);
            char info[64];
            snprintf(info, sizeof info, "test acc %.2f%%", te);
            if (!st) pd_report(&o->progress, "collect", (long)(k + j) + 1, (long)o->K, info);
        }
        if (!st) st = save_state(o->out_dir, net, k + se.n);
    }
    free(order);
    if (!st) st = report_finish(&rd, o, &se, 1000, test, rep);
    snap_eval_free(&se);
    report_free(&rd);
done:
    free(ftrain);
    free(ftest);
    return st;
}

/* a collect of these options that already finished (its manifest.json is
 * written last): its report, without evaluating the checkpoints again */
static int already_done(const pd_collect_opts *o, pd_collect_report *rep) {
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", o->out_dir);
    if (!pd_file_exists(path)) return 0;
    pd_manifest m;
    if (pd_manifest_read(o->out_dir, &m)) return 0;
    int done = m.has_report && m.K == o->K && m.has_net &&
               !strcmp(m.mode, pd_collect_mode_name(o->mode)) && !strcmp(m.net.arch, o->net.arch);
    if (done) *rep = m.report;
    pd_manifest_free(&m);
    return done;
}

/* a rank other than 0, after rank 0 wrote the manifest */
static pd_status read_back(const pd_collect_opts *o, pd_collect_report *rep) {
    pd_dist_barrier();
    if (already_done(o, rep)) return PD_OK;
    return pd_fail(PD_ERR_IO, "%s/manifest.json: rank 0 did not write it", o->out_dir);
}

pd_status pd_collect(const pd_collect_opts *o, pd_collect_report *report) {
    pd_collect_report local;
    pd_collect_report *rep = report ? report : &local;
    /* under mpirun seeds mode deals the seeds to the ranks; a trajectory
     * (subset, full) is one sequence of steps: rank 0 makes it */
    if (!pd_dist_root() && o->mode != PD_COLLECT_SEEDS) return read_back(o, rep);
    if (already_done(o, rep)) {
        pd_atomic_sweep(o->out_dir); /* temp files a killed re-run left */
        return PD_OK;
    }
    if (o->K == 0 || o->batch == 0 || o->epochs < 0 || (o->mode != PD_COLLECT_SEEDS && o->every <= 0))
        return pd_fail(PD_ERR_ARG, "collect: K, batch and --every must be positive");
    /* inputs (data, network) are checked before the output directory is
     * created, so a refused run leaves nothing behind */
    pd_dataset train = {0}, test = {0};
    pd_status st = pd_dataset_load(o->data_dir, 1, &train);
    if (!st) st = pd_dataset_load(o->data_dir, 0, &test);
    if (!st) st = pd_dataset_normalize(&train, &test);
    if (st) {
        pd_dataset_free(&train);
        pd_dataset_free(&test);
        return st;
    }
    pd_net_config cfg = o->net;
    cfg.in_c = train.c;
    cfg.in_h = train.h;
    cfg.in_w = train.w;
    cfg.classes = (size_t)train.classes;
    pd_net net;
    st = create_net(o, &cfg, &net);
    pd_graph *g = pd_graph_new();
    if (!st && !g) st = pd_fail(PD_ERR_NOMEM, "out of memory");
    if (!st) st = pd_mkdir_p(o->out_dir);
    /* temp files of a killed run; rank 0 alone, before any rank writes
     * (elsewhere a live writer on another host looks dead) */
    if (!st && pd_dist_root()) pd_atomic_sweep(o->out_dir);
    if (o->mode == PD_COLLECT_SEEDS) pd_dist_barrier();
    pd_feats ftrain = pd_images_of(&train), ftest = pd_images_of(&test), feval = ftrain;
    if (feval.n > o->eval_train) feval.n = o->eval_train;
    if (!st) {
        if (o->mode == PD_COLLECT_SEEDS) st = collect_seeds(o, &net, &ftrain, &ftest, &feval, rep);
        else st = collect_subset(o, &net, g, &ftrain, &ftest, &feval, rep);
    }
    if (!st && pd_dist_root()) st = pd_manifest_write_collect(o, &net, &train, &test, rep);
    pd_graph_free(g);
    pd_net_free(&net);
    pd_dataset_free(&train);
    pd_dataset_free(&test);
    if (st || pd_dist_size() == 1) return st;
    if (!pd_dist_root()) return read_back(o, rep);
    pd_dist_barrier(); /* the manifest is there for the other ranks */
    return PD_OK;
}
