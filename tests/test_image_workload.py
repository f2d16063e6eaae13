"""Process images from /proc/PID/maps drive the exit_storm workload."""

from pathlib import Path

import pytest

from smpsim.errors import ConfigError
from smpsim.experiments import config as cfgmod
from smpsim.experiments.images import bundled_image, import_maps
from tests.helpers import run_inline

ROOT = Path(__file__).resolve().parent.parent


def _data(image, processes=3):
    return {"name": "img", "seed": 3, "machine": {"ncpus": 2, "phys_pages": 16384},
            "workload": {"kind": "exit_storm", "processes": processes, "pages": 4, "image": image},
            "policies": [{"name": "netbsd5"}, {"name": "seed"}]}


def test_bundled_images_run_and_share_library_pages():
    vm, result, events = run_inline(_data("bundled:python3,bash"), 0, check=True)
    assert result["counters"]["exits"] == 3
    # python3 is used twice: its libraries' pages were mapped by both copies (one fault fills the page)
    lib_entries = sum(1 for e in bundled_image("python3").entries if e.shared_object and "r" in e.prot)
    assert lib_entries > 0
    assert result["counters"]["pv_inserts"] > result["counters"]["pages_allocated"]
    exits = [e for e in events if e["event"] == "exit"]
    assert {e["name"] for e in exits} == {"storm0", "storm1", "storm2"}


def test_imported_image_file_named_relative_to_the_config(tmp_path):
    maps = tmp_path / "prog.maps"
    maps.write_text("00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/prog\n"
                    "01b1d000-01b3e000 rw-p 00000000 00:00 0 [heap]\n"
                    "7ffd4e5a0000-7ffd4e5c1000 rw-p 00000000 00:00 0 [stack]\n")
    import_maps([maps], tmp_path / "img.json")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[machine]\nncpus = 2\nphys_pages = 8192\n[workload]\nkind = "exit_storm"\n'
                   'processes = 2\npages = 8\nimage = "img.json"\n[[policies]]\nname = "seed"\n')
    parsed, data = cfgmod.load(cfg)
    assert Path(parsed.workload.image).is_absolute()
    _, result, _ = run_inline(data, 0)
    # three entries, at most 8 pages touched in each: 8 (text) + 8 (heap) + 8 (stack), per process;
    # the text is a shared object, so the second process's text faults find its pages resident
    assert result["counters"]["page_faults"] == 2 * 3 * 8
    assert result["counters"]["pages_allocated"] == 2 * 3 * 8 - 8


def test_missing_or_unknown_image_is_a_config_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[workload]\nkind = "exit_storm"\nimage = "nope.json"\n[[policies]]\nname = "seed"\n')
    with pytest.raises(ConfigError, match="image file not found"):
        cfgmod.load(cfg)
    cfg.write_text('[workload]\nkind = "exit_storm"\nimage = "bundled:zsh"\n[[policies]]\nname = "seed"\n')
    with pytest.raises(ConfigError, match="no bundled maps snapshot 'zsh'"):
        cfgmod.load(cfg)
