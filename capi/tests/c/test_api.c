/* The C API as a C program uses it, written from include/tokenguard.h and docs/c-api.md:
 * every call's NULL and uninitialised-object checks, buffers one byte too small, JWK Set
 * streaming with its all-or-nothing rule, the refresh schedule, policies, the claims view,
 * the replay cache, minting with software keys and a callback signer, statistics, and at
 * the end a check that every result code was produced by some call.
 *
 * Usage: test_api VECTORS.tsv  (made by capi/tests/make_vectors.py) */
#include "tg_test.h"

static tg_data D;
static const uint64_t NOW = 1700000300; /* inside the test tokens' lifetime */

static const char *key(const char *name) { return tg_get(&D, 'K', name); }
static const char *token(const char *name) { return tg_get(&D, 'T', name); }

/* The named key as a JWK Set document. */
static char *jwks_of(const char *const *names, int n) {
    size_t cap = 64;
    for (int i = 0; i < n; i++) cap += strlen(key(names[i])) + 1;
    char *doc = malloc(cap);
    strcpy(doc, "{\"keys\":[");
    for (int i = 0; i < n; i++) {
        if (i) strcat(doc, ",");
        strcat(doc, key(names[i]));
    }
    strcat(doc, "]}");
    return doc;
}

static tg_result verify(tg_cache *c, const tg_policy *p, const char *tok, uint64_t now,
                        uint8_t *work, tg_claims *claims) {
    return tg_cache_verify(c, p, S(tok), now, work, strlen(tok), claims);
}

static void version(void) {
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", TG_VERSION_MAJOR, TG_VERSION_MINOR,
             TG_VERSION_PATCH);
    CHECK(strcmp(tg_version(), want) == 0);
    CHECK(strcmp(tg_result_name(TG_RESULT_OK), "ok") == 0);
    CHECK(strcmp(tg_result_name(TG_RESULT_BAD_SIGNATURE), "bad_signature") == 0);
    CHECK(TG_RESULT_BAD_SIGNATURE == 7 && TG_RESULT_REPLAYED == 18);
    CHECK(strcmp(tg_result_name(19), "unknown") == 0);
    CHECK(strcmp(tg_result_name(0xFFFFFFFFu), "unknown") == 0);
}

/* NULL objects, uninitialised objects, objects of another type, misaligned objects. */
static void null_and_uninitialised(void) {
    static tg_cache c;
    static tg_policy p;
    static tg_replay r;
    tg_claims claims;
    uint8_t work[16];
    size_t n;
    uint32_t u;
    memset(&c, 0xAB, sizeof c);
    memset(&p, 0xAB, sizeof p);
    memset(&r, 0xAB, sizeof r);

    CHECK_RESULT(tg_cache_init(NULL, NULL), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_key_count(&c, &n), TG_RESULT_NOT_INITIALIZED);
    CHECK_RESULT(tg_cache_key_count(NULL, &n), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_load_jwk(&c, S("{}"), 0, NULL), TG_RESULT_NOT_INITIALIZED);
    CHECK_RESULT(tg_cache_poll(&c, NOW, &u), TG_RESULT_NOT_INITIALIZED);
    CHECK_RESULT(tg_cache_jwks_begin(&c, TG_NO_MAX_AGE), TG_RESULT_NOT_INITIALIZED);
    CHECK_RESULT(tg_policy_set_issuer(&p, S("x")), TG_RESULT_NOT_INITIALIZED);
    CHECK_RESULT(tg_policy_set_issuer(NULL, S("x")), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_replay_len(&r, NOW, &n), TG_RESULT_NOT_INITIALIZED);
    CHECK_RESULT(tg_replay_init(NULL, 60), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_verify(&c, &p, S("a.b.c"), NOW, work, sizeof work, &claims),
                 TG_RESULT_NOT_INITIALIZED);

    OK(tg_cache_init(&c, NULL));
    OK(tg_policy_init(&p));
    OK(tg_replay_init(&r, 60));
    /* An object of another type is not initialised as this one. */
    CHECK_RESULT(tg_cache_key_count((const tg_cache *)(const void *)&p, &n),
                 TG_RESULT_NOT_INITIALIZED);
    CHECK_RESULT(tg_policy_set_leeway((tg_policy *)(void *)&r, 5), TG_RESULT_NOT_INITIALIZED);
    /* Misaligned storage is refused before it is touched. */
    CHECK_RESULT(tg_cache_key_count((const tg_cache *)(const void *)((char *)&c + 1), &n),
                 TG_RESULT_INVALID_ARGUMENT);

    /* NULL inputs and outputs of initialised objects. */
    CHECK_RESULT(tg_cache_key_count(&c, NULL), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_load_jwk(&c, NULL, 3, 0, NULL), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_remove_key(&c, NULL, 0), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_key_info(&c, 0, NULL), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_poll(&c, NOW, NULL), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_freshness(&c, NOW, NULL), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_stats(&c, NULL), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_jwks_chunk(&c, NOW, NULL, 1, NULL), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_refresh_policy_default(NULL), TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_policy_add_audience(&p, NULL, 1), TG_RESULT_NULL_ARGUMENT);
    OK(tg_policy_set_flags(&p, TG_POLICY_IGNORE_ISSUER | TG_POLICY_IGNORE_AUDIENCE));
    CHECK_RESULT(tg_cache_verify(&c, NULL, S("a.b.c"), NOW, work, sizeof work, &claims),
                 TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_verify(&c, &p, NULL, 5, NOW, work, sizeof work, &claims),
                 TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_verify(&c, &p, S("a.b.c"), NOW, NULL, 16, &claims),
                 TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_cache_verify(&c, &p, S("a.b.c"), NOW, work, sizeof work, NULL),
                 TG_RESULT_NULL_ARGUMENT);
    CHECK_RESULT(tg_replay_check(&r, NULL, NOW), TG_RESULT_NULL_ARGUMENT);
    memset(&claims, 0, sizeof claims);
    CHECK_RESULT(tg_replay_check(&r, &claims, NOW), TG_RESULT_NOT_INITIALIZED);
    CHECK_RESULT(tg_claims_get_int(&claims, S("exp"), (int64_t *)work), TG_RESULT_NOT_INITIALIZED);
    CHECK_RESULT(tg_claims_get_int(NULL, S("exp"), (int64_t *)work), TG_RESULT_NULL_ARGUMENT);
}

