"""Unit tests of smpsim.experiments.images: /proc/PID/maps parsing, image files, bundled snapshots."""

from __future__ import annotations

import json
import re

import pytest

from smpsim.errors import ConfigError
from smpsim.experiments.images import (IMAGE_VERSION, ImageEntry, ProcessImage, bundled_image,
                                       bundled_maps, import_maps, load_images, parse_maps, save_image)

SAMPLE = """\
55f9b3629000-55f9b362b000 r--p 00000000 fe:00 260131                     /usr/bin/cat
55f9b362b000-55f9b3630000 r-xp 00002000 fe:00 260131                     /usr/bin/cat
55f9b3634000-55f9b3635000 rw-p 0000a000 fe:00 260131                     /usr/bin/cat
55f9b4e8e000-55f9b4eaf000 rw-p 00000000 00:00 0                          [heap]
7f0000000000-7f8000000000 ---p 00000000 00:00 0
7fa000000000-7fa000200000 rw-s 00000000 00:1b 2                          /dev/shm/seg (deleted)
7fa0e7d8f000-7fa0e7db5000 r--p 00000000 fe:00 262373                     /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd8a0d1000-7ffd8a0f2000 rw-p 00000000 00:00 0                          [stack]
7ffd8a1d3000-7ffd8a1d7000 r--p 00000000 00:00 0                          [vvar]
7ffd8a1d7000-7ffd8a1d9000 r-xp 00000000 00:00 0                          [vdso]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
"""


