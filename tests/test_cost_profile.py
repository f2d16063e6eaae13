"""Cost profiles (issue 21, "Using a profile"): the file format, its checks, the precedence of costs
(defaults < profile < the config's [costs] < --set), what a run directory records, --resume never
rereading a profile, and bad profiles refused through the CLI with one paragraph and exit 2."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from smpsim.cli import main
from smpsim.cost_profile import (FORMAT, apply_profile, load_profile, parse_profile, profile_text,
                                 write_profile)
from smpsim.costs import MAX_COST, CostModel
from smpsim.errors import ConfigError
from smpsim.experiments import config as cfgmod
from smpsim.experiments.runner import RunRequest, run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "data" / "cost_profile_example.toml"
DEFAULTS = CostModel()
HEADER = f'[profile]\nformat = "{FORMAT}"\nversion = 1\n'
CONFIG = '''name = "t"
[machine]
ncpus = 2
phys_pages = 4096
[workload]
kind = "fork_exit"
iterations = 1
pages = 8
entries = 2
[[policies]]
name = "linux"
'''


def _profile(tmp_path: Path, body: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def _error(path) -> str:
    with pytest.raises(ConfigError) as exc:
        load_profile(path, "--costs")
    msg = str(exc.value)
    assert "\n" not in msg, "one paragraph"
    return msg


# --- the format -----------------------------------------------------------------------------------

def test_the_example_profile_loads_with_path_hash_and_tables():
    p = load_profile(EXAMPLE)
    assert p.path == EXAMPLE and p.path.is_absolute()
    assert p.sha256 == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert p.costs == {"syscall": 333, "ipi_delivery": 40000, "invlpg": 400}
    assert p.machine == {"ghz": 2.0}
    assert p.calibration["measurements"]["syscall"]["reps"] == 31
    assert p.calibration["machine"]["virtual"] is True
    assert p.raw == EXAMPLE.read_bytes() and "[calibration]" in p.text
    assert p.record() == {"path": str(EXAMPLE), "sha256": p.sha256}


def test_written_profiles_read_back_and_the_write_is_atomic(tmp_path, monkeypatch):
    calibration = {"date": "2026-12-05T23:00:00Z", "fitted": {"syscall": "syscall median"},
                   "measurements": {"syscall": {"median_ns": 120.0, "iqr_over_median": 0.02, "reps": 31}}}
    out = write_profile(tmp_path / "w.toml", {"syscall": 300}, {"ghz": 2.45}, calibration).path
    p = load_profile(out)
    assert (p.costs, p.machine, p.calibration) == ({"syscall": 300}, {"ghz": 2.45}, calibration)
    assert [f.name for f in tmp_path.iterdir()] == ["w.toml"]
    # a write that fails half-way leaves the old profile, and no temporary file
    import smpsim.rundir.safeio as safeio

    def fail(fd, data):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(safeio.os, "write", fail)
    with pytest.raises(OSError):
        write_profile(out, {"syscall": 999})
    monkeypatch.undo()
    assert load_profile(out).costs == {"syscall": 300}
    assert [f.name for f in tmp_path.iterdir()] == ["w.toml"]


def test_profile_text_refuses_what_would_not_read_back():
    with pytest.raises(ConfigError, match="syscal.*did you mean syscall"):
        profile_text({"syscal": 300})
    assert "version = 1" in profile_text({}, {}, {})


def test_apply_profile_puts_the_profile_under_the_config():
    p = load_profile(EXAMPLE)
    data = {"costs": {"syscall": 1}, "machine": {"ncpus": 2}}
    out = apply_profile(data, p)
    assert out["costs"] == {"syscall": 1, "ipi_delivery": 40000, "invlpg": 400}
    assert out["machine"] == {"ghz": 2.0, "ncpus": 2}
    assert apply_profile({"machine": {"ghz": 3.0}}, p)["machine"]["ghz"] == 3.0
    assert data == {"costs": {"syscall": 1}, "machine": {"ncpus": 2}}, "the config dict is not changed"
    assert apply_profile(data, None) is data


# --- what is refused ---------------------------------------------------------------------------------

def test_a_run_config_is_not_a_profile_and_the_message_says_so(tmp_path):
    msg = _error(ROOT / "configs" / "exit_storm_quick.toml")
    assert "run config" in msg and "not a cost profile" in msg
    assert FORMAT in msg and "smpsim calibrate" in msg


@pytest.mark.parametrize("text,needle", [
    ("[costs]\nsyscall = 3\n", "no [profile] table"),
    ('[profile]\nformat = "something-else"\nversion = 1\n', "profile.format is 'something-else'"),
    ('[profile]\nformat = "smpsim-cost-profile"\nversion = 2\n', "newer smpsim"),
    ('[profile]\nformat = "smpsim-cost-profile"\nversion = "1"\n', "profile.version must be a positive integer"),
    ('[profile]\nformat = "smpsim-cost-profile"\n', "profile.version must be a positive integer"),
    ("[costs\n", "not valid TOML"),
    ("a = 1\nb = \n", "line 2"),
])
def test_foreign_malformed_and_newer_files_are_refused(tmp_path, text, needle):
    path = tmp_path / "p.toml"
    path.write_text(text)
    assert needle in _error(path)


@pytest.mark.parametrize("body,needles", [
    ("[costs]\nsycall = 300\n", ["costs.sycall", "did you mean syscall?"]),
    ("[costs]\nzzzzzz = 3\n", ["costs.zzzzzz", "smpsim costs"]),
    ("[costs]\nsyscall = 3.5\n", ["costs.syscall must be an integer", "3.5"]),
    ("[costs]\nsyscall = true\n", ["costs.syscall must be an integer"]),
    ('[costs]\nsyscall = "300"\n', ["costs.syscall must be an integer"]),
    ("[costs]\nsyscall = -1\n", ["costs.syscall = -1 is negative"]),
    (f"[costs]\nsyscall = {MAX_COST + 1}\n", [f"exceeds {MAX_COST:,} cycles"]),
    ("[machine]\nghz = 0\n", ["machine.ghz must be a positive number"]),
    ("[machine]\nghz = -2.5\n", ["machine.ghz must be a positive number"]),
    ('[machine]\nghz = "2.5"\n', ["machine.ghz must be a positive number"]),
    ("[machine]\nghz = nan\n", ["machine.ghz must be a positive number"]),
    ("[machine]\nghz = 2450\n", ["outside", "MHz"]),
    ("[machine]\nghz = 2.5\nncpus = 4\n", ["[machine] takes only ghz", "ncpus"]),
    ("[bogus]\nx = 1\n", ["unknown top-level key(s) bogus"]),
    ("costs = 3\n", ["unknown key(s) in [profile]: costs", "put anything else in [calibration]"]),
    ("[costs]\nsycall = 1\ninvlgp = 2\n[machine]\nghz = 0\n", ["sycall", "invlgp", "did you mean invlpg?",
                                                                  "machine.ghz"]),
])
def test_bad_costs_and_machine_keys_are_named(tmp_path, body, needles):
    msg = _error(_profile(tmp_path, body))
    for needle in needles:
        assert needle in msg, msg


def test_tables_that_are_not_tables_are_refused(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("costs = 3\ncalibration = [1]\n" + HEADER)
    msg = _error(path)
    assert "costs must be a table" in msg and "calibration must be a table" in msg


def test_missing_unreadable_and_binary_files_are_refused(tmp_path):
    assert "not found" in _error(tmp_path / "nope.toml")
    assert "a directory" in _error(tmp_path)
    garbage = tmp_path / "g.toml"
    garbage.write_bytes(bytes(range(256)) * 4)
    assert "binary data" in _error(garbage)
    latin = tmp_path / "l.toml"
    latin.write_bytes(b"[profile]\nformat = \"caf\xe9\"\n")
    assert "not UTF-8" in _error(latin)
    if os.geteuid() != 0:
        locked = _profile(tmp_path, "", "locked.toml")
        locked.chmod(0)
        assert "cannot open" in _error(locked)


def test_parse_profile_collects_every_problem_in_one_paragraph():
    msg = str(pytest.raises(ConfigError, parse_profile,
                            (HEADER + "[costs]\nsycall = 1\ninvlpg = -3\n").encode(), "X").value)
    assert msg.startswith("X: ") and "sycall" in msg and "invlpg = -3" in msg and "\n" not in msg


# --- precedence: defaults < profile < the config's [costs] < --set -----------------------------------

def _config(tmp_path: Path, extra: str = "", name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(extra + CONFIG)
    return path


def test_precedence_each_step(tmp_path):
    profile = _profile(tmp_path, "[machine]\nghz = 2.0\n[costs]\nsyscall = 333\ninvlpg = 400\n")
    # 1. the defaults, with no profile
    cfg, _ = cfgmod.load(_config(tmp_path))
    assert (cfg.costs.syscall, cfg.costs.invlpg, cfg.machine.ghz) == (DEFAULTS.syscall, DEFAULTS.invlpg, 2.5)
    # 2. the profile over the defaults (costs it leaves out keep theirs)
    cfg, _ = cfgmod.load(_config(tmp_path, 'costs_profile = "p.toml"\n'))
    assert (cfg.costs.syscall, cfg.costs.invlpg, cfg.machine.ghz) == (333, 400, 2.0)
    assert cfg.costs.page_walk == DEFAULTS.page_walk
    # 3. the config's own [costs] and machine.ghz over the profile
    own = _config(tmp_path, 'costs_profile = "p.toml"\n').read_text() + "[costs]\nsyscall = 111\n"
    own = own.replace("ncpus = 2\n", "ncpus = 2\nghz = 3.0\n")
    (tmp_path / "own.toml").write_text(own)
    cfg, _ = cfgmod.load(tmp_path / "own.toml")
    assert (cfg.costs.syscall, cfg.costs.invlpg, cfg.machine.ghz) == (111, 400, 3.0)
    # 4. --set over everything
    cfg, _ = cfgmod.load(tmp_path / "own.toml", ["costs.syscall=7", "costs.invlpg=8", "machine.ghz=1.5"])
    assert (cfg.costs.syscall, cfg.costs.invlpg, cfg.machine.ghz) == (7, 8, 1.5)


def test_costs_option_replaces_the_configs_profile(tmp_path):
    _profile(tmp_path, "[costs]\nsyscall = 333\ninvlpg = 400\n", "named.toml")
    other = _profile(tmp_path, "[costs]\nsyscall = 444\n", "other.toml")
    cfg, data, profile = cfgmod.load_profiled(_config(tmp_path, 'costs_profile = "named.toml"\n'), [], str(other))
    assert profile.path == other and cfg.costs.syscall == 444
    assert cfg.costs.invlpg == DEFAULTS.invlpg, "nothing of the replaced profile is applied"
    assert "costs_profile" not in data, "the applied config holds the costs, not the profile's name"


def test_costs_profile_is_relative_to_the_config_and_may_be_absolute(tmp_path, monkeypatch):
    (tmp_path / "profiles").mkdir()
    _profile(tmp_path / "profiles", "[costs]\nsyscall = 333\n")
    cfgdir = tmp_path / "configs"
    cfgdir.mkdir()
    config = _config(cfgdir, 'costs_profile = "../profiles/p.toml"\n')
    monkeypatch.chdir(tmp_path / "profiles")           # not where the path is resolved from
    assert cfgmod.load(config)[0].costs.syscall == 333
    absolute = _config(cfgdir, f'costs_profile = "{tmp_path / "profiles" / "p.toml"}"\n', "abs.toml")
    assert cfgmod.load(absolute)[0].costs.syscall == 333


def test_costs_profile_in_the_wrong_place_or_of_the_wrong_type_is_refused(tmp_path):
    _profile(tmp_path, "")
    with pytest.raises(ConfigError, match="--costs PATH instead"):
        cfgmod.load(_config(tmp_path), ["costs_profile=p.toml"])
    path = tmp_path / "s.toml"
    path.write_text(CONFIG + '[sweep]\ncosts_profile = ["p.toml", "q.toml"]\n')
    with pytest.raises(ConfigError, match="a sweep cannot vary the cost profile"):
        cfgmod.load(path)
    with pytest.raises(ConfigError, match="costs_profile must be the path of a cost profile"):
        cfgmod.load(_config(tmp_path, "costs_profile = 3\n"))
    with pytest.raises(ConfigError, match=r"costs_profile = 'missing.toml' in .*c.toml: cost profile not found"):
        cfgmod.load(_config(tmp_path, 'costs_profile = "missing.toml"\n'))


def test_validate_takes_the_profile_under_set():
    from smpsim.experiments.validate import setup_from
    s = setup_from([], str(EXAMPLE))
    assert (s.costs.syscall, s.costs.ipi_delivery, s.ghz) == (333, 40000, 2.0)
    s = setup_from(["costs.syscall=5", "machine.ghz=3.0"], str(EXAMPLE))
    assert (s.costs.syscall, s.costs.ipi_delivery, s.ghz) == (5, 40000, 3.0)
    assert setup_from([]).costs.syscall == DEFAULTS.syscall


# --- the run directory, and --resume --------------------------------------------------------------------

def _cycles(entry: dict):
    """What a point's costs decide: its kernel cycles, latencies and exit breakdown (no wall times)."""
    latency = {kind: {k: v for k, v in d.items() if "wall" not in k} for kind, d in entry["latency"].items()}
    return entry["kernel_cycles"], latency, entry["exit_breakdown"], entry["counters"]


