/* The C API against third-party and corpus vectors, with the engine's exact verdicts:
 * every case of ../shared/vectors/jwt-negative-vectors.json (the exact code the Rust suite
 * asserts) and every Wycheproof JWS case. Each token is verified with a work buffer of
 * exactly the token's length, on the heap, so AddressSanitizer and valgrind see any
 * overrun.
 *
 * Usage: test_vectors VECTORS.tsv  (made by capi/tests/make_vectors.py) */
#include "tg_test.h"

static tg_cache cache;
static tg_policy policy;

static tg_result verify_jwt(const char *token, size_t len, uint64_t now) {
    uint8_t *work = malloc(len ? len : 1);
    tg_claims claims;
    tg_result r = tg_cache_verify(&cache, &policy, (const uint8_t *)token, len, now, work, len,
                                  &claims);
    if (r == TG_RESULT_OK) {
        /* The view is consistent: the payload lies inside the work buffer. */
        CHECK(claims.payload >= work && claims.payload + claims.payload_len <= work + len);
    }
    free(work);
    return r;
}

static void negative_corpus(const tg_data *d) {
    const tg_line *p = NULL;
    for (int i = 0; i < d->n && !p; i++)
        if (d->lines[i].kind == 'P') p = &d->lines[i];
    CHECK(p != NULL);
    if (!p) return;
    uint64_t now = strtoull(p->field[1], NULL, 10);
    OK(tg_policy_init(&policy));
    OK(tg_policy_set_issuer(&policy, S(p->field[3])));
    OK(tg_policy_add_audience(&policy, S(p->field[4])));
    OK(tg_policy_set_leeway(&policy, (uint32_t)strtoul(p->field[2], NULL, 10)));
    OK(tg_policy_set_limits(&policy, strtoul(p->field[5], NULL, 10),
                            (uint8_t)strtoul(p->field[6], NULL, 10)));
    OK(tg_policy_set_flags(&policy, TG_POLICY_ALLOW_MISSING_KID));
    int cases = 0, accepted = 0;
    for (int i = 0; i < d->n; i++) {
        const tg_line *l = &d->lines[i];
        if (l->kind != 'N') continue;
        OK(tg_cache_init(&cache, NULL));
        for (int k = 4; k < l->nfields; k++)
            OK(tg_cache_load_jwk(&cache, (const uint8_t *)l->field[k], l->len[k], 0, NULL));
        tg_result r = verify_jwt(l->field[3], l->len[3], now);
        const char *got = r == TG_RESULT_OK ? "accept" : tg_result_name(r);
        tg_checks++;
        if (strcmp(got, l->field[2]) != 0) {
            tg_failures++;
            fprintf(stderr, "negative corpus %s: %s, expected %s\n", l->field[1], got,
                    l->field[2]);
        }
        cases++;
        accepted += r == TG_RESULT_OK;
    }
    CHECK(cases == 138);
    printf("negative corpus: %d cases, %d accepted, the rest with their exact code\n", cases,
           accepted);
}

static void wycheproof_jws(const tg_data *d) {
    OK(tg_policy_init(&policy));
    OK(tg_policy_set_flags(&policy, TG_POLICY_IGNORE_ISSUER | TG_POLICY_IGNORE_AUDIENCE |
                                        TG_POLICY_ALLOW_MISSING_KID));
    /* valid accepted, invalid rejected, keys refused at import, exact overrides */
    int counts[4] = {0, 0, 0, 0};
    for (int i = 0; i < d->n; i++) {
        const tg_line *l = &d->lines[i];
        if (l->kind != 'W') continue;
        OK(tg_cache_init(&cache, NULL));
        uint8_t key_error = 0xEE;
        tg_result load = tg_cache_load_jwk(&cache, (const uint8_t *)l->field[4], l->len[4], 0,
                                           &key_error);
        CHECK(load == TG_RESULT_OK || (load == TG_RESULT_KEY_REFUSED && key_error != 0xEE));
        size_t len = l->len[3];
        uint8_t *work = malloc(len ? len : 1);
        const uint8_t *payload = NULL;
        size_t payload_len = 0;
        tg_result r = tg_cache_verify_jws(&cache, &policy, (const uint8_t *)l->field[3], len,
                                          1700000000, work, len, &payload, &payload_len);
        if (r == TG_RESULT_OK) CHECK(payload >= work && payload + payload_len <= work + len);
        free(work);
        const char *want = l->field[2];
        int ok = 1;
        if (strcmp(want, "valid") != 0 && strcmp(want, "invalid") != 0) {
            ok = strcmp(r == TG_RESULT_OK ? "ok" : tg_result_name(r), want) == 0;
            counts[3]++;
        } else if (load != TG_RESULT_OK) {
            ok = r != TG_RESULT_OK;
            counts[2]++;
        } else if (strcmp(want, "valid") == 0) {
            ok = r == TG_RESULT_OK;
            counts[0]++;
        } else {
            ok = r != TG_RESULT_OK;
            counts[1]++;
        }
        tg_checks++;
        if (!ok) {
            tg_failures++;
            fprintf(stderr, "wycheproof tcId %s: %s, expected %s\n", l->field[1],
                    tg_result_name(r), want);
        }
    }
    /* The same split as tests/tests/wycheproof_jws.rs: 40 valid accepted, 349 invalid
     * rejected, 6 with a key refused at import, 6 with a documented exact outcome. */
    CHECK(counts[0] == 40 && counts[1] == 349 && counts[2] == 6 && counts[3] == 6);
    printf("wycheproof JWS: %d valid accepted, %d invalid rejected, %d keys refused, "
           "%d exact overrides\n",
           counts[0], counts[1], counts[2], counts[3]);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS.tsv\n", argv[0]);
        return 2;
    }
    tg_data d = tg_load(argv[1]);
    negative_corpus(&d);
    wycheproof_jws(&d);
    tg_free(&d);
    return tg_report("test_vectors");
}
