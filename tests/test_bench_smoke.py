"""The benchmark in smoke mode produces its tables (SPEC §7). Never asserts on a timing."""

from __future__ import annotations

import re

import pytest

from smpsim import bench

TARGET_ROWS = [f"exchange overhead, k={k}" for k in (1, 2, 4, 8, 15)] + [
    "TLB lookups/s per CPU actor, 256-page working set",
    "TLB lookups/s per CPU actor, 4096-page working set",
    "16-CPU quick exit_storm on Ray, wall",
]
VERDICTS = {"PASS", "MISS", "n/a", "SKIP"}


def table_rows(text: str, title: str) -> list[list[str]]:
    """The body rows of the Markdown table under the heading that contains `title`."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("#") and title in ln)
    rows, in_table = [], False
    for ln in lines[start + 1:]:
        if ln.startswith("|"):
            in_table = True
            cells = [c.strip() for c in ln.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("-"):
                rows.append(cells)
        elif in_table or ln.startswith("#"):
            break
    return rows[1:]          # without the header


def check_report(text: str, *, ray: bool) -> None:
    assert re.search(r"^## \d{4}-\d\d-\d\d \d\d:\d\d UTC — smoke run$", text, re.M)
    assert "- machine: " in text and "memory" in text
    assert re.search(r"- Ray \S+, Python 3\.\d+", text)
    targets = table_rows(text, "4. Targets")
    assert [r[0] for r in targets] == TARGET_ROWS
    assert all(r[3] in VERDICTS for r in targets)
    assert len(table_rows(text, "2a. TLB lookups")) == (3 if ray else 1)
    assert [r[0] for r in table_rows(text, "2b. VM operations")] == ["netbsd5", "seed"]
    assert [r[1] for r in table_rows(text, "2c. Epochs")] == (["inline", "ray"] if ray else ["inline"])
    assert [r[1] for r in table_rows(text, "2d. configs/exit_storm_quick.toml")] == (
        ["inline", "ray"] if ray else ["inline"])
    if ray:
        assert [r[0] for r in table_rows(text, "1. Exchange overhead")] == ["1", "2"]
        assert [r[0] for r in table_rows(text, "3a. Scaling")] == ["2"]
        many = table_rows(text, "3b. Do 3 CPU actors start?")
        assert many[0][1] == "yes"
    else:
        assert "1. Exchange overhead" not in text and "3a. Scaling" not in text
        assert all(r[3] in ("SKIP", "n/a") for r in targets)


def test_smoke_without_ray_writes_tables(tmp_path, capsys):
    out = tmp_path / "BENCH.md"
    assert bench.main(["--smoke", "--no-ray", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Benchmarks\n")
    check_report(text, ray=False)
    assert "| target | goal | measured | result |" in capsys.readouterr().out
    # a second run appends a second section
    assert bench.main(["--smoke", "--no-ray", "--out", str(out)]) == 0
    assert out.read_text().count(" — smoke run") == 2


def test_smoke_writes_nothing_without_out(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    assert bench.main(["--smoke", "--no-ray"]) == 0
    assert not (tmp_path / "BENCHMARKS.md").exists()


def test_bad_option_is_a_usage_error():
    with pytest.raises(SystemExit) as e:
        bench.main(["--smoke", "--quick"])
    assert e.value.code == 2


@pytest.mark.ray
def test_smoke_with_ray(ray_cluster, tmp_path):
    out = tmp_path / "BENCH.md"
    assert bench.main(["--smoke", "--out", str(out)]) == 0
    check_report(out.read_text(), ray=True)