def test_a_run_records_the_profile_and_resume_never_rereads_it(tmp_path):
    profile = _profile(tmp_path, "[machine]\nghz = 2.0\n[costs]\nsyscall = 333\nipi_delivery = 40000\n")
    original = profile.read_bytes()
    config = _config(tmp_path, 'costs_profile = "p.toml"\n')
    config.write_text(config.read_text() + '[sweep]\n"workload.pages" = [8, 16]\n')
    out = tmp_path / "run"
    run(RunRequest(config_path=str(config), backend="inline", out=str(out), progress=False))
    status = json.loads((out / "run.json").read_text())
    assert status["costs_profile"] == {"path": str(profile), "sha256": hashlib.sha256(original).hexdigest()}
    assert (out / "costs_profile.toml").read_bytes() == original
    saved = cfgmod.read_toml(out / "config.toml")
    assert "costs_profile" not in saved
    assert (saved["costs"]["syscall"], saved["costs"]["ipi_delivery"], saved["machine"]["ghz"]) == (333, 40000, 2.0)
    first = json.loads((out / "pages=8" / "summary.json").read_text())["points"]
    # the second point did not finish; then the profile changes (or is broken) before the resume
    pj = out / "pages=16" / "run.json"
    pj.write_text(json.dumps(dict(json.loads(pj.read_text()), status="interrupted")))
    profile.write_text(HEADER + "[machine]\nghz = 3.0\n[costs]\nsyscall = 999999\nipi_delivery = 1\n")
    _, summary = run(RunRequest(resume=str(out), backend="inline", progress=False))
    point = cfgmod.read_toml(out / "pages=16" / "config.toml")
    assert (point["costs"]["syscall"], point["costs"]["ipi_delivery"], point["machine"]["ghz"]) == (333, 40000, 2.0)
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "completed"
    assert status["costs_profile"]["sha256"] == hashlib.sha256(original).hexdigest(), "the original is recorded"
    assert (out / "costs_profile.toml").read_bytes() == original
    # the resumed point ran with the original costs: it matches a fresh run with the original profile
    profile.write_bytes(original)
    fresh = tmp_path / "fresh"
    run(RunRequest(config_path=str(config), backend="inline", out=str(fresh), progress=False))
    want = json.loads((fresh / "pages=16" / "summary.json").read_text())["points"]
    got = json.loads((out / "pages=16" / "summary.json").read_text())["points"]
    assert [_cycles(e) for e in got] == [_cycles(e) for e in want]
    # and the changed profile would have given other results: the check above can tell
    profile.write_text(HEADER + "[machine]\nghz = 3.0\n[costs]\nsyscall = 999999\nipi_delivery = 1\n")
    changed = tmp_path / "changed"
    run(RunRequest(config_path=str(config), backend="inline", out=str(changed), progress=False))
    other = json.loads((changed / "pages=16" / "summary.json").read_text())["points"]
    assert [_cycles(e) for e in other] != [_cycles(e) for e in want]
    assert first == [e for e in summary["points"] if e["point"] == "pages=8"]


