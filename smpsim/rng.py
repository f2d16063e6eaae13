"""Seeded random streams.

Every random choice in the simulation comes from a stream derived from the run
seed and a stable name such as ("cpu", 3, "epoch", 17). Streams never share
state, so the order in which actors run cannot change any draw. This is the one
module that touches Python's `random`, and only through private instances.
"""

from __future__ import annotations

import hashlib
import random as _random


def derive_seed(seed: int, *name: object) -> int:
    """A 64-bit seed from the run seed and a stable name (reproducible across processes)."""
    text = repr((int(seed),) + tuple(name)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def stream(seed: int, *name: object) -> _random.Random:
    """An independent generator for `name` under `seed`."""
    return _random.Random(derive_seed(seed, *name))
