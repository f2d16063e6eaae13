"""Issue 11, item 4: I/O errors are errors. Before the run starts an unusable output location is bad
input (exit 2, nothing left behind); after it started, a full disk fails the run with a true status
in run.json (exit 1); a point is "completed" only once its summary.json is on disk; no *.tmp is left.

Full and read-only file systems are real where the test can make them: a small tmpfs when running as
root (mount works in most containers), and RLIMIT_FSIZE (writes past the limit fail with EFBIG, as a
full disk fails them with ENOSPC) everywhere. One test injects the failure of a single write to pin
the ordering of summary.json and run.json.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability_helpers import (CONFIGS, ROOT, TINY, assert_refused, cli, read_json, tmp_leftovers,
                                       write_config)


@pytest.fixture
def tiny(tmp_path):
    return write_config(tmp_path / "tiny.toml", TINY)


@contextlib.contextmanager
def tmpfs(path: Path, size: str, readonly: bool = False):
    """A small tmpfs at `path` (skips the test when this process cannot mount one)."""
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if readonly else "")
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


# --- before the run starts: exit 2, nothing left -----------------------------------------------------

def test_out_under_a_file_is_bad_input(tmp_path, tiny):
    (tmp_path / "afile").write_text("x")
    assert_refused(cli("run", tiny, "--backend", "inline", "--out", tmp_path / "afile" / "run"),
                   "afile", "Not a directory", "nothing was started")


def test_out_with_a_name_too_long_is_bad_input(tmp_path, tiny):
    assert_refused(cli("run", tiny, "--backend", "inline", "--out", tmp_path / ("x" * 300)), "File name too long")


def test_read_only_output_location_is_bad_input(tmp_path, tiny):
    with tmpfs(tmp_path / "ro", "1m", readonly=True) as ro:
        assert_refused(cli("run", tiny, "--backend", "inline", "--out", ro / "run"), "Read-only file system")
        assert not (ro / "run").exists()


def test_default_runs_directory_unwritable_is_bad_input(tmp_path, tiny, monkeypatch):
    (tmp_path / "runs").write_text("a file where runs/ should be")
    monkeypatch.chdir(tmp_path)
    assert_refused(cli("run", tiny, "--backend", "inline"), "cannot create run directory")


def test_a_full_disk_before_start_leaves_no_directory(tmp_path, tiny):
    with tmpfs(tmp_path / "full", "64k") as full:
        (full / "filler").write_bytes(b"\0" * (64 << 10))
        r = cli("run", tiny, "--backend", "inline", "--out", full / "run")
        assert_refused(r, "No space left on device")
        assert sorted(p.name for p in full.iterdir()) == ["filler"]


# --- after the run started: exit 1, run.json says so -----------------------------------------------

def test_disk_full_during_the_run_fails_it_with_a_true_status(tmp_path):
    """The events log (55 KB when complete) fills a 48 KiB tmpfs half-way through the first point."""
    config = CONFIGS / "exit_storm_quick.toml"
    with tmpfs(tmp_path / "small", "48k") as small:
        out = small / "run"
        r = cli("run", config, "--backend", "inline", "--out", out, "--quiet")
        assert r.exception is None and r.code == 1, r.text
        assert "No space left on device" in r.stderr and "Traceback" not in r.text
        _assert_failed_with_true_status(out, "No space left on device")


FSIZE_DRIVER = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)        # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
from smpsim.cli import main
sys.argv = ["smpsim", "run", sys.argv[1], "--backend", "inline", "--out", sys.argv[3], "--quiet"]
main()
"""


def test_file_size_limit_during_the_run_fails_it_with_a_true_status(tmp_path):
    """Portable stand-in for a full disk: RLIMIT_FSIZE makes the events log's writes fail (EFBIG)."""
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-c", FSIZE_DRIVER, str(CONFIGS / "exit_storm_quick.toml"), str(20_000),
                        str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 1, r.stderr
    assert "File too large" in r.stderr and "Traceback" not in r.stderr
    _assert_failed_with_true_status(out, "File too large")


