"""String commands: a string is a record whose one value is a string or an integer bin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...engine.namespace import DEFAULT, KEEP
from ...engine.record import (
    INT64_MAX,
    INT64_MIN,
    NUMERIC_START,
    STRING,
    Record,
    bin_bytes,
    parse_int,
    to_bin,
)
from ...errors import (
    NAN_OR_INFINITY,
    NOT_INTEGER,
    OFFSET_OUT_OF_RANGE,
    OVERFLOW,
    STRING_TOO_LONG,
    SYNTAX,
    WRONGTYPE,
    RedisError,
    wrong_arity,
)
from ..encode import NULL, OK, ONE, ZERO, array, bulk, integer
from ..table import command
from .args import format_decimal, to_decimal, to_int
from .expiry import UNITS, expire_option, void_for_write

if TYPE_CHECKING:
    from ..client import Client

G = "string"


def _string(rec: Record | None) -> Record | None:
    if rec is not None and rec.kind:
        raise RedisError(WRONGTYPE)
    return rec


def _value(rec: Record) -> bytes:
    value = rec.value
    return value if value.__class__ is bytes else bin_bytes(value)  # type: ignore[return-value]


@command(
    "get",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the string value of a key.",
    "key",
    example="GET greeting",
)
def get(c: Client, a):
    key = a[1]
    rec = c.router.route(key).read(key)
    if rec is None:
        return NULL[c.proto]
    if rec.kind:
        raise RedisError(WRONGTYPE)
    value = rec.value
    if value.__class__ is not bytes:
        value = bin_bytes(value)
    return b"$%d\r\n%s\r\n" % (len(value), value)


# Redis's parseExtendedStringArgumentsOrReply: each option may repeat (the last value of
# an expiry wins) but not meet one it conflicts with; SET and GETEX accept different ones.
_TTL_FLAGS = {b"KEEPTTL", b"PERSIST", b"EX", b"PX", b"EXAT", b"PXAT"}
_CONFLICTS = {
    b"NX": {b"XX"},
    b"XX": {b"NX"},
    b"GET": set(),
    **{opt: _TTL_FLAGS - {opt} for opt in _TTL_FLAGS},
}
_SET_OPTIONS = {b"NX", b"XX", b"GET", b"KEEPTTL", b"EX", b"PX", b"EXAT", b"PXAT"}
_GETEX_OPTIONS = {b"PERSIST", b"EX", b"PX", b"EXAT", b"PXAT"}


def extended_options(
    a: list[bytes], start: int, allowed: set[bytes]
) -> tuple[set[bytes], tuple[bytes, bytes] | None]:
    """The options of SET (or GETEX) -> (flags, (unit, value) of the expiry or None).
    The expiry value is checked later, as Redis does."""
    flags: set[bytes] = set()
    expire = None
    i = start
    while i < len(a):
        opt = a[i].upper()
        if opt not in allowed or flags & _CONFLICTS[opt] or (opt in UNITS and i + 1 >= len(a)):
            raise RedisError(SYNTAX)
        flags.add(opt)
        if opt in UNITS:
            expire = (opt, a[i + 1])
            i += 1
        i += 1
    return flags, expire


def _set_options(a: list[bytes], now: int) -> tuple[bytes | None, bool, int]:
    """SET's [NX|XX] [GET] [EX|PX|EXAT|PXAT n|KEEPTTL] -> (condition, get, void)."""
    flags, expire = extended_options(a, 3, _SET_OPTIONS)
    cond = b"NX" if b"NX" in flags else b"XX" if b"XX" in flags else None
    if expire is not None:
        void = expire_option("set", expire[0], expire[1], now)
    else:
        void = KEEP if b"KEEPTTL" in flags else DEFAULT
    return cond, b"GET" in flags, void


