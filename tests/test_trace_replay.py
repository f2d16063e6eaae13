"""Replaying a recorded program ([workload] kind = "trace"): the bundled traces end to end, and
small hand-made traces for each rule of the replay (chains, implicit mappings, vfork, fork,
lag, idle epochs, failed calls), with the invariant checker on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from smpsim.errors import ConfigError
from smpsim.experiments.config import load
from smpsim.trace import events as ev
from smpsim.trace.format import TraceReader, TraceWriter
from smpsim.trace.info import trace_info
from tests.helpers import run_inline

TRACES = Path(__file__).resolve().parent.parent / "configs" / "traces"
MMAP, MUNMAP = ev.SYSCALL_CODE["mmap"], ev.SYSCALL_CODE["munmap"]
BASE = 0x7f0000000000                  # a 2 MiB-aligned address
PAGE = 4096


def replay(trace: Path, policy: str = "linux", *, check: bool = True, **machine) -> dict:
    m = {"ncpus": 2, "phys_pages": 65536, "quantum_cycles": 25_000, **machine}
    data = {"name": "t", "seed": 1, "machine": m, "workload": {"kind": "trace", "trace": str(trace)},
            "policies": [{"name": policy}], "run": {"max_epochs": 1_000_000}}
    _, result, _ = run_inline(data, check=check)
    return Counter(result["counters"])      # design counters appear only when they move


def write_trace(path: Path, tasks: list, events: list, cpus: int = 2) -> Path:
    """A trace of `tasks` ([tid, tgid, comm]) all in the command's tree, and `events`
    ((kind, t_ns, cpu, tid, *args), in time order)."""
    header = {"machine": {"cpus_seen": cpus}, "source": {"input": "test"}, "tree": "test", "root_tgid": tasks[0][1],
              "tasks": [[tid, tgid, comm, 1] for tid, tgid, comm in tasks] + [[0, 0, "swapper", 0]],
              "start_ns": 0, "end_ns": events[-1][1], "tracepoints_seen": []}
    w = TraceWriter(path, header)
    for e in events:
        w.write(e)
    w.close({"counts": {}, "warnings": {}, "callsites": []})
    return path


def mmap(t, cpu, tid, addr, pages):
    return [(ev.SYS_ENTER, t, cpu, tid, MMAP, 0, pages * PAGE, 3, 0x22, -1, 0), (ev.SYS_EXIT, t + 1, cpu, tid, MMAP, addr)]


def fault(t, cpu, tid, addr, write=True):
    return [(ev.FAULT, t, cpu, tid, addr, 0x6 if write else 0x4)]


def run_on(tid, cpu, t):
    return [(ev.SWITCH, t, cpu, 0, 0, tid)]


# --- the bundled traces ----------------------------------------------------------------------------

def _ground(trace: Path) -> dict:
    """What the trace itself says the replay must do: its events, its tree's faults, the
    processes that exited and the forks that copy an address space."""
    with TraceReader(trace) as r:
        tasks = {tid: tgid for tid, tgid, _, in_tree in r.header["tasks"] if in_tree}
        n, kinds = 0, Counter()
        for kind, _, _, tid, *args in r.events():
            n += 1
            if tid not in tasks:
                continue
            if kind == ev.FAULT:
                kinds["faults"] += 1
            elif kind == ev.EXIT and args[0] == 1:
                kinds["exits"] += 1
            elif kind == ev.FORK and args[1] == 0 and tasks.get(args[0]) not in (None, tasks[tid]):
                kinds["forks"] += 1
    return {"events": n, **kinds}


# make_j2 (66,545 events, 10 s) is left to configs/study_real_traces.toml, to keep the suite short
@pytest.mark.parametrize("name", ["sqlite", "pipeline",
                                  pytest.param("py_pool", marks=pytest.mark.slow),
                                  pytest.param("xz_t2", marks=pytest.mark.slow)])
def test_a_bundled_trace_replays_every_event_fault_exit_and_fork(name):
    trace = TRACES / f"{name}.smpt"
    want = _ground(trace)
    c = replay(trace, check=False)
    assert c["trace_events"] == want["events"] == trace_info(trace)["events"]
    assert c["trace_faults"] == want["faults"] == sum(trace_info(trace)["faults_by_type"].values())
    assert c["exits"] == want["exits"] > 0
    assert c["forks"] == want.get("forks", 0)
    assert c["trace_events_orphaned"] == 0


# every preset replaying the sqlite trace under the checker: tests/test_kernels.py (SMALL["trace"])


@pytest.mark.slow
def test_the_compressor_trace_needs_the_zero_page_for_its_flushes():
    """xz's threads write pages they first read: Linux maps the zero page on the read and
    replaces it, with a flush, on the write; without a zero page there is nothing to flush."""
    real = trace_info(TRACES / "xz_t2.smpt")["faults_by_type"]["write on present"]
    on = replay(TRACES / "xz_t2.smpt", check=False)
    assert abs(on["zero_page_copies"] - real) / real < 0.05
    off = replay(TRACES / "xz_t2.smpt", "netbsd5", check=False)
    assert off["zero_page_copies"] == 0 and off["shootdown_ipis"] < on["shootdown_ipis"] / 100


def test_same_trace_same_counters():
    a = replay(TRACES / "pipeline.smpt", check=False)
    b = replay(TRACES / "pipeline.smpt", check=False)
    assert a == b


# --- the rules, on hand-made traces -----------------------------------------------------------------

def test_a_fault_after_another_cpus_mmap_finds_the_mapping(tmp_path):
    """Thread 102 faults 1 ns after thread 101's mmap returned on the other CPU: one chain per
    address space keeps the recorded order, so the fault finds the entry."""
    events = run_on(101, 0, 0) + run_on(102, 1, 0) + mmap(1000, 0, 101, BASE, 16) + fault(1002, 1, 102, BASE)
    c = replay(write_trace(tmp_path / "t.smpt", [(101, 100, "a"), (102, 100, "a")], events))
    assert c["implicit_mappings"] == 0 and c["page_faults"] == 1 and c["trace_faults_unneeded"] == 0


def test_a_fault_nothing_maps_makes_an_implicit_entry_clipped_to_its_neighbours(tmp_path):
    events = run_on(101, 0, 0) + mmap(1000, 0, 101, BASE + 256 * PAGE, 256) + fault(2000, 0, 101, BASE + 10 * PAGE)
    c = replay(write_trace(tmp_path / "t.smpt", [(101, 101, "a")], events))
    assert c["implicit_mappings"] == 1 and c["implicit_pages"] == 256


def test_an_mmap_over_an_implicit_window_unmaps_it_first(tmp_path):
    events = run_on(101, 0, 0) + fault(1000, 0, 101, BASE) + mmap(2000, 0, 101, BASE + 64 * PAGE, 8)
    c = replay(write_trace(tmp_path / "t.smpt", [(101, 101, "a")], events))
    assert c["implicit_pages"] == 512 and c["mmap_fixed_unmaps"] == 1


def test_a_vfork_child_runs_on_its_parents_mm_until_it_execs(tmp_path):
    events = (run_on(200, 0, 0) + mmap(1000, 0, 200, BASE, 4)
              + [(ev.FORK, 2000, 0, 200, 201, 1)] + run_on(201, 1, 2001) + fault(3000, 1, 201, BASE)
              + [(ev.EXEC, 4000, 1, 201)] + fault(5000, 1, 201, BASE))
    c = replay(write_trace(tmp_path / "t.smpt", [(200, 200, "sh"), (201, 201, "ls")], events))
    assert c["forks"] == 0                     # nothing copied
    assert c["implicit_mappings"] == 1         # the fault after exec is in a new, empty map
    assert c["page_faults"] == 2 and c["execs"] == 0


def test_clone3_outside_the_thread_group_is_posix_spawn_and_shares_the_mm(tmp_path):
    events = (run_on(200, 0, 0) + mmap(1000, 0, 200, BASE, 4) + [(ev.FORK, 2000, 0, 200, 201, -1)]
              + fault(3000, 1, 201, BASE))
    c = replay(write_trace(tmp_path / "t.smpt", [(200, 200, "make"), (201, 201, "cc")], events))
    assert c["forks"] == 0 and c["implicit_mappings"] == 0


def test_a_fork_copies_the_address_space_and_the_child_shares_its_pages(tmp_path):
    events = (run_on(200, 0, 0) + mmap(1000, 0, 200, BASE, 4) + fault(1500, 0, 200, BASE)
              + [(ev.FORK, 2000, 0, 200, 201, 0)] + run_on(201, 1, 2001) + fault(3000, 1, 201, BASE, write=False)
              + fault(4000, 1, 201, BASE) + [(ev.EXIT, 5000, 1, 201, 1)])
    c = replay(write_trace(tmp_path / "t.smpt", [(200, 200, "py"), (201, 201, "py")], events))
    assert c["forks"] == 1 and c["exits"] == 1 and c["implicit_mappings"] == 0
    assert c["cow_faults"] == 1 and c["pages_copied"] == 1


def test_events_faster_than_the_model_wait_for_their_space_and_the_lag_is_counted(tmp_path):
    events = run_on(101, 0, 0) + mmap(1000, 0, 101, BASE, 64)
    events += [e for i in range(64) for e in fault(1_000_000 + i, 0, 101, BASE + i * PAGE)]
    c = replay(write_trace(tmp_path / "t.smpt", [(101, 101, "a")], events))
    # the mmap waits for the process's spawn (1 ns before it), and each fault but the first
    # for the fault before it (all 64 within 64 ns)
    assert c["page_faults"] == 64 and c["trace_lag_events"] == 1 + 63
    assert c["trace_lag_cycles_max"] >= c["trace_lag_cycles_total"] // 64 > 0


def test_a_write_to_a_file_page_fault_around_mapped_meets_what_its_read_fault_left(tmp_path):
    """Error code 0x7 on a page of a private file mapping that the model never mapped (the real
    kernel's fault-around mapped it): the page is first mapped as a read fault maps it, then
    written. Under linux that read maps the zero page, so the write replaces it with a flush, as
    the real kernel's copy from the page cache did; the two operations are one recorded event,
    so neither waits as lag. In anonymous memory the same fault is a plain write fault."""
    def trace(name, flags):
        events = run_on(101, 0, 0) + [(ev.SYS_ENTER, 1000, 0, 101, MMAP, 0, 16 * PAGE, 3, flags, 3, 0),
                                      (ev.SYS_EXIT, 1001, 0, 101, MMAP, BASE),
                                      (ev.FAULT, 1_000_000, 0, 101, BASE + 5 * PAGE, 0x7)]
        return write_trace(tmp_path / name, [(101, 101, "a")], events)
    c = replay(trace("file.smpt", 0x02))                  # MAP_PRIVATE, fd 3
    assert c["trace_faults_present_unmapped"] == 1 and c["page_faults"] == 2
    assert c["zero_page_copies"] == 1 and c["local_flushes"] == 1
    assert c["trace_lag_events"] == 1                     # the mmap, after the spawn; not the write
    c = replay(trace("anon.smpt", 0x22))                  # MAP_PRIVATE | MAP_ANONYMOUS
    assert c["trace_faults_present_unmapped"] == 0 and c["page_faults"] == 1 and c["local_flushes"] == 0


def test_idle_stretches_are_skipped(tmp_path):
    events = run_on(101, 0, 0) + fault(1000, 0, 101, BASE) + fault(2_000_000_000, 0, 101, BASE + PAGE)
    vm_epochs = 2 * 2_500_000_000 // 25_000          # 2 s at 2.5 GHz
    c = replay(write_trace(tmp_path / "t.smpt", [(101, 101, "a")], events))
    assert c["page_faults"] == 2 and c["epochs_skipped"] > 0.49 * vm_epochs


def test_failed_calls_and_unmapped_ranges_are_counted_not_replayed(tmp_path):
    events = (run_on(101, 0, 0) + [(ev.SYS_ENTER, 1000, 0, 101, MUNMAP, BASE, PAGE), (ev.SYS_EXIT, 1001, 0, 101, MUNMAP, -22)]
              + [(ev.SYS_ENTER, 2000, 0, 101, MUNMAP, BASE, PAGE), (ev.SYS_EXIT, 2001, 0, 101, MUNMAP, 0)])
    c = replay(write_trace(tmp_path / "t.smpt", [(101, 101, "a")], events))
    assert c["trace_calls_failed"] == 1 and c["trace_ranges_unmapped"] == 1 and c["munmaps"] == 1


def test_a_cpu_running_another_user_task_has_switched_the_mm_away(tmp_path):
    """Two threads of one process; cpu1 then runs an unrelated user task (the mm leaves it) and
    a kernel thread runs on cpu0's... no: cpu1 runs `other`, so a flush by cpu0 sends no IPI."""
    tasks = [(101, 100, "a"), (102, 100, "a")]
    events = (run_on(101, 0, 0) + run_on(102, 1, 0) + mmap(1000, 0, 101, BASE, 4) + fault(200_000, 1, 102, BASE)
              + fault(210_000, 1, 102, BASE + PAGE) + [(ev.SWITCH, 300_000, 1, 102, 0, 555)])
    munmap = [(ev.SYS_ENTER, 400_000, 0, 101, MUNMAP, BASE, 4 * PAGE), (ev.SYS_EXIT, 400_001, 0, 101, MUNMAP, 0)]
    other = write_trace(tmp_path / "o.smpt", tasks, events + munmap)
    kthread = write_trace(tmp_path / "k.smpt", tasks, [e if e[0] != ev.SWITCH or e[5] != 555 else
                                                       (ev.SWITCH, e[1], 1, 102, 0, 0) for e in events] + munmap)
    assert replay(other, "netbsd5")["shootdown_ipis"] == 0            # the mm left cpu1
    assert replay(kthread, "netbsd5")["shootdown_ipis"] == 1          # idle: cpu1 holds it lazily


# --- configs ----------------------------------------------------------------------------------------

def _config(tmp_path, trace: str, **extra) -> Path:
    lines = ['name = "t"', "[machine]", f"ncpus = {extra.get('ncpus', 2)}", "[workload]", 'kind = "trace"',
             f'trace = "{trace}"', "[run]", f"max_epochs = {extra.get('max_epochs', 1_000_000)}",
             "[[policies]]", 'name = "linux"']
    path = tmp_path / "c.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_trace_is_found_beside_its_config(tmp_path):
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "s.smpt").write_bytes((TRACES / "sqlite.smpt").read_bytes())
    cfg, _ = load(_config(tmp_path, "traces/s.smpt"))
    assert Path(cfg.workload.trace) == tmp_path / "traces" / "s.smpt"


