"""Aerospike's list and map operations (CDT ops), applied to one bin value.

An operation is parsed once from command arguments (`parse`) into an `Op`, then applied
(`apply`) to the bin's current value, which it never mutates: a modifying op returns a
new value, so a failure anywhere (a later op, the record-size check) leaves the record as
it was. Semantics follow Aerospike's server (as/src/base/particle_list.c, particle_map.c):

- values compare in Aerospike's order: nil < bool < integer < string < list < map < float;
- an index or rank counts from 0, negative ones from the end; a single index or rank out
  of range is OP_NOT_APPLICABLE (26); a range is clipped;
- map index order is key order, rank order is value order (ties by key, or by index for lists);
- `RETURN` selects what a get/remove-by answers: NONE, INDEX, REVERSE_INDEX, RANK,
  REVERSE_RANK, COUNT, VALUE, KEY, KEY_VALUE, EXISTS; `INVERTED` selects the complement.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass, field
from typing import Any

from ...errors import RecordError, ResultCode
from ..record import INT64_MAX, INT64_MIN, parse_int, to_bin
from .structs import OrderedList, OrderedMap

# Aerospike answers 26 for an index or rank out of range and for ops the bin's order forbids.
OP_NOT_APPLICABLE = ResultCode.OP_NOT_APPLICABLE


def not_applicable(text: str) -> RecordError:
    return RecordError(OP_NOT_APPLICABLE, text)


def parameter(text: str) -> RecordError:
    return RecordError(ResultCode.PARAMETER, text)


def incompatible(text: str) -> RecordError:
    return RecordError(ResultCode.INCOMPATIBLE_TYPE, text)


# --- value order ---------------------------------------------------------------------


class _Inf:
    """Aerospike's INF: greater than every value (the open end of a range)."""

    def __repr__(self) -> str:
        return "INF"


INF = _Inf()


def okey(v: Any) -> tuple:
    """A sort key giving Aerospike's value order."""
    cls = v.__class__
    if cls is bytes:
        return (3, v)
    if cls is int:
        return (2, v)
    if v is None:
        return (0,)
    if cls is bool:
        return (1, v)
    if cls is str:
        return (3, v.encode())
    if cls is float:
        return (7, v)
    if cls is list or cls is tuple:
        return (4, tuple(okey(e) for e in v))
    if cls is dict:
        return (5, len(v), tuple(sorted((okey(k), okey(x)) for k, x in v.items())))
    if v is INF:
        return (99,)
    return (8, repr(v))


# --- operations as data ---------------------------------------------------------------

# Parameter letters: i integer (index/rank), c optional count, v value, k key, b/e range
# begin/end (- and + are the open ends), V counted values, P counted key/value pairs,
# d optional number (increment delta), o order name.
LIST_OPS: dict[str, tuple[bool, str]] = {
    "SET_ORDER": (True, "o"),
    "APPEND": (True, "v"),
    "APPEND_ITEMS": (True, "V"),
    "INSERT": (True, "iv"),
    "INSERT_ITEMS": (True, "iV"),
    "SET": (True, "iv"),
    "POP": (True, "i"),
    "POP_RANGE": (True, "ic"),
    "REMOVE": (True, "i"),
    "REMOVE_RANGE": (True, "ic"),
    "TRIM": (True, "ic"),
    "CLEAR": (True, ""),
    "INCREMENT": (True, "id"),
    "SORT": (True, ""),
    "SIZE": (False, ""),
    "GET": (False, "i"),
    "GET_RANGE": (False, "ic"),
}
MAP_OPS: dict[str, tuple[bool, str]] = {
    "SET_ORDER": (True, "o"),
    "PUT": (True, "kv"),
    "PUT_ITEMS": (True, "P"),
    "INCREMENT": (True, "kd"),
    "DECREMENT": (True, "kd"),
    "CLEAR": (True, ""),
    "SIZE": (False, ""),
}
_SELECTORS = {
    "BY_INDEX": "i",
    "BY_INDEX_RANGE": "ic",
    "BY_RANK": "i",
    "BY_RANK_RANGE": "ic",
    "BY_VALUE": "v",
    "BY_VALUE_LIST": "V",
    "BY_VALUE_INTERVAL": "be",
    "BY_VALUE_REL_RANK_RANGE": "vic",
}
_MAP_SELECTORS = {
    "BY_KEY": "k",
    "BY_KEY_LIST": "V",
    "BY_KEY_INTERVAL": "be",
    "BY_KEY_REL_INDEX_RANGE": "kic",
}
for _sel, _params in _SELECTORS.items():
    for _table in (LIST_OPS, MAP_OPS):
        _table["GET_" + _sel] = (False, _params)
        _table["REMOVE_" + _sel] = (True, _params)
