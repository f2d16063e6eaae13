"""The smpsim command line: run | analyze | compare | report | maps-import | bench."""

from __future__ import annotations

import os
import sys

import click

from smpsim.errors import ConfigError, SmpsimError


def _fail(message: str, code: int = 1):
    click.echo(f"smpsim: error: {message}", err=True)
    sys.exit(code)


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
@click.option("--check", is_flag=True, help="Run the invariant checker after every step.")
@click.option("--trace", is_flag=True, help="Write every exchange to messages.msgpack.")
@click.option("--address", help="Attach to this Ray cluster (default: $RAY_ADDRESS, else start a local one).")
@click.option("--quiet", is_flag=True, help="No progress output.")
def run(config, backend, out, resume, overrides, check, trace, address, quiet):
    """Run CONFIG (a TOML experiment, with or without a [sweep]) and write a run directory."""
    _run(config, backend, out, resume, overrides, check, trace, address, quiet)


def _run(config, backend, out, resume, overrides, check, trace, address, quiet):
    import signal

    from smpsim.experiments.headline import render

    def _terminate(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _terminate)   # a killed run ends "interrupted", like Ctrl-C
    from smpsim.experiments.runner import RunRequest, run as run_experiment
    req = RunRequest(config_path=config, overrides=list(overrides), backend=backend, out=out, resume=resume,
                     check=check, trace=trace, address=address or os.environ.get("RAY_ADDRESS") or None,
                     progress=not quiet)
    try:
        run_dir, summary = run_experiment(req)
    except ConfigError as e:
        _fail(str(e), 2)
    except KeyboardInterrupt:
        _fail("interrupted; the run directory's run.json says so and its logs are kept", 130)
    except SmpsimError as e:
        _fail(f"run failed: {e}", 1)
    click.echo(render(summary["points"]))
    click.echo(f"\nrun directory: {run_dir}")


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
        if not data.get("sweep"):
            _fail(f"{kw['config']} has no [sweep] table; use `smpsim run` for a single point", 2)
    _run(**kw)


sweep.params = list(run.params)


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def analyze(run_dir, fmt):
    """Counters and latency distributions per point and policy of RUN_DIR."""
    from smpsim.analysis.commands import analyze as do
    try:
        click.echo(do(run_dir, fmt))
    except SmpsimError as e:
        _fail(str(e), 2)


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--baseline", help="Policy (or RUN:POLICY) the ratios are taken against (default: the first).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def compare(run_dirs, baseline, fmt):
    """RUN_DIRS side by side, with ratios against a baseline policy."""
    from smpsim.analysis.commands import compare as do
    try:
        click.echo(do(list(run_dirs), baseline, fmt))
    except SmpsimError as e:
        _fail(str(e), 2)


@main.command()
@click.argument("run_dir", type=click.Path())
def report(run_dir):
    """Write RUN_DIR/report.md with tables and PNG plots."""
    from smpsim.analysis.commands import report as do
    try:
        click.echo(f"wrote {do(run_dir)}")
    except SmpsimError as e:
        _fail(str(e), 2)


@main.command("maps-import")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Image file to write.")
def maps_import(files, out):
    """Turn /proc/PID/maps snapshots into an image file a config can name (workload.image)."""
    from pathlib import Path

    from smpsim.experiments.images import import_maps
    try:
        import_maps([Path(f) for f in files], Path(out))
    except (SmpsimError, OSError) as e:
        _fail(str(e), 2)
    click.echo(f"wrote {out}")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                "help_option_names": []})
@click.pass_context
def bench(ctx):
    """Measure simulator speed and exchange overhead (see BENCHMARKS.md); `smpsim bench --help`."""
    from smpsim.bench import main as bench_main
    sys.exit(bench_main(ctx.args))


@main.command()
@click.option("--set", "overrides", multiple=True, metavar="COST=VALUE",
              help="Override a cost, e.g. ipi_delivery=20000 (costs.ipi_delivery=... also accepted).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def validate(overrides, fmt):
    """Hold the cost model against published measurements; exit 1 if a case leaves its band."""
    import json

    from smpsim.costs import CostModel
    from smpsim.experiments.config import parse_value
    from smpsim.experiments.validation import cases, table
    values = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            _fail(f"--set expects COST=VALUE, got {item!r}", 2)
        values[key.strip().removeprefix("costs.")] = parse_value(text.strip())
    try:
        costs = CostModel(**values)
    except Exception as e:
        _fail(f"invalid costs: {e}", 2)
    results = cases(costs)
    if fmt == "json":
        click.echo(json.dumps([dict(case=r.name, published=r.published, source=r.source, simulated=r.simulated,
                                    ratio=r.ratio, band=list(r.band), unit=r.unit, passed=r.passed)
                               for r in results], indent=1))
    else:
        click.echo(table(results))
    failed = [r.name for r in results if not r.passed]
    if failed:
        click.echo(f"{len(failed)} case(s) outside their band: {'; '.join(failed)}", err=True)
        sys.exit(1)


@main.command()
@click.option("--markdown", is_flag=True, help="Print docs/costs.md (the default).")
def costs(markdown):
    """Print the cost model: every default with its source or the reason it was chosen."""
    from smpsim.costs import markdown as md
    click.echo(md(), nl=False)


if __name__ == "__main__":
    main()
