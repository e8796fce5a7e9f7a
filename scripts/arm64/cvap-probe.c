/* Runs DC CVAC, and DC CVAP when the kernel reports DCPOP, on one cache line.
 * Used by scripts/test-arm64.sh to check that the emulator executes the instruction it
 * advertises (Debian's qemu-user 7.2 reports DCPOP with -cpu max, then raises SIGILL). */
#include <stdio.h>
#include <sys/auxv.h>

#define DCPOP_BIT (1UL << 16) /* HWCAP_DCPOP */

static char line[256] __attribute__((aligned(64)));

int main(void) {
  int dcpop = (getauxval(AT_HWCAP) & DCPOP_BIT) != 0;
  line[0] = 1;
  __asm__ volatile("dc cvac, %0" : : "r"(line) : "memory");
  __asm__ volatile("dsb ish" : : : "memory");
  printf("dcpop=%d cvac=ok\n", dcpop);
  fflush(stdout);
  if (dcpop) {
    /* DC CVAP, spelled as a SYS op so no -march=armv8.2-a is needed */
    __asm__ volatile("sys #3, c7, c12, #1, %0" : : "r"(line) : "memory");
    __asm__ volatile("dsb ish" : : : "memory");
    printf("cvap=ok\n");
  }
  return 0;
}
