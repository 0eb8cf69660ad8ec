"""Records: typed bins plus Aerospike metadata (generation, void-time, last-update-time).

A record's `kind` says which Redis type it is. Strings keep their one value directly
(no bin dict) because they are most records and the hot path; every other kind holds
bins or one collection. Native commands see a string as one bin named `value`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

STRING: Final = 0
HASH: Final = 1
LIST: Final = 2
SET: Final = 3
ZSET: Final = 4
STREAM: Final = 5

KIND_NAMES: Final = ("string", "hash", "list", "set", "zset", "stream")
STRING_BIN: Final = b"value"

# Bytes of index and object overhead charged to every record against memory-size.
RECORD_OVERHEAD: Final = 64
MAX_GENERATION: Final = 65535
INT64_MIN: Final = -(1 << 63)
INT64_MAX: Final = (1 << 63) - 1


class Record:
    """One key's data. `void` and `lut` are milliseconds since the Unix epoch (0 = never)."""

    __slots__ = ("kind", "value", "gen", "void", "lut", "size")

    def __init__(self, kind: int, value: object, gen: int, void: int, lut: int, size: int):
        self.kind = kind
        self.value = value
        self.gen = gen
        self.void = void
        self.lut = lut
        self.size = size

    def bins(self) -> dict[bytes, object]:
        """The record as Aerospike bins. A list, set or sorted set is one list or map bin
        named after its kind, given as a plain copy (see respike/engine/cdt)."""
        if self.kind == STRING:
            return {STRING_BIN: self.value}
        if self.kind == HASH:
            return self.value  # type: ignore[return-value]
        from .cdt import view

        return {KIND_NAMES[self.kind].encode(): view(self.kind, self.value)}

    def __repr__(self) -> str:
        return f"Record({KIND_NAMES[self.kind]}, gen={self.gen}, void={self.void}, lut={self.lut})"


def value_size_of(key: bytes, rec: Record | None) -> int:
    """The value's part of a record's charged size (what a write passes back as value_size)."""
    return 0 if rec is None else rec.size - len(key) - RECORD_OVERHEAD


def parse_int(value: bytes) -> int | None:
    """Redis's string2ll: canonical signed 64-bit decimal only (no '+', spaces, leading 0s)."""
    if not 0 < len(value) <= 20:
        return None
    first = value[0]
    if not (48 <= first <= 57 or first == 45):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    if b"%d" % number != value or not INT64_MIN <= number <= INT64_MAX:
        return None
    return number


# First bytes a canonical integer can start with (a cheap filter before `to_bin`).
NUMERIC_START: Final = frozenset(b"-0123456789"[i : i + 1] for i in range(11))


def to_bin(value: bytes) -> bytes | int:
    """A client value as stored: canonical integers become integer bins."""
    if value.__class__ is not bytes:
        raise TypeError("bin values must be bytes")
    if value and (48 <= value[0] <= 57 or value[0] == 45) and len(value) <= 20:
        number = parse_int(value)
        if number is not None:
            return number
    return value


def bin_bytes(value: object) -> bytes:
    """A bin as Redis clients read it back."""
    if value.__class__ is bytes:
        return value  # type: ignore[return-value]
    if value.__class__ is int:
        return b"%d" % value  # type: ignore[str-format]
    if value.__class__ is float:
        return format_float(value).encode()  # type: ignore[arg-type]
    if isinstance(value, str):
        return value.encode()
    raise TypeError(f"bin of type {type(value).__name__} has no string form")


def value_size(value: Any) -> int:
    """Bytes charged for a bin value."""
    cls = value.__class__
    if cls is bytes:
        return len(value)
    if cls is int or cls is float:
        return 8
    if cls is dict:
        return sum(
            (len(k) if k.__class__ is bytes else value_size(k)) + value_size(v)
            for k, v in value.items()
        )
    if cls is list:
        return sum(value_size(v) + 2 for v in value)
    if cls is str:
        return len(value.encode())
    if value is None:
        return 0
    size = _collection_sizes.get(cls)
    if size is not None:
        return size(value)
    return 16


def format_float(value: float) -> str:
    """Shortest text that reads back as the same double, as Redis 7 prints them."""
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e17:
        return "%d" % value
    text = repr(value)
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = "-" if exp.startswith("-") else "+"
        text = f"{mantissa}e{sign}{exp.lstrip('+-').zfill(2)}"
    return text


def pack_value(kind: int, value: object) -> bytes:
    """A record value as bytes, for the device and the fabric (msgpack: bytes stay bin).

    Lists, sets and sorted sets pack as plain msgpack (respike/engine/cdt); ordered list
    and map bins inside other records pack as msgpack ext types that keep their order."""
    if kind >= LIST:
        return _cdt.pack_collection(kind, value)
    if value.__class__ is bytes:
        n = len(value)  # type: ignore[arg-type]
        if n < 256:  # what msgpack writes for a short string (bin 8), without the call
            return _BIN8[n] + value  # type: ignore[operator]
    return _cdt.PACKER.pack(value)


_BIN8: Final = tuple(b"\xc4" + bytes((n,)) for n in range(256))


def unpack_value(kind: int, data: bytes | bytearray | memoryview) -> object:
    if kind >= LIST:
        return _cdt.unpack_collection(kind, data)
    return _cdt.unpack_plain(data)


# Collections (imported last: respike.engine.cdt imports this module).
from . import cdt as _cdt  # noqa: E402
from .cdt import structs as _structs  # noqa: E402

_collection_sizes: dict[type, Callable[[Any], int]] = {
    _structs.deque: _structs.deque_size,
    _structs.RSet: _structs.rset_size,
    _structs.ZSet: _structs.zset_size,
    _structs.Stream: _structs.stream_size,
}
