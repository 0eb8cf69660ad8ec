"""List commands: a list is a record with one list bin, held as a deque (O(1) at both ends).

Blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH) wait in a registry kept on the RESP
server (`server.waiters`): per key, the clients blocked on it in arrival order. A push to a
key with waiters marks it ready; ready keys are served right after the pushing command (or
after the whole MULTI/EXEC that pushed), longest-waiting client first, each exactly once.
Nothing polls: a blocked client is a future that a push or its timeout completes.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from itertools import islice

from ...engine.record import LIST, Record, value_size_of
from ...errors import (
    INDEX_OUT_OF_RANGE,
    NO_SUCH_KEY,
    SYNTAX,
    WRONGTYPE,
    RecordError,
    RedisError,
    wrong_arity,
)
from ..client import Blocking
from ..encode import EMPTY_ARRAY, NULL, NULL_ARRAY, OK, ZERO, bulk, bulk_array, error, integer
from ..table import command
from .args import to_count, to_int, to_signed_count
from .typed import index_range, typed_record

G = "list"
EO = 2  # bytes charged per element on top of its own (structs.ELEMENT_OVERHEAD)
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"


def _list(c, key: bytes, write: bool = False):
    waiters = c.server.waiters
    if waiters is not None and waiters.ready:
        waiters.flush(c)
    return typed_record(LIST, c, key, write)


def _commit(ns, key: bytes, rec: Record, dq: deque, size: int) -> None:
    """Store a list that lost elements; an empty list deletes the record."""
    if dq:
        ns.write(key, rec, LIST, dq, size)
    else:
        ns.delete(key, rec)


def _push_into(c, ns, key: bytes, rec: Record | None, elems: list[bytes], left: bool) -> int:
    """Push elements (each to the head, in turn, or to the tail); returns the new length."""
    size = value_size_of(key, rec) + sum(map(len, elems)) + EO * len(elems)
    if rec is None:
        dq = deque(reversed(elems)) if left else deque(elems)
        ns.write(key, None, LIST, dq, size)
    else:
        ns.check(rec, key, size)
        dq = rec.value
        if left:
            dq.extendleft(elems)
        else:
            dq.extend(elems)
        ns.write(key, rec, LIST, dq, size)
    return len(dq)


def _push(c, a, left: bool, existing_only: bool) -> bytes:
    key = a[1]
    ns, rec = _list(c, key, True)
    if rec is None and existing_only:
        return ZERO
    n = _push_into(c, ns, key, rec, a[2:], left)
    pushed(c, key)
    return integer(n)


@command(
    "lpush",
    -3,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
    "key element...",
    complexity="O(1) per element",
    example="LPUSH test:jobs job-1 job-2",
)
def lpush(c, a):
    return _push(c, a, True, False)


@command(
    "rpush",
    -3,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Appends one or more elements to a list. Creates the key if it doesn't exist.",
    "key element...",
    complexity="O(1) per element",
    example="RPUSH test:jobs job-1 job-2",
)
def rpush(c, a):
    return _push(c, a, False, False)


@command(
    "lpushx",
    -3,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Prepends one or more elements to a list only when the list exists.",
    "key element...",
    since="2.2.0",
    complexity="O(1) per element",
    example="LPUSHX test:jobs job-3",
)
def lpushx(c, a):
    return _push(c, a, True, True)


@command(
    "rpushx",
    -3,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Appends one or more elements to a list only when the list exists.",
    "key element...",
    since="2.2.0",
    complexity="O(1) per element",
    example="RPUSHX test:jobs job-3",
)
def rpushx(c, a):
    return _push(c, a, False, True)


def _pop(c, a, left: bool, name: str) -> bytes:
    if len(a) > 3:
        raise RedisError(wrong_arity(name))
    count = to_count(a[2]) if len(a) == 3 else None
    key = a[1]
    ns, rec = _list(c, key, True)
    if rec is None:
        return NULL[c.proto] if count is None else NULL_ARRAY[c.proto]
    dq = rec.value
    size = value_size_of(key, rec)
    if count is None:
        elem = dq.popleft() if left else dq.pop()
        _commit(ns, key, rec, dq, size - len(elem) - EO)
        return b"$%d\r\n%s\r\n" % (len(elem), elem)
    if count == 0:
        return EMPTY_ARRAY
    take = dq.popleft if left else dq.pop
    popped = [take() for _ in range(min(count, len(dq)))]
    _commit(ns, key, rec, dq, size - sum(map(len, popped)) - EO * len(popped))
    return bulk_array(popped)


@command(
    "lpop",
    -2,
    "write fast",
    (1, 1, 1),
    G,
    "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
    "key [count:integer]",
    complexity="O(N) where N is the number of elements returned",
    example="LPOP test:jobs 2",
)
def lpop(c, a):
    return _pop(c, a, True, "lpop")


@command(
    "rpop",
    -2,
    "write fast",
    (1, 1, 1),
    G,
    "Returns and removes the last elements of the list. Deletes the list if the last element was popped.",
    "key [count:integer]",
    complexity="O(N) where N is the number of elements returned",
    example="RPOP test:jobs 2",
)
def rpop(c, a):
    return _pop(c, a, False, "rpop")


def _slice(dq: deque, start: int, stop: int) -> list[bytes]:
    """Elements start..stop (inclusive, already clipped), walking from the nearer end."""
    n = len(dq)
    if start <= n - 1 - stop:
        return list(islice(dq, start, stop + 1))
    items = list(islice(reversed(dq), n - 1 - stop, n - start))
    items.reverse()
    return items


@command(
    "lrange",
    4,
    "readonly",
    (1, 1, 1),
    G,
    "Returns a range of elements from a list.",
    "key start:integer stop:integer",
    complexity="O(S+N) where S is the distance of the start from the nearer end",
    example="LRANGE test:jobs 0 -1",
)
def lrange(c, a):
    start, stop = to_int(a[2]), to_int(a[3])
    _, rec = _list(c, a[1])
    if rec is None:
        return EMPTY_ARRAY
    span = index_range(start, stop, len(rec.value))
    if span is None:
        return EMPTY_ARRAY
    return bulk_array(_slice(rec.value, *span))


@command(
    "llen",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the length of a list.",
    "key",
    example="LLEN test:jobs",
)
def llen(c, a):
    _, rec = _list(c, a[1])
    return ZERO if rec is None else integer(len(rec.value))


@command(
    "lindex",
    3,
    "readonly",
    (1, 1, 1),
    G,
    "Returns an element from a list by its index.",
    "key index:integer",
    complexity="O(N) where N is the distance to the nearer end",
    example="LINDEX test:jobs -1",
)
def lindex(c, a):
    _, rec = _list(c, a[1])
    if rec is None:
        return NULL[c.proto]
    index = to_int(a[2])
    dq = rec.value
    if index < 0:
        index += len(dq)
    if not 0 <= index < len(dq):
        return NULL[c.proto]
    return bulk(dq[index])


@command(
    "lset",
    4,
    "write denyoom",
    (1, 1, 1),
    G,
    "Sets the value of an element in a list by its index.",
    "key index:integer element",
    complexity="O(N) where N is the distance to the nearer end",
    example="LSET test:jobs 0 job-9",
)
def lset(c, a):
    key = a[1]
    ns, rec = _list(c, key, True)
    if rec is None:
        raise RedisError(NO_SUCH_KEY)
    index = to_int(a[2])
    dq = rec.value
    if index < 0:
        index += len(dq)
    if not 0 <= index < len(dq):
        raise RedisError(INDEX_OUT_OF_RANGE)
    size = value_size_of(key, rec) + len(a[3]) - len(dq[index])
    ns.check(rec, key, size)
    dq[index] = a[3]
    ns.write(key, rec, LIST, dq, size)
    return OK


@command(
    "linsert",
    5,
    "write denyoom",
    (1, 1, 1),
    G,
    "Inserts an element before or after another element in a list.",
    "key BEFORE|AFTER pivot element",
    since="2.2.0",
    complexity="O(N)",
    example="LINSERT test:jobs BEFORE job-2 job-1b",
)
def linsert(c, a):
    where = a[2].upper()
    if where not in (b"BEFORE", b"AFTER"):
        raise RedisError(SYNTAX)
    key = a[1]
    ns, rec = _list(c, key, True)
    if rec is None:
        return ZERO
    dq = rec.value
    try:
        i = dq.index(a[3])
    except ValueError:
        return b":-1\r\n"
    size = value_size_of(key, rec) + len(a[4]) + EO
    ns.check(rec, key, size)
    dq.insert(i if where == b"BEFORE" else i + 1, a[4])
    ns.write(key, rec, LIST, dq, size)
    pushed(c, key)
    return integer(len(dq))


@command(
    "lrem",
    4,
    "write",
    (1, 1, 1),
    G,
    "Removes elements from a list. Deletes the list if the last element was removed.",
    "key count:integer element",
    complexity="O(N+M)",
    example="LREM test:jobs 0 job-1",
)
def lrem(c, a):
    count = to_int(a[2])
    key, elem = a[1], a[3]
    ns, rec = _list(c, key, True)
    if rec is None:
        return ZERO
    dq = rec.value
    limit = abs(count) if count else len(dq)
    kept: deque = deque()
    removed = 0
    source = reversed(dq) if count < 0 else iter(dq)
    add = kept.appendleft if count < 0 else kept.append
    for e in source:
        if removed < limit and e == elem:
            removed += 1
        else:
            add(e)
    if removed:
        _commit(ns, key, rec, kept, value_size_of(key, rec) - removed * (len(elem) + EO))
    return integer(removed)


@command(
    "ltrim",
    4,
    "write",
    (1, 1, 1),
    G,
    "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
    "key start:integer stop:integer",
    complexity="O(N) where N is the number of elements removed",
    example="LTRIM test:jobs 0 99",
)
def ltrim(c, a):
    start, stop = to_int(a[2]), to_int(a[3])
    key = a[1]
    ns, rec = _list(c, key, True)
    if rec is None:
        return OK
    dq = rec.value
    n = len(dq)
    span = index_range(start, stop, n)
    size = value_size_of(key, rec)
    if span is None:
        ns.delete(key, rec)
        return OK
    head, tail = span[0], n - 1 - span[1]
    if head or tail:
        for _ in range(head):
            size -= len(dq.popleft()) + EO
        for _ in range(tail):
            size -= len(dq.pop()) + EO
        ns.write(key, rec, LIST, dq, size)
    return OK


@command(
    "lpos",
    -3,
    "readonly",
    (1, 1, 1),
    G,
    "Returns the index of matching elements in a list.",
    "key element [RANK rank:integer] [COUNT num-matches:integer] [MAXLEN len:integer]",
    since="6.0.6",
    complexity="O(N)",
    example="LPOS test:jobs job-2 RANK -1 COUNT 0",
)
def lpos(c, a):
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(a):
        opt = a[i].upper()
        if i + 1 >= len(a):
            raise RedisError(SYNTAX)
        if opt == b"RANK":
            rank = to_signed_count(a[i + 1])
            if rank == 0:
                raise RedisError(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
                    "or use negative to start from the end of the list"
                )
        elif opt == b"COUNT":
            count = to_int(a[i + 1], "ERR COUNT can't be negative")
            if count < 0:
                raise RedisError("ERR COUNT can't be negative")
        elif opt == b"MAXLEN":
            maxlen = to_int(a[i + 1], "ERR MAXLEN can't be negative")
            if maxlen < 0:
                raise RedisError("ERR MAXLEN can't be negative")
        else:
            raise RedisError(SYNTAX)
        i += 2
    _, rec = _list(c, a[1])
    if rec is None:
        return NULL[c.proto] if count is None else EMPTY_ARRAY
    dq = rec.value
    n = len(dq)
    elem = a[2]
    backwards = rank < 0
    rank = abs(rank)
    found: list[int] = []
    matches = 0
    source = reversed(dq) if backwards else iter(dq)
    for pos, e in enumerate(source):
        if maxlen and pos >= maxlen:
            break
        if e == elem:
            matches += 1
            if matches >= rank:
                found.append(n - 1 - pos if backwards else pos)
                if count is None or (count and len(found) >= count):
                    break
    if count is None:
        return NULL[c.proto] if not found else integer(found[0])
    return b"*%d\r\n%s" % (len(found), b"".join(b":%d\r\n" % f for f in found))


# --- moving between lists -------------------------------------------------------------


def _side(arg: bytes) -> bool:
    side = arg.upper()
    if side == b"LEFT":
        return True
    if side == b"RIGHT":
        return False
    raise RedisError(SYNTAX)


def _move(c, src: bytes, dst: bytes, from_left: bool, to_left: bool) -> bytes | None:
    """Pop from src and push to dst atomically; None if src is empty. Both must be lists."""
    ns, rec = _list(c, src, True)
    if rec is None:
        return None
    dns = c.engine.namespace_for(dst)
    drec = rec if dst == src else dns.get(dst)
    if drec is not None and drec.kind != LIST:
        raise RedisError(WRONGTYPE)
    dq = rec.value
    elem = dq[0] if from_left else dq[-1]
    if drec is rec:
        if from_left:
            dq.popleft()
        else:
            dq.pop()
        if to_left:
            dq.appendleft(elem)
        else:
            dq.append(elem)
        ns.write(src, rec, LIST, dq, value_size_of(src, rec))
    else:
        dsize = value_size_of(dst, drec) + len(elem) + EO
        dns.check(drec, dst, dsize)
        if from_left:
            dq.popleft()
        else:
            dq.pop()
        _commit(ns, src, rec, dq, value_size_of(src, rec) - len(elem) - EO)
        if drec is None:
            dns.write(dst, None, LIST, deque((elem,)), dsize)
        else:
            ddq = drec.value
            if to_left:
                ddq.appendleft(elem)
            else:
                ddq.append(elem)
            dns.write(dst, drec, LIST, ddq, dsize)
    pushed(c, dst)
    return elem


@command(
    "lmove",
    5,
    "write denyoom",
    (1, 2, 1),
    G,
    "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
    "source:key destination:key LEFT|RIGHT LEFT|RIGHT",
    since="6.2.0",
    example="LMOVE test:jobs test:done LEFT RIGHT",
)
def lmove(c, a):
    from_left, to_left = _side(a[3]), _side(a[4])
    elem = _move(c, a[1], a[2], from_left, to_left)
    return NULL[c.proto] if elem is None else bulk(elem)


@command(
    "rpoplpush",
    3,
    "write denyoom",
    (1, 2, 1),
    G,
    "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
    "source:key destination:key",
    since="1.2.0",
    example="RPOPLPUSH test:jobs test:done",
)
def rpoplpush(c, a):
    elem = _move(c, a[1], a[2], False, True)
    return NULL[c.proto] if elem is None else bulk(elem)


# --- blocking -----------------------------------------------------------------------------


class Waiter:
    __slots__ = ("client", "keys", "serve", "future", "timer")

    def __init__(self, client, keys: list[bytes], serve, future: asyncio.Future):
        self.client = client
        self.keys = keys
        self.serve = serve  # serve(key) -> reply bytes, or None if key has nothing for it
        self.future = future
        self.timer: asyncio.TimerHandle | None = None


class Waiters:
    """Clients blocked on list keys, per key in arrival order; kept on the RESP server."""

    def __init__(self) -> None:
        self.by_key: dict[bytes, deque[Waiter]] = {}
        self.ready: dict[bytes, None] = {}  # keys pushed to since the last serve (ordered)
        self.serving = False
        self.scheduled = False

    def add(self, w: Waiter) -> None:
        for key in w.keys:
            queue = self.by_key.get(key)
            if queue is None:
                queue = self.by_key[key] = deque()
            elif queue[0].client.closing:
                for stale in [x for x in queue if x.client.closing]:
                    self.remove(stale)
                queue = self.by_key.setdefault(key, deque())
            queue.append(w)

    def remove(self, w: Waiter) -> None:
        for key in w.keys:
            queue = self.by_key.get(key)
            if queue is None:
                continue
            try:
                queue.remove(w)
            except ValueError:
                pass
            if not queue:
                del self.by_key[key]
        if w.timer is not None:
            w.timer.cancel()

    def count(self) -> int:
        return len({id(w) for q in self.by_key.values() for w in q})

    def flush(self, c) -> None:
        """Serve ready keys before another command sees them (not mid-transaction)."""
        if not self.serving and not in_exec(c):
            self.serve()

    def serve_soon(self) -> None:
        self.scheduled = False
        self.serve()

    def serve(self) -> None:
        """Serve every ready key: oldest waiter first, as long as the key has elements."""
        if self.serving:
            return
        self.serving = True
        try:
            while self.ready:
                key = next(iter(self.ready))
                del self.ready[key]
                queue = self.by_key.get(key)
                while queue:
                    w = queue[0]
                    if w.future.done() or not _alive(w.client):
                        self.remove(w)
                    else:
                        try:
                            reply = w.serve(key)
                        except RedisError as exc:
                            reply = error(exc.text)
                        except RecordError as exc:
                            reply = error(exc.reply_text())
                        if reply is None:
                            break
                        self.remove(w)
                        w.future.set_result(reply)
                    queue = self.by_key.get(key)
        finally:
            self.serving = False


def _alive(client) -> bool:
    """Whether a blocked client is still connected (connections keep reading while
    blocked, so a peer that left has already been noticed)."""
    transport = client.transport
    return not client.closing and transport is not None and not transport.is_closing()


def in_exec(c) -> bool:
    """Whether the running command was queued by MULTI and runs inside EXEC."""
    return c.in_exec


def pushed(c, key: bytes) -> None:
    """A command added elements to the list at `key`: wake whoever waits for it."""
    waiters = c.server.waiters
    if waiters is None or key not in waiters.by_key:
        return
    waiters.ready[key] = None
    if waiters.serving:
        return  # the serving loop picks it up
    if in_exec(c):
        if not waiters.scheduled:
            waiters.scheduled = True
            asyncio.get_running_loop().call_soon(waiters.serve_soon)
    else:
        waiters.serve()


def parse_timeout(arg: bytes) -> float:
    """Redis's timeout in seconds (a float), as milliseconds; 0 = forever."""
    text = arg.decode("latin-1")
    if not text or text[0].isspace() or text[-1].isspace() or "_" in text:
        raise RedisError(TIMEOUT_NOT_FLOAT)
    try:
        value = float(text)
    except ValueError:
        try:
            value = float.fromhex(text)
        except ValueError:
            raise RedisError(TIMEOUT_NOT_FLOAT) from None
    if math.isnan(value):
        raise RedisError(TIMEOUT_NOT_FLOAT)
    ms = value * 1000.0
    if not -9.223372036854775e18 < ms < 9.223372036854775e18:
        raise RedisError(TIMEOUT_NEGATIVE)  # what Redis's (long long) cast makes of it
    ms = int(ms)
    if ms < 0:
        raise RedisError(TIMEOUT_NEGATIVE)
    return ms


