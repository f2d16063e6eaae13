"""The smpsim command line: run | sweep | analyze | compare | report | maps-import | bench | validate | costs.

Exit codes (README): 0 done; 1 the run failed after it started (its run.json says
why); 2 bad input, nothing was started (config, --set, output location, cluster
address, a run directory in use, an estimate that does not fit); 128 + the signal
for an interrupted run (130 SIGINT, 143 SIGTERM). Errors are one paragraph on
stderr, never a traceback: an unexpected exception is reported in one line as an
internal error (exit 1), with its traceback kept in run.json.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from smpsim.errors import ClusterError, ConfigError, OutputError, RunDirError, RunDirInUse, SmpsimError

# bad input: refused before anything started
BAD_INPUT = (ConfigError, OutputError, RunDirInUse, ClusterError, RunDirError)
MAX_MESSAGE = 2000


def _fail(message: str, code: int = 1):
    message = str(message)
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + f"... ({len(message):,} characters)"
    click.echo(f"smpsim: error: {message}", err=True)
    sys.exit(code)


def _internal(e: BaseException, where: str = "") -> None:
    """An exception smpsim did not expect: one line (it is a bug; run.json keeps the traceback)."""
    _fail(f"internal error: {type(e).__name__}: {e}{where}", 1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="smpsim")
def main():
    """Simulate an SMP kernel's VM layer and measure what a pmap design costs."""


@main.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--backend", type=click.Choice(["ray", "inline"]), default="ray", show_default=True,
              help="ray: one actor per simulated CPU plus a VM actor; inline: everything in this process.")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default runs/<UTC time>-<name>).")
@click.option("--resume", type=click.Path(file_okay=False), help="Finish an existing run directory.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. machine.ncpus=8 or policies[1].teardown=deferred.")
@click.option("--costs", type=click.Path(), metavar="PROFILE",
              help="Cost profile (from `smpsim calibrate`) replacing the config's costs_profile; the config's "
                   "own [costs] and --set still win over it.")
@click.option("--check", is_flag=True, help="Run the invariant checker after every step.")
@click.option("--messages", is_flag=True, help="Write every exchange to messages.msgpack.")
@click.option("--trace", "trace_alias", is_flag=True, hidden=True,
              help="Old name of --messages ('trace' now means a recorded program: smpsim trace).")
@click.option("--address", help="Attach to this Ray cluster (default: $RAY_ADDRESS, else start a local one).")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--yes", is_flag=True, help="Run even when the estimate says the run will take long.")
@click.option("--parallel", type=click.IntRange(1, 4096), default=None,
              help="Simulations at once (default: run.parallel, else what the cluster's CPUs and memory allow; "
                   "with --backend inline and no --address: 1, in this process).")
def run(config, backend, out, resume, overrides, costs, check, messages, trace_alias, address, quiet, yes, parallel):
    """Run CONFIG (a TOML experiment, with or without a [sweep]) and write a run directory."""
    _run(config, backend, out, resume, overrides, check, messages, address, quiet, yes, parallel, costs,
         trace_alias)


def _run(config, backend, out, resume, overrides, check, messages, address, quiet, yes, parallel=None,
         costs=None, trace_alias=False):
    if trace_alias:
        click.echo("smpsim: warning: --trace is now --messages (it writes messages.msgpack); 'trace' "
                   "means a recorded program (smpsim trace). --trace will be removed.", err=True)
        messages = True
    trace = messages
    from smpsim.experiments import signals
    with signals.handled():           # SIGINT and SIGTERM end the run "interrupted", naming the signal
        summary, run_dir = _run_handled(config, backend, out, resume, overrides, check, trace, address, quiet,
                                        yes, parallel, costs)
    from smpsim.experiments.headline import render
    click.echo(render(summary["points"]))
    click.echo(f"\nrun directory: {run_dir}")


def _run_handled(config, backend, out, resume, overrides, check, trace, address, quiet, yes, parallel=None,
                 costs=None):
    from smpsim.experiments import signals
    from smpsim.experiments.runner import RunRequest, run as run_experiment
    req = RunRequest(config_path=config, overrides=list(overrides), backend=backend, out=out, resume=resume,
                     check=check, trace=trace, address=address or os.environ.get("RAY_ADDRESS") or None,
                     progress=not quiet, yes=yes, parallel=parallel, costs=costs)
    try:
        run_dir, summary = run_experiment(req)
    except BaseException as exc:
        e = signals.as_interrupt(exc)          # after a signal, whatever ended the run is that signal
        where = getattr(exc, "run_dir", None) or getattr(e, "run_dir", None)
        if isinstance(e, KeyboardInterrupt):
            _fail(f"interrupted by {signals.signal_name(e)}; "
                  + (f"{where / 'run.json'} says so and the logs are kept" if where else "nothing was started"),
                  signals.exit_code(e))
        if isinstance(e, BAD_INPUT):
            _fail(str(e), 2)
        if isinstance(e, SmpsimError):
            _fail(f"run failed: {e}" + (f" (see {where / 'run.json'})" if where else ""), 1)
        if isinstance(e, Exception):           # see _internal
            _internal(e, f" (the traceback is in {where / 'run.json'})" if where else "")
        raise
    return summary, run_dir


