"""The wire format of the protocol: msgpack bytes for every record of `smpsim.protocol`.

`encode` and `decode` turn records (or lists of them) into bytes and back, so the
inline backend and the Ray backend carry exactly the same bytes. Each record is
a msgpack extension whose code is its index in `MESSAGE_TYPES`; its fields go as
an array in declaration order and come back as tuples, the types the records declare.
"""

from __future__ import annotations

import dataclasses

import msgpack

from smpsim.protocol import MESSAGE_TYPES

_CODE = {cls: i for i, cls in enumerate(MESSAGE_TYPES)}
_FIELDS = {cls: [f.name for f in dataclasses.fields(cls)] for cls in MESSAGE_TYPES}


def _to_wire(obj):
    if dataclasses.is_dataclass(obj) and type(obj) in _CODE:
        return msgpack.ExtType(_CODE[type(obj)], _packb([getattr(obj, n) for n in _FIELDS[type(obj)]]))
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _from_wire(code, data):
    return MESSAGE_TYPES[code](*msgpack.unpackb(data, ext_hook=_from_wire, strict_map_key=False,
                                                use_list=False))


def _packb(obj) -> bytes:
    return msgpack.packb(obj, default=_to_wire, use_bin_type=True)


def encode(msg) -> bytes:
    """Bytes for one record (or a list of them)."""
    return _packb(msg)


def decode(data: bytes):
    """The record (or list of records) encoded by `encode`."""
    return msgpack.unpackb(data, ext_hook=_from_wire, strict_map_key=False, use_list=False)
