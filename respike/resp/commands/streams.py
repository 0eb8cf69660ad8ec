"""Streams: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD (consumer groups are not
supported yet; see docs/compatibility.md).

A stream is a record holding one `Stream` (engine/cdt/structs.py): entries in id order,
seen by native commands as a key-ordered map bin `stream` from `ms-seq` to the entry's
field/value list. Entry ids are Redis's: milliseconds and a sequence number, both
unsigned 64-bit, always growing (the stream remembers the last id it handed out).
"""

from __future__ import annotations

from ...engine.cdt.structs import Stream, StreamID, entry_size
from ...engine.record import STREAM, Record, value_size_of
from ...errors import SYNTAX, RedisError, wrong_arity
from ..encode import NULL, NULL_ARRAY, bulk, integer
from ..table import command
from .args import to_int
from .lists import block_on, in_exec, pushed
from .typed import typed_record

G = "stream"
U64: int = (1 << 64) - 1
MAX_ID: StreamID = (U64, U64)
INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
ID_TOO_SMALL = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
ID_ZERO = "ERR The ID specified in XADD must be greater than 0-0"
EXHAUSTED = "ERR The stream has exhausted the last possible ID, unable to add more items"
LIMIT_WITHOUT_TILDE = "ERR syntax error, LIMIT cannot be used without the special ~ option"
UNBALANCED = (
    "ERR Unbalanced '{}' list of streams: for each stream key an ID or '$' must be specified."
)
TIMEOUT_NOT_INT = "ERR timeout is not an integer or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"


# --- ids -----------------------------------------------------------------------------------


def _u64(text: bytes) -> int | None:
    if not text or not text.isdigit() or len(text) > 20:
        return None
    value = int(text)
    return value if value <= U64 else None


def parse_id(raw: bytes, missing_seq: int = 0, special: bool = True) -> StreamID:
    """`ms-seq`, `ms` (sequence `missing_seq`), and with `special` `-` / `+`."""
    if special and raw == b"-":
        return (0, 0)
    if special and raw == b"+":
        return MAX_ID
    ms_text, dash, seq_text = raw.partition(b"-")
    ms = _u64(ms_text)
    seq = _u64(seq_text) if dash else missing_seq
    if ms is None or seq is None:
        raise RedisError(INVALID_ID)
    return ms, seq


def show_id(sid: StreamID) -> bytes:
    return b"%d-%d" % sid


def _after(sid: StreamID) -> StreamID | None:
    ms, seq = sid
    if seq < U64:
        return ms, seq + 1
    return (ms + 1, 0) if ms < U64 else None


def _before(sid: StreamID) -> StreamID | None:
    ms, seq = sid
    if seq > 0:
        return ms, seq - 1
    return (ms - 1, U64) if ms > 0 else None


def _range_bound(raw: bytes, start: bool) -> StreamID:
    """An XRANGE bound: inclusive, or exclusive with a leading `(` (Redis 6.2)."""
    if raw[:1] == b"(" and len(raw) > 1:
        sid = parse_id(raw[1:], 0 if start else U64, special=False)
        moved = _after(sid) if start else _before(sid)
        if moved is None:
            raise RedisError(f"ERR invalid {'start' if start else 'end'} ID for the interval")
        return moved
    return parse_id(raw, 0 if start else U64)


# --- replies -------------------------------------------------------------------------------


def entry_reply(sid: StreamID, fields: list[bytes]) -> bytes:
    head = b"*2\r\n" + bulk(show_id(sid)) + b"*%d\r\n" % len(fields)
    return head + b"".join(bulk(f) for f in fields)


def entries_reply(stream: Stream, ids: list[StreamID]) -> bytes:
    entries = stream.entries
    return b"*%d\r\n" % len(ids) + b"".join(entry_reply(sid, entries[sid]) for sid in ids)


# --- trimming ------------------------------------------------------------------------------


