#!/usr/bin/env python3
"""Print the README's "Today's kernels side by side" tables (markdown) from a run of
configs/study_kernels.toml, so that they are regenerated, never retyped.

Usage: .venv/bin/python scripts/kernels_tables.py RUN_DIR
Tables: tlb_flush loops and tlb_flush2 iterations per thread per simulated second against CPUs
(one socket); mean cycles per operation; whole-run kernel cycles against netbsd5 at the largest
CPU count; fork_exit's lock waits as a share of kernel cycles; tlb_flush against sockets.
"""

import sys

from plot_kernels_study import POLICIES, study_rows      # scripts/ is on sys.path when run as a script

from smpsim.vm.strategies.alloc_base import LRU_LOCK_FAMILY, alloc_lock_wait_cycles

HEAD = " | ".join(POLICIES)
RULE = "|".join(["---:"] * len(POLICIES))


def _k(v: float) -> str:
    return f"{v / 1000:,.0f}k" if v >= 10_000 else f"{v:,.0f}"


def _cycles(v) -> str:
    return "—" if v is None else f"{v:,.0f}"


def throughput(rows, kind, counter, cpus, label):
    print(f"| CPUs | {HEAD} |\n|---:|{RULE}|")
    for n in cpus:
        vals = [_k(rows[(kind, n, 1, p)]["counters"][counter]) for p in POLICIES]
        print(f"| {n} | " + " | ".join(vals) + " |")
    print(f"\n({label})\n")


def mean_cycles(rows, cases):
    print(f"| workload, operation | CPUs | {HEAD} |\n|---|---:|{RULE}|")
    for kind, op, n in cases:
        vals = [_cycles(rows[(kind, n, 1, p)]["latency"][op]["mean_cycles"]) for p in POLICIES]
        print(f"| {kind}, {op} | {n} | " + " | ".join(vals) + " |")
    print()


def relative(rows, kinds, n):
    print(f"| workload | {HEAD} |\n|---|{RULE}|")
    for kind in kinds:
        base = rows[(kind, n, 1, "netbsd5")]["kernel_cycles"]["total_with_drain"]
        vals = [f"{rows[(kind, n, 1, p)]['kernel_cycles']['total_with_drain'] / base:.2f}x" for p in POLICIES]
        print(f"| {kind} | " + " | ".join(vals) + " |")
    print()


def lock_shares(rows, kind, n, sockets):
    print(f"| sockets | waits on | {HEAD} |\n|---:|---|{RULE}|")
    for s in sockets:
        alloc, lru = [], []
        for p in POLICIES:
            e = rows[(kind, n, s, p)]
            total = e["kernel_cycles"]["total"]
            alloc.append(f"{alloc_lock_wait_cycles(e['counters']) / total:.1%}")
            lru.append(f"{e['counters'].get(f'{LRU_LOCK_FAMILY}_lock_wait_cycles', 0) / total:.1%}")
        print(f"| {s} | free-page locks | " + " | ".join(alloc) + " |")
        print(f"| {s} | LRU lock | " + " | ".join(lru) + " |")
    print()


def by_sockets(rows, kind, cpus, sockets, get, fmt):
    print(f"| CPUs | sockets | {HEAD} |\n|---:|---:|{RULE}|")
    for n in cpus:
        for s in sockets:
            print(f"| {n} | {s} | " + " | ".join(fmt(get(rows[(kind, n, s, p)])) for p in POLICIES) + " |")
    print()


def main(run_dir: str) -> None:
    rows = study_rows(run_dir)
    cpus = sorted({k[1] for k in rows})
    sockets = sorted({k[2] for k in rows})
    top = max(cpus)
    kinds = []
    for k in rows:
        if k[0] not in kinds:
            kinds.append(k[0])
    throughput(rows, "tlb_flush", "loops_per_sim_second", cpus, "tlb_flush: loops per simulated second")
    throughput(rows, "tlb_flush2", "per_thread_ops", cpus,
               "tlb_flush2: iterations per thread per simulated second, will-it-scale's figure")
    mean_cycles(rows, [("tlb_flush", "munmap", min(cpus)), ("tlb_flush", "munmap", top),
                       ("munmap_fanout", "munmap", top), ("exit_storm", "exit", top),
                       ("fork_exit", "fork", top), ("fork_exit", "exit", top),
                       ("shell", "fork", top), ("shell", "exec", top), ("shell", "exit", top),
                       ("shared_eviction", "exit", top)])
    relative(rows, kinds, top)
    lock_shares(rows, "fork_exit", top, sockets)
    by_sockets(rows, "tlb_flush", [c for c in cpus if c > min(cpus)], sockets,
               lambda e: e["counters"]["loops_per_sim_second"], _k)
    by_sockets(rows, "tlb_flush", [top], sockets, lambda e: e["latency"]["munmap"]["mean_cycles"], _cycles)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
