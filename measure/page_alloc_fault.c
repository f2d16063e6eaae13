/* page_alloc_fault: fault in and free anonymous pages in a loop, one thread, so that
 * `perf record -a -g` (or plain `perf record`) can attribute the kernel's cycles per page to the
 * page allocator's per-CPU fast paths (rmqueue / get_page_from_freelist, free_unref_folios /
 * free_unref_page_commit), the LRU stage (folio_add_lru, folio_batch_move_lru, lru_add_drain,
 * folios_put_refs) and zone->lock (rmqueue_bulk, free_pcppages_bulk).
 * Build: cc -O2 -o page_alloc_fault page_alloc_fault.c
 * Run:   perf record -o perf.data ./page_alloc_fault 256 20000
 *        (256-page regions, 20000 map/touch/unmap rounds; prints ns per page) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv)
{
	long pages = argc > 1 ? atol(argv[1]) : 256, rounds = argc > 2 ? atol(argv[2]) : 20000;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long r = 0; r < rounds; r++) {
		char *p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) { perror("mmap"); return 1; }
		for (long i = 0; i < pages; i++)
			p[i * 4096] = 1;
		munmap(p, pages * 4096);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("%ld pages x %ld rounds: %.1f ns per page (fault + zero + free)\n", pages, rounds, ns / (pages * rounds));
	return 0;
}
