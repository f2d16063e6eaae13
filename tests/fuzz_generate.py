"""Fuzz case generation: the bundled quick configs shrunk, and the mutations applied to configs, config text,
run directories and /proc/PID/maps snapshots (tests/test_fuzz.py runs them)."""

from __future__ import annotations

import json
import math
import os
import random
import re
import tomllib
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"

QUICK = ["exit_storm_quick", "fork_exit_quick", "fork_exec_exit_quick", "munmap_fanout_quick",
         "memory_pressure_quick", "shared_eviction_quick", "exit_storm_images_quick"]
SHRINK = {"processes": 4, "pages": 48, "iterations": 2, "rounds": 2, "region_pages": 32, "object_pages": 128,
          "anon_pages": 32, "chunk_pages": 16, "run_epochs": 2, "grow_pages": 40, "lib_pages": 16}

VALUES = [0, 1, 2, 3, 7, -1, 64, 255, 256, 4096, 262145, 10 ** 6, 10 ** 9, 2 ** 63, 2 ** 64, 1.5, 4.0,
          math.nan, math.inf, True, False, "", "x", "4", "yes", "on", "eager", "netbsd5", "../../escape",
          "a/b", "..", "/dev/zero", "/etc/passwd", "bundled:bash", "bundled:nope", "bundled:", "caf\u00e9",
          "\x00", "x" * 300, "line\nbreak", [], [1, 2], [[[]]], ["a", "b"], [2, 2], {}, {"a": 1},
          {"kind": "exit_storm"}, {"name": "p"}]
EXTRA_KEYS = ["machine.bogus", "workload.image", "workload.kind", "policies[1].pcid", "policies[0].teardown",
              "policies[0].preset", "run.check", "run.tail_epochs", "run.timeout_s", "costs.page_walk",
              "costs.ipi_first", "seed", "name", "description", "bogus", "machine.quantum_cycles",
              "machine.tlb_ways", "machine.pagedaemon_cpu", "machine.freemin", "machine.freetarg"]
SWEEPABLE = ["machine.ncpus", "workload.pages", "workload.processes", "policies[0].teardown", "workload.image",
             "name", "machine.accesses_per_quantum", "seed"]
KINDS = ["exit_storm", "fork_exit", "fork_exec_exit", "munmap_fanout", "memory_pressure", "shared_eviction",
         "nope", 3]



def shrunk(name: str) -> dict:
    data = tomllib.loads((CONFIGS / f"{name}.toml").read_text())
    data["policies"] = data["policies"][:2]
    data.setdefault("machine", {})["accesses_per_quantum"] = min(data["machine"].get("accesses_per_quantum", 200),
                                                                  200)
    w = data["workload"]
    for k, cap in SHRINK.items():
        if isinstance(w.get(k), int):
            w[k] = min(w[k], cap)
    data["run"] = {"max_epochs": 400}
    data.pop("sweep", None)
    return data


def keys_of(data, prefix="") -> list[str]:
    out = []
    if isinstance(data, dict):
        for k, v in data.items():
            key = f"{prefix}.{k}" if prefix else k
            out.append(key)
            if isinstance(v, (dict, list)) and k != "sweep":
                out += keys_of(v, key)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            key = f"{prefix}[{i}]"
            out.append(key)
            out += keys_of(v, key)
    return out


def toml_value(value) -> str:
    """The --set text of a value (TOML syntax)."""
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip() if not isinstance(value, dict) else \
        "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"


def _set(data: dict, key: str, value) -> bool:
    from smpsim.errors import ConfigError
    from smpsim.experiments.config import set_path
    try:
        new = set_path(data, key, value)
    except (ConfigError, RecursionError):
        return False
    data.clear()
    data.update(new)
    return True


def _delete(data: dict, key: str) -> None:
    parts = key.replace("[", ".[").split(".")
    node = data
    for p in parts[:-1]:
        if p.startswith("["):
            idx = int(p[1:-1])
            node = node[idx] if isinstance(node, list) and idx < len(node) else None
        else:
            node = node.get(p) if isinstance(node, dict) else None
        if node is None:
            return
    last = parts[-1]
    if last.startswith("[") and isinstance(node, list):
        idx = int(last[1:-1])
        if idx < len(node):
            del node[idx]
    elif isinstance(node, dict):
        node.pop(last, None)


