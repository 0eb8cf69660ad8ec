"""Collection data types: Redis lists, sets and sorted sets, and Aerospike list/map bins.

- `structs`: the in-memory representations (deque, RSet, ZSet, OrderedList, OrderedMap)
  and their byte accounting;
- `ops`: Aerospike's list and map operations on one bin value;
- this module: how a Redis collection is seen as an Aerospike bin (`view`) and back
  (`from_view`), and how collection values are packed for the device and the fabric.

A Redis list is an unordered list bin named `list`; a set is a map bin named `set` whose
keys are the members and whose values are all `true`; a sorted set is a map bin named
`zset` from member to score. Members and elements that are canonical 64-bit integers are
seen as integers by native operations (as string values are), and read back as the same
bytes by Redis commands.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgpack

from ..record import LIST, SET, STREAM, ZSET, bin_bytes, to_bin
from .structs import OrderedList, OrderedMap, RSet, Stream, ZSet

KIND_BINS = {LIST: b"list", SET: b"set", ZSET: b"zset", STREAM: b"stream"}


def view(kind: int, value: Any) -> Any:
    """A Redis collection as the plain list/map an Aerospike bin holds (a copy)."""
    if kind == LIST:
        return [to_bin(e) for e in value]
    if kind == SET:
        return {to_bin(m): True for m in value.pos}
    if kind == ZSET:
        return {to_bin(m): s for s, m in value.order}
    if kind == STREAM:
        return OrderedMap(
            (b"%d-%d" % sid, [to_bin(f) for f in fields]) for sid, fields in value.entries.items()
        )
    raise TypeError(f"kind {kind} is not a collection")


def _member(v: Any) -> bytes | None:
    cls = v.__class__
    if cls is bytes:
        return v
    if cls is int or cls is float or cls is str:
        return bin_bytes(v)
    return None


def _score(v: Any) -> float | None:
    """A sorted set's map value as a score: a number, or text that reads as one."""
    cls = v.__class__
    if cls is bytes or cls is str:
        try:
            v = float(v)
        except ValueError:
            return None
    elif cls is not int and cls is not float:
        return None
    return None if v != v else float(v)


def from_view(kind: int, value: Any) -> Any:
    """A plain list/map back as a Redis collection, or None if it cannot be one."""
    cls = value.__class__
    if kind == LIST:
        if cls is not list or isinstance(value, OrderedList):
            return None
        out = deque()
        for e in value:
            m = _member(e)
            if m is None:
                return None
            out.append(m)
        return out
    if kind == STREAM:
        return _stream_from_view(value) if isinstance(value, dict) else None
    if cls is not dict:
        return None
    if kind == SET:
        out_set = RSet()
        for k, v in value.items():
            m = _member(k)
            if m is None or (v is not None and v is not True and v != 1):
                return None
            out_set.add(m)
        return out_set
    if kind == ZSET:
        items = []
        for k, v in value.items():
            m = _member(k)
            score = _score(v)
            if m is None or score is None:
                return None
            items.append((m, score))
        return ZSet(items)
    return None


def _stream_from_view(value: dict) -> Stream | None:
    """A `stream` bin (entry id `ms-seq` -> [field, value, ...]) back as a stream; its
    counters restart from the entries it has."""
    entries = []
    for k, v in value.items():
        sid = _stream_id(k)
        if sid is None or v.__class__ is not list or len(v) % 2:
            return None
        fields = [_member(f) for f in v]
        if any(f is None for f in fields):
            return None
        entries.append((sid, fields))
    out = Stream(entries)
    if entries:
        out.last = max(sid for sid, _ in entries)
    out.added = len(entries)
    return out


def _stream_id(key: Any) -> tuple[int, int] | None:
    text = _member(key)
    if text is None:
        return None
    ms, _, seq = text.partition(b"-")
    if not (ms.isdigit() and seq.isdigit()):
        return None
    return int(ms), int(seq)


def is_collection(value: Any) -> bool:
    return value.__class__ in (deque, RSet, ZSet, Stream)


