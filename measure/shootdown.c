/* An independent check of `smpsim calibrate`'s remote-shootdown and per-page invalidation figures
 * (issue 21): a program calibrate does not run, measuring differently (batches of calls timed as a
 * whole, no per-call timing, no pairing, its own spinner).
 *
 * Build: cc -O2 -pthread -o /tmp/shootdown measure/shootdown.c
 * Run:   /tmp/shootdown [CPU_A CPU_B]        (default 0 1)
 *
 * For N = 1 and 8 pages of a written 256-page private anonymous mapping: write the N pages, then
 * madvise(MADV_DONTNEED) them, 2000 times per batch, 31 batches; the figure is the median batch's
 * mean time per write+madvise, (a) with the process alone on CPU_A and (b) with a second thread
 * spinning on CPU_B (the mm loaded there: each madvise shoots it down). Prints the four medians,
 * the remote extra (b - a at N = 1) and the per-page slope ((a at 8 - a at 1) / 7), which
 * include the writes' faults: compare the slope with calibrate's madvise and fault figures.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096
#define BATCHES 31
#define CALLS 2000

static volatile int stop;
static int cpu_b;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof s, &s) != 0) {
		perror("sched_setaffinity");
		exit(1);
	}
}

static void *spin(void *arg)
{
	(void)arg;
	pin(cpu_b);
	while (!stop)
		;
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double run(char *p, int n)
{
	double v[BATCHES];
	for (int b = 0; b < BATCHES; b++) {
		double t0 = now();
		for (int c = 0; c < CALLS; c++) {
			for (int i = 0; i < n; i++)
				p[i * PAGE] = 1;
			madvise(p, (size_t)n * PAGE, MADV_DONTNEED);
		}
		v[b] = (now() - t0) / CALLS;
	}
	qsort(v, BATCHES, sizeof v[0], cmp);
	return v[BATCHES / 2];
}

int main(int argc, char **argv)
{
	int cpu_a = argc > 2 ? atoi(argv[1]) : 0;
	cpu_b = argc > 2 ? atoi(argv[2]) : 1;
	pin(cpu_a);
	char *p = mmap(NULL, 256 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(p, 256 * PAGE, MADV_NOHUGEPAGE);
	for (int i = 0; i < 256; i++)
		p[i * PAGE] = 1;
	run(p, 1);                                   /* warm up */
	double l1 = run(p, 1), l8 = run(p, 8);
	pthread_t t;
	pthread_create(&t, NULL, spin, NULL);
	double r1 = run(p, 1), r8 = run(p, 8);
	stop = 1;
	pthread_join(t, NULL);
	printf("write+madvise ns: local N=1 %.0f  N=8 %.0f   remote N=1 %.0f  N=8 %.0f\n", l1, l8, r1, r8);
	printf("remote extra (N=1): %.0f ns   per-page slope (local, 1->8): %.1f ns\n", r1 - l1, (l8 - l1) / 7);
	return 0;
}
