/*
 * loss_log.c — see loss_log.h.
 */
#include "loss_log.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int curve_push(pd_loss_curve *cv, double step, double loss) {
    if (cv->n == cv->cap) {
        size_t cap = cv->cap ? 2 * cv->cap : 256;
        double *s = realloc(cv->step, cap * sizeof *s);
        if (!s) return -1;
        cv->step = s;
        double *l = realloc(cv->loss, cap * sizeof *l);
        if (!l) return -1;
        cv->loss = l;
        cv->cap = cap;
    }
    cv->step[cv->n] = step;
    cv->loss[cv->n++] = loss;
    return 0;
}

void pd_loss_curve_free(pd_loss_curve *c) {
    free(c->step);
    free(c->loss);
    memset(c, 0, sizeof *c);
}

pd_status pd_loss_log_read(const char *path, const char *const *stages, size_t nstages,
                           pd_loss_curve *curves) {
    memset(curves, 0, nstages * sizeof *curves);
    FILE *f = fopen(path, "r");
    if (!f) return PD_OK; /* no log: nothing to draw */
    char *line = NULL;
    size_t cap = 0;
    pd_status st = PD_OK;
    while (!st && getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        if (!j) continue;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "stage");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "step");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "loss");
        if (cJSON_IsString(s) && cJSON_IsNumber(t) && cJSON_IsNumber(l) &&
            isfinite(l->valuedouble) && l->valuedouble > 0)
            for (size_t q = 0; q < nstages; q++)
                if (strcmp(s->valuestring, stages[q]) == 0 &&
                    curve_push(&curves[q], t->valuedouble, l->valuedouble))
                    st = pd_fail(PD_ERR_NOMEM, "%s: out of memory", path);
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    if (st)
        for (size_t q = 0; q < nstages; q++) pd_loss_curve_free(&curves[q]);
    return st;
}
