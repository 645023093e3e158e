/* A device, in C, on the tokenguard C library: it provisions the JWK Set its backend
 * publishes (streamed in small chunks, as it would arrive over a socket), verifies a command
 * token and reads its claims, refuses the same command twice, and mints the ZITADEL
 * assertion it authenticates with. No heap: every object is a static the program owns.
 *
 * Build (docs/c-api.md):
 *   cc -std=c11 -I capi/include capi/examples/device.c \
 *      capi/target/release/libtokenguard_capi.a -o device
 */
#include <stdio.h>
#include <string.h>

#include "tokenguard.h"

/* What the backend's JWKS endpoint returned (its Cache-Control said max-age=3600). */
static const char JWKS[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec-es256\",\"alg\":\"ES256\","
    "\"x\":\"-FtWin0L3w86Ot4gj3zMB4i-e53ramLzNyh31WdH1R0\","
    "\"y\":\"6mnN1tRnuz56J3ABhb_zwsbAHA9U0DCFQgg87oH4RnU\"}]}";

/* A command for this device, signed by the backend (ES256). */
static const char COMMAND[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImVjLWVzMjU2In0."
    "eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwic3ViIjoiZGV2aWNlLTAwNDJAZmxlZXQuZXhhbXBsZS5j"
    "b20iLCJhdWQiOlsiZGV2aWNlLTEiLCJ0ZWxlbWV0cnkiXSwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3MDAwMDAw"
    "MDAsIm5iZiI6MTcwMDAwMDAwMCwianRpIjoiN2IxZjZjMmUtOWE0ZC00YzFiLThlMmYtM2Q1YTZiN2M4ZDllIiwi"
    "c2NvcGUiOiJ0ZWxlbWV0cnk6d3JpdGUgY29uZmlnOnJlYWQiLCJ0ZW5hbnQiOiJhY21lLWluZHVzdHJpYWwiLCJy"
    "b2xlIjoic2Vuc29yIn0."
    "wGbqwAzZzbvSzruN1Bv56BsIgMTZ9PQ8EqXTHGDmePLQ0aexwZ4JB7rMSBnBN7JNoXlduNxbztMW4LbjMAk5Uw";

/* The device's own key (the RFC 8037 Ed25519 example key; a real device keeps its key in a
 * secure element and uses tg_signer_init_callback instead). */
static const char DEVICE_KEY[] =
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"device-0042-key\","
    "\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";

static tg_cache cache;
static tg_policy policy;
static tg_replay replay;
static tg_signer signer;
static uint8_t work[1024];

static int failed(const char *what, tg_result r) {
    fprintf(stderr, "%s: %s\n", what, tg_result_name(r));
    return 1;
}

int main(void) {
    const uint64_t now = 1700000300; /* the device's clock, unix seconds */
    tg_result r;

    /* Provision: the key set, fetched because nothing was loaded yet. */
    if ((r = tg_cache_init(&cache, NULL)) != TG_RESULT_OK) return failed("init", r);
    uint32_t reason = TG_FETCH_NONE;
    tg_cache_poll(&cache, now, &reason);
    printf("fetch due: %s\n", reason == TG_FETCH_INITIAL ? "initial" : "other");
    tg_cache_fetch_started(&cache, now);
    tg_cache_jwks_begin(&cache, 3600);
    for (size_t off = 0; off < sizeof JWKS - 1; off += 32) {
        size_t n = sizeof JWKS - 1 - off < 32 ? sizeof JWKS - 1 - off : 32;
        if ((r = tg_cache_jwks_chunk(&cache, now, (const uint8_t *)JWKS + off, n, NULL)) !=
            TG_RESULT_OK)
            return failed("jwks chunk", r);
    }
    tg_jwks_report report;
    if ((r = tg_cache_jwks_end(&cache, now, &report)) != TG_RESULT_OK)
        return failed("jwks end", r);
    printf("key set: %u loaded, %u skipped\n", report.loaded, report.skipped);

    /* The policy: this backend, this device, ES256 only, single-use commands. */
    tg_policy_init(&policy);
    tg_policy_set_issuer(&policy, (const uint8_t *)"https://issuer.example", 22);
    tg_policy_add_audience(&policy, (const uint8_t *)"device-1", 8);
    tg_policy_set_algorithms(&policy, 1u << TG_ALG_ES256);
    tg_policy_require_claims(&policy, TG_CLAIM_JTI);
    tg_replay_init(&replay, 60);

    /* A command arrives. */
    tg_claims claims;
    r = tg_cache_verify(&cache, &policy, (const uint8_t *)COMMAND, sizeof COMMAND - 1, now,
                        work, sizeof work, &claims);
    if (r != TG_RESULT_OK) return failed("verify", r);
    if ((r = tg_replay_check(&replay, &claims, now)) != TG_RESULT_OK)
        return failed("replay", r);
    char scope[64], role[32];
    size_t len;
    if ((r = tg_claims_get_str(&claims, (const uint8_t *)"scope", 5, (uint8_t *)scope,
                               sizeof scope, &len)) != TG_RESULT_OK)
        return failed("scope", r);
    if ((r = tg_claims_get_str(&claims, (const uint8_t *)"role", 4, (uint8_t *)role,
                               sizeof role, &len)) != TG_RESULT_OK)
        return failed("role", r);
    printf("command accepted: scope \"%s\", role \"%s\", expires %llu\n", scope, role,
           (unsigned long long)claims.exp);

    /* The same command again is refused. */
    r = tg_cache_verify(&cache, &policy, (const uint8_t *)COMMAND, sizeof COMMAND - 1, now,
                        work, sizeof work, &claims);
    if (r == TG_RESULT_OK) r = tg_replay_check(&replay, &claims, now);
    printf("the same command again: %s\n", tg_result_name(r));
    if (r != TG_RESULT_REPLAYED) return 1;

    /* The device authenticates to ZITADEL (JWT-bearer grant) with its own key. */
    if ((r = tg_signer_init_jwk(&signer, (const uint8_t *)DEVICE_KEY, sizeof DEVICE_KEY - 1)) !=
        TG_RESULT_OK)
        return failed("signer", r);
    char assertion[512];
    const char *user = "318438939318438939", *issuer = "https://zitadel.example";
    r = tg_assertion_zitadel_service_user(&signer, (const uint8_t *)user, strlen(user),
                                          (const uint8_t *)issuer, strlen(issuer), now, 300,
                                          NULL, 0, (uint8_t *)assertion, sizeof assertion,
                                          &len);
    if (r != TG_RESULT_OK) return failed("mint", r);
    printf("ZITADEL assertion (%zu bytes): %.40s...\n", len, assertion);
    tg_signer_clear(&signer);

    tg_stats stats;
    tg_cache_stats(&cache, &stats);
    printf("stats: %u accepted, %u fetches\n", stats.accepted, stats.fetches);
    return 0;
}
