/*
 * fuzz_manifest.c — libFuzzer harness for the collect manifest parser
 * (pd_manifest_parse on arbitrary text: DIR/manifest.json is user input,
 * `pdiff train DIR` trusts nothing in it).
 *
 * On success the parsed manifest must satisfy what its readers rely on:
 * K >= 1 plain file names (non-empty, no '/'), nparams >= 1 non-NULL
 * names, D >= 1, a NUL-terminated mode and data directory. A violated
 * invariant aborts, which libFuzzer reports like a crash.
 * Build: CC=clang cmake -DPDIFF_FUZZ=ON -DPDIFF_SANITIZE=ON;
 * run:   ./fuzz_manifest fuzz/corpus/manifest (no dictionary needed: the
 *        key comparisons are strcmp calls, which libFuzzer intercepts)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the parser takes C text: NUL-terminate a copy (an embedded NUL ends
     * the text early, as it would for a file read with read_text) */
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    pd_manifest m;
    pd_status st = pd_manifest_parse(text, "fuzz", &m);
    free(text);
    if (st != PD_OK) {
        /* a failed parse leaves nothing allocated */
        if (m.params || m.files || m.train_acc || m.test_acc) abort();
        return 0;
    }
    if (m.K < 1 || m.nparams < 1 || m.D < 1 || !m.files || !m.params) abort();
    if (memchr(m.mode, 0, sizeof m.mode) == NULL) abort();
    if (memchr(m.data_dir, 0, sizeof m.data_dir) == NULL) abort();
    if (m.has_net && memchr(m.net.arch, 0, sizeof m.net.arch) == NULL) abort();
    volatile size_t sink = 0;
    for (size_t k = 0; k < m.K; k++) {
        if (!m.files[k] || !m.files[k][0] || strchr(m.files[k], '/')) abort();
        sink += strlen(m.files[k]);
        sink += m.train_acc[k] == m.train_acc[k]; /* touch: NaN allowed */
        sink += m.test_acc[k] == m.test_acc[k];
    }
    for (size_t i = 0; i < m.nparams; i++) {
        if (!m.params[i]) abort();
        sink += strlen(m.params[i]);
    }
    (void)sink;
    pd_manifest_free(&m);
    return 0;
}