def mutate_config(rng: random.Random, data: dict, ops: list) -> list[str]:
    """Mutate the config dict in place; return --set arguments to pass instead of (some) edits."""
    sets = []
    for _ in range(rng.randint(1, 3)):
        what = rng.random()
        keys = keys_of(data) + EXTRA_KEYS
        if what < 0.45:
            key, value = rng.choice(keys), rng.choice(VALUES)
            if rng.random() < 0.3:
                text = str(value) if isinstance(value, str) and rng.random() < 0.5 else toml_value(value)
                sets.append(f"{key}={text}")
                ops.append(f"--set {key}={text!r}"[:200])
            elif _set(data, key, value):
                ops.append(f"set {key}={value!r}"[:200])
        elif what < 0.6:
            key = rng.choice(keys_of(data))
            _delete(data, key)
            ops.append(f"delete {key}")
        elif what < 0.75:
            sweep = data.setdefault("sweep", {}) if isinstance(data.get("sweep", {}), dict) else {}
            for key in rng.sample(SWEEPABLE, rng.randint(1, 2)):
                if rng.random() < 0.6:
                    values = [rng.choice([1, 2, 3, 4, 16, 32]) for _ in range(rng.randint(1, 3))]
                else:
                    values = [rng.choice(VALUES) for _ in range(rng.randint(0, 3))]
                sweep[key] = values
                ops.append(f"sweep {key}={values!r}"[:200])
            data["sweep"] = sweep
        elif what < 0.85:
            kind = rng.choice(KINDS)
            if isinstance(data.get("workload"), dict):
                data["workload"]["kind"] = kind
            ops.append(f"workload.kind={kind!r}")
        else:
            policies = rng.choice([[], ["netbsd5"], [{"name": "a"}, {"name": "a"}], [{"name": "x" * 100}],
                                   [{"name": "seed"}, {"name": "g", "preset": "netbsd5", "teardown": "gc"}],
                                   [{"name": "p", "preset": "bogus"}], "netbsd5"])
            data["policies"] = policies
            ops.append(f"policies={policies!r}"[:200])
    return sets


def mutate_text(rng: random.Random, raw: bytes, ops: list) -> bytes:
    what = rng.randrange(8)
    if what == 0:
        ops.append("utf-8 BOM")
        return b"\xef\xbb\xbf" + raw
    if what == 1:
        ops.append("utf-16")
        return raw.decode().encode("utf-16")
    if what == 2:
        n = rng.randrange(len(raw) + 1)
        ops.append(f"truncate at {n}")
        return raw[:n]
    if what == 3 and raw:
        i = rng.randrange(len(raw))
        ops.append(f"flip byte {i}")
        return raw[:i] + bytes([raw[i] ^ (1 << rng.randrange(8))]) + raw[i + 1:]
    if what == 4:
        ops.append("non-utf8 byte")
        i = rng.randrange(len(raw) + 1)
        return raw[:i] + b"\xff\xfe" + raw[i:]
    if what == 5:
        depth = rng.choice([20, 40, 500, 3000])
        ops.append(f"nested depth {depth}")
        return b"deep = " + b"[" * depth + b"]" * depth + b"\n" + raw
    if what == 6:
        ops.append("duplicate table")
        return raw + b"\n[machine]\nncpus = 2\n"
    ops.append("huge key")
    return raw.replace(b"[machine]", b"[machine]\n" + b"k" * 100_000 + b" = 1", 1)


def mutate_run_dir(rng: random.Random, run_dir: Path, ops: list) -> None:
    files = sorted(p for p in run_dir.rglob("*") if p.is_file())
    for _ in range(rng.randint(1, 3)):
        if not files:
            return
        f = rng.choice(files)
        rel = f.relative_to(run_dir)
        what = rng.randrange(11)
        try:
            if what == 0:
                f.unlink()
                ops.append(f"delete {rel}")
            elif what == 1:
                data = f.read_bytes()
                n = rng.randrange(len(data) + 1)
                f.write_bytes(data[:n])
                ops.append(f"truncate {rel} at {n}")
            elif what == 2:
                f.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
                ops.append(f"garbage {rel}")
            elif what in (3, 4, 5) and f.suffix == ".json":
                doc = json.loads(f.read_text())
                path = _random_path(rng, doc)
                value = rng.choice(VALUES)
                if path:
                    _assign(doc, path, value)
                    text = json.dumps(doc, allow_nan=True)
                    f.write_text(text)
                    ops.append(f"json {rel} {path}={value!r}"[:200])
            elif what == 6:
                f.unlink()
                f.mkdir()
                ops.append(f"directory instead of {rel}")
            elif what == 7:
                f.unlink()
                os.mkfifo(f)
                ops.append(f"fifo instead of {rel}")
            elif what == 8:
                f.unlink()
                f.symlink_to("/dev/zero")
                ops.append(f"{rel} -> /dev/zero")
            elif what == 9 and f.name == "run.json" and f.parent != run_dir:
                doc = json.loads(f.read_text())
                doc["status"] = "interrupted"
                f.write_text(json.dumps(doc))
                ops.append(f"{rel} interrupted")
            elif what == 10 and f.name == "events.jsonl":
                extra = rng.choice([b"garbage\n", b'{"event": "exit", "cycles": 1e999}\n', b"x" * (2 << 20) + b"\n",
                                    b'{"event": "epoch", "ptp_pinned": 5, "sim_cycles": "x"}\n', b'{"event": "ex'])
                with open(f, "ab") as fh:
                    fh.write(extra)
                ops.append(f"append to {rel}: {extra[:40]!r}")
            else:
                text = f.read_bytes()
                f.write_bytes(b"\xef\xbb\xbf" + text if rng.random() < 0.5 else text.replace(b"e", b"\xe9", 3))
                ops.append(f"encoding of {rel}")
        except (OSError, ValueError, UnicodeDecodeError):
            ops.append(f"(could not damage {rel})")
        files = sorted(p for p in run_dir.rglob("*") if p.is_file() and not p.is_symlink())


