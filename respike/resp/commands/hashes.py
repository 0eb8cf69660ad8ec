"""Hash commands: a hash is a record whose fields are its bins."""

from __future__ import annotations

import json
import random
from functools import partial
from typing import TYPE_CHECKING
from zlib import crc32

from ...engine.record import (
    HASH,
    Record,
    bin_bytes,
    parse_int,
    to_bin,
    value_size,
    value_size_of,
)
from ...errors import (
    HASH_NOT_FLOAT,
    HASH_NOT_INTEGER,
    NAN_OR_INFINITY,
    OVERFLOW,
    SYNTAX,
    WRONGTYPE,
    RecordError,
    RedisError,
    ResultCode,
    wrong_arity,
)
from ..encode import EMPTY_ARRAY, EMPTY_MAP, NULL, OK, ONE, ZERO, array, bulk, bulk_array, integer
from ..table import command
from .args import (
    format_decimal,
    in_int64,
    parse_cursor,
    scan_options,
    to_decimal,
    to_int,
    to_signed_count,
)
from .typed import typed_record

if TYPE_CHECKING:
    from ..client import Client

G = "hash"
SMALL_HASH = 512  # HSCAN answers a hash this small in one step, as Redis does for listpacks


def field_bytes(value: object) -> bytes:
    """A bin as a hash field value: strings and numbers as Redis reads them back; the other
    bin types native commands can write (booleans, lists, maps) as their JSON text."""
    cls = value.__class__
    if cls is bytes:
        return value  # type: ignore[return-value]
    if cls is int or cls is float:
        return bin_bytes(value)
    return json.dumps(_jsonable(value), separators=(",", ":")).encode()


