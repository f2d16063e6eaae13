/* will-it-scale's tlb_flush2 loop, one thread alone on one CPU: ns per iteration.
 *
 * Build: cc -O2 -o /tmp/tlb_flush2 measure/tlb_flush2.c
 * Run:   /tmp/tlb_flush2 [cpu, default 0] [passes, default 201]
 *
 * One iteration, as antonblanchard/will-it-scale tests/tlb_flush2.c: write a page of a 1 MB
 * private anonymous mapping (a fault: a fresh zeroed page), madvise(page, 4096, MADV_DONTNEED)
 * (the page is zapped, flushed locally, freed), read it back (a fault: the zero page). Each pass
 * maps 1 MB, runs its 256 iterations and unmaps it; the figure is the median over passes of the
 * time per iteration (the mmap and munmap included, as in will-it-scale).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define MEMORYSIZE (1 << 20)

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int cpu = argc > 1 ? atoi(argv[1]) : 0;
	int passes = argc > 2 ? atoi(argv[2]) : 201;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	double *per = malloc(passes * sizeof(double));
	for (int p = 0; p < passes; p++) {
		double t0 = now_ns();
		char *addr = mmap(NULL, MEMORYSIZE, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
		for (long i = 0; i < MEMORYSIZE; i += 4096) {
			*(volatile char *)(addr + i) = 1;
			madvise(addr + i, 4096, MADV_DONTNEED);
			assert(*(volatile char *)(addr + i) == 0);
		}
		munmap(addr, MEMORYSIZE);
		per[p] = (now_ns() - t0) / (MEMORYSIZE / 4096);
	}
	qsort(per, passes, sizeof(double), cmp);
	printf("tlb_flush2, 1 thread on cpu %d, %d passes of 256 iterations: median %.0f ns per iteration\n",
	       cpu, passes, per[passes / 2]);
	return 0;
}