@command(
    "set",
    -3,
    "write denyoom",
    (1, 1, 1),
    G,
    "Sets the string value of a key, ignoring its type.",
    "key value [NX|XX] [GET] [EX seconds:integer|PX milliseconds:integer|EXAT unix-time-seconds:unix-time|PXAT unix-time-milliseconds:unix-time|KEEPTTL]",
    example="SET greeting hello EX 60",
)
def set_(c: Client, a):
    key, value = a[1], a[2]
    ns = c.router.route(key)
    if len(a) == 3:
        ns.replace(key, STRING, to_bin(value) if value[:1] in NUMERIC_START else value, len(value))
        return OK
    now = ns.clock()
    cond, want_get, void = _set_options(a, now)
    rec = ns.get(key)
    old = NULL[c.proto]
    if want_get and rec is not None:
        old = bulk(_value(_string(rec)))  # type: ignore[arg-type]
    if (cond == b"NX" and rec is not None) or (cond == b"XX" and rec is None):
        return old if want_get else NULL[c.proto]
    _store(ns, key, rec, value, void, now)
    return old if want_get else OK


def _store(ns, key: bytes, rec: Record | None, value: bytes, void: int, now: int) -> None:
    """Write a string value; a void-time already in the past deletes the key instead."""
    if 0 < void <= now:
        ns.check(rec, key, len(value))
        if rec is not None:
            ns.delete(key, rec)
        return
    void_for_write(ns, void, now)
    ns.write(key, rec, STRING, to_bin(value), len(value), void)


@command(
    "setnx",
    3,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Sets the string value of a key only when the key doesn't exist.",
    "key value",
    example="SETNX lock owner-1",
)
def setnx(c, a):
    key = a[1]
    ns = c.engine.namespace_for(key)
    if ns.get(key) is not None:
        return ZERO
    _store(ns, key, None, a[2], DEFAULT, 0)
    return ONE


def _setex(c, a, cmd: str, option: bytes):
    key = a[1]
    ns = c.engine.namespace_for(key)
    now = ns.clock()
    void = expire_option(cmd, option, a[2], now)
    _store(ns, key, ns.get(key), a[3], void, now)
    return OK


@command(
    "setex",
    4,
    "write denyoom",
    (1, 1, 1),
    G,
    "Sets the string value and expiration time of a key.",
    "key seconds:integer value",
    example="SETEX session:1 60 data",
)
def setex(c, a):
    return _setex(c, a, "setex", b"EX")


@command(
    "psetex",
    4,
    "write denyoom",
    (1, 1, 1),
    G,
    "Sets both string value and expiration time in milliseconds of a key.",
    "key milliseconds:integer value",
    since="2.6.0",
    example="PSETEX session:1 1500 data",
)
def psetex(c, a):
    return _setex(c, a, "psetex", b"PX")


@command(
    "getset",
    3,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Returns the previous string value of a key after setting it to a new value.",
    "key value",
    example="GETSET counter 0",
)
def getset(c, a):
    key = a[1]
    ns = c.engine.namespace_for(key)
    rec = _string(ns.get(key))
    old = NULL[c.proto] if rec is None else bulk(_value(rec))
    _store(ns, key, rec, a[2], DEFAULT, 0)
    return old


@command(
    "getdel",
    2,
    "write fast",
    (1, 1, 1),
    G,
    "Returns the string value of a key after deleting the key.",
    "key",
    since="6.2.0",
    example="GETDEL greeting",
)
def getdel(c, a):
    key = a[1]
    ns = c.engine.namespace_for(key)
    rec = _string(ns.get(key))
    if rec is None:
        return NULL[c.proto]
    value = _value(rec)
    ns.delete(key, rec)
    return bulk(value)