def _jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {
            (k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)): _jsonable(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


_hash = partial(typed_record, HASH)


def _fields(rec: Record | None) -> dict:
    return {} if rec is None else rec.value  # type: ignore[return-value]


def put_fields(
    ns, key: bytes, rec: Record | None, pairs: list[tuple[bytes, object]], only_new: bool = False
) -> int:
    """Set fields atomically: every limit is checked before anything changes. Returns fields added."""
    fields = _fields(rec)
    size = value_size_of(key, rec)
    staged: dict[bytes, object] = {}
    for name, value in pairs:
        if len(name) > ns.max_bin_name:
            raise RecordError(
                ResultCode.BIN_NAME, f"bin name of {len(name)} bytes exceeds max-bin-name-length"
            )
        old = staged[name] if name in staged else fields.get(name)
        if only_new and old is not None:
            continue
        if old is None:
            size += len(name) + value_size(value)
        else:
            size += value_size(value) - value_size(old)
        staged[name] = value
    if not staged:
        return 0
    ns.check(rec, key, size)
    added = sum(1 for name in staged if name not in fields)
    if rec is None:
        fields = dict(staged)
    else:
        fields.update(staged)
    ns.write(key, rec, HASH, fields, size)
    return added


def delete_fields(ns, key: bytes, rec: Record, names: list[bytes]) -> int:
    fields = rec.value
    removed = 0
    size = value_size_of(key, rec)
    for name in names:
        old = fields.pop(name, None)  # type: ignore[attr-defined]
        if old is not None:
            removed += 1
            size -= len(name) + value_size(old)
    if removed:
        if fields:
            ns.write(key, rec, HASH, fields, size)
        else:
            ns.delete(key, rec)
    return removed


@command(
    "hset",
    -4,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Creates or modifies the value of a field in a hash.",
    "key (field value)...",
    since="2.0.0",
    example="HSET test:users:42 name ann age 31",
)
def hset(c: Client, a):
    if len(a) == 4:  # the hot case: one field of an existing hash
        done = c.router.route(a[1]).put_field(a[1], a[2], a[3])
        if done >= 0:
            return ONE if done else ZERO
    elif len(a) % 2:
        raise RedisError(wrong_arity("hset"))
    return _hset(c, a)


def _hset(c: Client, a: list[bytes]) -> bytes:
    """HSET in general: any number of fields, every limit checked before anything changes."""
    key = a[1]
    ns = c.router.route(key)
    rec = ns.get(key)
    if rec is not None and rec.kind != HASH:
        raise RedisError(WRONGTYPE)
    pairs: list[tuple[bytes, object]] = [(a[i], to_bin(a[i + 1])) for i in range(2, len(a), 2)]
    return integer(put_fields(ns, key, rec, pairs))


@command(
    "hmset",
    -4,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Sets the values of multiple fields.",
    "key (field value)...",
    since="2.0.0",
    example="HMSET user name ann",
)
def hmset(c, a):
    if len(a) % 2:
        raise RedisError(wrong_arity("hmset"))
    hset(c, a)
    return OK


@command(
    "hsetnx",
    4,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Sets the value of a field in a hash only when the field doesn't exist.",
    "key field value",
    since="2.0.0",
    example="HSETNX user name ann",
)
def hsetnx(c, a):
    key = a[1]
    ns, rec = _hash(c, key, True)
    return integer(put_fields(ns, key, rec, [(a[2], to_bin(a[3]))], only_new=True))


@command(
    "hget",
    3,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the value of a field in a hash.",
    "key field",
    since="2.0.0",
    example="HGET user name",
)
def hget(c, a):
    _, rec = _hash(c, a[1])
    value = None if rec is None else rec.value.get(a[2])
    return NULL[c.proto] if value is None else bulk(field_bytes(value))


@command(
    "hmget",
    -3,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the values of all fields in a hash.",
    "key field...",
    since="2.0.0",
    complexity="O(N)",
    example="HMGET user name age",
)
def hmget(c, a):
    _, rec = _hash(c, a[1])
    fields = _fields(rec)
    null = NULL[c.proto]
    return array([null if (v := fields.get(f)) is None else bulk(field_bytes(v)) for f in a[2:]])


def _pairs_reply(c, items: list[tuple[bytes, object]]) -> bytes:
    if c.proto == 3:
        head = b"%%%d\r\n" % len(items)
    else:
        head = b"*%d\r\n" % (2 * len(items))
    return head + b"".join(bulk(k) + bulk(field_bytes(v)) for k, v in items)


@command(
    "hgetall",
    2,
    "readonly",
    (1, 1, 1),
    G,
    "Returns all fields and values in a hash.",
    "key",
    since="2.0.0",
    complexity="O(N)",
    example="HGETALL user",
)
def hgetall(c, a):
    _, rec = _hash(c, a[1])
    if rec is None:
        return EMPTY_MAP[c.proto]
    return _pairs_reply(c, list(rec.value.items()))


@command(
    "hdel",
    -3,
    "write fast",
    (1, 1, 1),
    G,
    "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
    "key field...",
    since="2.0.0",
    complexity="O(N)",
    example="HDEL user age",
)
def hdel(c, a):
    key = a[1]
    ns, rec = _hash(c, key, True)
    if rec is None:
        return ZERO
    return integer(delete_fields(ns, key, rec, a[2:]))


@command(
    "hexists",
    3,
    "readonly fast",
    (1, 1, 1),
    G,
    "Determines whether a field exists in a hash.",
    "key field",
    since="2.0.0",
    example="HEXISTS user name",
)
def hexists(c, a):
    _, rec = _hash(c, a[1])
    return ONE if rec is not None and a[2] in rec.value else ZERO


@command(
    "hlen",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the number of fields in a hash.",
    "key",
    since="2.0.0",
    example="HLEN user",
)
def hlen(c, a):
    _, rec = _hash(c, a[1])
    return integer(len(_fields(rec)))


@command(
    "hkeys",
    2,
    "readonly",
    (1, 1, 1),
    G,
    "Returns all fields in a hash.",
    "key",
    since="2.0.0",
    complexity="O(N)",
    example="HKEYS user",
)
def hkeys(c, a):
    _, rec = _hash(c, a[1])
    return bulk_array(list(_fields(rec)))


@command(
    "hvals",
    2,
    "readonly",
    (1, 1, 1),
    G,
    "Returns all values in a hash.",
    "key",
    since="2.0.0",
    complexity="O(N)",
    example="HVALS user",
)
def hvals(c, a):
    _, rec = _hash(c, a[1])
    return bulk_array([field_bytes(v) for v in _fields(rec).values()])


@command(
    "hstrlen",
    3,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the length of the value of a field.",
    "key field",
    since="3.2.0",
    example="HSTRLEN user name",
)
def hstrlen(c, a):
    _, rec = _hash(c, a[1])
    value = _fields(rec).get(a[2])
    return ZERO if value is None else integer(len(field_bytes(value)))


@command(
    "hincrby",
    4,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Increments the integer value of a field in a hash by a number.",
    "key field increment:integer",
    since="2.0.0",
    example="HINCRBY user visits 1",
)
def hincrby(c, a):
    key, field = a[1], a[2]
    delta = to_int(a[3])
    ns, rec = _hash(c, key, True)
    old = _fields(rec).get(field)
    if old is None:
        old = 0
    elif old.__class__ is not int:
        old = parse_int(old) if old.__class__ is bytes else None
        if old is None:
            raise RedisError(HASH_NOT_INTEGER)
    new = old + delta
    if not in_int64(new):
        raise RedisError(OVERFLOW)
    put_fields(ns, key, rec, [(field, new)])
    return integer(new)


@command(
    "hincrbyfloat",
    4,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Increments the floating point value of a field by a number.",
    "key field increment:double",
    since="2.6.0",
    example="HINCRBYFLOAT item price 0.5",
)
def hincrbyfloat(c, a):
    key, field = a[1], a[2]
    delta = to_decimal(a[3])
    if not delta.is_finite():
        raise RedisError("ERR value is NaN or Infinity")
    ns, rec = _hash(c, key, True)
    old = _fields(rec).get(field)
    current = to_decimal(field_bytes(old), HASH_NOT_FLOAT) if old is not None else 0
    total = current + delta
    if not total.is_finite():
        raise RedisError(NAN_OR_INFINITY)
    text = format_decimal(total)
    put_fields(ns, key, rec, [(field, to_bin(text))])
    return bulk(text)


@command(
    "hscan",
    -3,
    "readonly",
    (1, 1, 1),
    G,
    "Iterates over fields and values of a hash.",
    "key cursor:integer [MATCH pattern:pattern] [COUNT count:integer] [NOVALUES]",
    since="2.8.0",
    complexity="O(1) per call, O(N) for a full iteration",
    example="HSCAN user 0 MATCH n*",
)
def hscan(c, a):
    cursor = _cursor(a[2])
    novalues = False
    options = a[:3]
    i = 3
    while i < len(a):  # NOVALUES stands alone; MATCH and COUNT take the next argument
        if a[i].upper() == b"NOVALUES":
            novalues = True
            i += 1
        else:
            options += a[i : i + 2]
            i += 2
    matcher, count, _ = scan_options(options, 3, False)
    _, rec = _hash(c, a[1])
    items = list(_fields(rec).items())
    next_cursor, items = scan_slice(items, cursor, count)
    out = []
    for k, v in items:
        if matcher(k):
            out.append(bulk(k))
            if not novalues:
                out.append(bulk(field_bytes(v)))
    return b"*2\r\n" + bulk(b"%d" % next_cursor) + array(out)


def _cursor(arg: bytes) -> int:
    return parse_cursor(arg)


def scan_slice(items: list, cursor: int, count: int) -> tuple[int, list]:
    """A stable SCAN step over a collection's items: small ones go in one step; larger
    ones are walked in crc32 order (cursor = 1 + the hash to resume from)."""
    if len(items) <= SMALL_HASH:  # like a Redis listpack: all at once, whatever the cursor
        return 0, items

    start = cursor - 1 if cursor else 0
    ordered = sorted(
        (h, item)
        for item in items
        if (h := crc32(item[0] if isinstance(item, tuple) else item)) >= start
    )
    taken: list = []
    for i, (h, item) in enumerate(ordered):
        if len(taken) >= count and h != ordered[i - 1][0]:
            return h + 1, taken
        taken.append(item)
    return 0, taken


@command(
    "hrandfield",
    -2,
    "readonly",
    (1, 1, 1),
    G,
    "Returns one or more random fields from a hash.",
    "key [options_count:integer [WITHVALUES]]",
    since="6.2.0",
    complexity="O(N)",
    example="HRANDFIELD user 2 WITHVALUES",
)
def hrandfield(c, a):
    if len(a) == 2:
        _, rec = _hash(c, a[1])
        if rec is None:
            return NULL[c.proto]
        return bulk(random.choice(list(rec.value)))
    # Redis checks the arguments before it looks at the key
    count = to_signed_count(a[2])
    withvalues = len(a) == 4 and a[3].upper() == b"WITHVALUES"
    if len(a) > 4 or (len(a) == 4 and not withvalues):
        raise RedisError(SYNTAX)
    if withvalues and not -(1 << 62) < count < 1 << 62:
        raise RedisError("ERR value is out of range")
    _, rec = _hash(c, a[1])
    items = list(_fields(rec).items())
    if not items or count == 0:
        return EMPTY_ARRAY
    if count > 0:
        chosen = random.sample(items, min(count, len(items)))
    else:
        chosen = [random.choice(items) for _ in range(-count)]
    if not withvalues:
        return bulk_array([k for k, _ in chosen])
    if c.proto == 3:
        return array([b"*2\r\n" + bulk(k) + bulk(field_bytes(v)) for k, v in chosen])
    return bulk_array([x for k, v in chosen for x in (k, field_bytes(v))])