static void keys(void) {
    static tg_cache c;
    uint8_t ke = 0xEE;
    size_t n = 99;
    tg_key_info info;
    OK(tg_cache_init(&c, NULL));
    OK(tg_cache_key_count(&c, &n));
    CHECK(n == 0);
    OK(tg_cache_load_jwk(&c, S(key("hs-1")), 0, &ke));
    CHECK(ke == 0xEE); /* written only on refusal */
    OK(tg_cache_load_jwk(&c, S(key("ec-1")), TG_LOAD_PINNED, NULL));
    OK(tg_cache_key_count(&c, &n));
    CHECK(n == 2);
    OK(tg_cache_key_info(&c, 1, &info));
    CHECK(info.kid_len == 4 && memcmp(info.kid, "ec-1", 4) == 0);
    CHECK(info.kty == 1 && info.alg == TG_ALG_ES256 && info.pinned == 1 && info.bits == 256);
    OK(tg_cache_key_info(&c, 0, &info));
    CHECK(info.kty == 3 && info.alg == TG_ALG_HS256 && info.pinned == 0);
    CHECK_RESULT(tg_cache_key_info(&c, 2, &info), TG_RESULT_NOT_FOUND);

    /* Refusals carry the device protocol's key error code; the keys are unchanged. */
    CHECK_RESULT(tg_cache_load_jwk(&c, S("{\"kty\":\"oct\",\"kid\":\"s\",\"k\":\"AAEC\"}"), 0, &ke),
                 TG_RESULT_KEY_REFUSED);
    CHECK(ke == 15); /* symmetric key size */
    CHECK_RESULT(tg_cache_load_jwk(&c, S("{\"kty\":\"oct\""), 0, &ke), TG_RESULT_KEY_REFUSED);
    CHECK(ke == 0); /* JSON */
    CHECK_RESULT(tg_cache_load_jwk(&c, S("{\"kty\":\"XYZ\",\"kid\":\"u\"}"), 0, &ke),
                 TG_RESULT_KEY_REFUSED);
    CHECK(ke == 4); /* unsupported kty */
    CHECK_RESULT(tg_cache_load_jwk(&c, S(key("RFC7520-RSA-private")), 0, &ke),
                 TG_RESULT_KEY_REFUSED);
    CHECK(ke == 16); /* a private key where a public key is expected */
    CHECK_RESULT(tg_cache_load_jwk(&c, S(key("hs-1")), 2, NULL), TG_RESULT_INVALID_ARGUMENT);
    OK(tg_cache_key_count(&c, &n));
    CHECK(n == 2);

    /* Full: eight slots. */
    char jwk[160];
    for (int i = 0; i < 6; i++) {
        snprintf(jwk, sizeof jwk,
                 "{\"kty\":\"oct\",\"kid\":\"f%d\",\"alg\":\"HS256\",\"k\":"
                 "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}",
                 i);
        OK(tg_cache_load_jwk(&c, S(jwk), 0, NULL));
    }
    CHECK_RESULT(tg_cache_load_jwk(&c, S(key("attacker")), 0, NULL), TG_RESULT_FULL);
    OK(tg_cache_remove_key(&c, S("f3")));
    CHECK_RESULT(tg_cache_remove_key(&c, S("f3")), TG_RESULT_NOT_FOUND);
    OK(tg_cache_key_count(&c, &n));
    CHECK(n == 7);
}

