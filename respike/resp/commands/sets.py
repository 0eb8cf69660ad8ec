"""Set commands: a set is a record with one map bin (member -> true), held as an RSet:
O(1) add, remove, membership and random member."""

from __future__ import annotations

import random
from functools import partial

from ...engine.cdt.structs import RSet
from ...engine.namespace import DEFAULT
from ...engine.record import SET, Record, value_size_of
from ...errors import SYNTAX, WRONGTYPE, RedisError
from ..encode import EMPTY_ARRAY, NULL, ONE, ZERO, bulk, bulk_array, integer
from ..table import command
from .args import scan_options, to_count, to_int, to_signed_count
from .typed import typed_record

G = "set"
EO = 2  # bytes charged per member on top of its own (structs.ELEMENT_OVERHEAD)
SMALL_SET = 128  # SSCAN answers a set this small in one step
MAX_COUNT = 1 << 32  # SRANDMEMBER -count beyond this would only exhaust memory


_set = partial(typed_record, SET)


def set_reply(c, members) -> bytes:
    """A set reply: RESP3 set type, RESP2 array."""
    members = list(members)
    head = b"~%d\r\n" % len(members) if c.proto == 3 else b"*%d\r\n" % len(members)
    return head + b"".join(b"$%d\r\n%s\r\n" % (len(m), m) for m in members)


def _remove(ns, key: bytes, rec: Record, members) -> int:
    return remove_members(ns, key, rec, members, EO)


def remove_members(ns, key: bytes, rec: Record, members, per_member: int) -> int:
    """Remove members from a set or sorted set (charging `per_member` bytes each besides
    the member); an emptied collection deletes the record."""
    coll = rec.value
    size = value_size_of(key, rec)
    removed = 0
    for m in members:
        if coll.discard(m):
            removed += 1
            size -= len(m) + per_member
    if removed:
        if coll:
            ns.write(key, rec, rec.kind, coll, size)
        else:
            ns.delete(key, rec)
    return removed


def store_set(c, key: bytes, members) -> int:
    """Replace whatever `key` holds with a set of `members` (none: delete the key)."""
    new = RSet(members)
    return store_collection(c, key, SET, new, sum(map(len, new.pos)) + EO * len(new))


def store_collection(c, key: bytes, kind: int, coll, size: int) -> int:
    """Replace whatever `key` holds with a new set or sorted set (empty: delete the key),
    as the *STORE commands do; returns its size."""
    ns = c.engine.namespace_for(key)
    rec = ns.get(key)
    if not coll:
        if rec is not None:
            ns.delete(key, rec)
        return 0
    ns.write(key, rec, kind, coll, size, DEFAULT)
    return len(coll)


@command(
    "sadd",
    -3,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Adds one or more members to a set. Creates the key if it doesn't exist.",
    "key member...",
    complexity="O(1) per member",
    example="SADD test:tags red green",
)
def sadd(c, a):
    key = a[1]
    ns, rec = _set(c, key, True)
    members = a[2:]
    if rec is None:
        s = RSet(members)
        ns.write(key, None, SET, s, sum(map(len, s.pos)) + EO * len(s))
        return integer(len(s))
    s = rec.value
    new = [m for m in dict.fromkeys(members) if m not in s]
    if not new:
        return ZERO
    size = value_size_of(key, rec) + sum(map(len, new)) + EO * len(new)
    ns.check(rec, key, size)
    for m in new:
        s.add(m)
    ns.write(key, rec, SET, s, size)
    return integer(len(new))


@command(
    "srem",
    -3,
    "write fast",
    (1, 1, 1),
    G,
    "Removes one or more members from a set. Deletes the set if the last member was removed.",
    "key member...",
    complexity="O(1) per member",
    example="SREM test:tags red",
)
def srem(c, a):
    key = a[1]
    ns, rec = _set(c, key, True)
    if rec is None:
        return ZERO
    return integer(_remove(ns, key, rec, a[2:]))


@command(
    "smembers",
    2,
    "readonly",
    (1, 1, 1),
    G,
    "Returns all members of a set.",
    "key",
    complexity="O(N)",
    example="SMEMBERS test:tags",
)
def smembers(c, a):
    _, rec = _set(c, a[1])
    return set_reply(c, () if rec is None else rec.value.pos)


@command(
    "sismember",
    3,
    "readonly fast",
    (1, 1, 1),
    G,
    "Determines whether a member belongs to a set.",
    "key member",
    example="SISMEMBER test:tags red",
)
def sismember(c, a):
    _, rec = _set(c, a[1])
    return ONE if rec is not None and a[2] in rec.value.pos else ZERO


@command(
    "smismember",
    -3,
    "readonly fast",
    (1, 1, 1),
    G,
    "Determines whether multiple members belong to a set.",
    "key member...",
    since="6.2.0",
    complexity="O(N)",
    example="SMISMEMBER test:tags red blue",
)
def smismember(c, a):
    _, rec = _set(c, a[1])
    pos = {} if rec is None else rec.value.pos
    return b"*%d\r\n%s" % (len(a) - 2, b"".join(ONE if m in pos else ZERO for m in a[2:]))


