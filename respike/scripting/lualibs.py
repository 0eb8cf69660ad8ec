"""The libraries Redis loads into its Lua: cjson, cmsgpack, bit and struct.

Built on Python's json, msgpack and struct modules (well-kept encoders, not new ones);
what they take and give follows lua-cjson, lua-cmsgpack, LuaBitOp and Roberto
Ierusalimschy's struct library as Redis bundles them. Each function is called from Lua
with Lua values (bytes for strings, lupa tables) and returns Lua values.
"""

from __future__ import annotations

import json
import math
import struct as pystruct
from typing import Any

import lupa.lua51 as lua
import msgpack

MAX_DEPTH = 1000


class LuaLibError(Exception):
    """Raised into Lua as the error of the library call."""


def _is_table(value: Any) -> bool:
    return lua.lua_type(value) == "table"


def _items(table: Any) -> list[tuple[Any, Any]]:
    return list(table.items())


def _array_length(items: list[tuple[Any, Any]]) -> int | None:
    """n if the keys are exactly 1..n (a Lua array), else None."""
    keys = [k for k, _ in items]
    if not all(type(k) in (int, float) and k == int(k) and k >= 1 for k in keys):
        return None
    n = len(keys)
    return n if n and max(keys) == n else None


def _number_text(value: float | int) -> str:
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            raise LuaLibError("Cannot serialise number: must not be NaN or Infinity")
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return "%.14g" % value
    return str(value)


