"""`smpsim trace record|import|info`: recorded programs (smpsim.trace). Every error a user can
cause is one paragraph on stderr and exit 2, never a traceback."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from smpsim.errors import TraceError
from smpsim.experiments.signals import handled


def _refuse(what: str, e: BaseException) -> None:
    click.echo(f"smpsim: error: trace {what}: {e}", err=True)
    sys.exit(2)


@contextmanager
def _writing(what: str, out):
    """Run a command that writes the trace `out`: its errors, SIGINT and SIGTERM are one paragraph
    and exit 2 (the trace is written atomically, so nothing is left of it)."""
    try:
        with handled():
            yield
    except TraceError as e:
        _refuse(what, e)
    except KeyboardInterrupt:
        _refuse(what, f"interrupted (SIGINT or SIGTERM); nothing was written to {out}")
    except OSError as e:
        _refuse(what, f"{e.strerror or e}{f' ({e.filename})' if e.filename else ''}; nothing was written")


def _summary(header: dict, out: Path) -> str:
    counts = header.get("counts", {})
    warnings = header.get("warnings", {})
    skipped = sum(v for k, v in warnings.items() if k.startswith("skipped"))
    kept = sum(warnings.values()) - skipped
    notes = [f"{skipped:,} line(s) skipped"] if skipped else []
    notes += [f"{kept:,} event(s) kept with a warning"] if kept else []
    return (f"wrote {out}: {header.get('events', 0):,} events ({', '.join(f'{k} {v:,}' for k, v in counts.items())})"
            + (f"; {' and '.join(notes)}, see `smpsim trace info {out}`" if notes else ""))


@click.group()
def trace():
    """Recorded programs: record one with perf, import perf script text, summarise a trace."""


@trace.command("record", context_settings={"ignore_unknown_options": True})
@click.option("--out", default="trace.smpt", show_default=True, type=click.Path(),
              help="The trace file to write (replaced atomically).")
@click.option("--scope", type=click.Choice(["auto", "system", "task"]), default="auto", show_default=True,
              help="system: every CPU (perf record -a: root, or kernel.perf_event_paranoid <= -1); task: the "
                   "command's tasks only; auto: system where permitted, else task (the trace says what it "
                   "then infers).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def record_cmd(out, scope, command):
    """Run COMMAND under `perf record` with the tracepoints smpsim reads, and import it."""
    from smpsim.trace.record import record
    with _writing("record", out):
        header = record(list(command), Path(out), scope)
    click.echo(_summary(header, Path(out)))
    recording = header.get("recording", {})
    if recording.get("scope") == "task":
        click.echo("note: recorded the command's tasks only (not every CPU): "
                   + "; ".join(recording.get("inferred", [])), err=True)
    left_out = set(recording.get("left_out", []))
    status = header.get("exit_status")
    if status:
        from smpsim.trace.record import describe_status
        click.echo(f"note: the command {describe_status(status)}; its trace was kept", err=True)
    for tp in header.get("missing_tracepoints", []):
        why = ("this user may not record it per task without privilege (root, or "
               "kernel.perf_event_paranoid <= -1)" if tp in left_out else "this kernel has no such tracepoint")
        click.echo(f"note: no {tp} ({why}): the trace has no data for it", err=True)


@trace.command("import")
@click.argument("input_path", metavar="INPUT", type=click.Path())
@click.option("--out", type=click.Path(), help="The trace file to write (default: INPUT.smpt).")
@click.option("--pid", type=int, help="The root of the command's process tree (default: the task perf record "
                                      "started, else every task but the idle task and perf).")
def import_cmd(input_path, out, pid):
    """Import a perf.data file or `perf script -F comm,pid,tid,cpu,time,event,trace` text
    (plain, gzip or zstd) into an smpsim trace."""
    from smpsim.trace.importer import import_any
    out = Path(out) if out else Path(input_path).with_suffix(".smpt")
    with _writing("import", out):
        header = import_any(Path(input_path), out, root=pid)
    click.echo(_summary(header, out))


@trace.command("info")
@click.argument("trace_path", metavar="FILE", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def info_cmd(trace_path, fmt):
    """Processes, threads, CPUs, duration, events by kind, and the real kernel's flushes."""
    from smpsim.trace.info import format_info, trace_info
    try:
        info = trace_info(trace_path)
    except TraceError as e:
        _refuse("info", e)
    click.echo(json.dumps(info, indent=2) if fmt == "json" else format_info(info))
