/* fork_exit: cost of fork + child _exit(0) + parent waitpid, for a parent with N touched pages.
 *
 * For each N (pages of private anonymous memory, each written before timing) the parent,
 * pinned to one CPU with sched_setaffinity (the child inherits the mask), loops:
 *   t0; pid = fork(); [child: _exit(0)]; t1 (fork returned in the parent); waitpid; t2
 * and records t2-t0 (fork+exit+wait) and t1-t0 (the fork syscall as the parent sees it).
 * A third loop times one copy-on-write fault: the child writes one page of the parent's
 * region and reports the write's duration through a MAP_SHARED page.
 * A fourth loop splits one fork+exit+wait into phases (see phases()).
 * Warm-up iterations are discarded; medians and interquartile ranges are printed in ns.
 *
 * Build: cc -O2 -o /tmp/fork_exit measure/fork_exit.c
 * Run:   /tmp/fork_exit [iterations] [cpu]     (defaults 2000, 0)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static void report(const char *what, long npages, long long *v, int n)
{
	qsort(v, n, sizeof v[0], cmp);
	printf("%-18s pages=%-5ld median=%8lld ns  q1=%8lld  q3=%8lld  iqr=%7lld  (n=%d)\n",
	       what, npages, v[n / 2], v[n / 4], v[3 * n / 4], v[3 * n / 4] - v[n / 4], n);
}

/* The phases of one fork+exit+wait (1 page-size region only, cheap): the child stamps its first
 * instruction and the moment before _exit into a shared page; the parent waits with WNOWAIT (the
 * child is a zombie, not reaped), then times the reaping waitpid alone. */
static void phases(char *mem, long n, int iters, int warm, volatile long long *shared)
{
	long long *sw = calloc(iters, sizeof(long long)), *ex = calloc(iters, sizeof(long long)),
		  *rp = calloc(iters, sizeof(long long));
	siginfo_t si;

	(void)mem;
	for (int i = -warm; i < iters; i++) {
		long long t1, t3;
		pid_t pid = fork();
		if (pid == 0) {
			shared[1] = now_ns();
			shared[2] = now_ns();
			_exit(0);
		}
		t1 = now_ns();
		waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
		t3 = now_ns();
		waitpid(pid, NULL, 0);
		if (i >= 0) {
			sw[i] = shared[1] - t1;             /* parent returns from fork, sleeps; child first runs */
			ex[i] = t3 - shared[2];             /* child _exit until the parent's wait returns */
			rp[i] = now_ns() - t3;              /* waitpid reaping the zombie */
		}
	}
	report("switch to child", n, sw, iters);
	report("exit until wake", n, ex, iters);
	report("waitpid reap", n, rp, iters);
	free(sw); free(ex); free(rp);
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 2000, cpu = argc > 2 ? atoi(argv[2]) : 0;
	int warm = iters / 10 + 10;
	long sizes[] = {1, 64, 1024, 4096};
	long pg = sysconf(_SC_PAGESIZE);
	long long *total = calloc(iters, sizeof(long long)), *forkt = calloc(iters, sizeof(long long));
	volatile long long *shared = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		perror("sched_setaffinity");
	for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		long n = sizes[s];
		char *mem = mmap(NULL, n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) { perror("mmap"); return 1; }
		for (long i = 0; i < n; i++)
			mem[i * pg] = 1;                         /* touched: present, written, anonymous */
		for (int i = -warm; i < iters; i++) {
			long long t0 = now_ns(), t1;
			pid_t pid = fork();
			if (pid == 0)
				_exit(0);
			t1 = now_ns();
			waitpid(pid, NULL, 0);
			if (i >= 0) {
				total[i] = now_ns() - t0;
				forkt[i] = t1 - t0;
			}
			for (long j = 0; j < n; j++)
				mem[j * pg] = 2;                 /* write again: the parent's pages were write-protected */
		}
		report("fork+exit+wait", n, total, iters);
		report("fork (parent)", n, forkt, iters);
		for (int i = -warm; i < iters; i++) {
			pid_t pid = fork();
			if (pid == 0) {
				long long a = now_ns();
				mem[0] = 3;                      /* copy-on-write fault on a shared anon page */
				*shared = now_ns() - a;
				_exit(0);
			}
			waitpid(pid, NULL, 0);
			if (i >= 0)
				total[i] = *shared;
			mem[0] = 2;
		}
		report("cow write fault", n, total, iters);
		phases(mem, n, iters, warm, shared);
		munmap(mem, n * pg);
	}
	return 0;
}