def _assert_failed_with_true_status(out: Path, why: str) -> None:
    status = read_json(out / "run.json")
    assert status["status"] == "failed" and why in status["error"]["message"], status
    assert status["ended_at"]
    for name, state in status["points"].items():
        if state == "completed":
            assert (out / name / "summary.json").is_file()
    for p in out.iterdir():
        if p.is_dir() and (p / "run.json").is_file():
            pst = read_json(p / "run.json")
            assert pst["status"] != "running"
            if pst["status"] == "completed":
                assert (p / "summary.json").is_file()
    assert tmp_leftovers(out) == []


def test_a_point_is_completed_only_after_its_summary_is_on_disk(tmp_path, tiny, monkeypatch):
    """The point's summary.json cannot be written: the point must not say "completed" (nor the run)."""
    from smpsim.experiments.scheduling import pointrun
    real = pointrun.write_json

    def failing(path, data):
        if path.name == "summary.json" and path.parent.name == "base":
            raise OSError(28, "No space left on device", str(path))
        return real(path, data)
    monkeypatch.setattr(pointrun, "write_json", failing)
    out = tmp_path / "run"
    r = cli("run", tiny, "--backend", "inline", "--out", out, "--quiet")
    assert r.code == 1 and "No space left on device" in r.stderr and r.exception is None, r.text
    assert read_json(out / "base" / "run.json")["status"] == "failed"
    top = read_json(out / "run.json")
    assert top["status"] == "failed" and top["points"]["base"] != "completed"
    # and a resume, with the disk fine again, reruns that point
    monkeypatch.setattr(pointrun, "write_json", real)
    assert cli("run", "--resume", out, "--backend", "inline", "--quiet").code == 0
    assert read_json(out / "base" / "run.json")["status"] == "completed"
    assert (out / "base" / "summary.json").is_file()


def test_status_is_recorded_even_when_the_disk_refuses_new_files(tmp_path, tiny, monkeypatch):
    """With no room for run.json's temporary file, the status is rewritten in place."""
    from smpsim.rundir import files as rundir
    real_atomic = rundir.atomic_write
    state = {"full": False}

    def atomic(path, data):
        if state["full"]:
            raise OSError(28, "No space left on device", str(path))
        return real_atomic(path, data)

    from smpsim.runtime.inline_backend import InlineBackend
    real_run_point = InlineBackend.run_point

    def run_point(*a, **k):
        state["full"] = True                   # the disk fills as the first simulation starts
        return real_run_point(*a, **k)
    monkeypatch.setattr(rundir, "atomic_write", atomic)
    monkeypatch.setattr(InlineBackend, "run_point", run_point)
    out = tmp_path / "run"
    r = cli("run", tiny, "--backend", "inline", "--out", out, "--quiet")
    assert r.code == 1 and r.exception is None, r.text
    status = read_json(out / "run.json")
    assert status["status"] == "failed" and "No space left on device" in status["error"]["message"]
    assert tmp_leftovers(out) == []


def test_atomic_write_leaves_no_tmp_on_failure(tmp_path, monkeypatch):
    from smpsim.rundir import safeio
    real_write = os.write

    def short_write(fd, data):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(safeio.os, "write", short_write)
    with pytest.raises(OSError):
        safeio.atomic_write(tmp_path / "x.json", b"{}")
    monkeypatch.setattr(safeio.os, "write", real_write)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_run_leaves_no_tmp_files(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "smpsim.cli", "run", str(CONFIGS / "study_exit_cost.toml"),
                             "--backend", "inline", "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline().startswith("[1/")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "interrupted by SIGTERM" in err
    st = read_json(out / "run.json")
    assert st["status"] == "interrupted" and st["error"]["signal"] == "SIGTERM"
    assert tmp_leftovers(out) == []