def test_parse_sample_classifies_every_kind_of_mapping():
    im = parse_maps(SAMPLE, source="cat")
    assert im.name == "cat"
    e = im.entries
    assert len(e) == 8                                           # vvar, vdso, vsyscall skipped
    assert e[0] == ImageEntry(0x55f9b3629000 // 4096, 2, "r--", "/usr/bin/cat", 0)
    assert e[1] == ImageEntry(0x55f9b362b000 // 4096, 5, "r-x", "/usr/bin/cat", 2)
    assert e[2].shared_object is None and e[2].prot == "rw-" and e[2].offset_pages == 0   # private writable: anon
    assert e[3].shared_object is None and e[3].npages == 0x21                             # [heap]
    assert e[4].prot == "---" and e[4].npages == 2 ** 39 // 4096 and e[4].shared_object is None  # 512 GiB reservation
    assert e[5].shared_object == "/dev/shm/seg" and e[5].prot == "rw-"                   # shared, "(deleted)" dropped
    assert e[6].shared_object == "/usr/lib/x86_64-linux-gnu/libc.so.6"
    assert e[7].shared_object is None                                                    # [stack]
    assert "[vdso]" not in {x.shared_object for x in e}


@pytest.mark.parametrize("bad, why", [
    ("55f9b3629000 r--p 00000000 fe:00 260131 /x", "malformed"),
    ("55f9b3629000-55f9b362b000 rq-p 00000000 fe:00 260131 /x", "permissions"),
    ("55f9b3629000-55f9b362b000 r--p 0000zz00 fe:00 260131 /x", "offset"),
    ("55f9b3629000-55f9b362b000 r--p 00000000 fe00 260131 /x", "device"),
    ("55f9b3629000-55f9b362b000 r--p 00000000 fe:00 26x131 /x", "inode"),
    ("55f9b362b000-55f9b3629000 r--p 00000000 fe:00 260131 /x", "end address"),
    ("55f9b3629001-55f9b362b000 r--p 00000000 fe:00 260131 /x", "aligned"),
    ("00001000-00002000 r--p 00000000 fe:00 260131 /x", "overlaps or precedes"),
])
def test_malformed_line_names_file_and_line_number(bad, why):
    lines = SAMPLE.splitlines()
    text = "\n".join(lines[:3] + [bad] + lines[3:])
    with pytest.raises(ConfigError, match=rf"^snap\.maps:4: .*{why}"):
        parse_maps(text, source="snap.maps")


def test_empty_snapshot_is_rejected():
    with pytest.raises(ConfigError, match="x.maps: no usable mappings"):
        parse_maps("\n7ffd8a1d7000-7ffd8a1d9000 r-xp 00000000 00:00 0 [vdso]\n", source="x.maps")


def test_bundled_snapshots_parse_and_name_no_local_paths():
    snaps = bundled_maps()
    assert {"python3", "bash", "ray_worker"} <= set(snaps)
    for name, text in snaps.items():
        assert not re.search(r"(^|\s)/(work|root|home)/", text, re.M), name
        im = bundled_image(name)
        assert len(im.entries) >= 10
        assert any(e.shared_object and ".so" in e.shared_object for e in im.entries)
        assert any(e.shared_object is None for e in im.entries)
        starts = [e.start_page for e in im.entries]
        assert starts == sorted(starts)
    with pytest.raises(ConfigError, match="no bundled maps snapshot 'zsh'"):
        bundled_image("zsh")


def test_library_mapped_in_two_snapshots_is_one_shared_object():
    py, sh = bundled_image("python3"), bundled_image("bash")
    common = py.shared_objects() & sh.shared_objects()
    libc = [s for s in common if s.endswith("/libc.so.6")]
    assert len(libc) == 1
    py_text = {e.offset_pages for e in py.entries if e.shared_object == libc[0] and e.prot == "r-x"}
    sh_text = {e.offset_pages for e in sh.entries if e.shared_object == libc[0] and e.prot == "r-x"}
    assert py_text and py_text == sh_text    # same file pages of libc's text in both processes


def test_save_and_load_round_trip(tmp_path):
    images = [bundled_image("bash"), parse_maps(SAMPLE, source="cat")]
    path = save_image(images, tmp_path / "img" / "images.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "smpsim-images" and doc["version"] == IMAGE_VERSION and doc["page_size"] == 4096
    assert load_images(path) == images
    assert isinstance(load_images(path)[0], ProcessImage)


def test_load_images_rejects_bad_files(tmp_path):
    p = tmp_path / "i.json"
    with pytest.raises(ConfigError, match="image file not found"):
        load_images(p)
    p.write_text("{")
    with pytest.raises(ConfigError, match="not a readable JSON image file"):
        load_images(p)
    good = {"format": "smpsim-images", "version": 1, "page_size": 4096,
            "images": [{"name": "a", "entries": [{"start_page": 1, "npages": 2, "prot": "r-x",
                                                  "shared_object": None, "offset_pages": 0}]}]}
    for mutate, why in [(lambda d: d.update(version=99), "version 99 is not supported"),
                        (lambda d: d["images"][0]["entries"][0].update(prot="rwz"), "prot='rwz'"),
                        (lambda d: d["images"][0]["entries"][0].update(npages=0), "npages=0"),
                        (lambda d: d["images"][0]["entries"].append(dict(d["images"][0]["entries"][0])),
                         r"entries\[1\]: overlaps")]:
        doc = json.loads(json.dumps(good))
        mutate(doc)
        p.write_text(json.dumps(doc))
        with pytest.raises(ConfigError, match=why):
            load_images(p)
    with pytest.raises(ConfigError, match="image names must be unique, repeated: a"):
        save_image([ProcessImage("a", ()), ProcessImage("a", ())], p)


def test_import_maps_names_images_after_files(tmp_path):
    (tmp_path / "1234").mkdir()
    (tmp_path / "1234" / "maps").write_text(SAMPLE)
    (tmp_path / "cat.maps").write_text(SAMPLE)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "cat.maps").write_text(SAMPLE)
    out = tmp_path / "images.json"
    images = import_maps([tmp_path / "1234" / "maps", tmp_path / "cat.maps", tmp_path / "other" / "cat.maps"], out)
    assert [im.name for im in images] == ["1234", "cat", "cat-2"]
    assert [im.name for im in load_images(out)] == ["1234", "cat", "cat-2"]
    (tmp_path / "bad.maps").write_text(SAMPLE + "garbage\n")
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "bad.maps")) + ":12:"):
        import_maps([tmp_path / "bad.maps"], out)
    with pytest.raises(ConfigError, match="cannot read"):
        import_maps([tmp_path / "nope.maps"], out)
