"""Keyspace notifications: which events a command causes, and their pub/sub messages.

The engine tells what happened to a key (namespace.on_change: written, created, deleted,
expired, evicted, truncated, ...); while a command runs, those changes are collected,
and when it is done the event table below names them as Redis's commands do (each Redis
command calls notifyKeyspaceEvent with its own event: INCR and DECRBY notify `incrby`,
SET EX notifies `set` then `expire`, a pop that empties a list `lpop` then `del`).
Expiry and eviction found outside any command (nsup) are published at once.

Nothing here runs while notify-keyspace-events is empty: the server installs the
engine's listener only when notifications or client tracking want it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import NOTIFY_KEYEVENT, NOTIFY_KEYSPACE, NOTIFY_LETTERS
from ..engine.namespace import CREATED, DELETED, EVICTED, EXPIRED, TRUNCATED, WRITTEN

# Redis's classes (server.h NOTIFY_*).
KEYSPACE, KEYEVENT = NOTIFY_KEYSPACE, NOTIFY_KEYEVENT
GENERIC, STRING, LIST, SET, HASH, ZSET = (NOTIFY_LETTERS[c] for c in "g$lshz")
EXPIRED_CLASS, EVICTED_CLASS, STREAM, NEW = (NOTIFY_LETTERS[c] for c in "xetn")


# --- the event table -----------------------------------------------------------------

Event = tuple[int, str, bytes]  # (class, event name, key)
Change = tuple[bytes, int]  # (key, what happened: namespace.WRITTEN / CREATED / DELETED)
Rule = Callable[[list[bytes], list[Change]], list[Event]]


def simple(cls: int, name: str, emptied: bool = True) -> Rule:
    """Each changed key notifies `name`; a key the command deleted notifies `name` then
    `del` (a pop or remove that emptied it), or only `del` when `emptied` is False (a
    STORE whose result was empty)."""

    def rule(args: list[bytes], changes: list[Change]) -> list[Event]:
        out: list[Event] = []
        for key, what in changes:
            if what != DELETED or emptied:
                out.append((cls, name, key))
            if what == DELETED:
                out.append((GENERIC, "del", key))
        return out

    return rule


def deleting(args: list[bytes], changes: list[Change]) -> list[Event]:
    """DEL, UNLINK, GETDEL: `del` for each key removed."""
    return [(GENERIC, "del", key) for key, what in changes if what == DELETED]


def _has(args: list[bytes], start: int, options: set[bytes]) -> bool:
    return any(a.upper() in options for a in args[start:])


_EXPIRY = {b"EX", b"PX", b"EXAT", b"PXAT"}


def set_rule(args: list[bytes], changes: list[Change]) -> list[Event]:
    """SET: `set`, then `expire` when it set a TTL. A TTL already past removes the key
    at once here: Redis 7.0 stores it and finds it expired later, so its events are
    told here as Redis's whole sequence: set, expire, expired."""
    ttl = _has(args, 3, _EXPIRY)
    out: list[Event] = []
    for key, what in changes:
        if what == DELETED:
            out += [(STRING, "set", key), (GENERIC, "expire", key)]
            out.append((EXPIRED_CLASS, "expired", key))
            continue
        out.append((STRING, "set", key))
        if ttl:
            out.append((GENERIC, "expire", key))
    return out


def setex_rule(args: list[bytes], changes: list[Change]) -> list[Event]:
    out: list[Event] = []
    for key, what in changes:
        if what == DELETED:
            out.append((GENERIC, "del", key))
        else:
            out += [(STRING, "set", key), (GENERIC, "expire", key)]
    return out


def expire_rule(args: list[bytes], changes: list[Change]) -> list[Event]:
    """EXPIRE and friends: `expire`, or `del` when the time given is already past."""
    return [(GENERIC, "del" if what == DELETED else "expire", key) for key, what in changes]


def getex_rule(args: list[bytes], changes: list[Change]) -> list[Event]:
    name = "persist" if _has(args, 2, {b"PERSIST"}) else "expire"
    return [(GENERIC, "del" if what == DELETED else name, key) for key, what in changes]


def rename_rule(args: list[bytes], changes: list[Change]) -> list[Event]:
    out: list[Event] = []
    for key, what in changes:
        if what == DELETED and key == args[1]:
            out.append((GENERIC, "rename_from", key))
        elif what != DELETED:
            out.append((GENERIC, "rename_to", key))
    return out