for _sel, _params in _MAP_SELECTORS.items():
    MAP_OPS["GET_" + _sel] = (False, _params)
    MAP_OPS["REMOVE_" + _sel] = (True, _params)

RETURN_TYPES = (
    "NONE",
    "INDEX",
    "REVERSE_INDEX",
    "RANK",
    "REVERSE_RANK",
    "COUNT",
    "VALUE",
    "KEY",
    "KEY_VALUE",
    "EXISTS",
)
LIST_ORDERS = ("UNORDERED", "ORDERED")
MAP_ORDERS = ("UNORDERED", "KEY_ORDERED", "KEY_VALUE_ORDERED")
FLAG_WORDS = (
    "UNIQUE",
    "BOUNDED",
    "NOFAIL",
    "PARTIAL",
    "CREATE_ONLY",
    "UPDATE_ONLY",
    "DROP_DUPLICATES",
    "INVERTED",
    "JSON",
)
_SINGLE = ("BY_INDEX", "BY_RANK", "BY_KEY")


@dataclass
class Op:
    kind: str  # "list" | "map"
    name: str
    write: bool
    params: list = field(default_factory=list)
    ret: str | None = None
    flags: frozenset = frozenset()
    order: str | None = None

    @property
    def selector(self) -> str | None:
        if self.name.startswith(("GET_BY_", "REMOVE_BY_")):
            return self.name.split("_", 1)[1]
        return None

    @property
    def multi(self) -> bool:
        return self.selector not in _SINGLE

    @property
    def adds(self) -> bool:
        """Whether the op can add list elements (wakes clients blocked on a Redis list)."""
        return self.kind == "list" and self.name in (
            "APPEND",
            "APPEND_ITEMS",
            "INSERT",
            "INSERT_ITEMS",
            "SET",
            "INCREMENT",
        )


def _int(arg: bytes, what: str) -> int:
    n = parse_int(arg)
    if n is None:
        raise parameter(f"{what} must be an integer, got '{arg.decode('utf-8', 'replace')}'")
    return n


def _is_int(arg: bytes) -> bool:
    return parse_int(arg) is not None


def _number(arg: bytes) -> int | float | None:
    n = parse_int(arg)
    if n is not None:
        return n
    try:
        f = float(arg)
    except ValueError:
        return None
    return None if math.isnan(f) else f


def _from_json(value: Any) -> Any:
    if isinstance(value, str):
        return to_bin(value.encode())
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        return {to_bin(k.encode()): _from_json(v) for k, v in value.items()}
    return value


def parse_value(arg: bytes, as_json: bool) -> Any:
    if not as_json:
        return to_bin(arg)
    try:
        return _from_json(json.loads(arg))
    except (ValueError, UnicodeDecodeError) as exc:
        raise parameter(f"value is not valid JSON: {exc}") from None


