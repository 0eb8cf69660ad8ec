"""MULTI/EXEC/WATCH: a transaction runs its queued commands in one event-loop step, so it
is atomic; WATCH compares each key's record generation and last-update-time."""

from __future__ import annotations

import asyncio

from ...errors import (
    DISCARD_WITHOUT_MULTI,
    EXEC_WITHOUT_MULTI,
    EXECABORT,
    NESTED_MULTI,
    WATCH_IN_MULTI,
    RedisError,
)
from ..encode import NULL_ARRAY, OK
from ..table import command

G = "transactions"


@command(
    "multi",
    1,
    "noscript loading stale fast allow_busy",
    (0, 0, 0),
    G,
    "Starts a transaction.",
    "",
    since="1.2.0",
    example="MULTI",
)
def multi(c, a):
    if c.multi is not None:
        raise RedisError(NESTED_MULTI)
    c.multi = []
    c.multi_failed = False
    return OK


def _end(c) -> list[list[bytes]]:
    queued = c.multi
    c.multi = None
    c.multi_failed = False
    c.watched.clear()
    return queued


@command(
    "exec",
    1,
    "noscript loading stale skip_slowlog",
    (0, 0, 0),
    G,
    "Executes all commands in a transaction.",
    "",
    since="1.2.0",
    complexity="Depends on the commands in the transaction",
    example="EXEC",
)
def exec_(c, a):
    if c.multi is None:
        raise RedisError(EXEC_WITHOUT_MULTI)
    failed, dirty = c.multi_failed, watch_dirty(c)
    queued = _end(c)
    if failed:
        raise RedisError(EXECABORT)
    if dirty:
        return NULL_ARRAY[c.proto]
    c.in_exec = True
    try:
        replies = [c.execute(args) for args in queued]
    finally:
        c.in_exec = False
    head = b"*%d\r\n" % len(replies)
    if all(r.__class__ is bytes for r in replies):
        return head + b"".join(replies)
    return _gather(head, replies)


async def _gather(head: bytes, replies: list) -> bytes:
    """Replies that arrive later (replicated writes) are awaited in order."""
    parts = [r if r.__class__ is bytes else await asyncio.ensure_future(r) for r in replies]
    return head + b"".join(parts)


@command(
    "discard",
    1,
    "noscript loading stale fast allow_busy",
    (0, 0, 0),
    G,
    "Discards a transaction.",
    "",
    since="2.0.0",
    example="DISCARD",
)
def discard(c, a):
    if c.multi is None:
        raise RedisError(DISCARD_WITHOUT_MULTI)
    _end(c)
    return OK


@command(
    "watch",
    -2,
    "noscript loading stale fast allow_busy",
    (1, -1, 1),
    G,
    "Monitors changes to keys to determine the execution of a transaction.",
    "key...",
    since="2.2.0",
    example="WATCH balance",
)
def watch(c, a):
    if c.multi is not None:
        raise RedisError(WATCH_IN_MULTI)
    for key in a[1:]:
        if key not in c.watched:
            c.watched[key] = watch_snapshot(c, key)
    return OK


def watch_snapshot(c, key: bytes) -> tuple | None:
    """What EXEC compares: generation and last-update-time, and in memory namespaces the
    record object itself. Several writes may share a millisecond of last-update-time, so
    a record deleted and created again within it has the same generation (1) and time;
    the memory engine updates a record in place, so a new object means a new record.
    (The device engine reads copies, so there only generation and time count.)"""
    ns = c.engine.namespace_for(key)
    rec = ns.get(key)
    if rec is None:
        return None
    return (rec.gen, rec.lut, None if ns.persistent else rec)


def watch_dirty(c) -> bool:
    return any(watch_snapshot(c, k) != snap for k, snap in c.watched.items())


@command(
    "unwatch",
    1,
    "noscript loading stale fast allow_busy",
    (0, 0, 0),
    G,
    "Forgets about watched keys of a transaction.",
    "",
    since="2.2.0",
    example="UNWATCH",
)
def unwatch(c, a):
    c.watched.clear()
    return OK