@command(
    "scard",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the number of members in a set.",
    "key",
    example="SCARD test:tags",
)
def scard(c, a):
    _, rec = _set(c, a[1])
    return ZERO if rec is None else integer(len(rec.value))


@command(
    "spop",
    -2,
    "write fast",
    (1, 1, 1),
    G,
    "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
    "key [count:integer]",
    complexity="O(N) where N is the count",
    example="SPOP test:tags 2",
)
def spop(c, a):
    if len(a) > 3:
        raise RedisError(SYNTAX)
    key = a[1]
    count = to_count(a[2]) if len(a) == 3 else None
    ns, rec = _set(c, key, True)
    if rec is None:
        return NULL[c.proto] if count is None else set_reply(c, ())
    s = rec.value
    if count is None:
        m = s.random_member()
        _remove(ns, key, rec, (m,))
        return bulk(m)
    if count == 0:
        return set_reply(c, ())
    if count >= len(s):
        members = list(s.pos)
        ns.delete(key, rec)
        return set_reply(c, members)
    popped = []
    size = value_size_of(key, rec)
    for _ in range(count):
        m = s.random_member()
        s.discard(m)
        popped.append(m)
        size -= len(m) + EO
    ns.write(key, rec, SET, s, size)
    return set_reply(c, popped)


@command(
    "srandmember",
    -2,
    "readonly",
    (1, 1, 1),
    G,
    "Get one or multiple random members from a set.",
    "key [count:integer]",
    complexity="O(N) where N is the absolute value of the count",
    example="SRANDMEMBER test:tags -3",
)
def srandmember(c, a):
    if len(a) > 3:
        raise RedisError(SYNTAX)
    count = None
    if len(a) == 3:
        count = to_signed_count(a[2])
        if -count > MAX_COUNT:
            raise RedisError(
                f"ERR value is out of range (respike returns at most {MAX_COUNT} members)"
            )
    _, rec = _set(c, a[1])
    if rec is None:
        return NULL[c.proto] if count is None else EMPTY_ARRAY
    s = rec.value
    if count is None:
        return bulk(s.random_member())
    if count == 0:
        return EMPTY_ARRAY
    if count < 0:
        return bulk_array([s.random_member() for _ in range(-count)])
    if count >= len(s):
        return bulk_array(list(s.pos))
    if count * 3 > len(s):
        return bulk_array(random.sample(list(s.pos), count))
    chosen: dict[bytes, None] = {}
    while len(chosen) < count:
        chosen[s.random_member()] = None
    return bulk_array(list(chosen))


@command(
    "smove",
    4,
    "write fast",
    (1, 2, 1),
    G,
    "Moves a member from one set to another.",
    "source:key destination:key member",
    example="SMOVE test:tags test:old red",
)
def smove(c, a):
    src, dst, m = a[1], a[2], a[3]
    ns = c.engine.namespace_for(src)
    rec = ns.get(src)
    if rec is None:
        return ZERO
    dns = c.engine.namespace_for(dst)
    drec = dns.get(dst)
    if rec.kind != SET or (drec is not None and drec.kind != SET):
        raise RedisError(WRONGTYPE)
    if src == dst:
        return ONE if m in rec.value.pos else ZERO
    if m not in rec.value.pos:
        return ZERO
    if drec is not None and m in drec.value.pos:
        _remove(ns, src, rec, (m,))
        return ONE
    dsize = value_size_of(dst, drec) + len(m) + EO
    dns.check(drec, dst, dsize)
    _remove(ns, src, rec, (m,))
    if drec is None:
        dns.write(dst, None, SET, RSet((m,)), dsize)
    else:
        drec.value.add(m)
        dns.write(dst, drec, SET, drec.value, dsize)
    return ONE


def _sets(c, keys: list[bytes]) -> list[RSet | None]:
    out = []
    for key in keys:
        rec = c.engine.namespace_for(key).read(key)
        if rec is not None and rec.kind != SET:
            raise RedisError(WRONGTYPE)
        out.append(None if rec is None else rec.value)
    return out


def inter(sets: list[RSet | None]) -> list[bytes]:
    if any(s is None for s in sets):
        return []
    ordered = sorted(sets, key=len)  # type: ignore[arg-type]
    first, rest = ordered[0], [s.pos for s in ordered[1:]]  # type: ignore[union-attr]
    return [m for m in first.pos if all(m in r for r in rest)]  # type: ignore[union-attr]


def union(sets: list[RSet | None]) -> list[bytes]:
    out: dict[bytes, None] = {}
    for s in sets:
        if s is not None:
            out.update(dict.fromkeys(s.pos))
    return list(out)