def parse(kind: str, args: list[bytes], i: int, name: str | None = None) -> tuple[Op, int]:
    """Parse `OP [modifiers] params...` from args[i] (or `[modifiers] params...` when the
    op's name is given); returns the op and the index after it."""
    table = LIST_OPS if kind == "list" else MAP_OPS
    if name is None:
        if i >= len(args):
            raise parameter(f"missing {kind} operation")
        name = args[i].decode("utf-8", "replace").upper()
        i += 1
    spec = table.get(name)
    if spec is None:
        raise parameter(f"unknown {kind} operation '{name}'")
    write, letters = spec
    op = Op(kind, name, write)
    flags: set[str] = set()
    n = len(args)
    while i < n:
        word = args[i].upper()
        text = word.decode("utf-8", "replace")
        if word == b"RETURN":
            if i + 1 >= n or args[i + 1].upper().decode("utf-8", "replace") not in RETURN_TYPES:
                raise parameter("RETURN needs one of " + ", ".join(RETURN_TYPES))
            op.ret = args[i + 1].upper().decode()
            i += 2
        elif word == b"ORDER":
            orders = LIST_ORDERS if kind == "list" else MAP_ORDERS
            if i + 1 >= n or args[i + 1].upper().decode("utf-8", "replace") not in orders:
                raise parameter("ORDER needs one of " + ", ".join(orders))
            op.order = args[i + 1].upper().decode()
            i += 2
        elif text in FLAG_WORDS:
            flags.add(text)
            i += 1
        else:
            break
    op.flags = frozenset(flags)
    as_json = "JSON" in flags
    for letter in letters:
        if letter == "c":
            if i < n and _is_int(args[i]):
                count = _int(args[i], "count")
                if count < 0:
                    raise parameter("count must not be negative")
                op.params.append(count)
                i += 1
            else:
                op.params.append(None)
            continue
        if letter == "d":
            number = _number(args[i]) if i < n else None
            if number is not None:
                op.params.append(number)
                i += 1
            else:
                op.params.append(None)
            continue
        if i >= n:
            raise parameter(f"{kind} operation {name} is missing arguments")
        arg = args[i]
        if letter == "i":
            op.params.append(_int(arg, "index or rank"))
            i += 1
        elif letter in "vk":
            op.params.append(parse_value(arg, as_json))
            i += 1
        elif letter == "b":
            op.params.append(None if arg == b"-" else parse_value(arg, as_json))
            i += 1
        elif letter == "e":
            op.params.append(INF if arg == b"+" else parse_value(arg, as_json))
            i += 1
        elif letter == "o":
            orders = LIST_ORDERS if kind == "list" else MAP_ORDERS
            order = arg.upper().decode("utf-8", "replace")
            if order not in orders:
                raise parameter(f"order must be one of {', '.join(orders)}")
            op.params.append(order)
            i += 1
        elif letter in "VP":
            count = _int(arg, "item count")
            width = 2 if letter == "P" else 1
            if count < 0 or i + 1 + count * width > n:
                raise parameter(
                    f"{name} needs a count followed by that many {'pairs' if width == 2 else 'values'}"
                )
            items = [parse_value(a, as_json) for a in args[i + 1 : i + 1 + count * width]]
            if width == 2:
                items = list(zip(items[0::2], items[1::2], strict=True))
            op.params.append(items)
            i += 1 + count * width
    if op.ret is None and op.selector is not None:
        op.ret = "COUNT" if op.name.startswith("REMOVE") else "VALUE"
    if op.ret in ("KEY", "KEY_VALUE") and kind == "list":
        raise parameter(f"RETURN {op.ret} applies to maps only")
    if "INVERTED" in flags and op.selector is not None and not op.multi:
        raise not_applicable("INVERTED is not supported for single-element selectors")
    return op, i


# --- helpers ---------------------------------------------------------------------------


def _single(index: int, n: int) -> int | None:
    if index >= n:
        return None
    if index < 0:
        index += n
        if index < 0:
            return None
    return index


def _range(index: int, count: int | None, n: int) -> tuple[int, int]:
    """Aerospike's calc_index_count_multi: clip (index, count) to [0, n)."""
    if count is None:
        count = 1 << 32
    if index >= n:
        return n, 0
    if index < 0:
        index += n
        if index < 0:
            return 0, max(0, min(count + index, n))
    return index, min(count, n - index)


def _rel_range(base: int, rel: int, count: int | None, n: int) -> tuple[int, int]:
    start = base + rel
    if count is None:
        count = 1 << 32
    if start < 0:
        count = max(0, count + start)
        start = 0
    if start >= n:
        return n, 0
    return start, min(count, n - start)


def _wrap64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value > INT64_MAX else value


