/*
 * fuzz_config.c — libFuzzer harness for the p-diff model configuration
 * parser (pd_model_config_parse: MODEL/config.json, which `pdiff generate`
 * and `pdiff eval` read from a user's model directory).
 *
 * Checks, beyond "no crash, no sanitizer report, no leak":
 *  - round trip: a parsed config written back by pd_model_config_json and
 *    parsed again gives the same JSON text (the writer and the reader agree
 *    on every field and range);
 *  - the parsed values are in the ranges the reader promises;
 *  - a small enough accepted config builds its autoencoder, denoiser and
 *    β schedule or is refused with a status (geometry validation), without
 *    crashing. Large ones are skipped to keep executions fast.
 * Run: ./fuzz_config fuzz/corpus/config
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/ae.h"
#include "model/denoiser.h"
#include "model/diffusion.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* builds the model parts of an accepted config when that is cheap. The
 * parser bounds each field, not the model's size: the fully connected
 * ablation holds real² weights with real = (D / f⁴ + 1) f⁴, so fold 52
 * with D = 4 asks for 7.3M² floats. Such a request fails in pd_alloc with
 * PD_ERR_NOMEM in a normal build, but ASan aborts on any allocation over
 * 1 TiB and libFuzzer on any over its malloc limit, so it is skipped here
 * (first crasher of this harness, kept in tests/fixtures/crashers/). */
static void build(const pd_model_config *c, size_t D) {
    size_t big = 0;
    for (int i = 0; i < 4; i++) {
        big |= c->ae.enc[i] > 32 || c->ae.dec[i] > 32 || c->den_ch[i] > 32;
    }
    size_t f = (size_t)c->ae.fold, f4 = f * f * f * f; /* fold <= 64: no overflow */
    size_t real = (D / f4 + 1) * f4;
    if (big || D > 512 || c->T > 2000 || (c->ae.fc && real > 600)) return;
    pd_ae_config ac = c->ae;
    ac.D = D;
    pd_ae ae;
    if (pd_ae_create(&ae, &ac) == PD_OK) {
        size_t L = ae.latent_c * ae.latent_l;
        pd_ae_free(&ae);
        if (L <= 512) {
            pd_den_config dc = {L, c->T, {c->den_ch[0], c->den_ch[1], c->den_ch[2], c->den_ch[3]}};
            pd_den den;
            if (pd_den_create(&den, &dc) == PD_OK) pd_den_free(&den);
        }
    }
    pd_diffusion df;
    if (pd_diffusion_init(&df, c->T, c->beta0, c->beta1) == PD_OK) pd_diffusion_free(&df);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    pd_model_config c;
    size_t D = 0;
    pd_status st = pd_model_config_parse(text, "fuzz", &c, &D);
    free(text);
    if (st != PD_OK) return 0;
    /* ranges the parser guarantees */
    if (D < 1 || c.ae.D != D || c.ae.fold < 2 || c.ae.k < 1 || c.T < 1 ||
        c.ckpt_every < 1 || c.log_every < 1 || (unsigned)c.ae.norm > 3 ||
        memchr(c.ae_preset, 0, sizeof c.ae_preset) == NULL)
        abort();
    for (int i = 0; i < 4; i++)
        if (c.ae.enc[i] < 1 || c.ae.dec[i] < 1 || c.den_ch[i] < 1) abort();
    /* round trip through the writer */
    char *j1 = pd_model_config_json(&c, D);
    if (!j1) return 0;
    pd_model_config c2;
    size_t D2 = 0;
    if (pd_model_config_parse(j1, "fuzz-roundtrip", &c2, &D2) != PD_OK || D2 != D) abort();
    char *j2 = pd_model_config_json(&c2, D2);
    if (!j2 || strcmp(j1, j2) != 0) abort();
    free(j1);
    free(j2);
    build(&c, D);
    return 0;
}