def _random_path(rng, doc) -> list:
    path, node = [], doc
    while isinstance(node, (dict, list)) and node and rng.random() < 0.75:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append(key)
        node = node[key]
    return path


def _assign(doc, path, value) -> None:
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


def mutate_maps(rng: random.Random, text: str, ops: list) -> bytes:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        what = rng.randrange(7)
        i = rng.randrange(len(lines)) if lines else 0
        if what == 0 and lines:
            del lines[i]
            ops.append(f"delete line {i}")
        elif what == 1 and lines:
            lines.insert(i, lines[rng.randrange(len(lines))])
            ops.append(f"duplicate a line at {i}")
        elif what == 2 and lines:
            fields = lines[i].split()
            j = rng.randrange(len(fields)) if fields else 0
            token = rng.choice(["f" * 20, "zz", "-1", "", "0", "rwxq", "00:00", "ffffffffffff-0", "1" * 17])
            if fields:
                fields[j] = token
            lines[i] = " ".join(fields)
            ops.append(f"line {i} field {j} = {token!r}")
        elif what == 3:
            lines.append(f"{'f' * rng.randint(12, 24)}-{'f' * rng.randint(12, 24)} r-xp 00000000 08:02 1 /x")
            ops.append("huge addresses")
        elif what == 4:
            lines.insert(i, "7f0000000000-7f0000001000 r--p 00000000 08:02 9 /lib/caf\udce9.so")
            ops.append("non-utf8 path")
        elif what == 5 and len(lines) > 1:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            ops.append(f"swap lines {i} {j}")
        else:
            lines = [ln + " " * rng.randrange(3) for ln in lines]
            ops.append("trailing spaces")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


TRACE_TOKENS = ["", "-1", "0x", "0xffffffffffffffffffff", "1" * 30, "abc", "pages:", "reason:(9)", "\x00", "caf\u00e9",
                "address=0xffffffffffffffff", "error_code=0x", "next_pid=", "child_pid=-5", "[999999]", "1/2/3"]


def mutate_trace_text(rng: random.Random, lines: list[str], ops: list) -> list[str]:
    """perf script lines, damaged the ways a copied or edited trace is."""
    lines = list(lines)
    for _ in range(rng.randint(1, 4)):
        what = rng.randrange(8)
        i = rng.randrange(len(lines)) if lines else 0
        if what == 0 and lines:
            del lines[i]
            ops.append(f"delete line {i}")
        elif what == 1 and len(lines) > 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            ops.append(f"swap lines {i} {j} (time order)")
        elif what == 2 and lines:
            fields = lines[i].split(" ")
            j = rng.randrange(len(fields))
            token = rng.choice(TRACE_TOKENS)
            fields[j] = token
            lines[i] = " ".join(fields)
            ops.append(f"line {i} field {j} = {token!r}")
        elif what == 3 and lines:
            lines[i] = re.sub(r"\s(\d+)/(\d+)\s", r" \1 ", lines[i])
            ops.append(f"line {i} without its tid")
        elif what == 4:
            lines.insert(i, rng.choice(["garbage", "# comment", "\ufeff", "x" * 5000, "   "]))
            ops.append(f"insert junk at {i}")
        elif what == 5 and lines:
            lines = lines[: rng.randrange(len(lines) + 1)]
            ops.append(f"keep {len(lines)} lines")
        elif what == 6 and lines:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
            ops.append(f"cut line {i}")
        elif what == 7 and lines:
            lines[i] = lines[i].replace("tlb:tlb_flush", rng.choice(["tlb:nope", "x:y", "tlb:tlb_flush:"]))
            ops.append(f"rename an event on line {i}")
    return lines