class Trim:
    """MAXLEN / MINID [=|~] threshold [LIMIT count] (XADD's and XTRIM's)."""

    __slots__ = ("maxlen", "minid", "limit")

    def __init__(self) -> None:
        self.maxlen: int | None = None
        self.minid: StreamID | None = None
        self.limit: int | None = None

    def parse(self, a: list[bytes], i: int) -> int:
        """Parse the trim option at a[i] (MAXLEN or MINID); returns the next index."""
        strategy = a[i].upper()
        i += 1
        approx = False
        if i < len(a) and a[i] in (b"=", b"~"):
            approx = a[i] == b"~"
            i += 1
        if i >= len(a):
            raise RedisError(SYNTAX)
        if strategy == b"MAXLEN":
            self.maxlen = to_int(a[i])
            if self.maxlen < 0:
                raise RedisError("ERR The MAXLEN argument must be >= 0.")
        else:
            self.minid = parse_id(a[i], special=False)
        i += 1
        if i + 1 < len(a) and a[i].upper() == b"LIMIT":
            if not approx:
                raise RedisError(LIMIT_WITHOUT_TILDE)
            self.limit = to_int(a[i + 1])
            if self.limit < 0:
                raise RedisError("ERR The LIMIT argument must be >= 0.")
            i += 2
        return i

    @property
    def wanted(self) -> bool:
        return self.maxlen is not None or self.minid is not None

    def apply(self, stream: Stream) -> tuple[int, int]:
        """Remove the oldest entries the option asks for: (entries, bytes) removed.

        `~` trims exactly too: Redis may keep more (it drops whole radix-tree nodes),
        never fewer, so exact trimming is within its contract (docs/compatibility.md)."""
        entries = stream.entries
        removed = freed = 0
        budget = self.limit if self.limit else len(entries)
        while entries and removed < budget:
            sid = entries.peekitem(0)[0]
            if self.maxlen is not None and len(entries) <= self.maxlen:
                break
            if self.minid is not None and sid >= self.minid:
                break
            freed += entry_size(entries.popitem(0)[1])
            removed += 1
        return removed, freed


# --- commands ------------------------------------------------------------------------------


def _stream(c, key: bytes, write: bool = False) -> tuple:
    return typed_record(STREAM, c, key, write)


def _requested_id(raw: bytes) -> tuple[int | None, int | None]:
    """XADD's id argument, checked before anything else: (None, None) for `*`, (ms, None)
    for `ms-*`, or an explicit (ms, seq)."""
    if raw == b"*":
        return None, None
    if raw.endswith(b"-*"):
        ms = _u64(raw[:-2])
        if ms is None:
            raise RedisError(INVALID_ID)
        return ms, None
    return parse_id(raw, special=False)


def _next_id(stream: Stream, ms: int | None, seq: int | None, now_ms: int) -> StreamID:
    """The id XADD gives a new entry (Redis's streamAppendItem rules)."""
    last = stream.last
    if ms is None:
        return _after(last) if last[0] >= now_ms else (now_ms, 0)  # type: ignore[return-value]
    if seq is None:
        if ms == last[0]:
            if last[1] == U64:
                raise RedisError(ID_TOO_SMALL)
            return ms, last[1] + 1
        if ms < last[0]:
            raise RedisError(ID_TOO_SMALL)
        return ms, 0
    if (ms, seq) <= last:
        raise RedisError(ID_TOO_SMALL)
    return ms, seq


@command(
    "xadd",
    -5,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Appends a new message to a stream. Creates the key if it doesn't exist.",
    "key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count:integer]] *|id field value...",
    since="5.0.0",
    complexity="O(1) when adding a new entry, O(N) when trimming where N is the number of entries evicted",
    example="XADD test:events * type click page /home",
)
def xadd(c, a):
    key = a[1]
    trim = Trim()
    mkstream = True
    i = 2
    while i < len(a):
        opt = a[i].upper()
        if opt == b"NOMKSTREAM":
            mkstream = False
            i += 1
        elif opt in (b"MAXLEN", b"MINID"):
            i = trim.parse(a, i)
        else:
            break
    if i >= len(a):
        raise RedisError(wrong_arity("xadd"))
    ms, seq = _requested_id(a[i])
    fields = a[i + 1 :]
    if not fields or len(fields) % 2:
        raise RedisError(wrong_arity("xadd"))
    if ms == 0 and seq == 0:
        raise RedisError(ID_ZERO)
    ns, rec = _stream(c, key, True)
    if rec is None and not mkstream:
        return NULL[c.proto]
    stream = rec.value if rec is not None else Stream()
    if stream.last == MAX_ID:
        raise RedisError(EXHAUSTED)
    sid = _next_id(stream, ms, seq, c.clock.ms)
    size = value_size_of(key, rec) + entry_size(fields)
    ns.check(rec, key, size)
    stream.add(sid, list(fields))
    if trim.wanted:
        size -= trim.apply(stream)[1]
    ns.write(key, rec, STREAM, stream, size)
    pushed(c, key)
    return bulk(show_id(sid))