@pytest.mark.parametrize("trace, extra, says", [
    ("missing.smpt", {}, "cannot be read"),
    (str(TRACES / "sqlite.smpt"), {"ncpus": 1}, "set machine.ncpus = 2"),
    (str(TRACES / "make_j2.smpt"), {"max_epochs": 100}, "raise run.max_epochs"),
])
def test_a_trace_that_cannot_be_replayed_is_refused_when_the_config_loads(tmp_path, trace, extra, says):
    with pytest.raises(ConfigError, match=says):
        load(_config(tmp_path, trace, **extra))


def test_a_sweep_over_traces_names_its_points_by_trace(tmp_path):
    from smpsim.experiments.config.loading import point_names, sweep_points
    text = _config(tmp_path, str(TRACES / "sqlite.smpt")).read_text()
    (tmp_path / "c.toml").write_text(text + f'[sweep]\n"workload.trace" = ["{TRACES / "sqlite.smpt"}", '
                                            f'"{TRACES / "pipeline.smpt"}"]\n')
    _, data = load(tmp_path / "c.toml")
    assert point_names([p for p, _ in sweep_points(data)]) == ["trace=sqlite", "trace=pipeline"]


@pytest.mark.slow
def test_memory_does_not_grow_with_the_traces_length(tmp_path):
    """The trace is streamed: replaying 5x the events of the same steady state takes no more
    memory (scripts/long_trace.py; BENCHMARKS.md has 10 million events)."""
    import subprocess
    import sys
    import tracemalloc
    peaks = []
    for n in (20_000, 100_000):
        trace = tmp_path / f"long{n}.smpt"
        subprocess.run([sys.executable, str(TRACES.parent.parent / "scripts" / "long_trace.py"), str(n), str(trace)],
                       check=True)
        tracemalloc.start()
        c = replay(trace, check=False, quantum_cycles=250_000)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert c["trace_events"] == n
    assert peaks[1] < peaks[0] * 1.2 + (1 << 20)


