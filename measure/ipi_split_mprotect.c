// mpt.c - time mprotect RW->R (needs remote TLB flush IPI) and R->RW on CPU0
// while a sibling thread of the same process spins (or sleeps) on CPU1.
// Build: cc -O2 -pthread -o /tmp/mpt measure/ipi_split_mprotect.c  (results: measure/results/ipi_split.txt)
// Usage: ./mpt N spin|sleep|none [outprefix]
//   spin : thread B spins in user space on CPU1 (mm loaded, not lazy) -> flush IPI to CPU1
//   sleep: thread B blocks in read() on CPU1 (CPU1 idle/lazy or later trimmed) -> no IPI
//   none : no thread B at all (mm_cpumask = CPU0 only) -> local flush only
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define GAP_THRESH_NS 500.0
#define MAXGAPS (1 << 20)

static double tsc_ghz;                 /* cycles per ns */
static volatile int phase;             /* 0 = A idle, 1 = A active, 2 = stop */
static volatile int b_ready;
static int pipefd[2];
static int spin_mode, no_b;

struct gap { uint64_t start, len; };
static struct gap *gaps[2];
static long ngaps[2];
static uint64_t phase_cycles[2];

static inline uint64_t rd(void) { unsigned a; uint64_t t; _mm_lfence(); t = __rdtscp(&a); _mm_lfence(); return t; }

static void pin(int cpu)
{
    cpu_set_t s; CPU_ZERO(&s); CPU_SET(cpu, &s);
    if (pthread_setaffinity_np(pthread_self(), sizeof s, &s)) { perror("setaffinity"); exit(1); }
    if (getenv("MPT_FIFO")) {     /* keep other (CFS) tasks off our two CPUs while measuring */
        struct sched_param sp = { .sched_priority = atoi(getenv("MPT_FIFO")) };
        if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp)) { perror("SCHED_FIFO"); exit(1); }
    }
}

static double now_ns(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec * 1e9 + ts.tv_nsec; }

static uint64_t cal_tsc[2]; static double cal_ns[2];   /* (tsc, CLOCK_MONOTONIC ns) pairs at start and end */
static void calpair(int k)
{   /* take the tightest of several (tsc, mono, tsc) samples */
    uint64_t best = ~0ull;
    for (int i = 0; i < 50; i++) {
        uint64_t a = rd(); double n = now_ns(); uint64_t b = rd();
        if (b - a < best) { best = b - a; cal_tsc[k] = a + (b - a) / 2; cal_ns[k] = n; }
    }
}

static void calibrate(void)
{
    double n0 = now_ns(); uint64_t c0 = rd();
    struct timespec d = { 0, 200 * 1000 * 1000 }; nanosleep(&d, NULL);
    double n1 = now_ns(); uint64_t c1 = rd();
    tsc_ghz = (c1 - c0) / (n1 - n0);
}

static void *thread_b(void *arg)
{
    (void)arg;
    pin(1);
    if (!spin_mode) {
        char c; b_ready = 1;
        if (read(pipefd[0], &c, 1) < 0) perror("read");
        return NULL;
    }
    uint64_t thr = (uint64_t)(GAP_THRESH_NS * tsc_ghz);
    b_ready = 1;
    int p = phase;
    uint64_t prev = __rdtsc(), pstart = prev;
    for (;;) {
        int np = phase;
        uint64_t t = __rdtsc();
        if (np != p) {
            if (p < 2) phase_cycles[p] += t - pstart;
            if (np == 2) break;
            p = np; pstart = t; prev = t; continue;
        }
        if (t - prev > thr && ngaps[p] < MAXGAPS) {
            gaps[p][ngaps[p]].start = prev; gaps[p][ngaps[p]].len = t - prev; ngaps[p]++;
        }
        prev = t;
    }
    return NULL;
}