@command(
    "xlen",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Return the number of messages in a stream.",
    "key",
    since="5.0.0",
    example="XLEN test:events",
)
def xlen(c, a):
    rec = _stream(c, a[1])[1]
    return integer(0 if rec is None else len(rec.value))


def _range(c, a: list[bytes], reverse: bool) -> bytes:
    lo_raw, hi_raw = (a[3], a[2]) if reverse else (a[2], a[3])
    lo, hi = _range_bound(lo_raw, True), _range_bound(hi_raw, False)
    count = -1
    i = 4
    while i < len(a):
        if a[i].upper() == b"COUNT" and i + 1 < len(a):
            count = max(0, to_int(a[i + 1]))
            i += 2
        else:
            raise RedisError(SYNTAX)
    rec = _stream(c, a[1])[1]
    if rec is None:
        return b"*0\r\n"
    if count == 0:
        return NULL_ARRAY[c.proto]
    ids = []
    for sid in rec.value.between(lo, hi, reverse):
        ids.append(sid)
        if len(ids) == count:
            break
    return entries_reply(rec.value, ids)


@command(
    "xrange",
    -4,
    "readonly",
    (1, 1, 1),
    G,
    "Returns the messages from a stream within a range of IDs.",
    "key start end [COUNT count:integer]",
    since="5.0.0",
    complexity="O(log(N)+M) with N the stream's length and M the entries returned",
    example="XRANGE test:events - + COUNT 10",
)
def xrange(c, a):
    return _range(c, a, False)


@command(
    "xrevrange",
    -4,
    "readonly",
    (1, 1, 1),
    G,
    "Returns the messages from a stream within a range of IDs in reverse order.",
    "key end start [COUNT count:integer]",
    since="5.0.0",
    complexity="O(log(N)+M) with N the stream's length and M the entries returned",
    example="XREVRANGE test:events + - COUNT 1",
)
def xrevrange(c, a):
    return _range(c, a, True)


@command(
    "xdel",
    -3,
    "write fast",
    (1, 1, 1),
    G,
    "Returns the number of messages after removing them from a stream.",
    "key id...",
    since="5.0.0",
    complexity="O(1) for each entry deleted",
    example="XDEL test:events 1700000000000-0",
)
def xdel(c, a):
    ns, rec = _stream(c, a[1], True)
    if rec is None:
        return integer(0)
    ids = [parse_id(raw, special=False) for raw in a[2:]]  # all checked before any goes
    stream: Stream = rec.value
    freed = deleted = 0
    for sid in ids:
        fields = stream.delete(sid)
        if fields is not None:
            freed += entry_size(fields)
            deleted += 1
    if deleted:
        _store(ns, a[1], rec, stream, value_size_of(a[1], rec) - freed)
    return integer(deleted)


def _store(ns, key: bytes, rec: Record, stream: Stream, size: int) -> None:
    """A stream that lost entries is written back; unlike a list, an empty stream stays
    (Redis keeps it, with its last id, until the key is deleted)."""
    ns.write(key, rec, STREAM, stream, size)


