"""Which benchmarks a calibration runs, with what arguments, in quick and full mode.

The names are the contract with the cost fitting: ``syscall``, ``madvise_local_N``,
``madvise_remote_N_tK``, ``mprotect_local_N``, ``madvise_local_slope_8``, ``mprotect_local_slope_8``, ``fork_exit_P``,
``fork_exit_slope``, ``cow_fault``, ``ctx_switch_process``,
``ctx_switch_thread``, ``first_touch_fault``, ``read_fault_zero`` and ``clock``.
"""

from __future__ import annotations

from dataclasses import dataclass

MADVISE_PAGES = (1, 2, 4, 8, 16, 32, 33, 34, 48, 64, 128, 256)
MADVISE_PAGES_QUICK = (1, 8, 32, 33, 34, 64)
MPROTECT_PAGES = (1, 8)      # the invalidation without page freeing: its slope is the INVLPG
FORK_PAGES = (1, 16, 64, 256, 1024)
FORK_PAGES_QUICK = (1, 64, 1024)
REMOTE_THREADS_QUICK_MAX = 3
FORK_SLOPE_PAGES = 64       # fork_exit_slope: 1 and this many pages, paired
SLOPE_PAGES = 8             # madvise/mprotect_local_slope_N: 1 and N pages, paired


@dataclass(frozen=True)
class Mode:
    samples: int          # samples (batches) per benchmark
    target_us: int        # wall time of one sample
    warmup_ms: int        # warm-up before the samples (also sizes a sample)
    timeout_s: float      # a benchmark taking longer is killed and reported


QUICK = Mode(samples=21, target_us=4000, warmup_ms=30, timeout_s=60)
FULL = Mode(samples=61, target_us=10000, warmup_ms=100, timeout_s=120)


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...]     # calbench's subcommand and its options (without -c/-s/-t/-w)
    remote_threads: int       # how many CPUs besides A it needs
    what: str                 # one line for the progress report
    target_scale: int = 1     # samples this many times longer than the mode's (a small difference of large figures)


def plan(ncpus: int, quick: bool) -> tuple[list[Bench], dict[str, str]]:
    """The benchmarks to run on `ncpus` CPUs, and those skipped with the reason."""
    madv = MADVISE_PAGES_QUICK if quick else MADVISE_PAGES
    benches = [Bench("syscall", ("syscall",), 0, "bare syscall(SYS_getppid)")]
    for n in madv:
        benches.append(Bench(f"madvise_local_{n}", ("madvise", "-n", str(n)), 0,
                             f"madvise(MADV_DONTNEED) of {n} page(s), the process on one CPU"))
    for n in MPROTECT_PAGES:
        benches.append(Bench(f"mprotect_local_{n}", ("mprotect", "-n", str(n)), 0,
                             f"mprotect(PROT_READ) of {n} written page(s), the process on one CPU"))
    for op in ("madvise", "mprotect"):
        benches.append(Bench(f"{op}_local_slope_{SLOPE_PAGES}", ("slope", "-m", op, "-n", str(SLOPE_PAGES)), 0,
                             f"{op} per extra page, 1 and {SLOPE_PAGES} pages alternately", 4))
    remote, skipped = _remote(ncpus, quick, madv)
    benches += remote
    for p in FORK_PAGES_QUICK if quick else FORK_PAGES:
        benches.append(Bench(f"fork_exit_{p}", ("fork_exit", "-p", str(p)), 0,
                             f"fork+exit+wait of a parent with {p} touched page(s)"))
    benches.append(Bench("fork_exit_slope", ("fork_pair", "-p", str(FORK_SLOPE_PAGES)), 0,
                         f"fork+exit+wait per page, 1 and {FORK_SLOPE_PAGES} pages alternately", 8))
    benches += [
        Bench("cow_fault", ("cow_fault",), 0, "copy-on-write write fault after fork"),
        Bench("ctx_switch_process", ("ctx_switch_process",), 0, "pipe ping-pong between two processes on one CPU"),
        Bench("ctx_switch_thread", ("ctx_switch_thread",), 0, "pipe ping-pong between two threads on one CPU"),
        Bench("first_touch_fault", ("first_touch_fault",), 0, "first write to a fresh anonymous page"),
        Bench("read_fault_zero", ("read_fault_zero",), 0, "first read of a fresh anonymous page (zero page)"),
    ]
    return benches, skipped


def _remote(ncpus: int, quick: bool, madv: tuple[int, ...]) -> tuple[list[Bench], dict[str, str]]:
    names = [(n, 1) for n in madv]
    kmax = ncpus - 1
    if quick:
        kmax = min(REMOTE_THREADS_QUICK_MAX, kmax)
    names += [(1, k) for k in range(2, max(kmax, 1) + 1)]
    if ncpus < 2:
        reason = ("one usable CPU: a remote shootdown needs a thread of the process on another CPU "
                  "(give calibrate two or more CPUs)")
        return [], {f"madvise_remote_{n}_t{k}": reason for n, k in names}
    return [Bench(f"madvise_remote_{n}_t{k}", ("madvise", "-n", str(n), "-k", str(k)), k,
                  f"madvise(MADV_DONTNEED) of {n} page(s) with {k} thread(s) spinning on other CPUs "
                  f"(remote shootdown)") for n, k in names], {}
