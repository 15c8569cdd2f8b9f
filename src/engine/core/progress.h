/*
 * progress.h — how long library jobs report progress: a callback the CLI
 * renders (a bar with ETA on a terminal, plain lines otherwise).
 */
#ifndef PD_PROGRESS_H
#define PD_PROGRESS_H

#include "pdiff.h" /* pd_progress */

static inline void pd_report(const pd_progress *p, const char *phase, long done,
                             long total, const char *info) {
    if (p && p->fn) p->fn(p->ctx, phase, done, total, info);
}

#endif