def diff(sets: list[RSet | None]) -> list[bytes]:
    first = sets[0]
    if first is None:
        return []
    rest = [s.pos for s in sets[1:] if s is not None]
    return [m for m in first.pos if not any(m in r for r in rest)]


def _algebra(c, a, op, store: bool) -> bytes:
    if store:
        members = op(_sets(c, a[2:]))
        return integer(store_set(c, a[1], members))
    return set_reply(c, op(_sets(c, a[1:])))


@command(
    "sinter",
    -2,
    "readonly",
    (1, -1, 1),
    G,
    "Returns the intersect of multiple sets.",
    "key...",
    complexity="O(N*M) worst case",
    example="SINTER test:tags test:old",
)
def sinter(c, a):
    return _algebra(c, a, inter, False)


@command(
    "sinterstore",
    -3,
    "write denyoom",
    (1, -1, 1),
    G,
    "Stores the intersect of multiple sets in a key.",
    "destination:key key...",
    complexity="O(N*M) worst case",
    example="SINTERSTORE test:both test:tags test:old",
)
def sinterstore(c, a):
    return _algebra(c, a, inter, True)


@command(
    "sunion",
    -2,
    "readonly",
    (1, -1, 1),
    G,
    "Returns the union of multiple sets.",
    "key...",
    complexity="O(N)",
    example="SUNION test:tags test:old",
)
def sunion(c, a):
    return _algebra(c, a, union, False)


@command(
    "sunionstore",
    -3,
    "write denyoom",
    (1, -1, 1),
    G,
    "Stores the union of multiple sets in a key.",
    "destination:key key...",
    complexity="O(N)",
    example="SUNIONSTORE test:all test:tags test:old",
)
def sunionstore(c, a):
    return _algebra(c, a, union, True)


@command(
    "sdiff",
    -2,
    "readonly",
    (1, -1, 1),
    G,
    "Returns the difference of multiple sets.",
    "key...",
    complexity="O(N)",
    example="SDIFF test:tags test:old",
)
def sdiff(c, a):
    return _algebra(c, a, diff, False)


@command(
    "sdiffstore",
    -3,
    "write denyoom",
    (1, -1, 1),
    G,
    "Stores the difference of multiple sets in a key.",
    "destination:key key...",
    complexity="O(N)",
    example="SDIFFSTORE test:new test:tags test:old",
)
def sdiffstore(c, a):
    return _algebra(c, a, diff, True)


def _numkeys_getkeys(args: list[bytes]) -> list[int]:
    try:
        n = int(args[1])
    except (ValueError, IndexError):
        return []
    return list(range(2, min(2 + max(n, 0), len(args))))


@command(
    "sintercard",
    -3,
    "readonly movablekeys",
    (0, 0, 0),
    G,
    "Returns the number of members of the intersect of multiple sets.",
    "numkeys:integer key... [LIMIT limit:integer]",
    since="7.0.0",
    complexity="O(N*M) worst case",
    example="SINTERCARD 2 test:tags test:old LIMIT 10",
    getkeys=_numkeys_getkeys,
)
def sintercard(c, a):
    n = to_int(a[1], "ERR numkeys should be greater than 0")
    if n <= 0:
        raise RedisError("ERR numkeys should be greater than 0")
    if n > len(a) - 2:
        raise RedisError("ERR Number of keys can't be greater than number of args")
    limit = 0
    i = 2 + n
    while i < len(a):
        if a[i].upper() == b"LIMIT" and i + 1 < len(a):
            limit = to_int(a[i + 1], "ERR LIMIT can't be negative")
            if limit < 0:
                raise RedisError("ERR LIMIT can't be negative")
            i += 2
        else:
            raise RedisError(SYNTAX)
    count = len(inter(_sets(c, a[2 : 2 + n])))
    return integer(min(count, limit) if limit else count)


def _cursor(arg: bytes) -> int:
    try:
        cursor = int(arg)
    except ValueError:
        raise RedisError("ERR invalid cursor") from None
    if not 0 <= cursor < 1 << 64:
        raise RedisError("ERR invalid cursor")
    return cursor


@command(
    "sscan",
    -3,
    "readonly",
    (1, 1, 1),
    G,
    "Iterates over members of a set.",
    "key cursor:integer [MATCH pattern:pattern] [COUNT count:integer]",
    since="2.8.0",
    complexity="O(1) per call, O(N) for a full iteration",
    example="SSCAN test:tags 0 MATCH r*",
)
def sscan(c, a):
    cursor = _cursor(a[2])
    matcher, count, _ = scan_options(a, 3, False)
    _, rec = _set(c, a[1])
    if rec is None:
        return b"*2\r\n$1\r\n0\r\n*0\r\n"
    s = rec.value
    if len(s) <= SMALL_SET:
        next_cursor, members = 0, (list(s.pos) if cursor == 0 else [])
    else:
        next_cursor, members = s.scan(cursor, count)
    return b"*2\r\n" + bulk(b"%d" % next_cursor) + bulk_array([m for m in members if matcher(m)])