BIN_KINDS = {name: kind for kind, name in KIND_BINS.items()}


def record_shape(kind: int, value: Any, bins: dict, created: bool) -> tuple[int, Any]:
    """The Redis type of a record about to be written with `bins` (kind/value as the caller
    would store them): a Redis collection stays one while its single bin still fits it, and
    a new record whose only bin is `list`, `set` or `zset` holding a fitting value becomes
    that type. An empty collection is (HASH, {}): no bins, so the record goes away."""
    if kind in KIND_BINS:
        out = from_view(kind, value)
        if out is None:
            return 1, bins  # HASH
        return (kind, out) if out else (1, {})
    if created and len(bins) == 1:
        name, only = next(iter(bins.items()))
        target = BIN_KINDS.get(name)
        if target is not None and only.__class__ in (list, dict):
            out = from_view(target, only)
            if out is not None:
                return (target, out) if out else (1, {})
    return kind, value


# --- packing (device, fabric) ---------------------------------------------------------

EXT_ORDERED_LIST = 1
EXT_KEY_ORDERED_MAP = 2
EXT_KEY_VALUE_ORDERED_MAP = 3


def _ext(value: Any) -> Any:
    """msgpack `default`: ordered bins become ext types carrying their flag."""
    t = type(value)
    if t is OrderedList:
        return msgpack.ExtType(EXT_ORDERED_LIST, _pack_nested(list(value)))
    if t is OrderedMap:
        code = EXT_KEY_VALUE_ORDERED_MAP if value.by_value else EXT_KEY_ORDERED_MAP
        return msgpack.ExtType(code, _pack_nested(list(value.items())))
    if t is tuple or t is deque:
        return list(value)
    if t is RSet:
        return list(value.pos)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    raise TypeError(f"cannot pack {t.__name__}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == EXT_ORDERED_LIST:
        return OrderedList(unpack_plain(data))
    if code in (EXT_KEY_ORDERED_MAP, EXT_KEY_VALUE_ORDERED_MAP):
        return OrderedMap(
            ((k, v) for k, v in unpack_plain(data)), by_value=code == EXT_KEY_VALUE_ORDERED_MAP
        )
    return msgpack.ExtType(code, data)


_PACKING: dict[str, Any] = {"use_bin_type": True, "strict_types": True, "default": _ext}
# One Packer for every top-level pack of a string or hash value (record.pack_value):
# making one costs ~300 ns, four times what packing a small hash does. Values are only
# packed on the event loop thread; a nested ordered bin (from `_ext`, while this packer is
# busy) gets a packer of its own.
PACKER: Any = msgpack.Packer(**_PACKING)


def _pack_nested(value: Any) -> bytes:
    return msgpack.packb(value, **_PACKING)


def unpack_plain(data: bytes | bytearray | memoryview) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook)


def pack_collection(kind: int, value: Any) -> bytes:
    if kind == LIST:
        return msgpack.packb(list(value), use_bin_type=True)
    if kind == SET:
        return msgpack.packb(list(value.pos), use_bin_type=True)
    if kind == STREAM:
        head = [*value.last, value.added, *value.max_deleted]
        return msgpack.packb(
            head + [[ms, seq, f] for (ms, seq), f in value.entries.items()], use_bin_type=True
        )
    flat: list = []
    for s, m in value.order:
        flat.append(m)
        flat.append(s)
    return msgpack.packb(flat, use_bin_type=True)


def unpack_collection(kind: int, data: bytes | bytearray | memoryview) -> Any:
    items = msgpack.unpackb(data, raw=False)
    if kind == LIST:
        return deque(items)
    if kind == SET:
        return RSet(items)
    if kind == STREAM:
        last, added, max_deleted = (items[0], items[1]), items[2], (items[3], items[4])
        return Stream((((ms, seq), f) for ms, seq, f in items[5:]), last, added, max_deleted)
    return ZSet((items[i], float(items[i + 1])) for i in range(0, len(items), 2))
