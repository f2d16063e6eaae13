/* Cost of a bare system call and of touch + madvise(MADV_DONTNEED) of one page, on one CPU.
 *
 * Build: cc -O2 -o /tmp/syscall measure/syscall.c
 * Run:   /tmp/syscall [cpu]      (pins itself to `cpu`, default 0)
 *
 * Each figure is the median over BATCHES batches of ITERS calls (ns per call, CLOCK_MONOTONIC);
 * the process runs alone on the CPU (one thread), so the madvise's flush is local only.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BATCHES 101
#define ITERS 20000

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

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	int cpu = argc > 1 ? atoi(argv[1]) : 0;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		perror("sched_setaffinity");
		return 1;
	}
	static double bare[BATCHES], madv[BATCHES], touch[BATCHES];
	volatile char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (int b = 0; b < BATCHES; b++) {
		double t0 = now_ns();
		for (int i = 0; i < ITERS; i++)
			syscall(SYS_getppid);
		double t1 = now_ns();
		for (int i = 0; i < ITERS; i++) {
			page[0] = 1;                                  /* write fault: a fresh zeroed page */
			madvise((void *)page, 4096, MADV_DONTNEED);   /* zap it: PTE cleared, local flush, page freed */
		}
		double t2 = now_ns();
		for (int i = 0; i < ITERS; i++)
			page[0] = 1;                                  /* no fault: the baseline store */
		double t3 = now_ns();
		bare[b] = (t1 - t0) / ITERS;
		madv[b] = (t2 - t1) / ITERS;
		touch[b] = (t3 - t2) / ITERS;
	}
	printf("cpu %d, %d batches of %d\n", cpu, BATCHES, ITERS);
	printf("bare syscall (getppid)             median %.1f ns\n", median(bare, BATCHES));
	printf("write fault + madvise(DONTNEED) 1p median %.1f ns\n", median(madv, BATCHES));
	printf("store without fault                median %.1f ns\n", median(touch, BATCHES));
	return 0;
}
