/* The `elf` target's seeds: the smallest real executables a linker makes, static
 * (ET_EXEC), static PIE (ET_DYN) and dynamic (PT_INTERP), built by `make-elf-seeds.sh`. */
static const char message[] = "tiny\n";
static char scratch[64]; /* .bss: a segment with more memory than file bytes */

void _start(void) {
    long written;
    scratch[0] = message[0];
    __asm__ volatile("syscall" : "=a"(written) : "a"(1), "D"(1), "S"(message), "d"(5) : "rcx", "r11", "memory");
    __asm__ volatile("syscall" : : "a"(60), "D"(scratch[0] == 't' ? 0 : 1));
    for (;;) {
    }
}
