"""Generic key commands: existence, type, expiry, iteration, renaming."""

from __future__ import annotations

import random

from ...engine.record import KIND_NAMES, LIST, value_size_of
from ...errors import NO_SUCH_KEY, RedisError, invalid_expire
from ...keyspace import N_PARTITIONS, hash_slot
from ..encode import NULL, OK, ONE, ZERO, bulk, bulk_array, integer
from ..table import command
from . import lists
from .args import glob_matcher, parse_cursor, scan_options, to_int
from .expiry import LLONG_MAX, expire_allowed, expire_flags, void_for_write

G = "generic"
NS_BITS = 5  # SCAN cursors carry the namespace index in their low bits (up to 32 namespaces)


def _delete(c, keys: list[bytes]) -> bytes:
    removed = 0
    for key in keys:
        if c.engine.namespace_for(key).delete(key):
            removed += 1
    return integer(removed)


@command(
    "del",
    -2,
    "write",
    (1, -1, 1),
    G,
    "Deletes one or more keys.",
    "key...",
    complexity="O(N)",
    example="DEL a b",
)
def del_(c, a):
    return _delete(c, a[1:])


@command(
    "unlink",
    -2,
    "write fast",
    (1, -1, 1),
    G,
    "Asynchronously deletes one or more keys (the same as DEL here).",
    "key...",
    since="4.0.0",
    complexity="O(N)",
    example="UNLINK a b",
)
def unlink(c, a):
    return _delete(c, a[1:])


@command(
    "exists",
    -2,
    "readonly fast",
    (1, -1, 1),
    G,
    "Determines whether one or more keys exist.",
    "key...",
    since="1.0.0",
    complexity="O(N)",
    example="EXISTS a b",
)
def exists(c, a):
    return integer(sum(1 for key in a[1:] if c.engine.namespace_for(key).get(key) is not None))


@command(
    "touch",
    -2,
    "readonly fast",
    (1, -1, 1),
    G,
    "Returns the number of existing keys out of those specified (no write, as in Redis).",
    "key...",
    since="3.2.1",
    complexity="O(N)",
    example="TOUCH a b",
)
def touch(c, a):
    return exists(c, a)


@command(
    "type",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Determines the type of value stored at a key.",
    "key",
    example="TYPE greeting",
)
def type_(c, a):
    key = a[1]
    rec = c.engine.namespace_for(key).get(key)
    return b"+none\r\n" if rec is None else b"+%s\r\n" % KIND_NAMES[rec.kind].encode()