def block_on(c, keys: list[bytes], serve, timeout_ms: int, timeout_reply: bytes) -> Blocking:
    server = c.server
    if server.waiters is None:
        server.waiters = Waiters()
    waiters = server.waiters
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    w = Waiter(c, keys, None, future)
    w.serve = lambda key: serve(w, key)
    waiters.add(w)
    if timeout_ms:

        def expire() -> None:
            if not future.done():
                waiters.remove(w)
                future.set_result(timeout_reply)

        w.timer = loop.call_later(timeout_ms / 1000.0, expire)
    return Blocking(future)


def _bpop(c, a, left: bool):
    timeout = parse_timeout(a[-1])
    keys = a[1:-1]
    for key in keys:
        ns, rec = _list(c, key, True)
        if rec is not None:
            return _pop_reply(c, ns, key, rec, left)
    if in_exec(c):
        return NULL_ARRAY[c.proto]

    def serve(w, key):
        ns = w.client.engine.namespace_for(key)
        rec = ns.get(key)
        if rec is None or rec.kind != LIST:
            return None
        return _pop_reply(w.client, ns, key, rec, left)

    return block_on(c, list(dict.fromkeys(keys)), serve, timeout, NULL_ARRAY[c.proto])


def _pop_reply(c, ns, key: bytes, rec: Record, left: bool) -> bytes:
    dq = rec.value
    elem = dq.popleft() if left else dq.pop()
    _commit(ns, key, rec, dq, value_size_of(key, rec) - len(elem) - EO)
    return bulk_array([key, elem])