def _add(old: Any, delta: int | float | None, sign: int) -> int | float:
    """Aerospike's cdt_calc_delta: int + float delta stays int, float + int stays float."""
    if delta is None:
        delta = 1
    if old is None:
        return sign * delta
    if old.__class__ is int:
        step = int(delta) if delta.__class__ is float else delta
        return _wrap64(old + sign * step)
    if old.__class__ is float:
        return old + sign * float(delta)
    raise parameter("increment applies only to integer and float values")


# --- results -----------------------------------------------------------------------------


class _View:
    """A list or map seen as entries in index order, with lazily computed ranks."""

    def __init__(self, kind: str, value: Any):
        self.kind = kind
        if kind == "list":
            self.keys = None
            self.values = list(value)
            self.ordered = isinstance(value, OrderedList)
        else:
            items = list(value.items())
            if not isinstance(value, OrderedMap):
                items.sort(key=lambda kv: okey(kv[0]))
            self.keys = [k for k, _ in items]
            self.values = [v for _, v in items]
            self.ordered = False
        self.n = len(self.values)
        self._rank_order: list[int] | None = None
        self._rank_of: list[int] | None = None

    def rank_order(self) -> list[int]:
        """Indexes in value order."""
        if self._rank_order is None:
            if self.ordered:
                self._rank_order = list(range(self.n))
            else:
                vals = self.values
                self._rank_order = sorted(range(self.n), key=lambda i: (okey(vals[i]), i))
        return self._rank_order

    def rank_of(self, index: int) -> int:
        if self._rank_of is None:
            ranks = [0] * self.n
            for r, i in enumerate(self.rank_order()):
                ranks[i] = r
            self._rank_of = ranks
        return self._rank_of[index]

    def value_keys(self) -> list[tuple]:
        return [okey(self.values[i]) for i in self.rank_order()]

    def select(self, op: Op) -> list[int]:
        """Indexes selected by the op's selector, in the order results are given."""
        sel = op.selector
        p = op.params
        n = self.n
        if sel == "BY_INDEX":
            i = _single(p[0], n)
            if i is None:
                raise not_applicable(f"index {p[0]} out of bounds for {n} elements")
            return [i]
        if sel == "BY_RANK":
            r = _single(p[0], n)
            if r is None:
                raise not_applicable(f"rank {p[0]} out of bounds for {n} elements")
            return [self.rank_order()[r]]
        if sel == "BY_INDEX_RANGE":
            start, count = _range(p[0], p[1], n)
            return list(range(start, start + count))
        if sel == "BY_RANK_RANGE":
            start, count = _range(p[0], p[1], n)
            return self.rank_order()[start : start + count]
        if sel == "BY_VALUE":
            target = okey(p[0])
            return [i for i, v in enumerate(self.values) if okey(v) == target]
        if sel == "BY_VALUE_LIST":
            targets = {okey(v) for v in p[0]}
            return [i for i, v in enumerate(self.values) if okey(v) in targets]
        if sel == "BY_VALUE_INTERVAL":
            lo, hi = okey(p[0]), okey(p[1])
            return [i for i, v in enumerate(self.values) if lo <= okey(v) < hi]
        if sel == "BY_VALUE_REL_RANK_RANGE":
            base = bisect_left(self.value_keys(), okey(p[0]))
            start, count = _rel_range(base, p[1], p[2], n)
            return self.rank_order()[start : start + count]
        keys = self.keys
        assert keys is not None
        if sel == "BY_KEY":
            target = okey(p[0])
            return [i for i, k in enumerate(keys) if okey(k) == target]
        if sel == "BY_KEY_LIST":
            targets = {okey(v) for v in p[0]}
            return [i for i, k in enumerate(keys) if okey(k) in targets]
        if sel == "BY_KEY_INTERVAL":
            lo, hi = okey(p[0]), okey(p[1])
            return [i for i, k in enumerate(keys) if lo <= okey(k) < hi]
        if sel == "BY_KEY_REL_INDEX_RANGE":
            base = bisect_left([okey(k) for k in keys], okey(p[0]))
            start, count = _rel_range(base, p[1], p[2], n)
            return list(range(start, start + count))
        raise parameter(f"unknown selector {sel}")

    def result(self, op: Op, chosen: list[int]) -> Any:
        ret = op.ret
        n = self.n
        if not op.multi:
            if not chosen:
                return {
                    "INDEX": -1,
                    "REVERSE_INDEX": -1,
                    "RANK": -1,
                    "REVERSE_RANK": -1,
                    "COUNT": 0,
                    "EXISTS": False,
                    "KEY_VALUE": {},
                }.get(ret)  # type: ignore[arg-type]
            i = chosen[0]
            if ret == "VALUE":
                return self.values[i]
            if ret == "KEY":
                return self.keys[i]  # type: ignore[index]
            if ret == "KEY_VALUE":
                return {self.keys[i]: self.values[i]}  # type: ignore[index]
            if ret == "INDEX":
                return i
            if ret == "REVERSE_INDEX":
                return n - 1 - i
            if ret == "RANK":
                return self.rank_of(i)
            if ret == "REVERSE_RANK":
                return n - 1 - self.rank_of(i)
            if ret == "COUNT":
                return 1
            if ret == "EXISTS":
                return True
            return None
        if ret == "VALUE":
            return [self.values[i] for i in chosen]
        if ret == "KEY":
            return [self.keys[i] for i in chosen]  # type: ignore[index]
        if ret == "KEY_VALUE":
            return {self.keys[i]: self.values[i] for i in sorted(chosen)}  # type: ignore[index]
        if ret == "INDEX":
            return sorted(chosen)
        if ret == "REVERSE_INDEX":
            return [n - 1 - i for i in sorted(chosen)]
        if ret == "RANK":
            return [self.rank_of(i) for i in chosen]
        if ret == "REVERSE_RANK":
            return [n - 1 - self.rank_of(i) for i in chosen]
        if ret == "COUNT":
            return len(chosen)
        if ret == "EXISTS":
            return bool(chosen)
        return None

    def without(self, chosen: list[int], original: Any) -> Any:
        drop = set(chosen)
        if self.kind == "list":
            kept = [v for i, v in enumerate(self.values) if i not in drop]
            return OrderedList(kept) if isinstance(original, OrderedList) else kept
        if isinstance(original, OrderedMap):
            return OrderedMap(
                (
                    (k, v)
                    for i, (k, v) in enumerate(zip(self.keys, self.values, strict=True))
                    if i not in drop
                ),
                by_value=original.by_value,
            )
        return {k: v for k, v in original.items() if k not in {self.keys[i] for i in drop}}  # type: ignore[index]