/* JWK Set updates never leave less than they found. */
static void jwks_streaming(void) {
    static tg_cache c;
    static tg_policy p;
    tg_jwks_report rep;
    tg_claims claims;
    uint8_t work[1024];
    size_t n;
    const char *one[] = {"hs-1"};
    char *doc = jwks_of(one, 1);
    OK(tg_cache_init(&c, NULL));
    OK(tg_policy_init(&p));
    OK(tg_policy_set_issuer(&p, S("https://issuer.example")));
    OK(tg_policy_add_audience(&p, S("device-1")));

    CHECK_RESULT(tg_cache_jwks_chunk(&c, NOW, S("{"), NULL), TG_RESULT_NO_UPDATE);
    CHECK_RESULT(tg_cache_jwks_end(&c, NOW, NULL), TG_RESULT_NO_UPDATE);
    CHECK_RESULT(tg_cache_jwks_abort(&c), TG_RESULT_NO_UPDATE);

    /* One byte at a time. */
    OK(tg_cache_fetch_started(&c, NOW));
    OK(tg_cache_jwks_begin(&c, 600));
    for (size_t i = 0; i < strlen(doc); i++)
        OK(tg_cache_jwks_chunk(&c, NOW, (const uint8_t *)doc + i, 1, &rep));
    OK(tg_cache_jwks_chunk(&c, NOW, (const uint8_t *)"", 0, NULL));
    memset(&rep, 0x77, sizeof rep);
    OK(tg_cache_jwks_end(&c, NOW, &rep));
    CHECK(rep.loaded == 1 && rep.skipped == 0 && rep.refusal == 0 && rep.skips_logged == 0);
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));

    /* Valid but empty: refused (no usable key), the old key stays. */
    OK(tg_cache_jwks_begin(&c, 600));
    OK(tg_cache_jwks_chunk(&c, NOW, S("{\"keys\":[]}"), NULL));
    CHECK_RESULT(tg_cache_jwks_end(&c, NOW, &rep), TG_RESULT_JWKS_REFUSED);
    CHECK(rep.refusal == 5 && rep.needed == 0 && rep.free == TG_MAX_KEYS - 1);
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));

    /* Every key unusable: refused, with the skip log. */
    OK(tg_cache_jwks_begin(&c, 600));
    OK(tg_cache_jwks_chunk(&c, NOW, S("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"s\",\"k\":\"AAEC\"}]}"),
                           &rep));
    CHECK(rep.skipped == 1 && rep.skips_logged == 1 && rep.skip_index[0] == 0 &&
          rep.skip_reason[0] == 15);
    CHECK_RESULT(tg_cache_jwks_end(&c, NOW, &rep), TG_RESULT_JWKS_REFUSED);
    CHECK(rep.refusal == 5 && rep.skipped == 1);
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));

    /* A JSON error mid-stream ends the update; the old key stays. */
    OK(tg_cache_jwks_begin(&c, 600));
    OK(tg_cache_jwks_chunk(&c, NOW, S("{\"keys\":["), NULL));
    CHECK_RESULT(tg_cache_jwks_chunk(&c, NOW, S("}}"), &rep), TG_RESULT_JWKS_REFUSED);
    CHECK(rep.refusal == 0);
    CHECK_RESULT(tg_cache_jwks_end(&c, NOW, NULL), TG_RESULT_NO_UPDATE);
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));

    /* Cut short: incomplete. */
    OK(tg_cache_jwks_begin(&c, 600));
    OK(tg_cache_jwks_chunk(&c, NOW, (const uint8_t *)doc, strlen(doc) - 1, NULL));
    CHECK_RESULT(tg_cache_jwks_end(&c, NOW, &rep), TG_RESULT_JWKS_REFUSED);
    CHECK(rep.refusal == 2);

    /* Nine new keys for eight slots: refused with needed/free, the old set stays. */
    size_t cap = 4096, len = 0;
    char *big = malloc(cap);
    len += (size_t)snprintf(big + len, cap - len, "{\"keys\":[");
    for (int i = 0; i < 9; i++)
        len += (size_t)snprintf(big + len, cap - len,
                                "%s{\"kty\":\"oct\",\"kid\":\"n%d\",\"alg\":\"HS256\",\"k\":"
                                "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}",
                                i ? "," : "", i);
    len += (size_t)snprintf(big + len, cap - len, "]}");
    OK(tg_cache_jwks_begin(&c, 600));
    OK(tg_cache_jwks_chunk(&c, NOW, (const uint8_t *)big, len, NULL));
    CHECK_RESULT(tg_cache_jwks_end(&c, NOW, &rep), TG_RESULT_JWKS_REFUSED);
    /* The old key keeps its slot until a new set is in force: 7 free; 7 of the 9 found one. */
    CHECK(rep.refusal == 6 && rep.needed == 9 && rep.free == 7);
    CHECK(rep.loaded == 7 && rep.skipped == 2 && rep.skips_logged == 2 && rep.skip_reason[0] == 19);
    OK(tg_cache_key_count(&c, &n));
    CHECK(n == 1);
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));

    /* Abort: nothing counted, nothing changed. */
    OK(tg_cache_jwks_begin(&c, 600));
    OK(tg_cache_jwks_chunk(&c, NOW, S("{\"keys\":"), NULL));
    OK(tg_cache_jwks_abort(&c));
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));

    tg_stats st;
    OK(tg_cache_stats(&c, &st));
    /* Refused: empty, unusable, JSON error, incomplete, no space. */
    CHECK(st.fetches == 1 && st.fetch_failures == 5 && st.updates_refused == 3);
    CHECK(st.accepted == 6);
    free(big);
    free(doc);
}

static void refresh_schedule(void) {
    static tg_cache c;
    static tg_policy p;
    tg_refresh_policy rp;
    tg_claims claims;
    uint8_t work[1024];
    uint32_t reason, fresh;
    const char *one[] = {"hs-1"};
    char *doc = jwks_of(one, 1);
    OK(tg_refresh_policy_default(&rp));
    CHECK(rp.default_max_age == 3600 && rp.retry_after == 30 && rp.stale_for == 3600);
    rp.min_max_age = 10;
    rp.max_max_age = 5;
    CHECK_RESULT(tg_cache_init(&c, &rp), TG_RESULT_INVALID_ARGUMENT);
    OK(tg_refresh_policy_default(&rp));
    OK(tg_cache_init(&c, &rp));
    OK(tg_policy_init(&p));
    OK(tg_policy_set_flags(&p, TG_POLICY_IGNORE_ISSUER | TG_POLICY_IGNORE_AUDIENCE));

    const uint64_t t0 = 1699990000;
    OK(tg_cache_poll(&c, t0, &reason));
    CHECK(reason == TG_FETCH_INITIAL);
    OK(tg_cache_freshness(&c, t0, &fresh));
    CHECK(fresh == TG_FRESHNESS_NEVER_LOADED);
    OK(tg_cache_fetch_started(&c, t0));
    OK(tg_cache_fetch_failed(&c, t0));
    OK(tg_cache_poll(&c, t0 + 29, &reason));
    CHECK(reason == TG_FETCH_NONE);
    OK(tg_cache_poll(&c, t0 + 30, &reason));
    CHECK(reason == TG_FETCH_RETRY);

    const uint64_t t1 = t0 + 40;
    OK(tg_cache_fetch_started(&c, t1));
    OK(tg_cache_jwks_begin(&c, 600));
    OK(tg_cache_jwks_chunk(&c, t1, S(doc), NULL));
    OK(tg_cache_jwks_end(&c, t1, NULL));
    OK(tg_cache_freshness(&c, t1, &fresh));
    CHECK(fresh == TG_FRESHNESS_FRESH);
    OK(tg_cache_poll(&c, t1 + 599, &reason));
    CHECK(reason == TG_FETCH_NONE);
    OK(tg_cache_poll(&c, t1 + 600, &reason));
    CHECK(reason == TG_FETCH_EXPIRED);
    OK(tg_cache_freshness(&c, t1 + 600, &fresh));
    CHECK(fresh == TG_FRESHNESS_STALE);
    /* Past the stale window, fetched keys are refused. */
    uint64_t late = t1 + 600 + 3600;
    OK(tg_cache_freshness(&c, late, &fresh));
    CHECK(fresh == TG_FRESHNESS_EXPIRED);
    CHECK(late < 1700000300);
    CHECK_RESULT(verify(&c, &p, token("ok"), NOW, work, &claims), TG_RESULT_KEY_REJECTED);

    /* An unknown kid asks for a refetch, at most once a minute. */
    OK(tg_cache_init(&c, NULL));
    OK(tg_cache_fetch_started(&c, NOW - 100));
    OK(tg_cache_jwks_begin(&c, 3600));
    OK(tg_cache_jwks_chunk(&c, NOW - 100, S(doc), NULL));
    OK(tg_cache_jwks_end(&c, NOW - 100, NULL));
    OK(tg_cache_poll(&c, NOW, &reason));
    CHECK(reason == TG_FETCH_NONE);
    CHECK_RESULT(verify(&c, &p, token("unknown_kid"), NOW, work, &claims),
                 TG_RESULT_KEY_NOT_FOUND);
    OK(tg_cache_poll(&c, NOW, &reason));
    CHECK(reason == TG_FETCH_UNKNOWN_KID);
    free(doc);
}