@command(
    "getex",
    -2,
    "write fast",
    (1, 1, 1),
    G,
    "Returns the string value of a key after setting its expiration time.",
    "key [EX seconds:integer|PX milliseconds:integer|EXAT unix-time-seconds:unix-time|PXAT unix-time-milliseconds:unix-time|PERSIST]",
    since="6.2.0",
    example="GETEX session:1 EX 60",
)
def getex(c, a):
    key = a[1]
    ns = c.engine.namespace_for(key)
    now = ns.clock()
    flags, expire = extended_options(a, 2, _GETEX_OPTIONS)
    void = 0 if b"PERSIST" in flags else KEEP
    rec = _string(ns.read(key))
    if rec is None:
        return NULL[c.proto]
    if expire is not None:  # Redis validates the time only once the key is found
        void = expire_option("getex", expire[0], expire[1], now)
    value = _value(rec)
    if 0 < void <= now:
        ns.delete(key, rec)
    elif void != KEEP and void != rec.void:
        ns.touch(key, rec, void_for_write(ns, void, now))
    return bulk(value)


@command(
    "mget",
    -2,
    "readonly fast",
    (1, -1, 1),
    G,
    "Atomically returns the string values of one or more keys.",
    "key...",
    complexity="O(N)",
    example="MGET a b c",
)
def mget(c, a):
    null = NULL[c.proto]
    out = []
    for key in a[1:]:
        rec = c.engine.namespace_for(key).read(key)
        out.append(null if rec is None or rec.kind else bulk(_value(rec)))
    return array(out)


def _pairs(c, a, name: str):
    if len(a) % 2 == 0:
        raise RedisError(wrong_arity(name))
    writes = []
    for i in range(1, len(a), 2):
        key, value = a[i], a[i + 1]
        ns = c.engine.namespace_for(key)
        rec = ns.get(key)
        ns.check(rec, key, len(value))
        writes.append((ns, key, rec, value))
    return writes


@command(
    "mset",
    -3,
    "write denyoom",
    (1, -1, 2),
    G,
    "Atomically creates or modifies the string values of one or more keys.",
    "(key value)...",
    since="1.0.1",
    complexity="O(N)",
    example="MSET a 1 b 2",
)
def mset(c, a):
    for ns, key, _, value in _pairs(c, a, "mset"):
        ns.write(key, ns.get(key), STRING, to_bin(value), len(value), DEFAULT)
    return OK


@command(
    "msetnx",
    -3,
    "write denyoom",
    (1, -1, 2),
    G,
    "Atomically modifies the string values of one or more keys only when all keys don't exist.",
    "(key value)...",
    since="1.0.1",
    complexity="O(N)",
    example="MSETNX a 1 b 2",
)
def msetnx(c, a):
    writes = _pairs(c, a, "msetnx")
    if any(rec is not None for _, _, rec, _ in writes):
        return ZERO
    for ns, key, _, value in writes:
        ns.write(key, ns.get(key), STRING, to_bin(value), len(value), DEFAULT)
    return ONE


def _incr(c: Client, key: bytes, delta: int) -> bytes:
    ns = c.router.route(key)
    new = ns.add_int(key, delta)
    if new is not None:
        return b":%d\r\n" % new
    rec = ns.get(key)  # not an integer string, or the sum overflows: say which
    assert rec is not None  # (add_int creates a missing key)
    if rec.kind:
        raise RedisError(WRONGTYPE)
    value = rec.value
    if value.__class__ is not int:
        value = parse_int(value) if value.__class__ is bytes else None  # type: ignore[arg-type]
        if value is None:
            raise RedisError(NOT_INTEGER)
    new = value + delta
    if new > INT64_MAX or new < INT64_MIN:
        raise RedisError(OVERFLOW)
    ns.write(key, rec, STRING, new, 8)
    return b":%d\r\n" % new


@command(
    "incr",
    2,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Increments the integer value of a key by one.",
    "key",
    example="INCR visits",
)
def incr(c: Client, a):
    key = a[1]
    new = c.router.route(key).add_int(key, 1)  # _incr's common case, one call shorter
    return b":%d\r\n" % new if new is not None else _incr(c, key, 1)


@command(
    "decr",
    2,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Decrements the integer value of a key by one.",
    "key",
    example="DECR stock",
)
def decr(c, a):
    return _incr(c, a[1], -1)