def test_a_trace_given_with_set_is_relative_to_where_the_command_runs(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "p.smpt").write_bytes((TRACES / "pipeline.smpt").read_bytes())
    config = _config(tmp_path, str(TRACES / "sqlite.smpt"))
    monkeypatch.chdir(tmp_path / "here")
    cfg, _ = load(config, ["workload.trace=p.smpt"])
    assert Path(cfg.workload.trace) == tmp_path / "here" / "p.smpt"


def test_every_sweep_points_machine_is_checked_against_its_trace_when_the_config_loads(tmp_path):
    path = _config(tmp_path, str(TRACES / "sqlite.smpt"))
    path.write_text(path.read_text() + '[sweep]\n"machine.ncpus" = [2, 1]\n')
    with pytest.raises(ConfigError, match="set machine.ncpus = 2"):
        load(path)


def test_anonymous_ranges_split_and_merge_as_calls_change_them():
    from smpsim.experiments.workloads.trace_ranges import AnonRanges
    r = AnonRanges()
    r.add(100, 50)                                        # [100, 150)
    r.remove(120, 10)                                     # a hole: [100, 120) and [130, 150)
    assert 119 in r and 120 not in r and 129 not in r and 130 in r and 150 not in r
    r.add(110, 30)                                        # an anonymous mmap over part of both
    assert all(p in r for p in range(100, 150))
    child = r.copy()
    r.remove(0, 1000)                                     # the parent unmaps everything
    assert 100 not in r and 100 in child                  # the forked child's map is its own


