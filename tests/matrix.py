"""The design matrix: every preset x every value of every policy switch x every bundled quick config.

Generated, never listed by hand, so that a preset, a strategy or a switch added
elsewhere joins it without an edit here:

- presets: the rows of `smpsim.vm.design.PRESETS`;
- switches: the fields of the `smpsim.experiments.config.policy.PolicyConfig` schema but `name` and `preset`;
  a switch that is a strategy kind takes every registered strategy
  (`design.strategy_values`), a boolean both values, an integer (a strategy
  parameter such as `shootdown_batch`) its schema's lower and upper bound, i.e. a
  small and a large value, a Literal every value it allows. A field of any other type stops generation with an
  error rather than being left out;
- configs: `configs/*_quick.toml`.

Each case runs inline with the invariant checker after every step. The suite
(tests/test_matrix.py) runs `pairwise_cases()`: for every quick config, a set
of designs covering every pair of values of any two factors (the preset and the
switches). `scripts/matrix` (this module's `main`) runs the pairwise cases, or
with `--full` the full product, on all cores. The product is never built in
memory (over twenty switches make it billions of cases): `count_all_cases()`
says how many, `all_cases()` yields them one by one, and `--full` refuses a
product larger than `--limit` unless `--fix` pins enough switches.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
import typing
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from smpsim.experiments.config.policy import PolicyConfig
from smpsim.vm import design

ROOT = Path(__file__).resolve().parent.parent
NOT_SWITCHES = ("name", "preset")


def quick_configs() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in (ROOT / "configs").glob("*_quick.toml")))


def _bounds(name: str, info) -> tuple[int, int]:
    lo = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
    hi = next((m.le for m in info.metadata if hasattr(m, "le")), None)
    if lo is None or hi is None:
        raise TypeError(f"integer switch {name!r} has no ge/le bounds in the PolicyConfig schema to take "
                        f"a small and a large value from")
    return lo, hi


def switch_values() -> dict[str, tuple]:
    """Every overridable switch of the PolicyConfig schema and the values the matrix gives it."""
    out = {}
    for name, info in PolicyConfig.model_fields.items():
        if name in NOT_SWITCHES:
            continue
        if name in design.kinds():
            out[name] = design.strategy_values(name)
        elif info.annotation is bool:
            out[name] = (False, True)
        elif info.annotation is int:
            out[name] = _bounds(name, info)
        elif typing.get_origin(info.annotation) is typing.Literal:
            out[name] = typing.get_args(info.annotation)       # every allowed value (shootdown_ack)
        else:
            raise TypeError(f"switch {name!r} ({info.annotation}) is neither a strategy kind, a bool nor "
                            f"a bounded int: tests/matrix.py does not know which values to run")
    return out


def factors() -> list[tuple[str, tuple]]:
    """The matrix's factors per config: the preset, then every switch (schema order)."""
    return [("preset", design.preset_names()), *switch_values().items()]


def pairwise(factor_list: list[tuple[str, tuple]]) -> list[dict]:
    """Rows (factor -> value) in which every pair of values of any two factors appears at least once.

    Greedy and deterministic (no randomness, ties to the earlier value): each row starts
    from the smallest pair not yet covered and gives every other factor, in order, the
    value that covers the most uncovered pairs with the factors already set. Not always
    minimal, but close for factors this small, and the same rows on every machine."""
    vals = [tuple(v) for _, v in factor_list]
    if any(not v for v in vals):
        raise ValueError("every factor needs at least one value")
    n = len(vals)
    if n == 1:                       # no pairs: each value once
        return [{factor_list[0][0]: v} for v in vals[0]]
    uncovered = {(i, a, j, b) for i, j in itertools.combinations(range(n), 2)
                 for a in range(len(vals[i])) for b in range(len(vals[j]))}
    rows = []
    while uncovered:
        row = dict.fromkeys(range(n))
        i, a, j, b = min(uncovered)
        row[i], row[j] = a, b
        for f in range(n):
            if row[f] is None:
                row[f] = max(range(len(vals[f])), key=lambda v: (_gain(uncovered, row, f, v), -v))
        uncovered -= {(i, row[i], j, row[j]) for i, j in itertools.combinations(range(n), 2)}
        rows.append({factor_list[f][0]: vals[f][row[f]] for f in range(n)})
    return rows


def _gain(uncovered: set, row: dict, f: int, v: int) -> int:
    """How many uncovered pairs value v of factor f would cover with the factors already set."""
    return sum(((g, row[g], f, v) if g < f else (f, v, g, row[g])) in uncovered
               for g in row if g != f and row[g] is not None)