static void policies(void) {
    static tg_cache c;
    static tg_policy p;
    tg_claims claims;
    uint8_t work[1024];
    char long_str[TG_POLICY_STR_MAX + 2];
    OK(tg_cache_init(&c, NULL));
    OK(tg_cache_load_jwk(&c, S(key("hs-1")), 0, NULL));
    OK(tg_policy_init(&p));

    CHECK_RESULT(verify(&c, &p, token("ok"), NOW, work, &claims), TG_RESULT_POLICY_INCOMPLETE);
    OK(tg_policy_set_issuer(&p, S("https://issuer.example")));
    CHECK_RESULT(verify(&c, &p, token("ok"), NOW, work, &claims), TG_RESULT_POLICY_INCOMPLETE);
    OK(tg_policy_add_audience(&p, S("device-1")));
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));

    memset(long_str, 'a', sizeof long_str);
    CHECK_RESULT(tg_policy_set_issuer(&p, (const uint8_t *)long_str, TG_POLICY_STR_MAX + 1),
                 TG_RESULT_INVALID_ARGUMENT);
    OK(tg_policy_set_subject(&p, (const uint8_t *)long_str, TG_POLICY_STR_MAX));
    CHECK_RESULT(tg_policy_set_issuer(&p, (const uint8_t *)"\xff\xfe", 2), TG_RESULT_BAD_UTF8);
    CHECK_RESULT(tg_policy_set_algorithms(&p, 0), TG_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(tg_policy_set_algorithms(&p, 1u << 15), TG_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(tg_policy_set_leeway(&p, 601), TG_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(tg_policy_set_flags(&p, 0x10), TG_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(tg_policy_require_claims(&p, 0x80), TG_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(tg_policy_set_limits(&p, 0, 8), TG_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(tg_policy_set_limits(&p, 4096, 64), TG_RESULT_INVALID_ARGUMENT);

    /* subject */
    OK(tg_policy_set_subject(&p, S("u1")));
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));
    CHECK_RESULT(verify(&c, &p, token("wrong_sub"), NOW, work, &claims), TG_RESULT_WRONG_SUBJECT);
    /* audiences: any one of them */
    OK(tg_policy_init(&p));
    OK(tg_policy_set_issuer(&p, S("https://issuer.example")));
    OK(tg_policy_add_audience(&p, S("other")));
    CHECK_RESULT(verify(&c, &p, token("ok"), NOW, work, &claims), TG_RESULT_WRONG_AUDIENCE);
    OK(tg_policy_add_audience(&p, S("device-1")));
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));
    OK(tg_policy_add_audience(&p, S("c")));
    OK(tg_policy_add_audience(&p, S("d")));
    CHECK_RESULT(tg_policy_add_audience(&p, S("e")), TG_RESULT_FULL);
    /* typ */
    OK(tg_policy_set_typ(&p, S("JWT")));
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));
    CHECK_RESULT(verify(&c, &p, token("typ_at"), NOW, work, &claims), TG_RESULT_WRONG_TYPE);
    /* algorithms */
    OK(tg_policy_set_algorithms(&p, 1u << TG_ALG_ES256));
    CHECK_RESULT(verify(&c, &p, token("ok"), NOW, work, &claims), TG_RESULT_ALG_NOT_ALLOWED);
    OK(tg_policy_set_algorithms(&p, TG_ALGS_ALL));
    /* required claims */
    OK(tg_policy_require_claims(&p, TG_CLAIM_JTI | TG_CLAIM_IAT));
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));
    CHECK_RESULT(verify(&c, &p, token("no_jti"), NOW, work, &claims), TG_RESULT_MISSING_CLAIM);
    CHECK_RESULT(verify(&c, &p, token("no_iat"), NOW, work, &claims), TG_RESULT_MISSING_CLAIM);
    OK(tg_policy_require_claims(&p, 0));
    CHECK_RESULT(verify(&c, &p, token("no_exp"), NOW, work, &claims), TG_RESULT_MISSING_CLAIM);
    OK(tg_policy_set_flags(&p, TG_POLICY_ALLOW_MISSING_EXP));
    OK(verify(&c, &p, token("no_exp"), NOW, work, &claims));
    CHECK(!claims.has_exp);
    /* kid */
    CHECK_RESULT(verify(&c, &p, token("no_kid"), NOW, work, &claims), TG_RESULT_KEY_NOT_FOUND);
    OK(tg_policy_set_flags(&p, TG_POLICY_ALLOW_MISSING_KID));
    OK(verify(&c, &p, token("no_kid"), NOW, work, &claims));
    /* max age, max lifetime */
    OK(tg_policy_set_max_age(&p, 100));
    CHECK_RESULT(verify(&c, &p, token("ok"), NOW, work, &claims), TG_RESULT_EXPIRED);
    OK(tg_policy_set_max_age(&p, 0));
    OK(tg_policy_set_max_lifetime(&p, 3600));
    CHECK_RESULT(verify(&c, &p, token("long_life"), NOW, work, &claims), TG_RESULT_INVALID_CLAIM);
    OK(tg_policy_set_max_lifetime(&p, 0));
    OK(verify(&c, &p, token("long_life"), NOW, work, &claims));
    /* time */
    CHECK_RESULT(verify(&c, &p, token("ok"), 1700000600 + 60, work, &claims), TG_RESULT_EXPIRED);
    CHECK_RESULT(verify(&c, &p, token("ok"), 1700000000 - 61, work, &claims),
                 TG_RESULT_NOT_YET_VALID);
    CHECK_RESULT(verify(&c, &p, token("no_nbf"), 1700000000 - 61, work, &claims),
                 TG_RESULT_ISSUED_IN_FUTURE);
    /* limits */
    OK(tg_policy_set_limits(&p, strlen(token("ok")) - 1, 16));
    CHECK_RESULT(verify(&c, &p, token("ok"), NOW, work, &claims), TG_RESULT_TOO_LARGE);
    OK(tg_policy_set_limits(&p, strlen(token("ok")), 16));
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));
    OK(tg_policy_set_issuer(&p, S("https://other.example")));
    CHECK_RESULT(verify(&c, &p, token("ok"), NOW, work, &claims), TG_RESULT_WRONG_ISSUER);
}

