/* Startup for the bare-metal C tests on QEMU mps2-an386 (Cortex-M4F): the vector table, the
 * FPU switched on (the library and newlib are built for the hard-float ABI), .data copied
 * and .bss zeroed, newlib's semihosting stdio (librdimon) set up, then the test's main with
 * the arguments this image was built for (TG_ARGS, a comma-separated list of strings), and
 * its status back to QEMU through semihosting's exit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);
extern int tg_test_main(int argc, char **argv);

#define CPACR (*(volatile uint32_t *)0xE000ED88u)

void Reset_Handler(void);

/* No crti/crtn (-nostartfiles): the hooks __libc_init_array and exit call. */
void _init(void) {}
void _fini(void) {}

static void fault(void) { _exit(3); }

__attribute__((section(".isr_vector"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_estack,
    Reset_Handler,
    fault, /* NMI */
    fault, /* HardFault */
    fault, /* MemManage */
    fault, /* BusFault */
    fault, /* UsageFault */
};

void Reset_Handler(void) {
    /* CP10 and CP11 full access, before any floating-point instruction. */
    CPACR |= 0xFu << 20;
    __asm volatile("dsb\n\tisb" ::: "memory");
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    initialise_monitor_handles();
    __libc_init_array();
    char *argv[] = {"tg-test", TG_ARGS, NULL};
    exit(tg_test_main((int)(sizeof argv / sizeof argv[0]) - 1, argv));
}
