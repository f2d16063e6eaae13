/*
 * calbench.c - the microbenchmarks behind `smpsim calibrate` (issue 21).
 *
 * One program, one benchmark per run:  calbench BENCH [options]
 *
 *   syscall                    bare syscall(SYS_getppid); ns per call
 *   madvise    -n N [-k K]     touch pages [0,N) of a 1 MB (256-page) private anonymous
 *                              mapping (not timed), then time madvise(addr, N*4096,
 *                              MADV_DONTNEED) alone with CLOCK_MONOTONIC around the call;
 *                              ns per call.  K = 0: name madvise_local_N.  K > 0: K extra
 *                              threads of this process, each pinned to one of the next K
 *                              CPUs of -c, spin on a volatile flag (no PAUSE: under KVM a
 *                              PAUSE loop may make the host deschedule the vCPU) so the mm
 *                              stays loaded there and every DONTNEED needs a remote
 *                              shootdown; name madvise_remote_N_tK.  Also reports the
 *                              quantiles of the single calls and spinner_cpu_share (the
 *                              least CPU time a spinner got over the wall time: below 1,
 *                              another task shared its CPU and some calls had no one to
 *                              shoot down).
 *   fork_exit  -p P            a parent with P written private anonymous pages times
 *                              fork() + child _exit(0) + parent waitpid(); the child
 *                              inherits the affinity.  ns per fork+exit+wait.
 *   slope      -m OP -n N      OP (madvise: MADV_DONTNEED; mprotect: PROT_READ) on 1 page and
 *                              on N pages of the written 1 MB mapping alternately, one CPU; ns
 *                              per extra page, (T(N) - T(1)) / (N - 1) of the median pair:
 *                              name OP_local_slope_N.
 *   fork_pair  -p P            fork+exit+wait alternately with 1 and P present pages of one
 *                              P-page mapping (the others dropped by MADV_DONTNEED, untimed);
 *                              ns per present page, the median pair's (T(P) - T(1)) / (P - 1):
 *                              name fork_exit_slope.
 *   cow_fault                  a parent with 64 written pages forks a child and blocks on a
 *                              pipe read; the child writes each page once, timing each write
 *                              (one copy-on-write fault, the parent still mapping the page),
 *                              sends the sum through the pipe and exits; the parent reaps it.
 *                              ns per fault.
 *   ctx_switch_process         pipe ping-pong between two processes, both on CPU A;
 *   ctx_switch_thread          the same between two threads of one process.  ns per one-way
 *                              handoff (round trip / 2; includes one pipe write and one pipe
 *                              read per handoff).
 *   first_touch_fault          write the first byte of each page of a fresh 256-page private
 *                              anonymous mapping (mmap/munmap outside the timing); ns/fault.
 *   read_fault_zero            read the first byte of each fresh page instead (Linux maps the
 *                              shared zero page); ns per fault.
 *   tsc                        rdtsc against CLOCK_MONOTONIC over ~200 ms (x86 only); prints
 *                              {"name": "tsc", "ghz": ...}.
 *
 * Options: -c CPULIST (comma separated; the first is CPU A, where the measuring thread runs;
 * remote spinners go on the others), -s SAMPLES, -t TARGET_US (wall time of one sample), -w
 * WARMUP_MS.  Every thread is pinned.  After a warm-up (which also estimates the cost of one
 * operation), the number of operations per sample is chosen so that a sample lasts about
 * TARGET_US; each sample's timed total is divided by its operation count.
 *
 * Output: one JSON line on stdout:
 *   {"name": ..., "samples_ns": [...], "ops_per_sample": N, "cpus": [...], "note": ..., ...}
 * Python (smpsim/calibrate) computes the statistics.  Errors go to stderr, exit status 1.
 * All mappings get MADV_NOHUGEPAGE so that pages are 4 KiB whatever the THP setting.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096L
#define MADV_PAGES 256
#define COW_PAGES 64
#define FAULT_PAGES 256
#define MAX_CPUS 1024
#define MAX_SAMPLES 100000

static int cpus[MAX_CPUS], ncpus;
static int nsamples = 21, npages = 1, nthreads = 0;
static long target_us = 5000, warmup_ms = 50;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "calbench: ");
    vfprintf(stderr, fmt, ap);
    if (errno)
        fprintf(stderr, ": %s", strerror(errno));
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin_self(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)   /* 0: the calling thread */
        die("sched_setaffinity to CPU %d", cpu);
}