@command(
    "incrby",
    3,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Increments the integer value of a key by a number.",
    "key increment:integer",
    example="INCRBY visits 10",
)
def incrby(c, a):
    return _incr(c, a[1], to_int(a[2]))


@command(
    "decrby",
    3,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Decrements a number from the integer value of a key.",
    "key decrement:integer",
    example="DECRBY stock 3",
)
def decrby(c, a):
    delta = to_int(a[2])
    if delta == -(1 << 63):
        raise RedisError("ERR decrement would overflow")
    return _incr(c, a[1], -delta)


@command(
    "incrbyfloat",
    3,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Increment the floating point value of a key by a number.",
    "key increment:double",
    since="2.6.0",
    example="INCRBYFLOAT price 0.5",
)
def incrbyfloat(c, a):
    key = a[1]
    ns = c.engine.namespace_for(key)
    rec = _string(ns.get(key))
    # Redis's order: the type, then the stored value, then the increment
    current = to_decimal(_value(rec)) if rec is not None else 0
    delta = to_decimal(a[2])
    total = current + delta
    if not total.is_finite():
        raise RedisError(NAN_OR_INFINITY)
    text = format_decimal(total)
    ns.write(key, rec, STRING, to_bin(text), len(text))
    return bulk(text)


@command(
    "append",
    3,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Appends a string to the value of a key. Creates the key if it doesn't exist.",
    "key value",
    since="2.0.0",
    example="APPEND log entry",
)
def append(c, a):
    key = a[1]
    ns = c.engine.namespace_for(key)
    rec = _string(ns.get(key))
    value = a[2] if rec is None else _value(rec) + a[2]
    _check_length(c, len(value))
    ns.write(key, rec, STRING, to_bin(value), len(value))
    return integer(len(value))


def _check_length(c, length: int) -> None:
    if length > c.server.node_config["proto-max-bulk-len"]:
        raise RedisError(STRING_TOO_LONG)


@command(
    "strlen",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the length of a string value.",
    "key",
    since="2.2.0",
    example="STRLEN greeting",
)
def strlen(c, a):
    key = a[1]
    rec = _string(c.engine.namespace_for(key).read(key))
    return ZERO if rec is None else integer(len(_value(rec)))


def _range(start: int, end: int, length: int) -> tuple[int, int] | None:
    """Redis's GETRANGE index arithmetic; None for an empty range."""
    if start < 0 and end < 0 and start > end:
        return None
    if start < 0:
        start = max(length + start, 0)
    if end < 0:
        end = max(length + end, 0)
    end = min(end, length - 1)
    if start > end or length == 0:
        return None
    return start, end


@command(
    "getrange",
    4,
    "readonly",
    (1, 1, 1),
    G,
    "Returns a substring of the string stored at a key.",
    "key start:integer end:integer",
    since="2.4.0",
    complexity="O(N)",
    example="GETRANGE greeting 0 2",
)
def getrange(c, a):
    key = a[1]
    start, end = to_int(a[2]), to_int(a[3])
    rec = _string(c.engine.namespace_for(key).read(key))
    value = b"" if rec is None else _value(rec)
    span = _range(start, end, len(value))
    return bulk(b"" if span is None else value[span[0] : span[1] + 1])


@command(
    "setrange",
    4,
    "write denyoom",
    (1, 1, 1),
    G,
    "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
    "key offset:integer value",
    since="2.2.0",
    example="SETRANGE greeting 0 J",
)
def setrange(c, a):
    key, patch = a[1], a[3]
    offset = to_int(a[2])
    if offset < 0:
        raise RedisError(OFFSET_OUT_OF_RANGE)
    ns = c.engine.namespace_for(key)
    rec = _string(ns.get(key))
    value = b"" if rec is None else _value(rec)
    if not patch:
        return integer(len(value))
    _check_length(c, offset + len(patch))
    if len(value) < offset:
        value += b"\0" * (offset - len(value))
    value = value[:offset] + patch + value[offset + len(patch) :]
    ns.write(key, rec, STRING, to_bin(value), len(value))
    return integer(len(value))