@command(
    "blpop",
    -3,
    "write blocking",
    (1, -2, 1),
    G,
    "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
    "key... timeout:double",
    since="2.0.0",
    complexity="O(N) where N is the number of provided keys",
    example="BLPOP test:jobs test:urgent 0.1",
)
def blpop(c, a):
    return _bpop(c, a, True)


@command(
    "brpop",
    -3,
    "write blocking",
    (1, -2, 1),
    G,
    "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
    "key... timeout:double",
    since="2.0.0",
    complexity="O(N) where N is the number of provided keys",
    example="BRPOP test:jobs 0.1",
)
def brpop(c, a):
    return _bpop(c, a, False)


def _bmove(c, src: bytes, dst: bytes, from_left: bool, to_left: bool, timeout: int):
    elem = _move(c, src, dst, from_left, to_left)
    if elem is not None:
        return bulk(elem)
    if in_exec(c):
        return NULL[c.proto]

    def serve(w, key):
        moved = _move(w.client, src, dst, from_left, to_left)
        return None if moved is None else bulk(moved)

    return block_on(c, [src], serve, timeout, NULL[c.proto])


@command(
    "blmove",
    6,
    "write denyoom blocking",
    (1, 2, 1),
    G,
    "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
    "source:key destination:key LEFT|RIGHT LEFT|RIGHT timeout:double",
    since="6.2.0",
    example="BLMOVE test:jobs test:done LEFT RIGHT 0.1",
)
def blmove(c, a):
    from_left, to_left = _side(a[3]), _side(a[4])
    timeout = parse_timeout(a[5])
    return _bmove(c, a[1], a[2], from_left, to_left, timeout)


@command(
    "brpoplpush",
    4,
    "write denyoom blocking",
    (1, 2, 1),
    G,
    "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise.",
    "source:key destination:key timeout:double",
    since="2.2.0",
    example="BRPOPLPUSH test:jobs test:done 0.1",
)
def brpoplpush(c, a):
    timeout = parse_timeout(a[3])
    return _bmove(c, a[1], a[2], False, True, timeout)