def move_rule(
    pop_cls: int,
    pop: Callable[[list[bytes]], str],
    push: Callable[[list[bytes]], str],
    push_first: bool = False,
):
    """LMOVE / RPOPLPUSH (`push_first`: the destination's push, then the source's pop
    and `del` if emptied) and SMOVE (the source first); with source = destination one
    write stands for both."""

    def rule(args: list[bytes], changes: list[Change]) -> list[Event]:
        src, dst = args[1], args[2]
        out: list[Event] = []
        if src == dst:
            if changes:
                out += [(pop_cls, pop(args), src), (pop_cls, push(args), dst)]
            return out[::-1] if push_first else out
        pushed: list[Event] = []
        for key, what in changes:
            if key == src:
                out.append((pop_cls, pop(args), key))
                if what == DELETED:
                    out.append((GENERIC, "del", key))
            elif key == dst:
                pushed.append((pop_cls, push(args), key))
        return pushed + out if push_first else out + pushed

    return rule


def _side(arg: bytes, left: str, right: str) -> str:
    return left if arg.upper() == b"LEFT" else right


def zadd_rule(args: list[bytes], changes: list[Change]) -> list[Event]:
    name = "zincr" if _has(args, 2, {b"INCR"}) else "zadd"
    return [(ZSET, name, key) for key, what in changes if what != DELETED]


def _lmove(args: list[bytes]) -> tuple[str, str]:
    return _side(args[3], "lpop", "rpop"), _side(args[4], "lpush", "rpush")


EVENTS: dict[str, Rule] = {
    # strings (t_string.c)
    "set": set_rule,
    "setnx": simple(STRING, "set"),
    "setex": setex_rule,
    "psetex": setex_rule,
    "getset": simple(STRING, "set"),
    "mset": simple(STRING, "set"),
    "msetnx": simple(STRING, "set"),
    "setrange": simple(STRING, "setrange"),
    "append": simple(STRING, "append"),
    "incr": simple(STRING, "incrby"),
    "decr": simple(STRING, "incrby"),
    "incrby": simple(STRING, "incrby"),
    "decrby": simple(STRING, "incrby"),
    "incrbyfloat": simple(STRING, "incrbyfloat"),
    "getdel": deleting,
    "getex": getex_rule,
    # generic (db.c, expire.c)
    "del": deleting,
    "unlink": deleting,
    "expire": expire_rule,
    "pexpire": expire_rule,
    "expireat": expire_rule,
    "pexpireat": expire_rule,
    "persist": simple(GENERIC, "persist"),
    "rename": rename_rule,
    "renamenx": rename_rule,
    # lists (t_list.c)
    "lpush": simple(LIST, "lpush"),
    "rpush": simple(LIST, "rpush"),
    "lpushx": simple(LIST, "lpush"),
    "rpushx": simple(LIST, "rpush"),
    "linsert": simple(LIST, "linsert"),
    "lset": simple(LIST, "lset"),
    "ltrim": simple(LIST, "ltrim"),
    "lrem": simple(LIST, "lrem"),
    "lpop": simple(LIST, "lpop"),
    "rpop": simple(LIST, "rpop"),
    "blpop": simple(LIST, "lpop"),
    "brpop": simple(LIST, "rpop"),
    "lmove": move_rule(LIST, lambda a: _lmove(a)[0], lambda a: _lmove(a)[1], True),
    "blmove": move_rule(LIST, lambda a: _lmove(a)[0], lambda a: _lmove(a)[1], True),
    "rpoplpush": move_rule(LIST, lambda a: "rpop", lambda a: "lpush", True),
    "brpoplpush": move_rule(LIST, lambda a: "rpop", lambda a: "lpush", True),
    # hashes (t_hash.c)
    "hset": simple(HASH, "hset"),
    "hmset": simple(HASH, "hset"),
    "hsetnx": simple(HASH, "hset"),
    "hincrby": simple(HASH, "hincrby"),
    "hincrbyfloat": simple(HASH, "hincrbyfloat"),
    "hdel": simple(HASH, "hdel"),
    # sets (t_set.c)
    "sadd": simple(SET, "sadd"),
    "srem": simple(SET, "srem"),
    "spop": simple(SET, "spop"),
    "smove": move_rule(SET, lambda a: "srem", lambda a: "sadd"),
    "sinterstore": simple(SET, "sinterstore", emptied=False),
    "sunionstore": simple(SET, "sunionstore", emptied=False),
    "sdiffstore": simple(SET, "sdiffstore", emptied=False),
    # sorted sets (t_zset.c)
    "zadd": zadd_rule,
    "zincrby": simple(ZSET, "zincr"),
    "zrem": simple(ZSET, "zrem"),
    "zremrangebyrank": simple(ZSET, "zremrangebyrank"),
    "zremrangebyscore": simple(ZSET, "zremrangebyscore"),
    "zremrangebylex": simple(ZSET, "zremrangebylex"),
    "zpopmin": simple(ZSET, "zpopmin"),
    "zpopmax": simple(ZSET, "zpopmax"),
    "bzpopmin": simple(ZSET, "zpopmin"),
    "bzpopmax": simple(ZSET, "zpopmax"),
    "zunionstore": simple(ZSET, "zunionstore", emptied=False),
    "zinterstore": simple(ZSET, "zinterstore", emptied=False),
    "zdiffstore": simple(ZSET, "zdiffstore", emptied=False),
    "zrangestore": simple(ZSET, "zrangestore", emptied=False),
    # streams (t_stream.c)
    "xadd": simple(STREAM, "xadd"),
    "xdel": simple(STREAM, "xdel"),
    "xtrim": simple(STREAM, "xtrim"),
}