static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static void stats(const char *name, double *v, long n)
{
    if (n == 0) { printf("%-34s n=0\n", name); return; }
    qsort(v, n, sizeof *v, cmpd);
    printf("%-34s n=%-7ld p10=%8.0f  median=%8.0f  p90=%8.0f  ns\n", name, n, v[n / 10], v[n / 2], v[(n * 9) / 10]);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    long N = argc > 1 ? atol(argv[1]) : 20000;
    spin_mode = argc > 2 ? strcmp(argv[2], "spin") == 0 : 1;
    no_b = argc > 2 && strcmp(argv[2], "none") == 0;
    const char *out = argc > 3 ? argv[3] : NULL;

    pin(0);
    calibrate();
    printf("sched=%s ", getenv("MPT_FIFO") ? "SCHED_FIFO" : "SCHED_OTHER");
    printf("mode=%s N=%ld tsc=%.4f GHz (rdtsc vs CLOCK_MONOTONIC)\n", no_b ? "none" : spin_mode ? "spin" : "sleep", N, tsc_ghz);
    if (pipe(pipefd)) { perror("pipe"); return 1; }
    for (int i = 0; i < 2; i++) gaps[i] = calloc(MAXGAPS, sizeof(struct gap));

    char *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pg == MAP_FAILED) { perror("mmap"); return 1; }
    memset(pg, 1, 4096);                 /* PTE present, dirty, writable */

    pthread_t tb;
    if (!no_b) {
        /* start B directly on CPU1 as SCHED_OTHER (it raises itself to FIFO in pin()) */
        pthread_attr_t at; pthread_attr_init(&at);
        cpu_set_t c1; CPU_ZERO(&c1); CPU_SET(1, &c1);
        pthread_attr_setaffinity_np(&at, sizeof c1, &c1);
        pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
        struct sched_param sp0 = { 0 };
        pthread_attr_setschedpolicy(&at, SCHED_OTHER); pthread_attr_setschedparam(&at, &sp0);
        if (pthread_create(&tb, &at, thread_b, NULL)) { perror("pthread_create"); return 1; }
        while (!b_ready) usleep(1000);
    }
    struct timespec d = { 0, 100 * 1000 * 1000 }; nanosleep(&d, NULL);   /* let B settle */

    /* phase 0: A idle (sleeping) for 1 s, B records gaps */
    phase = 0;
    struct timespec idle = { 1, 0 }; nanosleep(&idle, NULL);

    uint64_t *t0 = malloc(N * 8), *t1 = malloc(N * 8), *t2 = malloc(N * 8);
    for (long i = 0; i < 200; i++) {     /* warm-up, not recorded */
        mprotect(pg, 4096, PROT_READ); mprotect(pg, 4096, PROT_READ | PROT_WRITE);
    }
    calpair(0);
    phase = 1;
    for (long i = 0; i < N; i++) {
        t0[i] = rd();
        if (mprotect(pg, 4096, PROT_READ)) { perror("mprotect"); return 1; }
        t1[i] = rd();
        if (mprotect(pg, 4096, PROT_READ | PROT_WRITE)) { perror("mprotect"); return 1; }
        t2[i] = rd();
    }
    phase = 2;
    calpair(1);
    if (!spin_mode && !no_b) { char c = 0; if (write(pipefd[1], &c, 1) < 0) perror("write"); }
    if (!no_b) pthread_join(tb, NULL);
    if (pg[0] != 1) return 1;

    double *v = malloc(N * sizeof(double));
    for (long i = 0; i < N; i++) v[i] = (t1[i] - t0[i]) / tsc_ghz;
    stats("mprotect RW->R", v, N);
    for (long i = 0; i < N; i++) v[i] = (t2[i] - t1[i]) / tsc_ghz;
    stats("mprotect R->RW", v, N);
    /* timing overhead: back-to-back rd() */
    for (long i = 0; i < N; i++) { uint64_t a = rd(), b = rd(); v[i] = (b - a) / tsc_ghz; }
    stats("rd() back-to-back overhead", v, N);

    if (spin_mode) {
        for (int p = 0; p < 2; p++) {
            double secs = phase_cycles[p] / tsc_ghz / 1e9;
            printf("B gaps >%.0fns, phase %s: %ld gaps in %.3f s (%.1f /s)\n", GAP_THRESH_NS,
                   p ? "A-active" : "A-idle", ngaps[p], secs, ngaps[p] / secs);
            double *g = malloc((ngaps[p] + 1) * sizeof(double));
            for (long i = 0; i < ngaps[p]; i++) g[i] = gaps[p][i].len / tsc_ghz;
            stats(p ? "  gap len (A active)" : "  gap len (A idle)", g, ngaps[p]);
            free(g);
        }
        /* correlate B's gaps with A's RW->R calls (same TSC on both vCPUs assumed) */
        long cap = ngaps[1] + 1; double *s0 = malloc(cap * 8), *e0 = malloc(cap * 8), *ln = malloc(cap * 8), *tail = malloc(cap * 8);
        long m = 0, j = 0, in_rw = 0, in_r = 0, outside = 0;
        for (long g = 0; g < ngaps[1]; g++) {
            uint64_t gs = gaps[1][g].start;
            while (j < N && t2[j] < gs) j++;
            if (j == N) { outside++; continue; }
            if (gs >= t0[j] && gs < t1[j]) {
                s0[m] = (gs - t0[j]) / tsc_ghz;
                e0[m] = (gs + gaps[1][g].len - t0[j]) / tsc_ghz;
                ln[m] = gaps[1][g].len / tsc_ghz;
                tail[m] = ((double)t1[j] - (double)(gs + gaps[1][g].len)) / tsc_ghz;
                m++; in_rw++;
            } else if (gs >= t1[j] && gs < t2[j]) in_r++;
            else outside++;
        }
        printf("B gaps starting inside an RW->R call: %ld, inside R->RW call: %ld, elsewhere: %ld\n", in_rw, in_r, outside);
        /* per-call classification.  call k: k=2i is RW->R [t0,t1), k=2i+1 is R->RW [t1,t2).
         * hit: a gap of B started inside the call (B was interrupted, normally by the flush IPI)
         * off: B was already off its user loop when the call started (descheduled / long gap) */
        {
            char *hit = calloc(2 * N, 1), *off = calloc(2 * N, 1); long k = 0;
#define CS(k) ((k) & 1 ? t1[(k) >> 1] : t0[(k) >> 1])
#define CE(k) ((k) & 1 ? t2[(k) >> 1] : t1[(k) >> 1])
            for (long g = 0; g < ngaps[1]; g++) {
                uint64_t gs = gaps[1][g].start, ge = gs + gaps[1][g].len;
                while (k < 2 * N && CE(k) <= gs) k++;
                if (k == 2 * N) break;
                if (gs >= CS(k)) hit[k] = 1;
                for (long q = (gs >= CS(k)) ? k + 1 : k; q < 2 * N && CS(q) < ge; q++) off[q] = 1;
            }
            for (int dir = 0; dir < 2; dir++) for (int c = 0; c < 3; c++) {
                long n = 0;
                for (long i = 0; i < N; i++) {
                    long q = 2 * i + dir;
                    int cls = off[q] ? 2 : hit[q] ? 0 : 1;
                    if (cls == c) v[n++] = (CE(q) - CS(q)) / tsc_ghz;
                }
                static const char *cn[] = { "B interrupted", "B running, not interrupted", "B off-CPU at start" };
                char nm[80]; snprintf(nm, sizeof nm, "mprotect %s, %s", dir ? "R->RW" : "RW->R", cn[c]);
                stats(nm, v, n);
            }
            free(hit); free(off);
        }
        stats("  gap len (in RW->R)", ln, m);
        stats("  gap start - A's t0", s0, m);
        stats("  gap end   - A's t0", e0, m);
        stats("  A's t1 - gap end", tail, m);
    }
    if (out) {
        char fn[256]; snprintf(fn, sizeof fn, "%s.calls", out);
        FILE *f = fopen(fn, "w");
        for (long i = 0; i < N; i++) fprintf(f, "%lu %lu %lu\n", t0[i], t1[i], t2[i]);
        fclose(f);
        snprintf(fn, sizeof fn, "%s.gaps", out);
        f = fopen(fn, "w");
        for (long g = 0; g < ngaps[1]; g++) fprintf(f, "%lu %lu\n", gaps[1][g].start, gaps[1][g].len);
        fclose(f);
        snprintf(fn, sizeof fn, "%s.gaps0", out);
        f = fopen(fn, "w");
        for (long g = 0; g < ngaps[0]; g++) fprintf(f, "%lu %lu\n", gaps[0][g].start, gaps[0][g].len);
        fclose(f);
        snprintf(fn, sizeof fn, "%s.cal", out);
        f = fopen(fn, "w");
        fprintf(f, "%lu %.0f\n%lu %.0f\n", cal_tsc[0], cal_ns[0], cal_tsc[1], cal_ns[1]);
        fclose(f);
    }
    return 0;
}
