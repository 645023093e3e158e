/* The C library's cost on the Cortex-M4 model, as fw-bench measures the Rust firmware: under
 * QEMU `-icount shift=7` one instruction takes 128 ns of virtual time and the CMSDK TIMER0
 * counts at 25 MHz (40 ns per tick), so a tick count rounds to the exact instruction count. For each of the firmware benchmark's
 * fixtures (F lines of the test data): instructions per tg_cache_verify of a full token (best
 * of three) and the stack it used. `cargo xtask capi` runs it and compares ES256 and RS256
 * with docs/firmware.md.
 *
 * Usage (argv from the startup file): bench VECTORS.tsv */
#include "tg_test.h"

#define TIMER0_CTRL (*(volatile uint32_t *)0x40000000u)
#define TIMER0_VALUE (*(volatile uint32_t *)0x40000004u)
#define TIMER0_RELOAD (*(volatile uint32_t *)0x40000008u)
#define PAINT 0xC5C5C5C5u
#define PAINT_WORDS (48u * 1024u / 4u)

static tg_cache cache;
static tg_policy policy;

static uint32_t ticks(void) { return 0xFFFFFFFFu - TIMER0_VALUE; }

/* Two reads n instructions apart differ by 3.2n ticks, less than one off: rounding
 * ticks * 40 ns / 128 ns gives n exactly. */
static uint32_t instructions(uint32_t t) { return (uint32_t)(((uint64_t)t * 40u + 64u) / 128u); }

/* Paints the PAINT_WORDS words below the current stack pointer; returns the lowest. */
static __attribute__((noinline)) uint32_t *paint(void) {
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    uint32_t *top = sp - 64; /* below this frame */
    uint32_t *low = top - PAINT_WORDS;
    for (volatile uint32_t *p = low; p < top; p++) *p = PAINT;
    return low;
}

/* Bytes of the painted region that were written, from the top of it. */
static uint32_t used(const uint32_t *low) {
    const uint32_t *p = low;
    while (p < low + PAINT_WORDS && *p == PAINT) p++;
    return (uint32_t)(PAINT_WORDS - (uint32_t)(p - low)) * 4u;
}

static __attribute__((noinline)) tg_result run(const char *token, size_t len, uint8_t *work,
                                                tg_claims *claims) {
    return tg_cache_verify(&cache, &policy, (const uint8_t *)token, len, 1700000300, work, len,
                           claims);
}

int main(int argc, char **argv) {
    static uint8_t work[2048];
    if (argc != 2) return 2;
    tg_data d = tg_load(argv[1]);
    TIMER0_CTRL = 0;
    TIMER0_RELOAD = 0xFFFFFFFFu;
    TIMER0_VALUE = 0xFFFFFFFFu;
    TIMER0_CTRL = 1;
    OK(tg_policy_init(&policy));
    OK(tg_policy_set_issuer(&policy, S("https://issuer.example")));
    OK(tg_policy_add_audience(&policy, S("device-1")));
    for (int i = 0; i < d.n; i++) {
        const tg_line *l = &d.lines[i];
        if (l->kind != 'F') continue;
        OK(tg_cache_init(&cache, NULL));
        OK(tg_cache_load_jwk(&cache, (const uint8_t *)l->field[2], l->len[2], 0, NULL));
        uint32_t best = 0xFFFFFFFFu, stack = 0;
        for (int k = 0; k < 3; k++) {
            tg_claims claims;
            uint32_t *low = paint();
            uint32_t t0 = ticks();
            tg_result r = run(l->field[3], l->len[3], work, &claims);
            uint32_t dt = ticks() - t0;
            uint32_t s = used(low);
            CHECK_RESULT(r, TG_RESULT_OK);
            if (dt < best) best = dt;
            if (s > stack) stack = s;
        }
        printf("capi-bench alg=%s verify_insns=%lu verify_stack=%lu\n", l->field[1],
               (unsigned long)instructions(best), (unsigned long)stack);
    }
    printf("capi-bench sizes cache=%u policy=%u replay=%u\n", (unsigned)sizeof(tg_cache),
           (unsigned)sizeof(tg_policy), (unsigned)sizeof(tg_replay));
    /* What initialising each object takes from the caller's stack (objects are built in
     * their storage, not on the stack and copied). */
    {
        uint32_t *low = paint();
        OK(tg_cache_init(&cache, NULL));
        uint32_t cache_stack = used(low);
        low = paint();
        OK(tg_policy_init(&policy));
        uint32_t policy_stack = used(low);
        printf("capi-bench init_stack cache=%lu policy=%lu\n", (unsigned long)cache_stack,
               (unsigned long)policy_stack);
    }
    tg_free(&d);
    return tg_report("capi-bench");
}