def _expire(c, a, name: str, scale: int, absolute: bool) -> bytes:
    flags = expire_flags(a[3:])
    when = to_int(a[2])
    if scale == 1000:
        if not -(LLONG_MAX // 1000) <= when <= LLONG_MAX // 1000:
            raise RedisError(invalid_expire(name))
        when *= 1000
    key = a[1]
    ns = c.engine.namespace_for(key)
    now = ns.clock()
    if not absolute:
        if when > LLONG_MAX - now:
            raise RedisError(invalid_expire(name))
        when += now
    rec = ns.get(key)
    if rec is None:
        return ZERO
    if not expire_allowed(flags, rec.void, when):
        return ZERO
    if when <= now:
        ns.delete(key, rec)
    else:
        ns.touch(key, rec, void_for_write(ns, when, now))
    return ONE


@command(
    "expire",
    -3,
    "write fast",
    (1, 1, 1),
    G,
    "Sets the expiration time of a key in seconds.",
    "key seconds:integer [NX|XX|GT|LT]",
    example="EXPIRE session:1 60",
)
def expire(c, a):
    return _expire(c, a, "expire", 1000, False)


@command(
    "pexpire",
    -3,
    "write fast",
    (1, 1, 1),
    G,
    "Sets the expiration time of a key in milliseconds.",
    "key milliseconds:integer [NX|XX|GT|LT]",
    since="2.6.0",
    example="PEXPIRE session:1 1500",
)
def pexpire(c, a):
    return _expire(c, a, "pexpire", 1, False)


@command(
    "expireat",
    -3,
    "write fast",
    (1, 1, 1),
    G,
    "Sets the expiration time of a key to a Unix timestamp.",
    "key unix-time-seconds:unix-time [NX|XX|GT|LT]",
    since="1.2.0",
    example="EXPIREAT session:1 1893456000",
)
def expireat(c, a):
    return _expire(c, a, "expireat", 1000, True)


@command(
    "pexpireat",
    -3,
    "write fast",
    (1, 1, 1),
    G,
    "Sets the expiration time of a key to a Unix milliseconds timestamp.",
    "key unix-time-milliseconds:unix-time [NX|XX|GT|LT]",
    since="2.6.0",
    example="PEXPIREAT session:1 1893456000000",
)
def pexpireat(c, a):
    return _expire(c, a, "pexpireat", 1, True)


def _ttl(c, a, scale: int, absolute: bool) -> bytes:
    key = a[1]
    ns = c.engine.namespace_for(key)
    rec = ns.get(key)
    if rec is None:
        return b":-2\r\n"
    if not rec.void:
        return b":-1\r\n"
    if absolute:  # Redis rounds EXPIRETIME to the nearest second, as it does TTL
        return integer((rec.void + 500) // 1000 if scale == 1000 else rec.void)
    left = max(rec.void - ns.clock(), 0)
    return integer((left + 500) // 1000 if scale == 1000 else left)


@command(
    "ttl",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the expiration time in seconds of a key.",
    "key",
    example="TTL session:1",
)
def ttl(c, a):
    return _ttl(c, a, 1000, False)


@command(
    "pttl",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the expiration time in milliseconds of a key.",
    "key",
    since="2.6.0",
    example="PTTL session:1",
)
def pttl(c, a):
    return _ttl(c, a, 1, False)


@command(
    "expiretime",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the expiration time of a key as a Unix timestamp.",
    "key",
    since="7.0.0",
    example="EXPIRETIME session:1",
)
def expiretime(c, a):
    return _ttl(c, a, 1000, True)


@command(
    "pexpiretime",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the expiration time of a key as a Unix milliseconds timestamp.",
    "key",
    since="7.0.0",
    example="PEXPIRETIME session:1",
)
def pexpiretime(c, a):
    return _ttl(c, a, 1, True)


@command(
    "persist",
    2,
    "write fast",
    (1, 1, 1),
    G,
    "Removes the expiration time of a key.",
    "key",
    since="2.2.0",
    example="PERSIST session:1",
)
def persist(c, a):
    key = a[1]
    ns = c.engine.namespace_for(key)
    rec = ns.get(key)
    if rec is None or not rec.void:
        return ZERO
    ns.touch(key, rec, 0)
    return ONE


def _kind_filter(kind: bytes | None):
    if kind is None:
        return None
    wanted = KIND_NAMES.index(kind.decode()) if kind.decode() in KIND_NAMES else -1
    return lambda key, rec: rec.kind == wanted


@command(
    "scan",
    -2,
    "readonly",
    (0, 0, 0),
    G,
    "Iterates over the key names in the database.",
    "cursor:integer [MATCH pattern:pattern] [COUNT count:integer] [TYPE type]",
    since="2.8.0",
    complexity="O(1) per call, O(N) for a full iteration",
    example="SCAN 0 MATCH test:users:* COUNT 100",
)
def scan(c, a):
    cursor = parse_cursor(a[1])
    matcher, count, kind = scan_options(a, 2, True)
    mode, cluster = cluster_mode(c)
    if mode == "cluster":
        return _scan_cluster(c, cluster, cursor, a)
    owned = cluster.mastered_here().__contains__ if mode == "masters" else None
    next_cursor, found = local_scan(c, cursor, count, matcher, _kind_filter(kind), owned)
    return b"*2\r\n" + bulk(b"%d" % next_cursor) + bulk_array(found)


def cluster_mode(c):
    """How a keyless walk covers the data: this node's records ("local", a lone node),
    the partitions it masters ("masters": a cluster-aware or forwarded request, as in Redis
    Cluster), or every node's masters ("cluster": a plain connection to a cluster)."""
    cluster = c.server.node.cluster
    if cluster is None or not cluster.active:
        return "local", cluster
    if c.cluster_aware or c.proxied:
        return "masters", cluster
    return "cluster", cluster


def local_scan(c, cursor: int, count: int, matcher, accept, owned) -> tuple[int, list[bytes]]:
    """One SCAN step over this node's namespaces (the cursor carries the namespace index)."""
    namespaces = list(c.engine.namespaces.values())
    index, inner = cursor & ((1 << NS_BITS) - 1), cursor >> NS_BITS
    found: list[bytes] = []
    while index < len(namespaces):
        inner, keys = namespaces[index].scan(inner, max(count - len(found), 1), accept, owned)
        found.extend(k for k in keys if matcher(k))
        if inner:
            return (inner << NS_BITS) | index, found
        index += 1
        if index < len(namespaces) and len(found) >= count:
            return index, found
    return 0, found


async def _scan_cluster(c, cluster, cursor: int, a: list[bytes]) -> bytes:
    """SCAN over every node: the cursor's low byte is the member, the rest its own cursor."""
    members = [node for node, _ in cluster.members()]
    index, inner = cursor & 0xFF, cursor >> 8
    found: list[bytes] = []
    next_cursor = 0
    while index < len(members):
        args = [b"SCAN", b"%d" % inner, *a[2:]]
        reply = await cluster.run_on(members[index], args)
        inner, keys = int(reply[0]), reply[1]
        found.extend(keys)
        if inner:
            next_cursor = (inner << 8) | index
            break
        index += 1
        if index < len(members):
            next_cursor = index
            if found:
                break
    return b"*2\r\n" + bulk(b"%d" % next_cursor) + bulk_array(found)


@command(
    "keys",
    2,
    "readonly",
    (0, 0, 0),
    G,
    "Returns all key names that match a pattern.",
    "pattern:pattern",
    complexity="O(N)",
    example="KEYS test:users:*",
)
def keys(c, a):
    mode, cluster = cluster_mode(c)
    if mode == "cluster":
        return _keys_cluster(c, cluster, a)
    matcher = glob_matcher(a[1])
    owned = cluster.mastered_here() if mode == "masters" else None
    found = []
    for ns in c.engine.namespaces.values():
        for key in ns.storage.keys():
            if (
                matcher(key)
                and (owned is None or hash_slot(key) >> 2 in owned)
                and ns.get(key) is not None
            ):
                found.append(key)
    return bulk_array(found)


async def _keys_cluster(c, cluster, a: list[bytes]) -> bytes:
    replies = await cluster.broadcast_gather(list(a))
    return bulk_array([k for reply in replies for k in reply])


@command(
    "randomkey",
    1,
    "readonly",
    (0, 0, 0),
    G,
    "Returns a random key name from the database.",
    "",
    example="RANDOMKEY",
)
def randomkey(c, a):
    for _ in range(16):  # a pick that turns out expired is reclaimed; pick again
        spaces = [(ns, n) for ns in c.engine.namespaces.values() if (n := ns.count())]
        if not spaces:
            break
        # every record equally likely: a namespace by its share, then a record in it
        ns = random.choices([ns for ns, _ in spaces], [n for _, n in spaces])[0]
        key = _random_key(ns)
        if key is not None:
            return bulk(key)
    return NULL[c.proto]


def _random_key(ns):
    """A uniformly chosen live key. Dense namespaces probe random partitions; sparse ones
    (where probing would mostly miss) count their way to a random position."""
    total = ns.count()
    if total >= N_PARTITIONS:
        return ns.random_key()
    target = random.randrange(total)
    for pid in range(N_PARTITIONS):
        n = ns.storage.partition_count(pid)
        if target < n:
            key = ns.storage.partition_keys(pid)[target]
            return key if ns.get(key) is not None else None
        target -= n
    return None


def _rename(c, a, only_new: bool) -> bytes:
    src, dst = a[1], a[2]
    ns = c.engine.namespace_for(src)
    rec = ns.get(src)
    if rec is None:
        raise RedisError(NO_SUCH_KEY)
    if c.engine.namespace_for(dst) is not ns:
        raise RedisError(
            "ERR RENAME across namespaces is not supported (source and destination are in different namespaces)"
        )
    if src == dst:
        return ZERO if only_new else OK
    target = ns.get(dst)
    if only_new and target is not None:
        return ZERO
    size = value_size_of(src, rec)
    ns.check(target, dst, size)
    kind, value, void = rec.kind, rec.value, rec.void
    ns.delete(src, rec)
    ns.write(dst, target, kind, value, size, void)
    if kind == LIST:
        lists.pushed(c, dst)  # a client blocked on the new name gets its element
    return ONE if only_new else OK


@command(
    "rename",
    3,
    "write",
    (1, 2, 1),
    G,
    "Renames a key and overwrites the destination.",
    "key newkey:key",
    example="RENAME old new",
)
def rename(c, a):
    return _rename(c, a, False)


@command(
    "renamenx",
    3,
    "write fast",
    (1, 2, 1),
    G,
    "Renames a key only when the target key name doesn't exist.",
    "key newkey:key",
    example="RENAMENX old new",
)
def renamenx(c, a):
    return _rename(c, a, True)