@main.command()
@click.pass_context
def sweep(ctx, **kw):
    """Run CONFIG's [sweep]: every point x policy (the same as `run`, but the config must sweep)."""
    from smpsim.experiments import config as cfgmod
    if kw["config"] and not kw["resume"]:
        try:
            data = cfgmod.apply_overrides(cfgmod.read_toml(kw["config"]), list(kw["overrides"]))
        except ConfigError as e:
            _fail(str(e), 2)
        if not isinstance(data.get("sweep"), dict) or not data.get("sweep"):
            _fail(f"{kw['config']} has no [sweep] table; use `smpsim run` for a single point", 2)
    _run(**kw)


sweep.params = list(run.params)


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def analyze(run_dir, fmt):
    """Counters and latency distributions per point and policy of RUN_DIR."""
    from smpsim.analysis.commands import analyze as do
    click.echo(_analysis(do, run_dir, fmt))


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--baseline", help="Policy (or RUN:POLICY) the ratios are taken against (default: the first).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def compare(run_dirs, baseline, fmt):
    """RUN_DIRS side by side, with ratios against a baseline policy."""
    from smpsim.analysis.commands import compare as do
    click.echo(_analysis(do, list(run_dirs), baseline, fmt))


@main.command()
@click.argument("run_dir", type=click.Path())
def report(run_dir):
    """Write RUN_DIR/report.md with tables and PNG plots."""
    from smpsim.analysis.commands import report as do
    click.echo(f"wrote {_analysis(do, run_dir)}")


def _analysis(command, *args):
    """Run an analysis command: a run directory it cannot use is bad input (exit 2)."""
    try:
        return command(*args)
    except SmpsimError as e:
        _fail(str(e), 2)
    except OSError as e:
        _fail(f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""), 2)
    except Exception as e:                                      # noqa: BLE001 - see _internal
        _internal(e)


@main.command("maps-import")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Image file to write.")
def maps_import(files, out):
    """Turn /proc/PID/maps snapshots into an image file a config can name (workload.image)."""
    from pathlib import Path

    from smpsim.experiments.images import import_maps
    try:
        import_maps([Path(f) for f in files], Path(out))
    except SmpsimError as e:
        _fail(str(e), 2)
    except OSError as e:
        _fail(f"cannot write {out}: {e.strerror or e}", 2)
    click.echo(f"wrote {out}")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                "help_option_names": []})
@click.pass_context
def bench(ctx):
    """Measure simulator speed and exchange overhead (see BENCHMARKS.md); `smpsim bench --help`."""
    from smpsim.bench import main as bench_main
    sys.exit(bench_main(ctx.args))


@main.command()
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="costs.X=V (a bare X=V is a cost too), policy.X=V (a switch of the preset under test, "
                   "e.g. policy.shootdown_ack=before) or machine.ghz=V.")
@click.option("--costs", type=click.Path(), metavar="PROFILE",
              help="Cost profile (from `smpsim calibrate`): its costs and clock, under --set; its held-out "
                   "measurements become the cases (kind profile) unless --case names others.")
@click.option("--case", "patterns", multiple=True, metavar="NAME",
              help="Only this case (a shell pattern such as 'shootdown_*' is allowed); repeatable.")