# --- apply ------------------------------------------------------------------------------


def empty_container(op: Op) -> Any:
    if op.kind == "list":
        return OrderedList() if op.order == "ORDERED" else []
    if op.order in ("KEY_ORDERED", "KEY_VALUE_ORDERED"):
        return OrderedMap(by_value=op.order == "KEY_VALUE_ORDERED")
    return {}


def apply(op: Op, value: Any) -> tuple[Any, Any]:
    """Apply `op` to a bin value (None = no bin); returns (result, new value)."""
    if value is not None:
        cls = value.__class__
        if op.kind == "list" and cls is not list:
            raise incompatible("list operation on a bin that is not a list")
        if op.kind == "map" and cls is not dict:
            raise incompatible("map operation on a bin that is not a map")
    if value is None:
        if not op.write:
            return None, None
        if op.name.startswith(("REMOVE", "POP")) or op.name in ("TRIM", "CLEAR", "SORT"):
            return None, None  # no bin: nothing to remove (a no-op, as in Aerospike)
        value = empty_container(op)
    if op.selector is not None:
        view = _View(op.kind, value)
        chosen = view.select(op)
        if "INVERTED" in op.flags:
            drop = set(chosen)
            chosen = [i for i in range(view.n) if i not in drop]
            if op.ret in ("RANK", "REVERSE_RANK"):
                chosen.sort(key=view.rank_of)
        result = view.result(op, chosen)
        if not op.write or not chosen:
            return result, value
        return result, view.without(chosen, value)
    if op.kind == "list":
        return _list_op(op, value)
    return _map_op(op, value)


