"""Issue 11, items 7-9: every bad input refused with exit 2 and a one-paragraph message, never a
traceback (odd config bytes, maps files, damaged run directories, wrong types, a bad address).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.reliability_helpers import (CONFIGS, ROOT, TINY, assert_refused, cli, completed_run, read_json,
                                       write_config)


@pytest.fixture
def tiny(tmp_path):
    return write_config(tmp_path / "tiny.toml", TINY)


# --- 7. tracebacks instead of exit 2 ---------------------------------------------------------------

GOOD = (CONFIGS / "fork_exit_quick.toml").read_bytes()


@pytest.mark.parametrize("content, needle", [
    (b"name = \"x\xff\"\n", "not UTF-8"),
    ("name = 'x'\n".encode("utf-16"), "UTF-16"),
    (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested"),
    (b"a = " + b"[" * 100 + b"]" * 100 + b"\n", "nested"),
    (b'workload = "x"\n[[policies]]\nname = "netbsd5"\n', "workload"),
])
def test_undecodable_or_odd_configs_are_refused(tmp_path, content, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(content)
    assert_refused(cli("run", cfg, "--backend", "inline"), needle)


def test_a_config_with_a_utf8_bom_runs(tmp_path):
    cfg = tmp_path / "bom.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + GOOD)
    assert cli("run", cfg, "--backend", "inline", "--out", tmp_path / "r", "--quiet").code == 0


def test_exit_storm_with_too_many_pages_per_entry_is_refused_before_start(tiny, tmp_path):
    r = cli("run", tiny, "--backend", "inline", "--out", tmp_path / "r", "--set", "workload.pages=600000",
            "--set", "workload.entries=2", "--set", "machine.phys_pages=1048576")
    assert_refused(r, "300,000 pages per map entry", "workload.entries to at least 3")
    assert not (tmp_path / "r").exists()


MAPS = ("00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n"
        "7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0\n")


def test_maps_import_refuses_addresses_beyond_64_bits(tmp_path):
    m = tmp_path / "big.maps"
    m.write_text("1" * 20 + "-" + "2" * 20 + " r-xp 00000000 08:02 1 /x\n")
    assert_refused(cli("maps-import", m, "--out", tmp_path / "o.json"), "wider than 64 bits", "big.maps:1")
    m.write_text("800000000000-800000001000 rw-p 00000000 00:00 0\n")
    assert_refused(cli("maps-import", m, "--out", tmp_path / "o.json"), "47-bit user address space")


def test_maps_import_takes_non_utf8_paths(tmp_path):
    m = tmp_path / "odd.maps"
    m.write_bytes(MAPS.encode() + b"7f3a1c100000-7f3a1c121000 r--p 00000000 08:02 9 /lib/caf\xe9.so\n")
    r = cli("maps-import", m, "--out", tmp_path / "o.json")
    assert r.code == 0, r.text
    objs = {e["shared_object"] for e in read_json(tmp_path / "o.json")["images"][0]["entries"]}
    assert "/lib/caf\\xe9.so" in objs


def test_maps_import_refuses_a_fifo_instead_of_waiting_on_it(tmp_path):
    fifo = tmp_path / "maps.fifo"
    os.mkfifo(fifo)
    assert_refused(cli("maps-import", fifo, "--out", tmp_path / "o.json"), "is a FIFO")


def test_compare_and_analyze_a_run_with_no_finished_point(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "run.json").write_text('{"status": "interrupted"}')
    (run_dir / "summary.json").write_text('{"points": []}')
    assert_refused(cli("compare", run_dir), "nothing to compare", "has finished")
    assert cli("report", run_dir).code == 0 and "No point has finished" in (run_dir / "report.md").read_text()


@pytest.mark.parametrize("damage, needle", [
    (lambda d: (d / "run.json").write_bytes(b'{"status": "\xff"}'), "not UTF-8"),
    (lambda d: (d / "summary.json").write_text('{"points": [{"point": "../../x", "policy": "p"}]}'),
     "not a directory name"),
    (lambda d: (d / "summary.json").write_text('{"points": [{"point": "base", "policy": "p", "counters": '
                                               '{"tlb_hits": NaN}}]}'), "not valid JSON"),
    (lambda d: (d / "summary.json").write_text('{"points": [{"point": "base", "policy": "p", "params": [1]}]}'),
     "params must be a JSON object"),
    (lambda d: (d / "base" / "events.jsonl").write_bytes(b'{"event": "exit", "x": "\xff"}\n'), "not UTF-8"),
])
def test_damaged_run_files_are_refused_by_the_analysis(tmp_path, tiny, damage, needle):
    run_dir = completed_run(tmp_path, tiny)
    damage(run_dir)
    assert_refused(cli("analyze", run_dir), needle)


def test_report_survives_a_plot_that_fails(tmp_path, tiny, monkeypatch):
    """A 1.5 GB log made matplotlib overflow and no report.md was written at all."""
    from smpsim.analysis import report
    run_dir = completed_run(tmp_path, tiny)

    def overflow(*a, **k):
        raise OverflowError("In draw_path: Exceeded cell block limit")
    monkeypatch.setattr(report, "latency_cdf", overflow)
    r = cli("report", run_dir)
    assert r.code == 0, r.text
    md = (run_dir / "report.md").read_text()
    assert "exit latency CDF could not be drawn (OverflowError" in md and "## Full tables" in md


def test_long_series_are_thinned_before_plotting():
    from smpsim.analysis.plots import MAX_POINTS, thin_cdf, thin_steps
    from smpsim.stats import ecdf
    xs, ys = thin_cdf(*ecdf(list(range(1_000_000, 0, -1))))
    assert len(xs) <= MAX_POINTS + 1 and xs[-1] == 1_000_000 and ys[-1] == 1.0
    assert all(a <= b for a, b in zip(xs, xs[1:]))
    series = [0] * 500_000
    series[123_457] = 99                        # a one-epoch spike survives
    tx, ty = thin_steps(list(range(len(series))), series)
    assert len(tx) <= MAX_POINTS + 1 and max(ty) == 99


# --- 8. types coerced although the README says refused ---------------------------------------------

@pytest.mark.parametrize("override, key", [
    ('machine.ncpus="4"', "machine.ncpus"),
    ("machine.ncpus=4.0", "machine.ncpus"),
    ("machine.kernel_pages=true", "machine.kernel_pages"),
    ('policies[0].pcid="yes"', "policies[0].pcid"),
    ('run.check="yes"', "run.check"),
])
def test_wrong_types_are_refused_not_coerced(tiny, override, key):
    assert_refused(cli("run", tiny, "--backend", "inline", "--set", override), key, "(got ")


# --- 9. smaller ------------------------------------------------------------------------------------

def test_bad_address_is_bad_input_and_leaves_no_directory(tmp_path, tiny):
    """In a subprocess: attaching imports Ray (but starts nothing) and must leave this process alone."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                   # nothing listens there now
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    r = subprocess.run([sys.executable, "-m", "smpsim.cli", "run", str(tiny), "--address", f"127.0.0.1:{port}",
                        "--out", str(tmp_path / "r")], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    assert "no Ray cluster at 127.0.0.1:" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()


def test_a_megabyte_key_gives_a_short_message(tiny):
    r = cli("run", tiny, "--backend", "inline", "--set", f"machine.{'k' * 1_000_000}=1")
    assert_refused(r, "unknown key", "kkkk")


def test_run_dev_null_says_what_it_is(tmp_path):
    assert_refused(cli("run", "/dev/null", "--backend", "inline"), "/dev/null is a device")
    assert_refused(cli("run", tmp_path / "missing.toml", "--backend", "inline"), "config file not found")