@click.option("--trace", "traces", multiple=True, type=click.Path(), metavar="FILE",
              help="A recorded program (smpsim trace record/import): the linux preset replays it and its flush "
                   "counts are held against the real kernel's (cases of kind trace, run instead of the others); "
                   "repeatable.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def validate(overrides, costs, patterns, traces, fmt):
    """Hold the model against reference figures; exit 1 if a case leaves its band, 2 on bad input."""
    from smpsim.experiments import validate as v
    try:
        profile = v.profile_at(costs)
        if traces:
            if profile is None and (found := v.recording_profile(list(traces))) is not None:
                profile = v.profile_at(found)
                click.echo(f"validate: costs from {found}, a profile of the machine the trace was recorded on, "
                           f"found beside it (--costs chooses another)", err=True)
            stems = [Path(t).stem for t in traces]
            names = [s if stems.count(s) == 1 else f"{s}{i + 1}" for i, s in enumerate(stems)]  # unique case names
            pool, left_out = [c for t, n in zip(traces, names) for c in v.trace_cases(t, n, profile)], {}
        else:
            pool, left_out = v.case_pool(profile, list(patterns))
        results = v.run(v.setup_from(list(overrides), profile), list(patterns), pool)
    except ConfigError as e:
        _fail(str(e), 2)
    if fmt == "table":
        for name, why in left_out.items():
            click.echo(f"not held against the model: {name}: {why}", err=True)
    click.echo(v.as_json(results) if fmt == "json" else v.table(results))
    failed = [r.name for r in results if r.failed]
    if failed:
        click.echo(f"{len(failed)} case(s) outside their band: {', '.join(failed)}", err=True)
        sys.exit(1)


MAX_CPU_NUMBER = 8191           # Linux's NR_CPUS ceiling (CONFIG_NR_CPUS_RANGE_END, MAXSMP)


def _cpu_list(text: str | None) -> list[int] | None:
    """--cpus "0,2-3" as [0, 2, 3]; ConfigError on anything else."""
    if text is None:
        return None
    cpus = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise ConfigError(f"--cpus {text!r}: expected CPU numbers and ranges such as 0,2-3")
        first, last = int(lo), int(hi or lo)
        if last < first:
            raise ConfigError(f"--cpus {text!r}: the range {part.strip()} is reversed (write {last}-{first})")
        if last > MAX_CPU_NUMBER:
            raise ConfigError(f"--cpus {text!r}: CPU {last} is beyond any machine (at most {MAX_CPU_NUMBER})")
        cpus += range(first, last + 1)
    return cpus


@main.command()
@click.option("--out", default="profile.toml", show_default=True, type=click.Path(), metavar="PROFILE.toml",
              help="Where to write the cost profile (replaced atomically; nothing is written if the run fails).")
@click.option("--quick", is_flag=True, help="Fewer sizes and samples: well under a minute on 2 CPUs.")
@click.option("--cpus", metavar="LIST", help="CPUs to measure on, e.g. 0,2-3 (the first runs the measuring "
                                             "thread; remote shootdowns use the others); default: all usable.")
@click.option("--force", is_flag=True, help="Write the profile even when a fitted figure is too noisy "
                                            "(interquartile range over 50% of the median).")
def calibrate(out, quick, cpus, force):
    """Measure this machine's kernel (C microbenchmarks), fit the cost entries, write a cost profile,
    and show how well the fitted model predicts the measurements it was not fitted to."""
    from smpsim.errors import CalibrationError
    from smpsim.experiments import validate as v
    from smpsim.experiments.calibration.profile_build import calibrate as run_calibration
    try:
        path, results, left_out, skipped = run_calibration(out, quick, _cpu_list(cpus), force,
                                                           lambda line: click.echo(line, err=True))
    except (CalibrationError, ConfigError) as e:
        _fail(f"calibrate: {e}", 2)
    except KeyboardInterrupt:
        _fail(f"calibrate: interrupted; nothing was written to {out}", 130)
    except OSError as e:
        _fail(f"calibrate: {e.strerror or e}{f' ({e.filename})' if e.filename else ''}; nothing was written "
              f"to {out}", 2)
    click.echo(f"wrote {path}")
    from smpsim.costs import CostModel
    for entries, why in skipped.items():
        kept = ", ".join(f"{e} = {getattr(CostModel(), e.strip()):,}" for e in entries.split(","))
        click.echo(f"not fitted, the bare-metal default kept: {kept} cycles ({why})", err=True)
    for name, why in left_out.items():
        click.echo(f"not held against the model: {name}: {why}", err=True)
    if results:
        click.echo(v.table(results))
        bad = [r.name for r in results if r.failed]
        click.echo(f"{len(results) - len(bad)} of {len(results)} held-out measurements predicted within "
                   f"their band" + (f"; outside: {', '.join(bad)}" if bad else ""))
    click.echo(f"use it with: smpsim run CONFIG --costs {path}   (or costs_profile = \"{path}\" in a config)")


@main.command()
@click.option("--markdown", is_flag=True, help="Print docs/costs.md (the default).")
def costs(markdown):
    """Print the cost model: every default with its source or the reason it was chosen."""
    from smpsim.experiments.calibration.docs import markdown as md
    click.echo(md(), nl=False)


def _add_trace_commands() -> None:
    from smpsim.cli_trace import trace
    main.add_command(trace)


_add_trace_commands()

if __name__ == "__main__":
    main()
