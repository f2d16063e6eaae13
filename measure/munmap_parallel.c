/* Parallel munmaps of one process: two threads each munmap their own populated region at the same
 * time, against one thread alone (Linux >= 4.20 zaps under a read mmap_lock, so they overlap).
 *
 * Build: cc -O2 -pthread -o /tmp/munmap_parallel measure/munmap_parallel.c
 * Run:   /tmp/munmap_parallel [MB per region, default 256] [rounds, default 21]
 * Prints the median over rounds of: one thread's munmap alone, and the elapsed time of two
 * concurrent munmaps (from the common start to the later end), and their ratio.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static size_t len;
static char *region[2];
static pthread_barrier_t bar;
static double t_end[2];

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static char *populate(void)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	return p;
}

static void *worker(void *arg)
{
	long i = (long)arg;
	pin((int)i);
	pthread_barrier_wait(&bar);
	munmap(region[i], len);
	t_end[i] = now_ns();
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	len = (size_t)(argc > 1 ? atol(argv[1]) : 256) << 20;
	int rounds = argc > 2 ? atoi(argv[2]) : 21;
	double one[rounds], two[rounds];
	for (int r = 0; r < rounds; r++) {
		pin(0);
		region[0] = populate();
		double t0 = now_ns();
		munmap(region[0], len);
		one[r] = now_ns() - t0;

		region[0] = populate();
		region[1] = populate();
		pthread_t th[2];
		pthread_barrier_init(&bar, NULL, 3);
		for (long i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, worker, (void *)i);
		t0 = now_ns();
		pthread_barrier_wait(&bar);
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		two[r] = (t_end[0] > t_end[1] ? t_end[0] : t_end[1]) - t0;
		pthread_barrier_destroy(&bar);
	}
	qsort(one, rounds, sizeof(double), cmp);
	qsort(two, rounds, sizeof(double), cmp);
	printf("%zu MB per region, %d rounds\n", len >> 20, rounds);
	printf("one munmap alone         median %.0f us\n", one[rounds / 2] / 1e3);
	printf("two concurrent munmaps   median %.0f us\n", two[rounds / 2] / 1e3);
	printf("ratio (two / one)        %.2f\n", two[rounds / 2] / one[rounds / 2]);
	return 0;
}