# Changes the engine reports that are events of their own, whatever command runs.
_OWN = {EXPIRED: (EXPIRED_CLASS, "expired"), EVICTED: (EVICTED_CLASS, "evicted")}


class Notifier:
    """Collects one command's key changes and publishes their events when it is done.

    `publish(channel, message)` delivers on this node (the pub/sub registry);
    `mastered(key)` (set while clustered) says whether this node masters the key's
    partition: a node notifies only for those, as each Redis Cluster node notifies for
    its own slots (a replica's copy expiring or being evicted here is not an event).
    """

    def __init__(self, flags: int, publish: Callable[[bytes, bytes], Any]):
        self.flags = flags
        self.publish = publish
        self.mastered: Callable[[bytes], bool] | None = None
        self.changes: list[Change] = []
        self.events: list[Event] = []  # (expired/evicted met inside a command, in order)
        self._held: list[list[Change]] = []  # changes met before such an event

    def changed(self, key: bytes | None, what: int) -> None:
        """The engine's listener (through the server's): note or publish one change."""
        if key is None:
            return  # a truncate began: its records are told one by one (or, whole, not at all)
        if what == WRITTEN or what == CREATED or what == DELETED:
            if not self.changes or self.changes[-1] != (key, what):
                self.changes.append((key, what))
            return
        own = _OWN.get(what)
        if own is None and what == TRUNCATED:
            own = (GENERIC, "del")
        if own is None or (self.mastered is not None and not self.mastered(key)):
            return
        self._flush_changes_into_events()
        self.events.append((own[0], own[1], key))

    def _flush_changes_into_events(self) -> None:
        """Keep order: changes so far stay ahead of an event met after them (they are
        named when the command is done; a marker holds their place)."""
        if self.changes:
            self.events.append((0, "", b""))  # placeholder: the changes go here
            self._held.append(self.changes)
            self.changes = []

    def command_done(self, name: str, args: list[bytes]) -> None:
        """Name the command's changes (by the event table) and publish every event."""
        held, self._held = self._held, []
        rule = EVENTS.get(name)
        out: list[Event] = []
        for cls, event, key in self.events:
            if cls == 0:
                out += self._named(rule, args, held.pop(0))
            else:
                out.append((cls, event, key))
        if self.changes:
            out += self._named(rule, args, self.changes)
        self.changes = []
        self.events = []
        for cls, event, key in out:
            self.emit(cls, event, key)

    def _named(self, rule: Rule | None, args: list[bytes], changes: list[Change]) -> list[Event]:
        """The events of some changes; `new` (Redis's dbAdd) goes before the first event
        of each key the command created."""
        out = rule(args, changes) if rule is not None else []
        if self.flags & NEW:
            for key, what in changes:
                if what == CREATED:
                    at = next((i for i, e in enumerate(out) if e[2] == key), len(out))
                    out.insert(at, (NEW, "new", key))
        return out

    def idle(self) -> None:
        """Outside any command (nsup, a blocked client served later): publish what was
        met, with no command to name the changes."""
        self.command_done("", [])

    def emit(self, cls: int, event: str, key: bytes) -> None:
        flags = self.flags
        if not flags & cls:
            return
        name = event.encode()
        if flags & KEYSPACE:
            self.publish(b"__keyspace@0__:" + key, name)
        if flags & KEYEVENT:
            self.publish(b"__keyevent@0__:" + name, key)
