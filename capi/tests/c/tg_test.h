/* Helpers for the C tests of the tokenguard C API: the flattened test data
 * (capi/tests/make_vectors.py) and checks that print what failed. Test code only: it uses
 * the heap and stdio; the library uses neither. */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenguard.h"

static int tg_failures = 0;
static int tg_checks = 0;
/* Every result code a check has seen (indexed by code, codes are below 0x100). */
static unsigned char tg_seen[256];

#define CHECK(cond)                                                                   \
    do {                                                                              \
        tg_checks++;                                                                  \
        if (!(cond)) {                                                                \
            tg_failures++;                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

/* Checks that a call returned exactly `want`, naming both codes when it did not. */
#define CHECK_RESULT(call, want)                                                           \
    do {                                                                                   \
        tg_result got_ = (call);                                                           \
        tg_checks++;                                                                       \
        if ((unsigned)got_ < 256) tg_seen[(unsigned)got_] = 1;                             \
        if (got_ != (want)) {                                                              \
            tg_failures++;                                                                 \
            fprintf(stderr, "%s:%d: %s returned %s (%u), expected %s (%u)\n", __FILE__,   \
                    __LINE__, #call, tg_result_name(got_), (unsigned)got_,                 \
                    tg_result_name(want), (unsigned)(want));                               \
        }                                                                                  \
    } while (0)

#define OK(call) CHECK_RESULT(call, TG_RESULT_OK)

/* A string literal or C string as (pointer, length). */
#define S(s) (const uint8_t *)(s), strlen(s)

/* ---- the flattened test data ---- */

typedef struct {
    char kind;
    int nfields;
    char **field; /* unescaped, NUL-terminated */
    size_t *len;  /* their lengths (a field may hold a NUL only if the data did) */
} tg_line;

typedef struct {
    tg_line *lines;
    int n;
} tg_data;

static inline char *tg_unescape(const char *s, size_t n, size_t *out_len) {
    char *o = malloc(n + 1);
    size_t j = 0;
    if (!o) abort();
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[++i];
            o[j++] = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
        } else {
            o[j++] = s[i];
        }
    }
    o[j] = 0;
    *out_len = j;
    return o;
}

static inline tg_data tg_load(const char *path) {
    FILE *f = fopen(path, "rb");
    tg_data d = {0, 0};
    if (!f) {
        fprintf(stderr, "cannot open %s (make it with capi/tests/make_vectors.py)\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) abort();
    buf[size] = 0;
    fclose(f);
    int cap = 1024;
    d.lines = malloc(sizeof(tg_line) * (size_t)cap);
    for (char *p = buf; *p;) {
        char *end = strchr(p, '\n');
        if (!end) end = p + strlen(p);
        if (d.n == cap) {
            cap *= 2;
            d.lines = realloc(d.lines, sizeof(tg_line) * (size_t)cap);
        }
        tg_line *l = &d.lines[d.n++];
        l->kind = *p;
        l->nfields = 0;
        l->field = malloc(sizeof(char *) * 16);
        l->len = malloc(sizeof(size_t) * 16);
        char *q = p;
        while (q <= end && l->nfields < 16) {
            char *tab = memchr(q, '\t', (size_t)(end - q));
            char *fe = tab ? tab : end;
            l->field[l->nfields] = tg_unescape(q, (size_t)(fe - q), &l->len[l->nfields]);
            l->nfields++;
            if (!tab) break;
            q = tab + 1;
        }
        p = *end ? end + 1 : end;
    }
    free(buf);
    return d;
}

/* The first line of this kind whose second field is `name`, or NULL. */
static inline const tg_line *tg_find(const tg_data *d, char kind, const char *name) {
    for (int i = 0; i < d->n; i++) {
        const tg_line *l = &d->lines[i];
        if (l->kind == kind && l->nfields > 1 && strcmp(l->field[1], name) == 0) return l;
    }
    return NULL;
}

/* Field 2 of the named line (a key's JWK, a token), or exit. */
static inline const char *tg_get(const tg_data *d, char kind, const char *name) {
    const tg_line *l = tg_find(d, kind, name);
    if (!l || l->nfields < 3) {
        fprintf(stderr, "test data has no %c line %s\n", kind, name);
        exit(2);
    }
    return l->field[2];
}

static inline void tg_free(tg_data *d) {
    for (int i = 0; i < d->n; i++) {
        for (int k = 0; k < d->lines[i].nfields; k++) free(d->lines[i].field[k]);
        free(d->lines[i].field);
        free(d->lines[i].len);
    }
    free(d->lines);
}

static inline int tg_report(const char *name) {
    printf("%s: %d checks, %d failed\n", name, tg_checks, tg_failures);
    return tg_failures == 0 ? 0 : 1;
}

#endif