/* The work buffer must hold the token's length; one byte less is refused and the claims
 * view is left as it was. */
static void buffers(void) {
    static tg_cache c;
    static tg_policy p;
    tg_claims claims, before;
    const char *tok = token("ok");
    size_t len = strlen(tok);
    uint8_t *work = malloc(len);
    OK(tg_cache_init(&c, NULL));
    OK(tg_cache_load_jwk(&c, S(key("hs-1")), 0, NULL));
    OK(tg_policy_init(&p));
    OK(tg_policy_set_flags(&p, TG_POLICY_IGNORE_ISSUER | TG_POLICY_IGNORE_AUDIENCE));
    memset(&claims, 0x5A, sizeof claims);
    before = claims;
    CHECK_RESULT(tg_cache_verify(&c, &p, S(tok), NOW, work, len - 1, &claims),
                 TG_RESULT_BUFFER_TOO_SMALL);
    CHECK(memcmp(&claims, &before, sizeof claims) == 0);
    OK(tg_cache_verify(&c, &p, S(tok), NOW, work, len, &claims));
    CHECK(claims.alg == TG_ALG_HS256 && claims.has_exp && claims.exp == 1700000600);
    CHECK(claims.has_iat && claims.iat == 1700000000 && claims.has_nbf);
    const uint8_t *payload = NULL;
    size_t payload_len = 0;
    CHECK_RESULT(tg_cache_verify_jws(&c, &p, S(tok), NOW, work, len - 1, &payload, &payload_len),
                 TG_RESULT_BUFFER_TOO_SMALL);
    CHECK(payload == NULL && payload_len == 0);
    OK(tg_cache_verify_jws(&c, &p, S(tok), NOW, work, len, &payload, &payload_len));
    CHECK(payload_len > 0 && payload[0] == '{' && payload[payload_len - 1] == '}');
    /* A JWS is not read as claims: a policy that names no issuer or audience will do. */
    static tg_policy bare;
    OK(tg_policy_init(&bare));
    CHECK_RESULT(tg_cache_verify(&c, &bare, S(tok), NOW, work, len, &claims),
                 TG_RESULT_POLICY_INCOMPLETE);
    OK(tg_cache_verify_jws(&c, &bare, S(tok), NOW, work, len, &payload, &payload_len));
    free(work);
}

static void claims_view(void) {
    static tg_cache c;
    static tg_policy p;
    tg_claims claims;
    uint8_t work[2048];
    char out[64];
    size_t n = 0;
    int64_t v = 0;
    bool b = false;
    OK(tg_cache_init(&c, NULL));
    OK(tg_cache_load_jwk(&c, S(key("hs-1")), 0, NULL));
    OK(tg_policy_init(&p));
    OK(tg_policy_set_flags(&p, TG_POLICY_IGNORE_ISSUER | TG_POLICY_IGNORE_AUDIENCE));
    OK(verify(&c, &p, token("ok"), NOW, work, &claims));

    OK(tg_claims_get_str(&claims, S("scope"), (uint8_t *)out, 11, &n));
    CHECK(n == 10 && strcmp(out, "read write") == 0);
    n = 77;
    CHECK_RESULT(tg_claims_get_str(&claims, S("scope"), (uint8_t *)out, 10, &n),
                 TG_RESULT_BUFFER_TOO_SMALL);
    CHECK(n == 77);
    OK(tg_claims_get_str(&claims, S("esc"), (uint8_t *)out, sizeof out, &n));
    CHECK(n == 7 && memcmp(out, "a\"b\\\n\xc3\xa9", 8) == 0);
    OK(tg_claims_get_str(&claims, S("iss"), (uint8_t *)out, sizeof out, &n));
    CHECK(strcmp(out, "https://issuer.example") == 0);
    CHECK_RESULT(tg_claims_get_str(&claims, S("count"), (uint8_t *)out, sizeof out, &n),
                 TG_RESULT_CLAIM_TYPE);
    CHECK_RESULT(tg_claims_get_str(&claims, S("nope"), (uint8_t *)out, sizeof out, &n),
                 TG_RESULT_NOT_FOUND);
    CHECK_RESULT(tg_claims_get_str(&claims, (const uint8_t *)"\xc3", 1, (uint8_t *)out,
                                   sizeof out, &n),
                 TG_RESULT_BAD_UTF8);
    OK(tg_claims_get_int(&claims, S("count"), &v));
    CHECK(v == 42);
    OK(tg_claims_get_int(&claims, S("neg"), &v));
    CHECK(v == -7);
    OK(tg_claims_get_int(&claims, S("exp"), &v));
    CHECK(v == 1700000600);
    CHECK_RESULT(tg_claims_get_int(&claims, S("big"), &v), TG_RESULT_CLAIM_TYPE);
    CHECK_RESULT(tg_claims_get_int(&claims, S("frac"), &v), TG_RESULT_CLAIM_TYPE);
    CHECK_RESULT(tg_claims_get_int(&claims, S("obj"), &v), TG_RESULT_CLAIM_TYPE);
    CHECK(v == 1700000600);
    OK(tg_claims_get_bool(&claims, S("admin"), &b));
    CHECK(b == true);
    CHECK_RESULT(tg_claims_get_bool(&claims, S("scope"), &b), TG_RESULT_CLAIM_TYPE);
    OK(tg_claims_has_audience(&claims, S("device-1"), &b));
    CHECK(b == true);
    OK(tg_claims_has_audience(&claims, S("x"), &b));
    CHECK(b == false);

    OK(verify(&c, &p, token("aud_array"), NOW, work, &claims));
    OK(tg_claims_has_audience(&claims, S("x"), &b));
    CHECK(b == true);
    OK(tg_claims_has_audience(&claims, S("y"), &b));
    CHECK(b == false);

    /* A private claim twice: the token verifies, reading that claim is refused. */
    OK(verify(&c, &p, token("dup_scope"), NOW, work, &claims));
    CHECK_RESULT(tg_claims_get_str(&claims, S("scope"), (uint8_t *)out, sizeof out, &n),
                 TG_RESULT_MALFORMED);
    OK(tg_claims_get_int(&claims, S("count"), &v));
}