class Libraries:
    """The four libraries as Lua tables of Python functions, for one runtime."""

    def __init__(self, runtime: Any):
        self.runtime = runtime
        self.null = runtime.eval("newproxy(false)")  # cjson.null: one unique light value
        self.tables = {
            b"cjson": {
                b"encode": self.json_encode,
                b"decode": self.json_decode,
                b"null": self.null,
                b"encode_keep_buffer": lambda *a: None,
                b"encode_max_depth": lambda *a: None,
                b"decode_max_depth": lambda *a: None,
                b"encode_invalid_numbers": lambda *a: None,
                b"decode_invalid_numbers": lambda *a: None,
            },
            b"cmsgpack": {
                b"pack": self.msgpack_pack,
                b"unpack": self.msgpack_unpack,
                b"unpack_one": self.msgpack_unpack_one,
                b"unpack_limit": self.msgpack_unpack_limit,
            },
            b"bit": {name.encode(): fn for name, fn in _BIT.items()},
            b"struct": {b"pack": struct_pack, b"unpack": struct_unpack, b"size": struct_size},
        }

    def lua_tables(self) -> Any:
        t = self.runtime.table()
        for name, funcs in self.tables.items():
            t[name] = self.runtime.table_from(funcs)
        return t

    def to_lua(self, value: Any) -> Any:
        if isinstance(value, dict):
            table = self.runtime.table()
            for k, v in value.items():
                table[k.encode() if isinstance(k, str) else k] = self.to_lua(v)
            return table
        if isinstance(value, list):
            return self.runtime.table_from([self.to_lua(v) for v in value])
        if isinstance(value, str):
            return value.encode()
        if value is None:
            return self.null
        return value

    # --- cjson -----------------------------------------------------------------------

    def json_encode(self, value: Any = None) -> bytes:
        out: list[str] = []
        self._json(value, out, 0)
        return "".join(out).encode("utf-8", "surrogateescape")

    def _json(self, value: Any, out: list[str], depth: int) -> None:
        if value is None or value is self.null:
            out.append("null")
        elif value is True or value is False:
            out.append("true" if value else "false")
        elif isinstance(value, int | float):
            out.append(_number_text(value))
        elif isinstance(value, bytes):
            text = json.dumps(value.decode("utf-8", "surrogateescape"), ensure_ascii=False)
            out.append(text.replace("/", "\\/"))
        elif _is_table(value):
            if depth >= MAX_DEPTH:
                raise LuaLibError(f"Cannot serialise, excessive nesting ({depth + 1})")
            self._json_table(value, out, depth + 1)
        else:
            raise LuaLibError(f"Cannot serialise {lua.lua_type(value)}: type not supported")

    def _json_table(self, table: Any, out: list[str], depth: int) -> None:
        items = _items(table)
        n = _array_length(items)
        if n is not None:
            values = dict((int(k), v) for k, v in items)
            out.append("[")
            for i in range(1, n + 1):
                if i > 1:
                    out.append(",")
                self._json(values.get(i), out, depth)
            out.append("]")
            return
        out.append("{")
        for i, (k, v) in enumerate(items):
            if i:
                out.append(",")
            if isinstance(k, int | float):
                k = _number_text(k).encode()
            elif not isinstance(k, bytes):
                raise LuaLibError("Cannot serialise table: table key must be a number or string")
            self._json(k, out, depth)
            out.append(":")
            self._json(v, out, depth)
        out.append("}")

    def json_decode(self, text: Any = None) -> Any:
        if not isinstance(text, bytes):
            raise LuaLibError("bad argument #1 to 'decode' (string expected)")
        try:
            value = json.loads(text.decode("utf-8", "surrogateescape"))
        except (ValueError, RecursionError) as exc:
            raise LuaLibError(f"Expected value but found invalid token ({exc})") from None
        return self.to_lua(value)

    # --- cmsgpack --------------------------------------------------------------------

    def msgpack_pack(self, *values: Any) -> bytes:
        if not values:
            raise LuaLibError("MessagePack pack needs input.")
        return b"".join(msgpack.packb(self._plain(v, 0), use_bin_type=False) for v in values)

    def _plain(self, value: Any, depth: int) -> Any:
        if isinstance(value, float) and value == int(value) and abs(value) < 2**63:
            return int(value)
        if _is_table(value):
            if depth >= 16:  # lua-cmsgpack's LUACMSGPACK_MAX_NESTING: deeper is nil
                return None
            items = _items(value)
            n = _array_length(items)
            if n is not None:
                values = dict((int(k), v) for k, v in items)
                return [self._plain(values.get(i), depth + 1) for i in range(1, n + 1)]
            return {self._plain(k, depth + 1): self._plain(v, depth + 1) for k, v in items}
        if value is None or isinstance(value, bool | int | float | bytes):
            return value
        return None

    def _unpacked(self, data: Any, limit: int, offset: int) -> tuple[int, list[Any]]:
        if not isinstance(data, bytes):
            raise LuaLibError("MessagePack unpack needs a string")
        unpacker = msgpack.Unpacker(raw=True, strict_map_key=False)
        unpacker.feed(data[offset:])
        values: list[Any] = []
        try:
            for item in unpacker:
                values.append(self._lua_value(item))
                if limit and len(values) >= limit:
                    break
        except (ValueError, msgpack.ExtraData) as exc:
            raise LuaLibError(f"Bad data format in input ({exc})") from None
        pos = offset + unpacker.tell()
        return (-1 if pos >= len(data) else pos), values

    def _lua_value(self, item: Any) -> Any:
        if isinstance(item, list | tuple):
            return self.runtime.table_from([self._lua_value(v) for v in item])
        if isinstance(item, dict):
            table = self.runtime.table()
            for k, v in item.items():
                table[self._lua_value(k)] = self._lua_value(v)
            return table
        return item

    def msgpack_unpack(self, data: Any = None) -> tuple:
        return tuple(self._unpacked(data, 0, 0)[1])

    def msgpack_unpack_one(self, data: Any = None, offset: Any = 0) -> tuple:
        pos, values = self._unpacked(data, 1, int(offset or 0))
        return (pos, *values)

    def msgpack_unpack_limit(self, data: Any = None, limit: Any = 0, offset: Any = 0) -> tuple:
        pos, values = self._unpacked(data, int(limit or 0), int(offset or 0))
        return (pos, *values)


# --- bit (LuaBitOp: 32-bit signed results) ------------------------------------------------


def _tobit(x: Any) -> int:
    if not isinstance(x, int | float):
        raise LuaLibError("bad argument (number expected)")
    v = int(math.fmod(x, 2**32)) if isinstance(x, float) else x
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _tohex(x: Any, n: Any = 8) -> bytes:
    n = int(n)
    digits = "0123456789ABCDEF" if n < 0 else "0123456789abcdef"
    n = min(abs(n) or 8, 8)
    v = _tobit(x) & 0xFFFFFFFF
    return "".join(digits[(v >> (4 * i)) & 15] for i in reversed(range(n))).encode()


def _fold(op: Any) -> Any:
    def fn(*xs: Any) -> int:
        if not xs:
            raise LuaLibError("bad argument #1 (number expected, got no value)")
        acc = _tobit(xs[0])
        for x in xs[1:]:
            acc = _tobit(op(acc, _tobit(x)))
        return acc

    return fn