static char *map_pages(long pages)
{
    char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap of %ld pages", pages);
#ifdef MADV_NOHUGEPAGE
    madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
#endif
    return p;
}

static void touch(char *p, long pages)
{
    for (long i = 0; i < pages; i++)
        ((volatile char *)p)[i * PAGE] = (char)i;
}

/* ---- the benchmarks: each times `ops` operations and returns the timed total in ns ---- */

typedef double (*run_fn)(long ops);

static double run_syscall(long ops)
{
    uint64_t t0 = now_ns();
    for (long i = 0; i < ops; i++)
        syscall(SYS_getppid);
    return (double)(now_ns() - t0);
}

static char *madv_map;
#define MAX_CALLS 4000000L
static uint64_t *calls;          /* each timed call of the measured samples (not the warm-up) */
static long ncalls, recording;

static double run_madvise(long ops)
{
    uint64_t total = 0;
    for (long i = 0; i < ops; i++) {
        touch(madv_map, npages);
        uint64_t t0 = now_ns();
        if (madvise(madv_map, npages * PAGE, MADV_DONTNEED) != 0)
            die("madvise(MADV_DONTNEED)");
        uint64_t dt = now_ns() - t0;
        total += dt;
        if (recording && calls && ncalls < MAX_CALLS)
            calls[ncalls++] = dt;
    }
    return (double)total;
}

/* mprotect(PROT_READ) of N written pages, timed alone; the way back to PROT_READ|PROT_WRITE and
 * the write that dirties the pages again are not timed. Read-only makes every PTE change, so the
 * kernel flushes the range: the per-page slope is the PTE update plus its invalidation, with no
 * page freed (what tells the invalidation apart from the page freeing of MADV_DONTNEED). */
static double run_mprotect(long ops)
{
    uint64_t total = 0;
    for (long i = 0; i < ops; i++) {
        if (mprotect(madv_map, npages * PAGE, PROT_READ | PROT_WRITE) != 0)
            die("mprotect(PROT_READ|PROT_WRITE)");
        touch(madv_map, npages);
        uint64_t t0 = now_ns();
        if (mprotect(madv_map, npages * PAGE, PROT_READ) != 0)
            die("mprotect(PROT_READ)");
        total += now_ns() - t0;
    }
    return (double)total;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double call_quantile(double q)   /* of the recorded calls, sorted */
{
    if (ncalls == 0)
        return 0.0;
    return (double)calls[(long)(q * (double)(ncalls - 1) + 0.5)];
}

static volatile int spin_stop;
static volatile int spin_ready;
static uint64_t spin_cpu_ns[MAX_CPUS];  /* CPU time each spinner got between ready and stop */

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *spinner(void *arg)
{
    long i = (long)arg;
    uint64_t c0 = thread_cpu_ns();
    __atomic_add_fetch(&spin_ready, 1, __ATOMIC_SEQ_CST);
    while (!spin_stop)
        ;                       /* no PAUSE, see the header */
    spin_cpu_ns[i] = thread_cpu_ns() - c0;
    return NULL;
}

static void start_spinners(pthread_t *tids)
{
    for (int i = 0; i < nthreads; i++) {
        pthread_attr_t attr;
        cpu_set_t set;
        pthread_attr_init(&attr);
        CPU_ZERO(&set);
        CPU_SET(cpus[1 + i], &set);
        if (pthread_attr_setaffinity_np(&attr, sizeof set, &set) != 0)
            die("pthread_attr_setaffinity_np to CPU %d", cpus[1 + i]);
        if (pthread_create(&tids[i], &attr, spinner, (void *)(long)i) != 0)
            die("pthread_create");
        pthread_attr_destroy(&attr);
    }
    while (__atomic_load_n(&spin_ready, __ATOMIC_SEQ_CST) < nthreads)
        ;
}

static char *fork_map;

static double run_fork_exit(long ops)
{
    uint64_t t0 = now_ns();
    for (long i = 0; i < ops; i++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0)
            _exit(0);
        int status;
        if (waitpid(pid, &status, 0) != pid)
            die("waitpid");
    }
    return (double)(now_ns() - t0);
}

/* fork+exit+wait alternately with 1 and with `npages` present pages in one `npages`-page mapping
 * (the others dropped with MADV_DONTNEED, untimed), so that drift and other tasks' interference
 * hit both alike: a sample is (T(npages) - T(1)) / (npages - 1), ns per present page. */
