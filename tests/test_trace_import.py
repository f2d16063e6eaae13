"""smpsim trace import / info: perf script text into a trace, and counts a kernel developer can
check with grep. The input is tests/data/perf_script_xz.txt.gz: `perf record -a` of
`xz -T2 -6 -k` on a 2-vCPU Linux 6.18 guest, through `perf script -F comm,pid,tid,cpu,time,event,trace`."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from smpsim.cli import main
from smpsim.errors import TraceError
from smpsim.trace import events as ev
from smpsim.trace.format import TraceReader
from smpsim.trace.importer import import_any
from smpsim.trace.info import trace_info

DATA = Path(__file__).parent / "data" / "perf_script_xz.txt.gz"
ROOT_PID = 8272          # the process perf record started (named perf-exec until it execs)


def _lines() -> list[str]:
    return gzip.open(DATA, "rt").read().splitlines()


def _pid(line: str) -> int:
    return int(re.search(r"\s(-?\d+)/-?\d+\s+\[", line).group(1))


@pytest.fixture(scope="module")
def xz(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("trace") / "xz.smpt"
    import_any(DATA, out)
    return out


def test_trace_info_counts_equal_what_grep_counts_in_the_perf_script_text(xz):
    lines = _lines()
    flushes = [l for l in lines if "tlb:tlb_flush:" in l and "pages:0 " not in l]
    ours = [l for l in flushes if _pid(l) == ROOT_PID]
    info = trace_info(xz)
    real = info["real"]
    assert real["initiated"] == sum("reason:local MM shootdown" in l for l in ours) > 0
    assert real["remote_requested"] == sum("reason:remote IPI send" in l for l in ours) > 0
    assert real["received"] == sum("reason:remote shootdown" in l for l in flushes) > 0
    assert real["task_switch"] == sum("reason:flush on task switch" in l for l in flushes)
    assert real["remote_queued"] == sum("csd:csd_queue_cpu:" in l and "func=flush_tlb_func" in l
                                        and _pid(l) == ROOT_PID for l in lines) > 0
    faults = [l for l in lines if "exceptions:page_fault_user:" in l and _pid(l) == ROOT_PID]
    assert info["events_by_kind"]["fault"] == len(faults)
    writes_on_present = [l for l in faults if int(re.search(r"error_code=(0x[0-9a-f]+)", l).group(1), 16) & 0x13 == 0x3]
    assert info["faults_by_type"]["write on present"] == len(writes_on_present) > 1000
    assert info["syscalls"]["munmap"] == sum("sys_enter_munmap:" in l and _pid(l) == ROOT_PID for l in lines)
    assert [p["pid"] for p in info["processes"]] == [ROOT_PID]
    sent = [re.search(r"callsite=(\w+)", l).group(1) for l in lines if "ipi:ipi_send_cpu:" in l and _pid(l) == ROOT_PID]
    assert info["ipis_by_callsite"] == {c: sent.count(c) for c in set(sent)}
    assert info["ipis_by_callsite"]["on_each_cpu_cond_mask"] == real["remote_queued"]   # the flush IPIs


def test_import_keeps_the_tree_and_only_machine_wide_events_of_other_tasks(xz):
    with TraceReader(xz) as r:
        tree = {tid for tid, _, _, in_tree in r.header["tasks"] if in_tree}
        times, other_kinds = [], set()
        for kind, t, cpu, tid, *args in r.events():
            times.append(t)
            if tid not in tree:
                other_kinds.add(ev.KINDS[kind])
        assert r.summary["warnings"] == {}
    assert times == sorted(times)
    assert other_kinds <= {"switch", "flush", "csd", "ipi"} and "switch" in other_kinds
    assert {tid for tid in tree} >= {ROOT_PID}


def test_compressed_and_plain_text_give_the_same_trace(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    plain = tmp_path / "t.txt"
    plain.write_bytes(gzip.open(DATA).read())
    zst = tmp_path / "t.txt.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    outs = []
    for i, src in enumerate((plain, DATA, zst)):
        out = tmp_path / f"{i}.smpt"
        import_any(src, out)
        with TraceReader(out) as r:
            outs.append(list(r.events()))
    assert outs[0] == outs[1] == outs[2] and len(outs[0]) > 20_000


def test_text_without_pid_and_tid_is_refused_with_the_perf_script_command(tmp_path):
    text = tmp_path / "noids.txt"
    text.write_text("              xz  8272 [001] 67608.390738:       syscalls:sys_enter_brk: brk: 0x00000000\n")
    result = CliRunner().invoke(main, ["trace", "import", str(text), "--out", str(tmp_path / "o.smpt")])
    assert result.exit_code == 2
    assert "perf script --ns -F comm,pid,tid,cpu,time,event,trace" in result.output
    assert not (tmp_path / "o.smpt").exists()


def test_garbage_unknown_and_malformed_lines_are_counted_not_fatal(tmp_path):
    lines = _lines()[:2000]
    bad = ["garbage that is no event", "\x00\x01binary",
           "  xz  8272/8272  [001] 67608.400000:  kmem:kmalloc: call_site=foo",
           "  xz  8272/8272  [001] 67608.400001:  tlb:tlb_flush: pages:abc",
           "  xz  8272/8272  [001] 67608.000001:  exceptions:page_fault_user: address=0x7f00 ip=0x1 error_code=0x6",
           "  xz  8272/8272  [001] 67608.400002:  exceptions:page_fault_user: address=0x1000000000000 ip=0x1 error_code=0x6"]
    text = tmp_path / "t.txt"
    text.write_text("\n".join(lines[:1000] + bad + lines[1000:]) + "\n")
    out = tmp_path / "t.smpt"
    header = import_any(text, out)
    w = header["warnings"]
    assert w["skipped: lines that are not events"] == 2
    assert w["skipped: unknown event kmem:kmalloc"] == 1
    assert w["skipped: malformed tlb:tlb_flush"] == 1
    assert w["kept: out-of-order time, given the previous event's"] >= 1
    assert w["skipped: fault beyond the 48-bit user address space"] == 1
    assert trace_info(out)["warnings"] == w


@pytest.mark.parametrize("damage", ["truncate", "flip", "not_a_trace", "empty"])
def test_a_damaged_trace_file_is_a_clear_error(xz, tmp_path, damage):
    data = xz.read_bytes()
    bad = tmp_path / "bad.smpt"
    if damage == "truncate":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        bad.write_bytes(data[:200] + bytes(b ^ 0x5A for b in data[200:400]) + data[400:])
    elif damage == "not_a_trace":
        bad.write_bytes(gzip.compress(b"hello"))
    else:
        bad.write_bytes(b"")
    with pytest.raises(TraceError, match="not a usable smpsim trace"):
        trace_info(bad)
    result = CliRunner().invoke(main, ["trace", "info", str(bad)])
    assert result.exit_code == 2 and result.output.startswith("smpsim: error: trace info:")


def test_an_interrupted_import_leaves_nothing(tmp_path, monkeypatch):
    from smpsim.trace import importer
    calls = {"n": 0}
    real = importer._Pass.line

    def interrupt(self, p):
        calls["n"] += 1
        if calls["n"] == 5000:
            raise KeyboardInterrupt
        return real(self, p)
    monkeypatch.setattr(importer._Pass, "line", interrupt)
    out = tmp_path / "x.smpt"
    result = CliRunner().invoke(main, ["trace", "import", str(DATA), "--out", str(out)])
    assert result.exit_code == 2 and "interrupted" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_root_pid_that_is_not_in_the_text_is_refused(tmp_path):
    with pytest.raises(TraceError, match="pid 4242 does not appear"):
        import_any(DATA, tmp_path / "x.smpt", root=4242)


@pytest.mark.slow
def test_trace_record_where_perf_and_the_tracepoints_are_usable(tmp_path):
    from smpsim.trace.record import _check_permitted, available
    if shutil.which("perf") is None:
        pytest.skip("perf is not installed here")
    try:
        _check_permitted()
    except TraceError as e:
        pytest.skip(f"recording is not permitted here: {e}")
    present, missing = available()
    if ev.GROUND_TRUTH in missing:
        pytest.skip(f"this kernel has no {ev.GROUND_TRUTH}")
    out = tmp_path / "sh.smpt"
    result = CliRunner().invoke(main, ["trace", "record", "--out", str(out), "--", "sh", "-c",
                                       "for i in 1 2 3; do ls / > /dev/null; done; exit 3"])
    assert result.exit_code == 0, result.output
    info = trace_info(out)
    assert info["exit_status"] == 3
    assert len(info["processes"]) >= 4             # sh and three ls
    assert info["events_by_kind"]["exec"] >= 4 and info["events_by_kind"]["fault"] > 100
    assert info["machine"]["kernel_release"]


@pytest.mark.parametrize("flag,warns", [("--messages", False), ("--trace", True)])
def test_run_messages_writes_the_exchanges_and_the_old_trace_flag_warns(tmp_path, flag, warns):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "configs/munmap_fanout_quick.toml", "--backend", "inline", "--quiet",
                                       "--out", str(out), "--set", "policies=[{name='netbsd5', preset='netbsd5'}]",
                                       flag])
    assert result.exit_code == 0, result.output
    assert (out / "base" / "messages.msgpack").stat().st_size > 0
    assert ("--trace is now --messages" in result.output) == warns


BUNDLED = sorted((Path(__file__).parent.parent / "configs" / "traces").glob("*.smpt"))


def test_the_bundled_traces_are_small_well_formed_and_three_have_ground_truth_enough():
    assert {p.stem for p in BUNDLED} >= {"make_j2", "xz_t2", "py_pool", "pipeline", "sqlite"}
    enough = 0
    for path in BUNDLED:
        assert path.stat().st_size < 1 << 20, path
        info = trace_info(path)
        assert info["exit_status"] == 0 and info["command"] and info["warnings"] == {}, path
        assert info["machine"]["kernel_release"] and info["machine"]["online_cpus"] >= 2
        assert info["events_by_kind"]["fault"] > 1000 and info["processes"], path
        real = info["real"]
        enough += real["initiated"] >= 200 and (real["remote_requested"] >= 100 or real["remote_queued"] >= 100)
    assert enough >= 2


def _import(tmp_path, lines: list[str], name="t"):
    text = tmp_path / f"{name}.txt"
    text.write_text("\n".join(lines) + "\n")
    return import_any(text, tmp_path / f"{name}.smpt"), tmp_path / f"{name}.smpt"


def test_perf_exited_task_lines_are_not_a_thread_and_do_not_join_another_process(tmp_path):
    lines = _lines()[:3000]
    exited = ["            :-1   8272/-1    [001] 67608.500000:  tlb:tlb_flush: pages:1 reason:local MM shootdown (3)",
              "            :-1   999/-1     [001] 67608.500001:  tlb:tlb_flush: pages:1 reason:local MM shootdown (3)",
              "            :-1    -1/-1     [001] 67608.500002:  tlb:tlb_flush: pages:1 reason:local MM shootdown (3)"]
    header, out = _import(tmp_path, lines + exited)
    tids = {tid for tid, *_ in header["tasks"]}
    assert -1 not in tids
    before = trace_info(import_any(DATA, tmp_path / "x.smpt") and tmp_path / "x.smpt")
    info = trace_info(out)
    base, _ = _import(tmp_path, lines, "base")
    assert info["real"]["initiated"] == trace_info(tmp_path / "base.smpt")["real"]["initiated"] + 1
    assert info["warnings"]["skipped: events of an exited task perf could not name (-1/-1)"] == 1
    assert before["threads"] == 2                    # xz's main thread and its worker


def test_a_process_is_named_by_the_program_it_execd(tmp_path):
    info = trace_info(BUNDLED[[p.stem for p in BUNDLED].index("pipeline")])
    names = {p["comm"] for p in info["processes"]}
    assert {"sort", "uniq", "head"} <= names


def test_one_line_without_ids_among_good_ones_is_skipped_and_counted(tmp_path):
    lines = _lines()[:500]
    odd = "   foo [000] 67608.400000: sched:sched_switch: prev_comm=a prev_pid=1 ==> next_comm=b next_pid=2"
    header, _ = _import(tmp_path, lines[:250] + [odd] + lines[250:])
    assert header["warnings"]["skipped: event lines without pid/tid"] == 1


@pytest.mark.parametrize("line", [
    "  xz  8272/8272  [001] 67608.400000:  tlb:tlb_flush: pages:99999999999999999999999 reason:x (3)",
    "  xz  8272/8272  [001] 67608.400000:  syscalls:sys_enter_munmap: addr: 0xfffffffffffffffffffff, len: 0x1000",
    "  xz  99999999999/8272  [001] 67608.400000:  tlb:tlb_flush: pages:1 reason:x (3)",
    "  xz  8272/8272  [999999] 67608.400000:  tlb:tlb_flush: pages:1 reason:x (3)",
    "  xz  8272/8272  [001] 99999999999999999999999.400000:  tlb:tlb_flush: pages:1 reason:x (3)",
])
def test_numbers_beyond_any_machine_are_skipped_and_counted(tmp_path, line):
    lines = _lines()[:300]
    header, out = _import(tmp_path, lines + [line])
    assert sum(v for k, v in header["warnings"].items() if k.startswith("skipped")) == 1
    assert trace_info(out)["events"] == header["events"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_out_equal_to_input_a_fifo_and_a_directory_are_refused(tmp_path):
    import os
    text = tmp_path / "same.txt"
    text.write_bytes(gzip.open(DATA).read()[:20000])
    before = text.read_bytes()
    for args in (["trace", "import", str(text), "--out", str(text)],
                 ["trace", "import", str(tmp_path), "--out", str(tmp_path / "d.smpt")],
                 ["trace", "import", str(text), "--out", str(tmp_path)],
                 ["trace", "import", str(text), "--out", str(tmp_path / "nope" / "x.smpt")],
                 ["trace", "info", str(tmp_path)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and result.output.startswith("smpsim: error: trace"), (args, result.output)
    assert text.read_bytes() == before
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    result = CliRunner().invoke(main, ["trace", "import", str(fifo), "--out", str(tmp_path / "f.smpt")])
    assert result.exit_code == 2 and "not a regular file" in result.output


def test_a_cut_or_corrupted_zstd_input_is_an_error(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    raw = zstandard.ZstdCompressor().compress(gzip.open(DATA).read())
    for name, data in (("cut", raw[: len(raw) // 2]), ("bad", raw[:3000] + b"\xff" * 64 + raw[3064:])):
        f = tmp_path / f"{name}.zst"
        f.write_bytes(data)
        with pytest.raises(TraceError, match="zstd"):
            import_any(f, tmp_path / f"{name}.smpt")
        assert not (tmp_path / f"{name}.smpt").exists()


def test_a_hand_made_trace_with_bad_fields_is_refused(tmp_path):
    import msgpack
    from smpsim.trace.format import FORMAT, VERSION
    head = {"format": FORMAT, "version": VERSION, "kinds": list(ev.KINDS), "syscalls": list(ev.SYSCALLS),
            "tasks": [[1, 1, "a", 1]], "start_ns": 0, "machine": {}}
    for events in ([[ev.FLUSH, 0, 0, 1]], [[-1, 0, 0, 1, 5, 0]], [[ev.SYS_ENTER, 0, 0, 1, 99]],
                   [[ev.FAULT, 0, [0], 1, 4096, 6]]):
        f = tmp_path / "h.smpt"
        f.write_bytes(gzip.compress(b"".join(msgpack.packb(x) for x in [head, *events, ["end", 1, {}]])))
        result = CliRunner().invoke(main, ["trace", "info", str(f)])
        assert result.exit_code == 2 and "malformed" in result.output, (events, result.output)
    f.write_bytes(gzip.compress(msgpack.packb({**head, "tasks": [[1, 1]]}) + msgpack.packb(["end", 0, {}])))
    assert CliRunner().invoke(main, ["trace", "info", str(f)]).exit_code == 2


def test_a_thread_id_given_as_pid_says_whose_thread_it_is(tmp_path):
    with pytest.raises(TraceError, match="8274 is a thread of process 8272"):
        import_any(DATA, tmp_path / "x.smpt", root=8274)


def test_a_command_name_holding_prev_pid_does_not_fool_the_switch_parser():
    assert ev.decode("sched:sched_switch", "prev_comm=prev_pid=7 prev_pid=700 prev_prio=120 prev_state=S "
                     "==> next_comm=x next_pid=701 next_prio=120") == (ev.SWITCH, 700, 701)


@pytest.mark.slow
def test_trace_record_of_the_commands_tasks_only_infers_their_switches_in(tmp_path):
    from smpsim.trace.record import available, system_wide_permitted
    if shutil.which("perf") is None:
        pytest.skip("perf is not installed here")
    present, missing = available()
    if not system_wide_permitted() or ev.GROUND_TRUTH in missing:
        pytest.skip("a per-task recording of every tracepoint needs the privilege (root) and an x86 kernel")
    out = tmp_path / "sh.smpt"
    result = CliRunner().invoke(main, ["trace", "record", "--scope", "task", "--out", str(out), "--", "sh", "-c",
                                       "for i in 1 2 3; do ls / > /dev/null; done"])
    assert result.exit_code == 0, result.output
    assert "the command's tasks only" in result.output
    info = trace_info(out)
    assert info["recording"]["scope"] == "task" and info["recording"]["inferred"]
    inferred = info["warnings"]["kept: switches into a task inferred from its first event on a CPU (per-task recording)"]
    assert 4 <= inferred <= info["events_by_kind"]["switch"]     # at least each process's first run
    assert info["events_by_kind"]["exec"] >= 4 and info["events_by_kind"]["fault"] > 100


def test_an_unprivileged_user_records_per_task_and_only_the_system_calls(tmp_path, monkeypatch):
    """auto scope without the privilege: no -a, only the syscalls tracepoints (the kernel opens no
    other tracepoint's raw data to an unprivileged per-task event), the rest named as left out."""
    from smpsim.trace import record as rec
    seen = {}

    def fake_perf(argv):
        seen["argv"] = argv
        Path(argv[argv.index("-o") + 1]).write_bytes(b"x")      # perf.data, read by the (fake) import
        return 0

    def fake_import(data, out, **kw):
        seen.update(kw)
        return kw["extra"]
    monkeypatch.setattr(rec, "system_wide_permitted", lambda: False)
    monkeypatch.setattr(rec, "available", lambda: (list(ev.TRACEPOINTS), []))
    monkeypatch.setattr(rec, "_tracefs", lambda: tmp_path)
    monkeypatch.setattr(rec, "_check_readable", lambda tps: None)
    monkeypatch.setattr(rec, "_perf_record", fake_perf)
    monkeypatch.setattr(rec, "import_any", fake_import)
    monkeypatch.setattr(rec.shutil, "which", lambda name: "/usr/bin/" + name)
    header = rec.record(["true"], tmp_path / "t.smpt")
    assert "-a" not in seen["argv"] and seen["infer_switches"] is True
    events = [seen["argv"][i + 1] for i, a in enumerate(seen["argv"]) if a == "-e"]
    assert events and all(e.startswith("syscalls:") for e in events)
    assert header["recording"]["scope"] == "task"
    assert ev.GROUND_TRUTH in header["missing_tracepoints"] and ev.FAULTS in header["recording"]["left_out"]
    with pytest.raises(TraceError, match="not permitted"):
        rec.record(["true"], tmp_path / "t.smpt", scope="system")


def test_tracepoints_this_user_cannot_read_are_refused_with_the_fix(tmp_path, monkeypatch):
    from smpsim.trace import record as rec
    (tmp_path / "events" / "tlb" / "tlb_flush").mkdir(parents=True)
    monkeypatch.setattr(rec, "_tracefs", lambda: tmp_path)
    with pytest.raises(TraceError, match=r"cannot read 1 of the tracepoints .*tlb:tlb_flush.*chmod -R o\+rX"):
        rec._check_readable(["tlb:tlb_flush"])