# --- through the command line: one paragraph, exit 2 ---------------------------------------------------

def _cli(*args):
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("make,needle", [
    (lambda d: ROOT / "configs" / "exit_storm_quick.toml", "run config"),
    (lambda d: _profile(d, "[costs]\nsycall = 300\n"), "did you mean syscall?"),
    (lambda d: d / "missing.toml", "not found"),
    (lambda d: d, "is a directory"),
    (lambda d: (d / "g.bin").write_bytes(os.urandom(4096) + b"\0") and d / "g.bin", "binary data"),
])
@pytest.mark.parametrize("command", ["run", "sweep", "validate"])
def test_bad_profiles_through_the_cli_are_one_paragraph_and_exit_2(tmp_path, make, needle, command):
    profile = make(tmp_path)
    config = ROOT / "configs" / "fork_exit_quick.toml"
    if command == "sweep":
        config = tmp_path / "s.toml"
        config.write_text((ROOT / "configs" / "fork_exit_quick.toml").read_text() + '[sweep]\nseed = [1, 2]\n')
    args = ["validate"] if command == "validate" else [command, str(config), "--backend", "inline",
                                                       "--out", str(tmp_path / "out"), "--quiet"]
    code, output = _cli(*args, "--costs", str(profile))
    assert code == 2, output
    assert output.startswith("smpsim: error: --costs: ") and needle in output
    assert output.count("\n") == 1 and "Traceback" not in output
    assert not (tmp_path / "out").exists(), "nothing was started"


