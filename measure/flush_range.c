/*
 * flush_range: what one madvise(MADV_DONTNEED) or munmap of N pages flushes on this kernel.
 *
 * A 1 MB private anonymous mapping is touched by two threads pinned to CPUs 0 and 1 (so the mm
 * is loaded on both); the main thread then removes N pages from page 64 of it, for
 * N = 1, 8, 32, 33, 34, 64, writing a marker to /sys/kernel/tracing/trace_marker around each
 * call. With the tlb:tlb_flush tracepoint enabled, the trace shows what flush_tlb_mm_range did
 * for each call: "pages:N" (INVLPG per page) or "pages:-1" (a full flush). run_flush_range.sh
 * builds it, enables the event, runs it and prints the lines between the markers.
 *
 * Build: cc -O2 -pthread -o flush_range flush_range.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL
#define NPAGES 256UL
#define OFFSET 64UL

static volatile int stop;
static volatile char *region;

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *spinner(void *arg)
{
	(void)arg;
	pin(1);
	while (!stop)
		(void)region[0];        /* keep running in the mm on CPU 1 */
	return NULL;
}

static void marker(int fd, const char *what, unsigned long n)
{
	char buf[64];
	int len = snprintf(buf, sizeof(buf), "flush_range %s %lu\n", what, n);
	if (write(fd, buf, len) < 0)
		perror("trace_marker");
}

int main(int argc, char **argv)
{
	int use_munmap = argc > 1 && strcmp(argv[1], "munmap") == 0;
	static const unsigned long sizes[] = {1, 8, 32, 33, 34, 64};
	int fd = open("/sys/kernel/tracing/trace_marker", O_WRONLY);
	pthread_t t;

	if (fd < 0) {
		perror("open trace_marker");
		return 1;
	}
	pin(0);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned long n = sizes[i];
		char *base = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (base == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		region = base;
		stop = 0;
		pthread_create(&t, NULL, spinner, NULL);
		for (unsigned long p = 0; p < NPAGES; p++)
			base[p * PAGE] = 1;
		usleep(2000);           /* let the spinner run on CPU 1 */
		marker(fd, "begin", n);
		if (use_munmap)
			munmap(base + OFFSET * PAGE, n * PAGE);
		else
			madvise(base + OFFSET * PAGE, n * PAGE, MADV_DONTNEED);
		marker(fd, "end", n);
		stop = 1;
		pthread_join(t, NULL);
		munmap(base, NPAGES * PAGE);
	}
	close(fd);
	return 0;
}
