/*
 * stages.h — the pieces of each subcommand that `pdiff run` and
 * `pdiff ablate` reuse: option tables and the stage drivers.
 */
#ifndef PD_STAGES_H
#define PD_STAGES_H

#include "cli.h"
#include "collect.h"
#include "manifest.h"
#include "pdiff.h"

#define COLLECT_OPTIONS                                                                   \
    {"--data", "DIR", "dataset directory (IDX or CIFAR binary; default Fashion-MNIST)", NULL}, \
    {"--net", "NAME", "mlp3 | convnet3 | cnn | resnet (default cnn)", NULL},                 \
    {"--width", "W", "base width of cnn (16) / resnet (64 = ResNet-18)", NULL},               \
    {"--params", "PATTERNS", "comma-separated tensor names or globs (default: last two norm layers)", NULL}, \
    {"--mode", "MODE", "subset (default) | full (one network, all parameters trained on: K snapshots) | seeds (K networks from K seeds)", NULL}, \
    {"-K", "N", "number of checkpoints (default 200)", NULL},                                 \
    {"--epochs", "E", "training epochs of the base network (default 6)", NULL},               \
    {"--batch", "B", "SGD batch size (default 128)", NULL},                                   \
    {"--lr", "LR", "base training learning rate, cosine schedule (default 0.05)", NULL},     \
    {"--subset-lr", "LR", "learning rate while collecting snapshots (default 0.05; full mode 0.01)", NULL}, \
    {"--every", "STEPS", "subset SGD steps between snapshots (default 10)", NULL},           \
    {"--augment", NULL, "random crop + horizontal flip while training the base network (CIFAR)", NULL}, \
    {"--seed", "S", "random seed (default 0)", NULL}

#define MODEL_OPTIONS                                                                        \
    {"--normalize", "KIND", "vectors before the autoencoder: dim (default; z-score per dimension) | tensor | none (paper)", NULL}, \
    {"--preset", "NAME", "autoencoder: small | medium (the paper's 1-D CNN) | whole (whole networks; default for full and seeds collects)", NULL}, \
    {"--chunk", "W", "whole-network autoencoder: values per chunk (preset whole: 256)", NULL}, \
    {"--chunk-code", "C", "whole-network autoencoder: code values per chunk (4)", NULL},    \
    {"--hidden", "H", "whole-network autoencoder: width of its mixing layers (256)", NULL},  \
    {"--latent", "L", "whole-network autoencoder: latent length (16)", NULL},               \
    {"--fold", "F", "autoencoder fold rate (stride)", NULL},                                  \
    {"--kernel", "K", "autoencoder kernel size", NULL},                                       \
    {"--enc", "C0,C1,C2,C3", "encoder channels", NULL},                                      \
    {"--dec", "D0,D1,D2,D3", "decoder channels", NULL},                                      \
    {"--in-noise", "A", "input noise amplitude (default 0.001; 0 = off)", NULL},             \
    {"--latent-noise", "B", "latent noise amplitude (default 0.1; 0 = off)", NULL},          \
    {"--additive-noise", NULL, "add noise (x + aε) instead of mixing (x(1−a) + aε)", NULL},  \
    {"--norm", "KIND", "autoencoder normalization: instance | batch | group | none", NULL},  \
    {"--fc", NULL, "fully connected autoencoder instead of 1D convolutions", NULL},          \
    {"--vae", NULL, "variational autoencoder of the same backbone", NULL},                   \
    {"--kl-weight", "W", "VAE KL weight (default 0.001)", NULL},                             \
    {"--den-channels", "A,B,C,D", "denoiser channels (default 32,64,128,256)", NULL},        \
    {"-T", "T", "diffusion steps (default 1000)", NULL},                                      \
    {"--beta-start", "B0", "first β (default 1e-4)", NULL},                                   \
    {"--beta-end", "B1", "last β (default 2e-2)", NULL},                                      \
    {"--ae-steps", "N", "autoencoder training steps (default 2500)", NULL},                   \
    {"--ddpm-steps", "N", "DDPM training steps (default 2000)", NULL},                        \
    {"--model-lr", "LR", "AdamW learning rate (default 1e-3)", NULL},                         \
    {"--weight-decay", "W", "AdamW weight decay (default 2e-6)", NULL},                       \
    {"--ema", "DECAY", "EMA decay of the denoiser (default 0.9999)", NULL},                   \
    {"--ckpt-every", "N", "steps between resumable checkpoints (default 500)", NULL},        \
    {"--precision", "P", "fp32 (default) | bf16: convolutions in bf16 mixed precision (oneDNN; fp32 where the CPU lacks bf16)", NULL}, \
    {"--batch-threads", "N", "threads that each train on a share of every batch, one OpenMP/BLAS thread each (default 0: one per thread; 1: all threads on the whole batch)", NULL}, \
    {"--recipe", "paper", "the paper's Table 4 recipe (30k + 30k steps, full channels)", NULL}

/* models per baseline in eval: all N, or 20 for whole networks (a whole
 * forward pass each: 9 × 100 of them took longer than the rest of a run) */
#define WHOLE_NETWORK_BASELINE_N 20
#define BASELINE_N_OPTION \
    {"--baseline-n", "N", "models per baseline (default: as many as generated; 20 for whole networks)", NULL}
size_t baseline_n_from_opts(const cli_opt *opts, int whole);

#define GENERATE_OPTIONS                                                                   \
    {"-n", "N", "number of models to generate (default 100)", NULL},                      \
    {"--sampler", "NAME", "ddpm (default) | ddim", NULL},                                  \
    {"--steps", "S", "DDIM steps (default 50)", NULL},                                     \
    {"--eta", "ETA", "DDIM η (default 0: deterministic)", NULL},                           \
    {"--no-ema", NULL, "sample with the raw denoiser instead of its EMA", NULL}

/* fills o from parsed options */
void collect_from_opts(pd_collect_opts *o, const cli_opt *opts);
/* DIR/manifest.json, or a scan of DIR's safetensors with --params */
pd_status load_manifest(const char *dir, const char *patterns, pd_manifest *m);
/* fills c from options; returns 0 or an exit code. whole: the data are
 * whole networks, whose default autoencoder is the preset "whole" */
int model_from_opts(pd_model_config *c, const cli_opt *opts, int whole);
/* a full or seeds collect, or external checkpoints of more than
 * WHOLE_NETWORK_D values (the paper's CNN would cost seconds a step) */
#define WHOLE_NETWORK_D 20000
int whole_networks(const pd_manifest *m);
/* the same from --mode */
int whole_mode_option(const cli_opt *opts);
/* --sampler, --steps, --eta, --no-ema and --precision (where the command
 * has it) into s; 0 or an exit code */
int sampler_from_opts(const cli_opt *opts, pd_sampler *s);
/* train on the first K checkpoints of dir (K = 0: all) into model_dir;
 * returns 0 or an exit code */
int train_dir(const char *dir, const char *patterns, size_t K, const pd_model_config *c,
              const char *model_dir);
/* sample and write N models (reconstruct: decode the training latents
 * instead); returns 0 or an exit code */
int generate_dir(const char *dir, const char *patterns, const char *model_dir,
                 const char *out_dir, size_t N, const pd_sampler *smp, uint64_t seed,
                 int reconstruct);

#endif