def test_a_bad_costs_profile_key_through_the_cli(tmp_path):
    _profile(tmp_path, "[costs]\ninvlgp = 3\n")
    config = _config(tmp_path, 'costs_profile = "p.toml"\n')
    code, output = _cli("run", str(config), "--backend", "inline", "--quiet", "--out", str(tmp_path / "o"))
    assert code == 2 and "costs_profile = 'p.toml' in" in output and "did you mean invlpg?" in output
    assert output.count("\n") == 1


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_run_and_sweep_take_costs_and_the_run_directory_names_the_profile(tmp_path, command):
    config = _config(tmp_path)
    if command == "sweep":
        config.write_text(config.read_text() + '[sweep]\n"workload.pages" = [8, 16]\n')
    out = tmp_path / "r"
    code, output = _cli(command, str(config), "--backend", "inline", "--quiet", "--out", str(out),
                        "--costs", str(EXAMPLE), "--set", "costs.invlpg=401")
    assert code == 0, output
    assert json.loads((out / "run.json").read_text())["costs_profile"]["path"] == str(EXAMPLE)
    saved = cfgmod.read_toml(out / "config.toml")
    assert (saved["costs"]["syscall"], saved["costs"]["invlpg"], saved["machine"]["ghz"]) == (333, 401, 2.0)


def test_resume_with_costs_is_refused(tmp_path):
    out = tmp_path / "r"
    code, output = _cli("run", str(_config(tmp_path)), "--backend", "inline", "--quiet", "--out", str(out))
    assert code == 0, output
    code, output = _cli("run", "--resume", str(out), "--backend", "inline", "--quiet", "--costs", str(EXAMPLE))
    assert code == 2 and "cannot take --costs" in output and "never read again" in output


def test_validate_costs_changes_the_clock_and_costs():
    code, output = _cli("validate", "--costs", str(EXAMPLE), "--format", "json", "--case", "ipi_round_trip")
    case = json.loads(output[:output.rindex("}") + 1])["cases"][0]
    assert case["reference"] == 775 * 2.0, "published nanoseconds turned into cycles at the profile's clock"
    assert code == 1 and not case["pass"], "ipi_delivery = 40000 leaves the bare-metal band"
    code, output = _cli("validate", "--costs", str(EXAMPLE), "--set", "ipi_delivery=" + str(DEFAULTS.ipi_delivery),
                        "--set", "machine.ghz=2.5", "--case", "ipi_round_trip")
    assert code == 0, output