def _fails(op: Op, code: ResultCode, text: str) -> bool:
    """Whether a denied write is an error (else NOFAIL makes it a no-op)."""
    if "NOFAIL" in op.flags:
        return False
    raise RecordError(code, text)


def _list_op(op: Op, value: list) -> tuple[Any, Any]:
    name, p = op.name, op.params
    ordered = isinstance(value, OrderedList)
    n = len(value)
    if name == "SIZE":
        return n, value
    if name in ("GET", "GET_RANGE"):
        if name == "GET":
            i = _single(p[0], n)
            if i is None:
                raise not_applicable(f"index {p[0]} out of bounds for {n} elements")
            return value[i], value
        start, count = _range(p[0], p[1], n)
        return value[start : start + count], value
    if name == "SET_ORDER":
        if p[0] == "ORDERED":
            return None, OrderedList(sorted(value, key=okey))
        return None, list(value)
    if name == "CLEAR":
        return None, OrderedList() if ordered else []
    if name == "SORT":
        items = sorted(value, key=okey)
        if "DROP_DUPLICATES" in op.flags:
            deduped, last = [], object()
            for v in items:
                k = okey(v)
                if k != last:
                    deduped.append(v)
                    last = k
            items = deduped
        return None, OrderedList(items) if ordered else items
    if name in ("POP", "REMOVE"):
        i = _single(p[0], n)
        if i is None:
            raise not_applicable(f"index {p[0]} out of bounds for {n} elements")
        new = _copy_list(value)
        popped = new.pop(i)
        return (popped if name == "POP" else 1), new
    if name in ("POP_RANGE", "REMOVE_RANGE"):
        start, count = _range(p[0], p[1], n)
        new = _copy_list(value)
        popped = new[start : start + count]
        del new[start : start + count]
        return (popped if name == "POP_RANGE" else count), new
    if name == "TRIM":
        start, count = _range(p[0], p[1], n)
        kept = value[start : start + count]
        return n - len(kept), OrderedList(kept) if ordered else list(kept)
    if name in ("APPEND", "APPEND_ITEMS"):
        items = [p[0]] if name == "APPEND" else list(p[0])
        items = _unique_items(op, value, items)
        if items is None:
            return n, value
        new = _copy_list(value)
        if ordered:
            keys = [okey(v) for v in new]
            for item in items:
                k = okey(item)
                at = bisect_right(keys, k)
                keys.insert(at, k)
                new.insert(at, item)
        else:
            new.extend(items)
        return len(new), new
    if name in ("INSERT", "INSERT_ITEMS", "SET"):
        if ordered:
            raise not_applicable(f"{name} is not allowed on an ORDERED list")
        index = p[0]
        items = [p[1]] if name != "INSERT_ITEMS" else list(p[1])
        if name == "SET" and -n <= index < n:
            index = index + n if index < 0 else index
            if "UNIQUE" in op.flags and any(
                okey(v) == okey(items[0]) for j, v in enumerate(value) if j != index
            ):
                _fails(op, ResultCode.ELEMENT_EXISTS, "value already in the list")
                return None, value
            new = list(value)
            new[index] = items[0]
            return None, new
        if index < 0:
            index += n
            if index < 0:
                raise not_applicable(f"index {p[0]} out of bounds for {n} elements")
        if "BOUNDED" in op.flags and index > n:
            _fails(op, OP_NOT_APPLICABLE, f"index {index} beyond the end of the list (BOUNDED)")  # type: ignore[arg-type]
            return (None if name == "SET" else n), value
        items = _unique_items(op, value, items)
        if items is None:
            return (None if name == "SET" else n), value
        new = list(value)
        if index > n:
            new.extend([None] * (index - n))
        new[index:index] = items
        return (None if name == "SET" else len(new)), new
    if name == "INCREMENT":
        index = p[0]
        if index < 0:
            index += n
            if index < 0:
                raise not_applicable(f"index {p[0]} out of bounds for {n} elements")
        if index < n:
            result = _add(value[index], p[1], 1)
            new = _copy_list(value)
            if ordered:
                del new[index]
                insort(new, result, key=okey)  # type: ignore[call-arg]
            else:
                new[index] = result
            return result, new
        if "BOUNDED" in op.flags and index > n:
            _fails(op, OP_NOT_APPLICABLE, f"index {index} beyond the end of the list (BOUNDED)")  # type: ignore[arg-type]
            return None, value
        result = _add(None, p[1], 1)
        new = _copy_list(value)
        if ordered:
            insort(new, result, key=okey)  # type: ignore[call-arg]
        else:
            new.extend([None] * (index - n))
            new.append(result)
        return result, new
    raise parameter(f"unknown list operation {name}")


