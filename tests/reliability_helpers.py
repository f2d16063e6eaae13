"""Helpers shared by the reliability and watchdog tests (not a test module itself): the CLI in-process,
tiny configs, file checks."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"

# a config that runs in well under a second inline
TINY = {
    "name": "tiny", "seed": 3,
    "machine": {"ncpus": 2, "phys_pages": 2048, "accesses_per_quantum": 200},
    "workload": {"kind": "exit_storm", "processes": 2, "pages": 16, "entries": 2, "threads": 1, "run_epochs": 1},
    "policies": [{"name": "netbsd5"}, {"name": "seed"}],
}


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


def cli(*args, env: dict | None = None) -> Result:
    """`smpsim ARGS` in this process (click's CliRunner): exit code, stdout, stderr, uncaught exception."""
    from click.testing import CliRunner

    from smpsim.cli import main
    r = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=True)
    exc = r.exception if r.exception is not None and not isinstance(r.exception, SystemExit) else None
    return Result(r.exit_code, r.stdout, r.stderr, exc)


def write_config(path: Path, data: dict) -> Path:
    path.write_text(tomli_w.dumps(data))
    return path


def completed_run(tmp_path: Path, config: Path, out: str = "run") -> Path:
    """A completed inline run of `config` in tmp_path/out."""
    r = cli("run", config, "--backend", "inline", "--out", tmp_path / out, "--quiet")
    assert r.code == 0, r.text
    return tmp_path / out


def bundled(name: str) -> dict:
    return tomllib.loads((CONFIGS / f"{name}.toml").read_text())


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def assert_refused(r: Result, *needles: str) -> None:
    """Exit 2, one short paragraph naming what is wrong, no traceback."""
    assert r.exception is None, f"uncaught {r.exception!r}"
    assert r.code == 2, f"exit {r.code}: {r.text}"
    assert "Traceback" not in r.text, r.text
    assert r.stderr.startswith("smpsim: error: "), r.stderr
    assert len(r.stderr) < 2500, f"{len(r.stderr)}-character message"
    for n in needles:
        assert n in r.stderr, f"{n!r} not in {r.stderr!r}"


def files_under(root: Path) -> set[Path]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + dirnames:
            out.add(Path(dirpath) / n)
    return out


def tmp_leftovers(root: Path) -> list[Path]:
    return [p for p in files_under(root) if p.name.endswith(".tmp")]


def events_are_one_run(path: Path) -> bool:
    """seq 0, 1, 2, ... without a gap or a repeat, and one run.start per policy."""
    lines = [json.loads(l) for l in Path(path).read_text().splitlines()]
    return [l["seq"] for l in lines] == list(range(len(lines)))