def test_threads_of_one_process_fault_concurrently_and_a_call_waits_for_both(tmp_path):
    """Each thread has its own lane: a fault waits only for its own thread's previous fault, so two
    threads faulting at the same instants lag only behind themselves; an munmap (a barrier) waits
    for both lanes, and the faults after it wait for it."""
    events = run_on(101, 0, 0) + run_on(102, 1, 0) + mmap(1000, 0, 101, BASE, 64)
    for i in range(16):
        events += fault(1_000_000 + i, 0, 101, BASE + i * PAGE) + fault(1_000_000 + i, 1, 102, BASE + (32 + i) * PAGE)
    c = replay(write_trace(tmp_path / "t.smpt", [(101, 101, "a"), (102, 101, "a")], events))
    # the mmap waits for the spawn; each thread's faults but its first wait for its own previous one
    assert c["page_faults"] == 32 and c["trace_lag_events"] == 1 + 2 * 15
    events += [(ev.SYS_ENTER, 1_000_020, 0, 101, MUNMAP, BASE, 64 * PAGE), (ev.SYS_EXIT, 1_000_021, 0, 101, MUNMAP, 0)]
    events += fault(1_000_022, 1, 102, BASE + 63 * PAGE)
    c2 = replay(write_trace(tmp_path / "t2.smpt", [(101, 101, "a"), (102, 101, "a")], events))
    assert c2["munmaps"] == 1 and c2["trace_lag_events"] == 1 + 2 * 15 + 2
