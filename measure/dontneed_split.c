/* What a MADV_DONTNEED costs per page, split into the zap and the free, and where the
 * invalidation's per-page cost shows (issue 21: the linux preset's large local DONTNEEDs came out
 * at 0.6-0.8x of calibrate's measurements).
 *
 * Build: cc -O2 -o /tmp/dontneed_split measure/dontneed_split.c
 * Run:   taskset -c 0 /tmp/dontneed_split
 *
 * Three loops over a 256-page private anonymous mapping, the median of ITER timed calls each:
 *  plain   write N pages, time madvise(MADV_DONTNEED) of them (calbench's steady state);
 *  owned   write N pages, fork a child that exits at once and is reaped, time the DONTNEED:
 *          the pages are the parent's alone, so the DONTNEED frees them;
 *  shared  the same, but the child stays alive (blocked on a pipe) until after the DONTNEED:
 *          the pages stay mapped in the child, so the DONTNEED zaps the PTEs and drops the
 *          references without freeing a page;
 *  mprotect  write N pages, time mprotect(PROT_READ) of them (no page freed; restored after).
 * owned - shared is what freeing costs per page (LRU removal, memcg uncharge, the pcp free);
 * below and above Linux's 33-page ceiling (tlb_single_page_flush_ceiling) the difference is the
 * per-page INVLPG against one full flush; between 6 and 7 pages the mmu_gather fills its on-stack
 * bundle and allocates a batch page (tlb_next_batch), a step in every loop but mprotect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define MAPPING 256
#define ITER 1501

static char *map;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void write_pages(int n)
{
    for (int i = 0; i < n; i++)
        map[(long)i * PAGE] = 1;
}

static double timed_dontneed(int n)
{
    double a = now();
    if (madvise(map, (size_t)n * PAGE, MADV_DONTNEED) != 0)
        perror("madvise"), exit(1);
    return now() - a;
}

/* mode 0 plain, 1 owned, 2 shared, 3 mprotect */
static double one(int mode, int n)
{
    double t;
    int fd[2];
    pid_t child = -1;

    write_pages(n);
    if (mode == 3) {
        double a = now();
        if (mprotect(map, (size_t)n * PAGE, PROT_READ) != 0)
            perror("mprotect"), exit(1);
        t = now() - a;
        mprotect(map, MAPPING * PAGE, PROT_READ | PROT_WRITE);
        return t;
    }
    if (mode == 0)
        return timed_dontneed(n);
    if (pipe(fd) != 0)
        perror("pipe"), exit(1);
    child = fork();
    if (child == 0) {
        char b;
        close(fd[1]);
        (void)!read(fd[0], &b, 1);
        _exit(0);
    }
    close(fd[0]);
    if (mode == 1) {
        close(fd[1]);
        waitpid(child, NULL, 0);
    }
    t = timed_dontneed(n);
    if (mode == 2) {
        close(fd[1]);
        waitpid(child, NULL, 0);
    }
    return t;
}

int main(void)
{
    static const int sizes[] = {1, 2, 4, 6, 7, 8, 16, 32, 34, 64, 128, 256};
    static const char *names[] = {"plain", "owned", "shared", "mprotect"};
    static double s[ITER];

    map = mmap(NULL, MAPPING * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        perror("mmap"), exit(1);
    madvise(map, MAPPING * PAGE, MADV_NOHUGEPAGE);
    printf("%-9s %5s %10s %10s\n", "loop", "pages", "median_ns", "ns/page");
    for (int mode = 0; mode < 4; mode++)
        for (unsigned k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            int n = sizes[k];
            for (int r = 0; r < ITER; r++)
                s[r] = one(mode, n);
            qsort(s, ITER, sizeof *s, cmp);
            printf("%-9s %5d %10.0f %10.1f\n", names[mode], n, s[ITER / 2], s[ITER / 2] / n);
        }
    return 0;
}