def _copy_list(value: list) -> list:
    return OrderedList(value) if isinstance(value, OrderedList) else list(value)


def _unique_items(op: Op, value: list, items: list) -> list | None:
    """Items to add under ADD_UNIQUE (None: the whole op is a no-op under NOFAIL)."""
    if "UNIQUE" not in op.flags:
        return items
    seen = {okey(v) for v in value}
    kept = []
    for item in items:
        k = okey(item)
        if k in seen:
            _fails(op, ResultCode.ELEMENT_EXISTS, "value already in the list (UNIQUE)")
            if "PARTIAL" not in op.flags:
                return None
            continue
        seen.add(k)
        kept.append(item)
    return kept


def _map_op(op: Op, value: dict) -> tuple[Any, Any]:
    name, p = op.name, op.params
    if name == "SIZE":
        return len(value), value
    if name == "CLEAR":
        return None, OrderedMap(by_value=value.by_value) if isinstance(value, OrderedMap) else {}
    if name == "SET_ORDER":
        if p[0] == "UNORDERED":
            return None, dict(value)
        return None, _sorted_map(value, p[0] == "KEY_VALUE_ORDERED")
    if name in ("PUT", "PUT_ITEMS"):
        pairs = [(p[0], p[1])] if name == "PUT" else list(p[0])
        staged: dict = {}
        for k, v in pairs:
            _check_key(k)
            present = k in value or k in staged
            if "CREATE_ONLY" in op.flags and present:
                _fails(op, ResultCode.ELEMENT_EXISTS, "map key already exists (CREATE_ONLY)")
                if "PARTIAL" not in op.flags:
                    return len(value), value
                continue
            if "UPDATE_ONLY" in op.flags and not present:
                _fails(op, ResultCode.ELEMENT_NOT_FOUND, "map key not found (UPDATE_ONLY)")
                if "PARTIAL" not in op.flags:
                    return len(value), value
                continue
            staged[k] = v
        new = _with(value, staged)
        return len(new), new
    if name in ("INCREMENT", "DECREMENT"):
        k = p[0]
        _check_key(k)
        if k not in value and "UPDATE_ONLY" in op.flags:
            _fails(op, ResultCode.ELEMENT_NOT_FOUND, "map key not found (UPDATE_ONLY)")
            return None, value
        if k in value and "CREATE_ONLY" in op.flags:
            _fails(op, ResultCode.ELEMENT_EXISTS, "map key already exists (CREATE_ONLY)")
            return None, value
        result = _add(value.get(k), p[1], -1 if name == "DECREMENT" else 1)
        return result, _with(value, {k: result})
    raise parameter(f"unknown map operation {name}")


def _check_key(key: Any) -> None:
    if key.__class__ not in (bytes, int, str, float):
        raise parameter("map keys must be strings or numbers")


def _sorted_map(items: dict, by_value: bool) -> OrderedMap:
    return OrderedMap(sorted(items.items(), key=lambda kv: okey(kv[0])), by_value=by_value)


def _with(value: dict, staged: dict) -> dict:
    if isinstance(value, OrderedMap):
        if all(k in value for k in staged):
            new = OrderedMap(value, by_value=value.by_value)
            new.update(staged)
            return new
        merged = dict(value)
        merged.update(staged)
        return _sorted_map(merged, value.by_value)
    new = dict(value)
    new.update(staged)
    return new


__all__ = ["INF", "OP_NOT_APPLICABLE", "Op", "apply", "okey", "parse", "parse_value", "INT64_MIN"]