static void replay(void) {
    static tg_cache c;
    static tg_policy p;
    static tg_replay r;
    tg_claims claims;
    uint8_t work[1024];
    size_t n;
    char name[32];
    OK(tg_cache_init(&c, NULL));
    OK(tg_cache_load_jwk(&c, S(key("hs-1")), 0, NULL));
    OK(tg_policy_init(&p));
    OK(tg_policy_set_flags(&p, TG_POLICY_IGNORE_ISSUER | TG_POLICY_IGNORE_AUDIENCE |
                                   TG_POLICY_ALLOW_MISSING_EXP));
    CHECK_RESULT(tg_replay_init(&r, 601), TG_RESULT_INVALID_ARGUMENT);
    OK(tg_replay_init(&r, 60));

    OK(verify(&c, &p, token("ok"), NOW, work, &claims));
    OK(tg_replay_check(&r, &claims, NOW));
    CHECK_RESULT(tg_replay_check(&r, &claims, NOW), TG_RESULT_REPLAYED);
    OK(verify(&c, &p, token("jti_2"), NOW, work, &claims));
    OK(tg_replay_check(&r, &claims, NOW));
    OK(tg_replay_len(&r, NOW, &n));
    CHECK(n == 2);
    OK(verify(&c, &p, token("no_jti"), NOW, work, &claims));
    CHECK_RESULT(tg_replay_check(&r, &claims, NOW), TG_RESULT_MISSING_CLAIM);
    OK(verify(&c, &p, token("no_exp"), NOW, work, &claims));
    CHECK_RESULT(tg_replay_check(&r, &claims, NOW), TG_RESULT_MISSING_CLAIM);
    OK(verify(&c, &p, token("jti_long"), NOW, work, &claims));
    CHECK_RESULT(tg_replay_check(&r, &claims, NOW), TG_RESULT_INVALID_CLAIM);
    OK(verify(&c, &p, token("jti_2"), NOW, work, &claims));
    CHECK_RESULT(tg_replay_check(&r, &claims, 1700000600 + 60), TG_RESULT_EXPIRED);

    /* Full of live entries: refuses rather than forgets. */
    OK(tg_replay_init(&r, 60));
    for (int i = 0; i < 33; i++) {
        snprintf(name, sizeof name, "fill_%d", i);
        OK(verify(&c, &p, token(name), NOW, work, &claims));
        CHECK_RESULT(tg_replay_check(&r, &claims, NOW),
                     i < TG_REPLAY_ENTRIES ? TG_RESULT_OK : TG_RESULT_REPLAYED);
    }
    OK(tg_replay_len(&r, NOW, &n));
    CHECK(n == TG_REPLAY_ENTRIES);
    /* Entries are forgotten once past exp + leeway. */
    OK(tg_replay_len(&r, 1700000600 + 60, &n));
    CHECK(n == TG_REPLAY_ENTRIES); /* live through exp + leeway */
    OK(tg_replay_len(&r, 1700000600 + 61, &n));
    CHECK(n == 0);
}

/* The negative corpus' codes, once each, through the public calls (the whole corpus runs in
 * test_vectors). */
static void corpus_codes(void) {
    static tg_cache c;
    static tg_policy p;
    const tg_line *pl = NULL;
    for (int i = 0; i < D.n && !pl; i++)
        if (D.lines[i].kind == 'P') pl = &D.lines[i];
    if (!pl) {
        CHECK(0);
        return;
    }
    OK(tg_policy_init(&p));
    OK(tg_policy_set_issuer(&p, S(pl->field[3])));
    OK(tg_policy_add_audience(&p, S(pl->field[4])));
    OK(tg_policy_set_limits(&p, 4096, 8));
    OK(tg_policy_set_flags(&p, TG_POLICY_ALLOW_MISSING_KID));
    unsigned char done[256] = {0};
    for (int i = 0; i < D.n; i++) {
        const tg_line *l = &D.lines[i];
        if (l->kind != 'N' || strcmp(l->field[2], "accept") == 0) continue;
        tg_result want = TG_RESULT_OK;
        for (unsigned code = 1; code < 0x50; code++)
            if (strcmp(tg_result_name(code), l->field[2]) == 0) want = (tg_result)code;
        CHECK(want != TG_RESULT_OK);
        if (done[want]) continue;
        done[want] = 1;
        OK(tg_cache_init(&c, NULL));
        for (int k = 4; k < l->nfields; k++) OK(tg_cache_load_jwk(&c, S(l->field[k]), 0, NULL));
        uint8_t *work = malloc(l->len[3] + 1);
        tg_claims claims;
        CHECK_RESULT(tg_cache_verify(&c, &p, (const uint8_t *)l->field[3], l->len[3], 1700000300,
                                     work, l->len[3], &claims),
                     want);
        free(work);
    }
}

#if defined(TG_FEATURE_SIGNING)
static tg_result verify_minted(const char *jwk, const char *jwt, const char *iss,
                               const char *aud, uint64_t now, tg_claims *claims,
                               uint8_t *work) {
    static tg_cache c;
    static tg_policy p;
    OK(tg_cache_init(&c, NULL));
    OK(tg_cache_load_jwk(&c, S(jwk), 0, NULL));
    OK(tg_policy_init(&p));
    OK(tg_policy_set_issuer(&p, S(iss)));
    OK(tg_policy_add_audience(&p, S(aud)));
    OK(tg_policy_set_typ(&p, S("JWT")));
    return tg_cache_verify(&c, &p, S(jwt), now, work, strlen(jwt), claims);
}

struct hw {
    int calls;
    tg_result answer;
    size_t give;
    uint8_t msg[1024];
    size_t msg_len;
};