def _shift(kind: str) -> Any:
    def fn(x: Any, n: Any) -> int:
        v, s = _tobit(x) & 0xFFFFFFFF, int(n) & 31
        if kind == "l":
            return _tobit(v << s)
        if kind == "r":
            return _tobit(v >> s)
        if kind == "a":
            return _tobit(_tobit(v) >> s)
        if kind == "rol":
            return _tobit((v << s) | (v >> (32 - s)))
        return _tobit((v >> s) | (v << (32 - s)))

    return fn


_BIT = {
    "tobit": _tobit,
    "tohex": _tohex,
    "bnot": lambda x: _tobit(~_tobit(x)),
    "band": _fold(lambda a, b: a & b),
    "bor": _fold(lambda a, b: a | b),
    "bxor": _fold(lambda a, b: a ^ b),
    "lshift": _shift("l"),
    "rshift": _shift("r"),
    "arshift": _shift("a"),
    "rol": _shift("rol"),
    "ror": _shift("ror"),
    "bswap": lambda x: _tobit(int.from_bytes((_tobit(x) & 0xFFFFFFFF).to_bytes(4, "little"))),
}


# --- struct ---------------------------------------------------------------------------

_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8}
_INT = {1: "b", 2: "h", 4: "i", 8: "q"}


def _parse(fmt: bytes) -> list[tuple[str, int]]:
    """Lua struct's format as (code, size) items; '<', '>', '=' and '!' set the order."""
    out: list[tuple[str, int]] = []
    text = fmt.decode("latin-1")
    i = 0
    while i < len(text):
        ch = text[i]
        i += 1
        j = i
        while j < len(text) and text[j].isdigit():
            j += 1
        num = int(text[i:j]) if j > i else None
        if ch in "<>=!":
            out.append((ch, num or 0))
            i = j
        elif ch in "iI":
            out.append((ch, 4 if num is None else num))
            i = j
        elif ch == "c":
            out.append((ch, num or 0))  # c0: the length is the value before it
            i = j
        elif ch in _SIZES or ch in "sx":
            out.append((ch, _SIZES.get(ch, 1)))
        elif ch != " ":
            raise LuaLibError(f"invalid format option '{ch}'")
    return out


def struct_pack(fmt: Any = None, *values: Any) -> bytes:
    order, out, vals = "<", [], list(values)
    for code, size in _parse(fmt or b""):
        if code in "<>=!":
            order = {"<": "<", ">": ">", "=": "<", "!": order}[code]
            continue
        if code == "x":
            out.append(b"\0")
            continue
        if not vals:
            raise LuaLibError("bad argument to 'pack' (no value)")
        v = vals.pop(0)
        if code in "sc":
            data = v if isinstance(v, bytes) else str(v).encode()
            if code == "s":
                out.append(data + b"\0")
            else:
                out.append(data[:size].ljust(size, b"\0") if size else data)
            continue
        out.append(pystruct.pack(order + _code(code, size), _number(code, v)))
    return b"".join(out)


def _code(code: str, size: int) -> str:
    if code in "iI":
        if size not in _INT:
            raise LuaLibError(f"integral size {size} is not supported")
        c = _INT[size]
        return c.upper() if code == "I" else c
    return {"l": "q", "L": "Q", "T": "Q"}.get(code, code)


def _number(code: str, v: Any) -> Any:
    if code in "fd":
        return float(v)
    return int(v)


def struct_unpack(fmt: Any = None, data: Any = None, pos: Any = 1) -> tuple:
    if not isinstance(data, bytes):
        raise LuaLibError("bad argument #2 to 'unpack' (string expected)")
    order, at, out = "<", int(pos) - 1, []
    for code, size in _parse(fmt or b""):
        if code in "<>=!":
            order = {"<": "<", ">": ">", "=": "<", "!": order}[code]
            continue
        if code == "x":
            at += 1
            continue
        if code == "s":
            end = data.find(b"\0", at)
            if end < 0:
                raise LuaLibError("unfinished string in data")
            out.append(data[at:end])
            at = end + 1
            continue
        if code == "c":
            n = size or int(out.pop())
            out.append(data[at : at + n])
            at += n
            continue
        fmt_code = order + _code(code, size)
        width = pystruct.calcsize(fmt_code)
        if at + width > len(data):
            raise LuaLibError("data string too short")
        (value,) = pystruct.unpack_from(fmt_code, data, at)
        out.append(value)
        at += width
    return (*out, at + 1)


def struct_size(fmt: Any = None) -> int:
    total = 0
    for code, size in _parse(fmt or b""):
        if code in "<>=!":
            continue
        if code == "s":
            raise LuaLibError("options 's' has no fixed size")
        total += size if code in "ciIx" or code in _SIZES else 0
    return total
