/* Concurrent zero-page flushes of one mm: does Linux skip a flush another CPU's flush already
 * covered? (flush_tlb_func: `f->new_tlb_gen <= local_tlb_gen` returns without tracing.)
 *
 * Build: cc -O2 -pthread -o /tmp/flush_overlap measure/flush_overlap.c
 * Run:   perf record -e tlb:tlb_flush -e csd:csd_queue_cpu -a -o /tmp/fo.data -- /tmp/flush_overlap 8192 MODE
 *        perf script -i /tmp/fo.data | awk ...          (measure/results/flush_overlap.txt)
 * MODE one:  thread A (cpu0) reads then writes each of N fresh pages; thread B (cpu1) spins, so
 *            the mm is loaded there: every write replaces the zero page and flushes, locally and
 *            by IPI to B: N local flushes, N remote.
 * MODE both: A and B each read then write their own N/2 pages at the same time: still N zero-page
 *            replacements, each a flush of the same mm; where one CPU's IPI arrives while the other
 *            is between its own tlb_gen increment and its local flush, that CPU catches up with a
 *            full flush and its own local flush (and the IPI the other CPU then sends it) finds it
 *            up to date and is not traced.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static volatile int stop, go;
static char *region;
static long npages, per;
static int both;

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void touch(char *p, long n)
{
	volatile char sink = 0;
	for (long i = 0; i < n; i++)
		sink += p[i * 4096];          /* read: the zero page */
	for (long i = 0; i < n; i++)
		p[i * 4096] = 1;              /* write: wp_page_copy, ptep_clear_flush */
	(void)sink;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	pin((int)id);
	while (!go)
		;
	if (both)
		touch(region + id * per * 4096, per);
	else if (id == 0)
		touch(region, npages);
	if (!both && id == 1)
		while (!stop)
			;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[2], "one") && strcmp(argv[2], "both"))) {
		fprintf(stderr, "usage: %s NPAGES one|both\n", argv[0]);
		return 2;
	}
	npages = atol(argv[1]);
	both = !strcmp(argv[2], "both");
	per = npages / 2;
	region = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return 1;
	madvise(region, npages * 4096, MADV_NOHUGEPAGE);
	pthread_t t[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	go = 1;
	pthread_join(t[0], NULL);
	stop = 1;
	pthread_join(t[1], NULL);
	printf("%s: %ld pages read then written\n", argv[2], npages);
	return 0;
}