@dataclass(frozen=True)
class Case:
    config: str
    preset: str
    switches: tuple[tuple[str, object], ...]

    @property
    def id(self) -> str:
        return f"{self.config}-{self.preset}-" + ",".join(f"{k}={v}" for k, v in self.switches)

    def policy(self) -> dict:
        return {"name": "matrix", "preset": self.preset, **dict(self.switches)}

    def command(self) -> str:
        """The smpsim run command that reproduces this case."""
        fields = ", ".join(f"{k} = {_toml(v)}" for k, v in self.policy().items())
        return (f"smpsim run configs/{self.config}.toml --backend inline --check "
                f"--set 'policies=[{{{fields}}}]'")


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return f'"{v}"' if isinstance(v, str) else str(v)


def _case(config: str, row: dict) -> Case:
    return Case(config, row["preset"], tuple((k, v) for k, v in row.items() if k != "preset"))


def pairwise_cases() -> list[Case]:
    """For every quick config, designs covering every pair of factor values (the suite's matrix)."""
    rows = pairwise(factors())
    return [_case(config, row) for config in quick_configs() for row in rows]


def count_all_cases(fixed: dict | None = None) -> int:
    """How many cases the full product has (with `fixed` factors pinned to one value each)."""
    return len(quick_configs()) * math.prod(1 if n in (fixed or {}) else len(v) for n, v in factors())


def all_cases(fixed: dict | None = None) -> Iterator[Case]:
    """The full product, lazily: every quick config x preset x combination of switch values.

    `fixed` pins factors (name -> value) to one value each."""
    fixed = fixed or {}
    flist = [(n, (fixed[n],) if n in fixed else v) for n, v in factors()]
    names = [n for n, _ in flist]
    for config in quick_configs():
        for combo in itertools.product(*(v for _, v in flist)):
            yield _case(config, dict(zip(names, combo)))


def _parse_fixed(items: list[str]) -> dict:
    """`--fix name=value` pairs, each value checked against the values the factor takes."""
    values = dict(factors())
    fixed = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or name not in values:
            raise ValueError(f"--fix {item!r}: expected NAME=VALUE with NAME one of {sorted(values)}")
        match = [v for v in values[name] if _toml(v).strip('"') == raw]
        if not match:
            raise ValueError(f"--fix {item!r}: {name} takes {[_toml(v).strip(chr(34)) for v in values[name]]}")
        fixed[name] = match[0]
    return fixed


def run_case(case: Case) -> dict:
    """Run one case inline with the checker on; its result (raises what the run raises)."""
    from smpsim.experiments import config as cfgmod
    from tests.helpers import run_inline
    _, data = cfgmod.load(ROOT / "configs" / f"{case.config}.toml")
    data["policies"] = [case.policy()]
    _, result, _ = run_inline(data, 0, check=True)
    return result


def _outcome(case: Case) -> tuple[Case, str | None]:
    try:
        run_case(case)
    except Exception as e:  # noqa: BLE001 - every failure is reported, the run goes on
        return case, f"{type(e).__name__}: {e}"
    return case, None


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="scripts/matrix", description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*", help="quick configs to run (default: all)")
    ap.add_argument("--full", action="store_true", help="the full product instead of the pairwise cases")
    ap.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                    help="with --full: pin a factor (the preset or a switch) to one value; repeatable")
    ap.add_argument("--limit", type=int, default=20_000, help="with --full: the most cases it will run")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    unknown = sorted(set(args.configs) - set(quick_configs()))
    if unknown:
        print(f"unknown quick configs {unknown}; bundled: {list(quick_configs())}", file=sys.stderr)
        return 2
    wanted = set(args.configs or quick_configs())
    if args.full:
        try:
            fixed = _parse_fixed(args.fix)
        except ValueError as e:
            print(e, file=sys.stderr)
            return 2
        total = count_all_cases(fixed) // len(quick_configs()) * len(wanted)
        if total > args.limit:
            print(f"the full product is {total:,} cases, more than --limit {args.limit:,}: pin factors with "
                  f"--fix NAME=VALUE (e.g. --fix preset=linux) or raise --limit", file=sys.stderr)
            return 2
        cases = [c for c in all_cases(fixed) if c.config in wanted]
    else:
        cases = [c for c in pairwise_cases() if c.config in wanted]
    t0 = time.monotonic()
    failed = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for n, (case, error) in enumerate(pool.map(_outcome, cases, chunksize=4), 1):
            if error:
                failed.append((case, error))
                print(f"FAIL {case.id}\n  {error}\n  {case.command()}", flush=True)
            if n % 50 == 0 or n == len(cases):
                print(f"[{n}/{len(cases)}] {len(failed)} failed, {time.monotonic() - t0:.0f}s", flush=True)
    print(f"{len(cases)} cases, {len(failed)} failed, {time.monotonic() - t0:.0f}s on {args.jobs} processes")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