/* A stand-in secure element: records the signing input, returns 0x11 bytes. */
static tg_result hw_sign(void *user, const uint8_t *msg, size_t msg_len, uint8_t *sig,
                         size_t cap, size_t *sig_len) {
    struct hw *h = user;
    h->calls++;
    if (msg_len <= sizeof h->msg) {
        memcpy(h->msg, msg, msg_len);
        h->msg_len = msg_len;
    }
    if (h->answer != TG_RESULT_OK) return h->answer;
    if (cap < h->give) return TG_RESULT_BUFFER_TOO_SMALL;
    memset(sig, 0x11, h->give);
    *sig_len = h->give;
    return TG_RESULT_OK;
}

static void signing(void) {
    static tg_signer s;
    char jwt[2048], pub[1024];
    uint8_t work[2048];
    size_t n = 0, m = 0;
    uint8_t alg = 0;
    tg_claims claims;
    char out[64];
    const char *user = "318438939318438939", *issuer = "https://zitadel.example";

    memset(&s, 0xAB, sizeof s);
    CHECK_RESULT(tg_signer_alg(&s, &alg), TG_RESULT_NOT_INITIALIZED);
    CHECK_RESULT(tg_signer_init_jwk(NULL, S(key("okp-ed25519-private"))), TG_RESULT_NULL_ARGUMENT);

    /* Ed25519 software key: ZITADEL service user, verified with its public JWK. */
    OK(tg_signer_init_jwk(&s, S(key("okp-ed25519-private"))));
    OK(tg_signer_alg(&s, &alg));
    CHECK(alg == TG_ALG_EDDSA);
    OK(tg_signer_public_jwk(&s, (uint8_t *)pub, sizeof pub, &m));
    CHECK(m == strlen(pub) && strstr(pub, "\"d\"") == NULL);
    CHECK_RESULT(tg_signer_public_jwk(&s, (uint8_t *)pub, m, &n), TG_RESULT_BUFFER_TOO_SMALL);
    OK(tg_assertion_zitadel_service_user(&s, S(user), S(issuer), NOW, 600, NULL, 0,
                                         (uint8_t *)jwt, sizeof jwt, &n));
    CHECK(n == strlen(jwt));
    /* Exactly the length plus the NUL fits; one byte less does not. */
    size_t need = n + 1;
    OK(tg_assertion_zitadel_service_user(&s, S(user), S(issuer), NOW, 600, NULL, 0,
                                         (uint8_t *)jwt, need, &n));
    size_t before = n;
    CHECK_RESULT(tg_assertion_zitadel_service_user(&s, S(user), S(issuer), NOW, 600, NULL, 0,
                                                   (uint8_t *)jwt, need - 1, &n),
                 TG_RESULT_BUFFER_TOO_SMALL);
    CHECK(n == before);
    OK(tg_assertion_zitadel_service_user(&s, S(user), S(issuer), NOW, 600, NULL, 0,
                                         (uint8_t *)jwt, sizeof jwt, &n));
    OK(verify_minted(pub, jwt, user, issuer, NOW, &claims, work));
    OK(tg_claims_get_str(&claims, S("sub"), (uint8_t *)out, sizeof out, &m));
    CHECK(strcmp(out, user) == 0);
    CHECK(claims.iat == NOW - 5 && claims.exp == NOW - 5 + 600);
    CHECK_RESULT(tg_assertion_zitadel_service_user(&s, S(user), S(issuer), NOW, 3601, NULL, 0,
                                                   (uint8_t *)jwt, sizeof jwt, &n),
                 TG_RESULT_INVALID_ARGUMENT);
    OK(tg_assertion_zitadel_api_app(&s, S("app-1"), S(issuer), NOW, 60, NULL, 0, (uint8_t *)jwt,
                                    sizeof jwt, &n));
    OK(verify_minted(pub, jwt, "app-1", issuer, NOW, &claims, work));
    OK(tg_assertion_zitadel_system_api(&s, S("sys-user"), S("https://zitadel.example:8080"), NOW,
                                       NULL, 0, (uint8_t *)jwt, sizeof jwt, &n));
    OK(verify_minted(pub, jwt, "sys-user", "https://zitadel.example:8080", NOW, &claims, work));
    CHECK(claims.exp - claims.iat == 3600);
    CHECK_RESULT(tg_assertion_zitadel_system_api(&s, S("sys-user"), S("zitadel.example"), NOW,
                                                 NULL, 0, (uint8_t *)jwt, sizeof jwt, &n),
                 TG_RESULT_INVALID_ARGUMENT);

    /* RSA from PKCS#1 PEM: Auth0 private_key_jwt, RS256 and PS256 (PSS needs a salt). */
    const char *endpoint = "https://tenant.example/oauth/token";
    const char *rsa_pub = key("RFC7520-RSA-public");
    OK(tg_signer_init_pem(&s, S(key("rsa-pem")), S("bilbo.baggins@hobbiton.example"), 255));
    OK(tg_signer_alg(&s, &alg));
    CHECK(alg == TG_ALG_RS256);
    OK(tg_assertion_auth0_private_key_jwt(&s, S("client-1"), S(endpoint), S("jti-1"), NOW, 60,
                                          NULL, 0, (uint8_t *)jwt, sizeof jwt, &n));
    OK(verify_minted(rsa_pub, jwt, "client-1", endpoint, NOW, &claims, work));
    OK(tg_claims_get_str(&claims, S("jti"), (uint8_t *)out, sizeof out, &m));
    CHECK(strcmp(out, "jti-1") == 0);
    CHECK_RESULT(tg_assertion_auth0_private_key_jwt(&s, S("client-1"), S(endpoint), S("jti-1"),
                                                    NOW, 301, NULL, 0, (uint8_t *)jwt,
                                                    sizeof jwt, &n),
                 TG_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(tg_signer_init_pem(&s, S(key("rsa-pem")), NULL, 0, 99),
                 TG_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(tg_signer_init_pem(&s, S("not a key"), NULL, 0, 255), TG_RESULT_SIGN_FAILED);
    OK(tg_signer_init_pem(&s, S(key("rsa-pem")), S("bilbo.baggins@hobbiton.example"),
                          TG_ALG_PS256));
    uint8_t salt[32];
    memset(salt, 7, sizeof salt);
    CHECK_RESULT(tg_assertion_auth0_private_key_jwt(&s, S("client-1"), S(endpoint), S("jti-2"),
                                                    NOW, 60, NULL, 0, (uint8_t *)jwt,
                                                    sizeof jwt, &n),
                 TG_RESULT_SIGN_FAILED);
    OK(tg_assertion_auth0_private_key_jwt(&s, S("client-1"), S(endpoint), S("jti-2"), NOW, 60,
                                          salt, sizeof salt, (uint8_t *)jwt, sizeof jwt, &n));
    /* The RFC 7520 public key is bound to no alg: PS256 verifies with it. */
    OK(verify_minted(rsa_pub, jwt, "client-1", endpoint, NOW, &claims, work));
    CHECK(claims.alg == TG_ALG_PS256);

    /* HMAC: no public JWK to give. */
    OK(tg_signer_init_jwk(&s, S(key("RFC7520-oct-sig"))));
    CHECK_RESULT(tg_signer_public_jwk(&s, (uint8_t *)pub, sizeof pub, &m), TG_RESULT_UNSUPPORTED);

    /* A callback signer: the library hands it the exact signing input. */
    struct hw h;
    memset(&h, 0, sizeof h);
    h.give = 64;
    CHECK_RESULT(tg_signer_init_callback(&s, TG_ALG_ES256, S("se-1"), 63, hw_sign, &h),
                 TG_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(tg_signer_init_callback(&s, 99, S("se-1"), 64, hw_sign, &h),
                 TG_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(tg_signer_init_callback(&s, TG_ALG_ES256, S("se-1"), 64, NULL, &h),
                 TG_RESULT_NULL_ARGUMENT);
    OK(tg_signer_init_callback(&s, TG_ALG_ES256, S("se-1"), 64, hw_sign, &h));
    CHECK_RESULT(tg_signer_public_jwk(&s, (uint8_t *)pub, sizeof pub, &m), TG_RESULT_UNSUPPORTED);
    OK(tg_assertion_zitadel_service_user(&s, S(user), S(issuer), NOW, 600, NULL, 0,
                                         (uint8_t *)jwt, sizeof jwt, &n));
    CHECK(h.calls == 1);
    const char *last_dot = strrchr(jwt, '.');
    CHECK(last_dot && (size_t)(last_dot - jwt) == h.msg_len &&
          memcmp(jwt, h.msg, h.msg_len) == 0);
    /* 64 bytes of 0x11 in base64url: 21 groups of "ERER", then "EQ". */
    char sig[128] = "";
    for (int i = 0; i < 21; i++) strcat(sig, "ERER");
    strcat(sig, "EQ");
    CHECK(last_dot && strcmp(last_dot + 1, sig) == 0);
    /* The header names the callback's alg and kid: {"alg":"ES256","typ":"JWT","kid":"se-1"}. */
    CHECK(strncmp(jwt, "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InNlLTEifQ.", 55) == 0);
    h.answer = TG_RESULT_FULL;
    CHECK_RESULT(tg_assertion_zitadel_service_user(&s, S(user), S(issuer), NOW, 600, NULL, 0,
                                                   (uint8_t *)jwt, sizeof jwt, &n),
                 TG_RESULT_SIGN_FAILED);
    h.answer = TG_RESULT_OK;
    h.give = 63;
    CHECK_RESULT(tg_assertion_zitadel_service_user(&s, S(user), S(issuer), NOW, 600, NULL, 0,
                                                   (uint8_t *)jwt, sizeof jwt, &n),
                 TG_RESULT_SIGN_FAILED);

    OK(tg_signer_clear(&s));
    CHECK_RESULT(tg_signer_alg(&s, &alg), TG_RESULT_NOT_INITIALIZED);
    OK(tg_signer_clear(&s));
    CHECK_RESULT(tg_signer_clear(NULL), TG_RESULT_NULL_ARGUMENT);
}
#endif

/* Every result code the header declares, produced by some call above (UNSUPPORTED needs a
 * software signer, so a verification-only build cannot produce it). */
static void every_code_was_seen(void) {
    static const tg_result all[] = {
        TG_RESULT_OK, TG_RESULT_MALFORMED, TG_RESULT_TOO_LARGE, TG_RESULT_UNSUPPORTED_ALG,
        TG_RESULT_ALG_NOT_ALLOWED, TG_RESULT_KEY_NOT_FOUND, TG_RESULT_KEY_REJECTED,
        TG_RESULT_BAD_SIGNATURE, TG_RESULT_EXPIRED, TG_RESULT_NOT_YET_VALID,
        TG_RESULT_ISSUED_IN_FUTURE, TG_RESULT_WRONG_ISSUER, TG_RESULT_WRONG_AUDIENCE,
        TG_RESULT_WRONG_SUBJECT, TG_RESULT_WRONG_TYPE, TG_RESULT_MISSING_CLAIM,
        TG_RESULT_INVALID_CLAIM, TG_RESULT_CRIT_UNSUPPORTED, TG_RESULT_REPLAYED,
        TG_RESULT_KEY_REFUSED, TG_RESULT_JWKS_REFUSED, TG_RESULT_NOT_FOUND, TG_RESULT_NO_UPDATE,
        TG_RESULT_FULL,
#if defined(TG_FEATURE_SIGNING)
        TG_RESULT_UNSUPPORTED, TG_RESULT_SIGN_FAILED,
#endif
        TG_RESULT_NULL_ARGUMENT, TG_RESULT_NOT_INITIALIZED, TG_RESULT_BUFFER_TOO_SMALL,
        TG_RESULT_BAD_UTF8, TG_RESULT_INVALID_ARGUMENT, TG_RESULT_POLICY_INCOMPLETE,
        TG_RESULT_CLAIM_TYPE,
    };
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        tg_checks++;
        if (!tg_seen[all[i]]) {
            tg_failures++;
            fprintf(stderr, "no call produced %s\n", tg_result_name(all[i]));
        }
        CHECK(strcmp(tg_result_name(all[i]), "unknown") != 0);
        n++;
    }
    printf("every result code produced: %d codes\n", n);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS.tsv\n", argv[0]);
        return 2;
    }
    D = tg_load(argv[1]);
    version();
    null_and_uninitialised();
    keys();
    jwks_streaming();
    refresh_schedule();
    policies();
    buffers();
    claims_view();
    replay();
    corpus_codes();
#if defined(TG_FEATURE_SIGNING)
    signing();
#endif
    every_code_was_seen();
    tg_free(&D);
    return tg_report("test_api");
}