/* one timed invalidation of the first n pages of madv_map, written first (untimed) */
static uint64_t timed_madvise(int n)
{
    touch(madv_map, n);
    uint64_t t0 = now_ns();
    if (madvise(madv_map, (size_t)n * PAGE, MADV_DONTNEED) != 0)
        die("madvise(MADV_DONTNEED)");
    return now_ns() - t0;
}

static uint64_t timed_mprotect(int n)
{
    if (mprotect(madv_map, (size_t)n * PAGE, PROT_READ | PROT_WRITE) != 0)
        die("mprotect(PROT_READ|PROT_WRITE)");
    touch(madv_map, n);
    uint64_t t0 = now_ns();
    if (mprotect(madv_map, (size_t)n * PAGE, PROT_READ) != 0)
        die("mprotect(PROT_READ)");
    return now_ns() - t0;
}

static uint64_t (*slope_op)(int);
static const char *slope_name = "madvise";
static double median_pair(double *diff, long ops);

/* the op on 1 page and on npages alternately, so that drift and other tasks hit both sizes
 * alike. A sample is the median pair's difference per extra page, which leaves out the calls
 * another task (or the hypervisor) delayed; for MADV_DONTNEED it is also the pair whose pages
 * the call did not free (they are still in the CPU's LRU-add batch, which the fault that fills
 * it moves and frees): the model's probe takes the median pair of the same loop. */