@command(
    "xtrim",
    -4,
    "write",
    (1, 1, 1),
    G,
    "Deletes messages from the beginning of a stream.",
    "key MAXLEN|MINID [=|~] threshold [LIMIT count:integer]",
    since="5.0.0",
    complexity="O(N), with N the number of evicted entries",
    example="XTRIM test:events MAXLEN 1000",
)
def xtrim(c, a):
    trim = Trim()
    if a[2].upper() not in (b"MAXLEN", b"MINID"):
        raise RedisError(SYNTAX)
    if trim.parse(a, 2) != len(a):
        raise RedisError(SYNTAX)
    ns, rec = _stream(c, a[1], True)
    if rec is None:
        return integer(0)
    removed, freed = trim.apply(rec.value)
    if removed:
        _store(ns, a[1], rec, rec.value, value_size_of(a[1], rec) - freed)
    return integer(removed)


# --- XREAD ---------------------------------------------------------------------------------


def _xread_keys(args: list[bytes]) -> list[int]:
    """Key positions of XREAD: the first half of what follows STREAMS."""
    for i in range(1, len(args)):
        if args[i].upper() == b"STREAMS":
            n = (len(args) - i - 1) // 2
            return list(range(i + 1, i + 1 + n))
    return []


def _read_reply(c, found: list[tuple[bytes, bytes]]) -> bytes:
    """[[key, entries], ...] in RESP2, {key: entries} in RESP3."""
    head = b"%%%d\r\n" % len(found) if c.proto == 3 else b"*%d\r\n" % len(found)
    if c.proto == 3:
        return head + b"".join(bulk(k) + e for k, e in found)
    return head + b"".join(b"*2\r\n" + bulk(k) + e for k, e in found)


def _new_entries(c, key: bytes, after: StreamID, count: int) -> bytes | None:
    rec = _stream(c, key)[1]
    if rec is None:
        return None
    start = _after(after)
    if start is None:
        return None
    ids = []
    for sid in rec.value.between(start, MAX_ID):
        ids.append(sid)
        if len(ids) == count:
            break
    return entries_reply(rec.value, ids) if ids else None


@command(
    "xread",
    -4,
    "readonly blocking movablekeys",
    (0, 0, 0),
    G,
    "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
    "[COUNT count:integer] [BLOCK milliseconds:integer] STREAMS key... id...",
    since="5.0.0",
    complexity="O(M) with M the number of entries returned",
    example="XREAD COUNT 10 STREAMS test:events 0-0",
    getkeys=_xread_keys,
)
def xread(c, a):
    count, block = -1, None
    i = 1
    while i < len(a):
        opt = a[i].upper()
        if opt == b"STREAMS":
            break
        if i + 1 >= len(a):
            raise RedisError(SYNTAX)
        if opt == b"COUNT":
            count = max(0, to_int(a[i + 1]))
        elif opt == b"BLOCK":
            block = to_int(a[i + 1], TIMEOUT_NOT_INT)
            if block < 0:
                raise RedisError(TIMEOUT_NEGATIVE)
        else:
            raise RedisError(SYNTAX)
        i += 2
    rest = a[i + 1 :]
    if i >= len(a) or not rest or len(rest) % 2:
        raise RedisError(UNBALANCED.format("xread") if i < len(a) else SYNTAX)
    n = len(rest) // 2
    keys = rest[:n]
    count = count if count > 0 else -1
    after: dict[bytes, StreamID] = {}
    for key, raw in zip(keys, rest[n:], strict=True):
        rec = _stream(c, key)[1]  # WRONGTYPE before the id is looked at, as Redis
        if raw == b"$":
            after[key] = rec.value.last if rec is not None else (0, 0)
        else:
            after[key] = parse_id(raw, special=False)
    found = []
    for key in keys:
        entries = _new_entries(c, key, after[key], count)
        if entries is not None:
            found.append((key, entries))
    if found:
        return _read_reply(c, found)
    if block is None or in_exec(c):
        return NULL_ARRAY[c.proto]

    def serve(w, key: bytes) -> bytes | None:
        entries = _new_entries(w.client, key, after[key], count)
        return None if entries is None else _read_reply(w.client, [(key, entries)])

    return block_on(c, list(dict.fromkeys(keys)), serve, block, NULL_ARRAY[c.proto])
