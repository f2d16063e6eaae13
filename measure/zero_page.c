/* The zero page's remote flush: read-then-write of N fresh anonymous pages while a second thread
 * of the same process spins on the other CPU (so the mm is loaded there).
 *
 * Build: cc -O2 -pthread -o /tmp/zero_page measure/zero_page.c
 * Run:   perf stat -e tlb:tlb_flush -a -- /tmp/zero_page 4096 rw   (read, then write, each page)
 *        perf stat -e tlb:tlb_flush -a -- /tmp/zero_page 4096 w    (write only: the control)
 *        perf record -e tlb:tlb_flush -a -- /tmp/zero_page 4096 rw; perf script | ... (reasons)
 *
 * On Linux a read fault maps the shared zero page; the write then goes through wp_page_copy,
 * whose ptep_clear_flush flushes the page on every CPU of the mm: one IPI to the spinning CPU per
 * page (tlb_flush reason TLB_REMOTE_SHOOTDOWN there). The write-only run faults fresh pages with
 * no previous PTE, so no flush.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static volatile int stop;

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *spin(void *arg)
{
	(void)arg;
	pin(1);
	while (!stop)
		;
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 4096;
	int read_first = argc > 2 ? strcmp(argv[2], "w") != 0 : 1;
	pthread_t t;
	pin(0);
	pthread_create(&t, NULL, spin, NULL);
	volatile char *p = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	long sum = 0;
	for (long i = 0; i < n; i++) {
		if (read_first)
			sum += p[i * 4096];       /* read fault: the zero page, read-only */
		p[i * 4096] = 1;                  /* write: wp_page_copy, or a fresh page if not read */
	}
	stop = 1;
	pthread_join(t, NULL);
	printf("%ld pages, %s, sum %ld\n", n, read_first ? "read then write" : "write only", sum);
	return 0;
}