static double run_slope(long ops)
{
    double *diff = malloc((size_t)ops * sizeof *diff);
    if (!diff)
        die("malloc");
    for (long i = 0; i < ops; i++) {
        double one = (double)slope_op(1);
        diff[i] = (double)slope_op(npages) - one;
    }
    return median_pair(diff, ops) * (double)ops / (double)(npages - 1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_pair(double *diff, long ops)
{
    /* the median pair: one call delayed by another task would otherwise swing the sample */
    qsort(diff, (size_t)ops, sizeof *diff, cmp_double);
    double mid = diff[ops / 2];
    free(diff);
    return mid;
}

static double run_fork_pair(long ops)
{
    double *diff = malloc((size_t)ops * sizeof *diff);
    if (!diff)
        die("malloc");
    for (long i = 0; i < ops; i++) {
        if (madvise(fork_map + PAGE, (size_t)(npages - 1) * PAGE, MADV_DONTNEED) != 0)
            die("madvise(MADV_DONTNEED)");
        double one = run_fork_exit(1);
        touch(fork_map, npages);
        diff[i] = run_fork_exit(1) - one;
    }
    return median_pair(diff, ops) * (double)ops / (double)(npages - 1);
}

static char *cow_map;

static double run_cow(long ops)          /* ops: a multiple of COW_PAGES */
{
    uint64_t total = 0;
    for (long round = 0; round < ops / COW_PAGES; round++) {
        int fds[2];
        uint64_t child_ns = 0;
        touch(cow_map, COW_PAGES);
        if (pipe(fds) != 0)
            die("pipe");
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {            /* the child writes pages it shares with its parent */
            uint64_t sum = 0;
            close(fds[0]);
            for (long i = 0; i < COW_PAGES; i++) {
                uint64_t t0 = now_ns();
                ((volatile char *)cow_map)[i * PAGE] = 1;
                sum += now_ns() - t0;
            }
            if (write(fds[1], &sum, sizeof sum) != (ssize_t)sizeof sum)
                _exit(1);
            _exit(0);
        }
        close(fds[1]);
        ssize_t got;
        while ((got = read(fds[0], &child_ns, sizeof child_ns)) < 0 && errno == EINTR)
            ;
        if (got != (ssize_t)sizeof child_ns)
            die("reading the child's timing");
        close(fds[0]);
        if (waitpid(pid, NULL, 0) != pid)
            die("waitpid");
        total += child_ns;
    }
    return (double)total;
}

static int ping[2], pong[2];

static void pingpong_echo(void)
{
    char c;
    for (;;) {
        ssize_t r = read(ping[0], &c, 1);
        if (r <= 0 || c == 'q')
            return;
        if (write(pong[1], &c, 1) != 1)
            return;
    }
}

static double run_pingpong(long ops)    /* ops: handoffs, a multiple of 2 */
{
    char c = 'x';
    uint64_t t0 = now_ns();
    for (long i = 0; i < ops / 2; i++) {
        if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
            die("pipe ping-pong");
    }
    return (double)(now_ns() - t0);
}

static void *echo_thread(void *arg)
{
    (void)arg;
    pingpong_echo();
    return NULL;
}

static int read_zero;

static double run_fault(long ops)       /* ops: a multiple of FAULT_PAGES */
{
    uint64_t total = 0;
    unsigned sink = 0;
    for (long round = 0; round < ops / FAULT_PAGES; round++) {
        char *p = map_pages(FAULT_PAGES);
        uint64_t t0 = now_ns();
        if (read_zero)
            for (long i = 0; i < FAULT_PAGES; i++)
                sink += ((volatile char *)p)[i * PAGE];
        else
            for (long i = 0; i < FAULT_PAGES; i++)
                ((volatile char *)p)[i * PAGE] = 1;
        total += now_ns() - t0;
        munmap(p, FAULT_PAGES * PAGE);
    }
    if (sink == 12345)
        fprintf(stderr, " ");
    return (double)total;
}

/* ---- the driver: warm up, size the samples, measure, print ---- */

static long ops_per_sample(run_fn run, long gran)
{
    uint64_t start = now_ns(), deadline = start + (uint64_t)warmup_ms * 1000000ull;
    long done = 0;
    do {
        run(gran);
        done += gran;
    } while (now_ns() < deadline || done < 2 * gran);
    double per_op = (double)(now_ns() - start) / (double)done;
    long ops = (long)((double)target_us * 1000.0 / per_op);
    ops = (ops + gran - 1) / gran * gran;
    if (ops < gran)
        ops = gran;
    if (ops > 10000000L)
        ops = 10000000L;
    return ops;
}

static void print_json(const char *name, const double *samples, long ops, const char *note, const char *extra)
{
    printf("{\"name\": \"%s\", \"samples_ns\": [", name);
    for (int i = 0; i < nsamples; i++)
        printf("%s%.3f", i ? ", " : "", samples[i]);
    printf("], \"ops_per_sample\": %ld, \"cpus\": [", ops);
    int used = 1 + nthreads;
    for (int i = 0; i < used; i++)
        printf("%s%d", i ? ", " : "", cpus[i]);
    printf("], \"note\": \"%s\"%s}\n", note, extra ? extra : "");
    fflush(stdout);
}

static double samples[MAX_SAMPLES];

/* warm up, size and take the samples; print the JSON line unless note is NULL */
static long measure(const char *name, run_fn run, long gran, const char *note, const char *extra)
{
    long ops = ops_per_sample(run, gran);
    recording = 1;
    for (int s = 0; s < nsamples; s++)
        samples[s] = run(ops) / (double)ops;
    recording = 0;
    if (note)
        print_json(name, samples, ops, note, extra);
    return ops;
}

static double timer_overhead(void)
{
    uint64_t total = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t t0 = now_ns();
        total += now_ns() - t0;
    }
    return (double)total / 100000.0;
}

/* ---- one entry per benchmark ---- */

static void bench_madvise(void)
{
    char name[64], extra[320];
    pthread_t tids[MAX_CPUS];
    if (npages < 1 || npages > MADV_PAGES)
        die("-n must be 1..%d", MADV_PAGES);
    if (nthreads < 0 || nthreads > ncpus - 1) {
        errno = 0;
        die("-k %d needs %d CPUs in -c, got %d", nthreads, nthreads + 1, ncpus);
    }
    madv_map = map_pages(MADV_PAGES);
    touch(madv_map, MADV_PAGES);
    if (nthreads == 0)
        snprintf(name, sizeof name, "madvise_local_%d", npages);
    else
        snprintf(name, sizeof name, "madvise_remote_%d_t%d", npages, nthreads);
    calls = malloc(MAX_CALLS * sizeof *calls);
    double overhead = timer_overhead();
    start_spinners(tids);
    uint64_t w0 = now_ns();
    long ops = measure(name, run_madvise, 1, NULL, NULL);
    spin_stop = 1;
    uint64_t wall = now_ns() - w0;
    double share = 1.0;
    for (int i = 0; i < nthreads; i++)
        pthread_join(tids[i], NULL);
    for (int i = 0; i < nthreads; i++)
        if ((double)spin_cpu_ns[i] / (double)wall < share)
            share = (double)spin_cpu_ns[i] / (double)wall;
    qsort(calls, (size_t)ncalls, sizeof *calls, cmp_u64);
    snprintf(extra, sizeof extra, ", \"pages\": %d, \"threads\": %d, \"timer_overhead_ns\": %.1f, "
             "\"calls\": %ld, \"call_p10_ns\": %.0f, \"call_median_ns\": %.0f, \"call_p90_ns\": %.0f, "
             "\"spinner_cpu_share\": %.3f",
             npages, nthreads, overhead, ncalls, call_quantile(0.1), call_quantile(0.5), call_quantile(0.9),
             nthreads ? share : 1.0);
    print_json(name, samples, ops,
               "madvise(MADV_DONTNEED) of N just-written pages of a 256-page mapping, timed alone "
               "(includes one clock_gettime, see timer_overhead_ns); samples_ns are per-sample means, "
               "call_*_ns quantiles of the single calls; remote: K threads of the process spin on other "
               "CPUs so each call needs a shootdown", extra);
    for (int i = 0; i < nthreads; i++)
        pthread_join(tids[i], NULL);
}

static void bench_mprotect(void)
{
    char name[64], extra[64];
    if (npages < 1 || npages > MADV_PAGES)
        die("-n must be 1..%d", MADV_PAGES);
    madv_map = map_pages(MADV_PAGES);
    touch(madv_map, MADV_PAGES);
    snprintf(name, sizeof name, "mprotect_local_%d", npages);
    snprintf(extra, sizeof extra, ", \"pages\": %d", npages);
    measure(name, run_mprotect, 1,
            "mprotect(PROT_READ) of N just-written pages of a 256-page mapping, the process on one "
            "CPU, timed alone (includes one clock_gettime); write access restored and the pages "
            "written again between calls, untimed", extra);
}

static void bench_fork_exit(void)
{
    char name[64], extra[64];
    if (npages < 1)
        die("-p must be >= 1");
    fork_map = map_pages(npages);
    touch(fork_map, npages);
    snprintf(name, sizeof name, "fork_exit_%d", npages);
    snprintf(extra, sizeof extra, ", \"pages\": %d", npages);
    measure(name, run_fork_exit, 1,
            "fork() + child _exit(0) + parent waitpid(), parent with P written private anonymous "
            "pages, child on the same CPU", extra);
}

static void bench_slope(const char *op)
{
    char name[64], extra[64];
    if (npages < 2 || npages > MADV_PAGES)
        die("-n must be 2..%d", MADV_PAGES);
    if (!strcmp(op, "madvise"))
        slope_op = timed_madvise;
    else if (!strcmp(op, "mprotect"))
        slope_op = timed_mprotect;
    else
        die("slope -m takes madvise or mprotect, not %s", op);
    madv_map = map_pages(MADV_PAGES);
    touch(madv_map, MADV_PAGES);
    snprintf(name, sizeof name, "%s_local_slope_%d", op, npages);
    snprintf(extra, sizeof extra, ", \"pages\": %d", npages);
    measure(name, run_slope, 1,
            "cost per extra page: the call on 1 page and on N pages of a written 256-page mapping "
            "alternately (madvise(MADV_DONTNEED), or mprotect(PROT_READ) with write access restored "
            "untimed), the process on one CPU; a sample is (T(N) - T(1)) / (N - 1) of the median pair",
            extra);
}

static void bench_fork_pair(void)
{
    char extra[64];
    if (npages < 2)
        die("-p must be >= 2");
    fork_map = map_pages(npages);
    touch(fork_map, npages);
    snprintf(extra, sizeof extra, ", \"pages\": %d", npages);
    measure("fork_exit_slope", run_fork_pair, 1,
            "fork+exit+wait per present page: each op forks once with 1 and once with P present pages "
            "of a P-page mapping (the rest dropped by MADV_DONTNEED, untimed); a sample is the "
            "median pair's (T(P) - T(1)) / (P - 1) in ns", extra);
}

static void bench_cow(void)
{
    cow_map = map_pages(COW_PAGES);
    touch(cow_map, COW_PAGES);
    measure("cow_fault", run_cow, COW_PAGES,
            "the child's first write to a page it shares copy-on-write with its parent (blocked in "
            "read() until the child reports); each write timed alone (the fault, the page copy, "
            "the PTE change and its local flush)", ", \"pages\": 64");
}

static void bench_pingpong(int threads)
{
    pthread_t tid;
    pid_t pid = -1;
    char q = 'q';
    if (pipe(ping) != 0 || pipe(pong) != 0)
        die("pipe");
    if (threads) {
        if (pthread_create(&tid, NULL, echo_thread, NULL) != 0)  /* inherits the pinning */
            die("pthread_create");
    } else {
        pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            pingpong_echo();
            _exit(0);
        }
    }
    measure(threads ? "ctx_switch_thread" : "ctx_switch_process", run_pingpong, 2,
            threads ? "one-way handoff between two threads of one process on one CPU: round trip / 2; "
                      "includes one 1-byte pipe write and one pipe read per handoff"
                    : "one-way handoff between two processes on one CPU: round trip / 2; includes "
                      "one 1-byte pipe write and one pipe read per handoff (and the mm switch)", NULL);
    if (write(ping[1], &q, 1) != 1)
        die("pipe");
    if (threads)
        pthread_join(tid, NULL);
    else
        waitpid(pid, NULL, 0);
}

static void bench_tsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
    uint64_t t0 = now_ns(), c0 = __builtin_ia32_rdtsc(), t1;
    while ((t1 = now_ns()) - t0 < 200000000ull)
        ;
    uint64_t c1 = __builtin_ia32_rdtsc();
    printf("{\"name\": \"tsc\", \"ghz\": %.6f, \"interval_ns\": %llu}\n",
           (double)(c1 - c0) / (double)(t1 - t0), (unsigned long long)(t1 - t0));
#else
    errno = 0;
    die("tsc: no rdtsc on this architecture");
#endif
}

static void parse_cpus(const char *s)
{
    char *copy = strdup(s), *tok, *save = NULL;
    ncpus = 0;
    for (tok = strtok_r(copy, ",", &save); tok && ncpus < MAX_CPUS; tok = strtok_r(NULL, ",", &save))
        cpus[ncpus++] = atoi(tok);
    free(copy);
}

static void usage(void)
{
    fprintf(stderr, "usage: calbench syscall|madvise|mprotect|slope|fork_exit|fork_pair|cow_fault|ctx_switch_process|"
                    "ctx_switch_thread|first_touch_fault|read_fault_zero|tsc "
                    "[-c CPULIST] [-s SAMPLES] [-t TARGET_US] [-w WARMUP_MS] [-n PAGES] [-k THREADS] [-p PAGES] [-m OP]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int opt;
    if (argc < 2)
        usage();
    const char *bench = argv[1];
    cpus[0] = 0;
    ncpus = 1;
    optind = 2;
    while ((opt = getopt(argc, argv, "c:s:t:w:n:k:p:m:")) != -1) {
        switch (opt) {
        case 'c': parse_cpus(optarg); break;
        case 's': nsamples = atoi(optarg); break;
        case 't': target_us = atol(optarg); break;
        case 'w': warmup_ms = atol(optarg); break;
        case 'n': case 'p': npages = atoi(optarg); break;
        case 'k': nthreads = atoi(optarg); break;
        case 'm': slope_name = optarg; break;
        default: usage();
        }
    }
    if (nsamples < 1 || nsamples > MAX_SAMPLES || ncpus < 1)
        usage();
    pin_self(cpus[0]);
    if (!strcmp(bench, "syscall"))
        measure("syscall", run_syscall, 1, "syscall(SYS_getppid) in a loop", NULL);
    else if (!strcmp(bench, "madvise"))
        bench_madvise();
    else if (!strcmp(bench, "mprotect"))
        bench_mprotect();
    else if (!strcmp(bench, "fork_exit"))
        bench_fork_exit();
    else if (!strcmp(bench, "fork_pair"))
        bench_fork_pair();
    else if (!strcmp(bench, "slope"))
        bench_slope(slope_name);
    else if (!strcmp(bench, "cow_fault"))
        bench_cow();
    else if (!strcmp(bench, "ctx_switch_process"))
        bench_pingpong(0);
    else if (!strcmp(bench, "ctx_switch_thread"))
        bench_pingpong(1);
    else if (!strcmp(bench, "first_touch_fault") || !strcmp(bench, "read_fault_zero")) {
        read_zero = !strcmp(bench, "read_fault_zero");
        measure(bench, run_fault, FAULT_PAGES,
                read_zero ? "read of the first byte of each page of a fresh 256-page private anonymous "
                            "mapping (maps the shared zero page); the loop over 256 pages is timed"
                          : "write of the first byte of each page of a fresh 256-page private anonymous "
                            "mapping (allocates and zeroes a page); the loop over 256 pages is timed",
                ", \"pages\": 256");
    } else if (!strcmp(bench, "tsc"))
        bench_tsc();
    else
        usage();
    return 0;
}
