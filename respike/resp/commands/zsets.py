"""Sorted-set commands: a sorted set is a record with one map bin (member -> score), held as
a ZSet (dict member -> score plus a SortedList of (score, member)): O(log n) add, remove,
rank and range start; scores are doubles (RESP3 doubles, RESP2 bulk strings)."""

from __future__ import annotations

import math
import struct
from functools import partial

from ...engine.cdt.structs import RSet, ZSet
from ...engine.record import SET, ZSET, Record, format_float, value_size_of
from ...errors import NOT_FLOAT, SYNTAX, WRONGTYPE, RedisError
from ..encode import EMPTY_ARRAY, NULL, ZERO, bulk, bulk_array, double, integer
from ..table import command
from .args import scan_options, to_count, to_int
from .sets import remove_members, store_collection
from .typed import index_range, typed_record

G = "sorted-set"
ZO = 10  # bytes charged per member on top of its own: score + header (structs)
NOT_FLOAT_RANGE = "ERR min or max is not a float"
NOT_LEX_RANGE = "ERR min or max not valid string range item"
NAN_SCORE = "ERR resulting score is not a number (NaN)"
SMALL_ZSET = 128  # ZSCAN answers a sorted set this small in one step (as Redis's listpacks)


_zset = partial(typed_record, ZSET)


# --- parsing doubles as Redis does (strtod) --------------------------------------------------


def _strtod(text: str) -> float | None:
    """strtod over the whole text (leading space allowed, nothing trailing); None if invalid."""
    if not text:
        return 0.0
    if text[-1].isspace() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    if "0x" in text.lower():
        try:
            return float.fromhex(text)
        except ValueError:
            return None
    return None


def parse_double(arg: bytes, text: str = NOT_FLOAT) -> float:
    """Redis's string2d: no leading space, no NaN, no overflow or underflow to zero."""
    s = arg.decode("latin-1")
    value = _strtod(s) if s and not s[0].isspace() else None
    if value is None or math.isnan(value):
        raise RedisError(text)
    if math.isinf(value) and "inf" not in s.lower():
        raise RedisError(text)  # ERANGE: overflow
    if value == 0.0:
        mantissa = s.lower().split("p" if "0x" in s.lower() else "e")[0].replace("0x", "")
        if any(ch in "123456789abcdef" for ch in mantissa):
            raise RedisError(text)  # ERANGE: underflow to zero
    return value


def _score_bound(arg: bytes) -> tuple[float, bool]:
    s = arg.decode("latin-1")
    exclusive = s.startswith("(")
    value = _strtod(s[1:] if exclusive else s)
    if value is None or math.isnan(value):
        raise RedisError(NOT_FLOAT_RANGE)
    return value, exclusive


def parse_score_range(lo: bytes, hi: bytes) -> tuple[float, bool, float, bool]:
    return (*_score_bound(lo), *_score_bound(hi))


_MIN, _MAX = -1, 1  # the open ends of a lex range


def _lex_bound(arg: bytes) -> tuple[int, bytes, bool]:
    if arg == b"+":
        return _MAX, b"", True
    if arg == b"-":
        return _MIN, b"", True
    if arg[:1] == b"(":
        return 0, arg[1:], True
    if arg[:1] == b"[":
        return 0, arg[1:], False
    raise RedisError(NOT_LEX_RANGE)


def parse_lex_range(lo: bytes, hi: bytes):
    return _lex_bound(lo), _lex_bound(hi)


def _lex_cmp(a, b) -> int:
    """Redis's sdscmplex on two bounds."""
    if a[0] != 0 or b[0] != 0:
        return (a[0] > b[0]) - (a[0] < b[0]) if a[0] != b[0] else 0
    return (a[1] > b[1]) - (a[1] < b[1])


def _gte_min(member: bytes, lo) -> bool:
    if lo[0]:
        return lo[0] == _MIN
    return member > lo[1] if lo[2] else member >= lo[1]


def _lte_max(member: bytes, hi) -> bool:
    if hi[0]:
        return hi[0] == _MAX
    return member < hi[1] if hi[2] else member <= hi[1]


# --- ranges over a ZSet --------------------------------------------------------------------------


def _score_start(zs: ZSet, lo: float, lo_ex: bool) -> int:
    """Index of the first member whose score is in range on the low side."""
    if lo_ex:
        if lo == math.inf:
            return len(zs.order)
        lo = math.nextafter(lo, math.inf)
    return zs.order.bisect_left((lo, b""))


def _score_end(zs: ZSet, hi: float, hi_ex: bool) -> int:
    """Index just past the last member whose score is in range on the high side."""
    if not hi_ex:
        if hi == math.inf:
            return len(zs.order)
        hi = math.nextafter(hi, math.inf)
    return zs.order.bisect_left((hi, b""))


def _empty_score_range(lo, lo_ex, hi, hi_ex) -> bool:
    return lo > hi or (lo == hi and (lo_ex or hi_ex))


def score_range(
    zs: ZSet, rng, reverse: bool, offset: int = 0, limit: int = -1
) -> list[tuple[bytes, float]]:
    lo, lo_ex, hi, hi_ex = rng
    if _empty_score_range(lo, lo_ex, hi, hi_ex) or (offset > 0 and offset >= len(zs)):
        return []
    start, end = _score_start(zs, lo, lo_ex), _score_end(zs, hi, hi_ex)
    if start >= end or offset < 0:
        return []
    order = zs.order
    if reverse:
        first, stop, step = end - 1 - offset, start - 1, -1
    else:
        first, stop, step = start + offset, end, 1
    if (first - stop) * step >= 0:
        return []
    count = abs(stop - first)
    if 0 <= limit < count:
        count = limit
    if reverse:
        items = order.islice(first - count + 1, first + 1, reverse=True)
    else:
        items = order.islice(first, first + count)
    return [(m, s) for s, m in items]


def lex_range(
    zs: ZSet, rng, reverse: bool, offset: int = 0, limit: int = -1
) -> list[tuple[bytes, float]]:
    """Redis's lex range walk. Members are meant to share one score (then members are in lex
    order and this is O(log n)); otherwise Redis's answer is unspecified and this walks the
    members in score order as Redis's listpacks do."""
    lo, hi = rng
    cmp = _lex_cmp(lo, hi)
    if (
        cmp > 0
        or (cmp == 0 and (lo[2] or hi[2]))
        or not zs.order
        or (offset > 0 and offset >= len(zs))
    ):
        return []
    order = zs.order
    n = len(order)
    if not _gte_min(order[-1][1], lo) or not _lte_max(order[0][1], hi):
        return []
    same_score = order[0][0] == order[-1][0]
    if not reverse:
        if same_score:
            score = order[0][0]
            i = order.bisect_left((score, lo[1])) if lo[0] == 0 else 0
            if lo[0] == 0 and lo[2] and i < n and order[i][1] == lo[1]:
                i += 1
        else:
            i = next((j for j in range(n) if _gte_min(order[j][1], lo)), n)
        if i >= n or not _lte_max(order[i][1], hi):
            return []
        if offset < 0:
            return []
        i += offset
        out = []
        while i < n and limit != 0:
            s, m = order[i]
            if not _lte_max(m, hi):
                break
            out.append((m, s))
            limit -= 1
            i += 1
        return out
    if same_score:
        score = order[0][0]
        if hi[0] == 0:
            i = order.bisect_right((score, hi[1])) - 1
            if hi[2] and i >= 0 and order[i][1] == hi[1]:
                i -= 1
        else:
            i = n - 1
    else:
        i = next((j for j in range(n - 1, -1, -1) if _lte_max(order[j][1], hi)), -1)
    if i < 0 or not _gte_min(order[i][1], lo):
        return []
    if offset < 0:
        return []
    i -= offset
    out = []
    while i >= 0 and limit != 0:
        s, m = order[i]
        if not _gte_min(m, lo):
            break
        out.append((m, s))
        limit -= 1
        i -= 1
    return out


def rank_range(zs: ZSet, start: int, stop: int, reverse: bool) -> list[tuple[bytes, float]]:
    n = len(zs)
    span = index_range(start, stop, n)
    if span is None:
        return []
    start, stop = span
    if reverse:
        items = zs.order.islice(n - 1 - stop, n - start, reverse=True)
    else:
        items = zs.order.islice(start, stop + 1)
    return [(m, s) for s, m in items]


# --- replies ---------------------------------------------------------------------------------


def _items(c, items: list[tuple[bytes, float]], withscores: bool) -> bytes:
    if not withscores:
        return bulk_array([m for m, _ in items])
    proto = c.proto
    if proto == 3:
        return b"*%d\r\n%s" % (
            len(items),
            b"".join(b"*2\r\n" + bulk(m) + double(s, 3) for m, s in items),
        )
    return b"*%d\r\n%s" % (2 * len(items), b"".join(bulk(m) + double(s, 2) for m, s in items))


def store_zset(c, key: bytes, items) -> int:
    """Replace whatever `key` holds with a sorted set of (member, score) (none: delete it)."""
    zs = ZSet(items)
    return store_collection(c, key, ZSET, zs, sum(map(len, zs.scores)) + ZO * len(zs))


# --- ZADD and friends -----------------------------------------------------------------------


@command(
    "zadd",
    -4,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
    "key [NX|XX] [GT|LT] [CH] [INCR] (score:double member)...",
    since="1.2.0",
    complexity="O(log(N)) for each member",
    example="ZADD test:board 10 ann 7 bob",
)
def zadd(c, a):
    nx = xx = gt = lt = ch = incr = False
    i = 2
    while i < len(a):
        opt = a[i].upper()
        if opt == b"NX":
            nx = True
        elif opt == b"XX":
            xx = True
        elif opt == b"GT":
            gt = True
        elif opt == b"LT":
            lt = True
        elif opt == b"CH":
            ch = True
        elif opt == b"INCR":
            incr = True
        else:
            break
        i += 1
    rest = len(a) - i
    if rest % 2 or not rest:
        raise RedisError(SYNTAX)
    if incr and rest > 2:
        raise RedisError("ERR INCR option supports a single increment-element pair")
    if nx and xx:
        raise RedisError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise RedisError("ERR GT, LT, and/or NX options at the same time are not compatible")
    pairs = [(parse_double(a[j]), a[j + 1]) for j in range(i, len(a), 2)]
    return _zadd(c, a[1], pairs, nx, xx, gt, lt, ch, incr)


def _zadd(c, key: bytes, pairs, nx, xx, gt, lt, ch, incr) -> bytes:
    ns, rec = _zset(c, key, True)
    if rec is None and xx:
        return NULL[c.proto] if incr else ZERO
    scores = {} if rec is None else rec.value.scores
    staged: dict[bytes, float] = {}
    added = updated = processed = 0
    result = 0.0
    for score, m in pairs:
        cur = staged.get(m, scores.get(m))
        if cur is not None:
            if nx:
                continue
            if incr:
                score += cur
                if math.isnan(score):
                    raise RedisError(NAN_SCORE)
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            processed += 1
            result = score
            if score != cur:
                staged[m] = score
                updated += 1
        elif not xx:
            processed += 1
            result = score
            staged[m] = score
            added += 1
    if staged:
        size = value_size_of(key, rec) + sum(len(m) + ZO for m in staged if m not in scores)
        if rec is None:
            ns.write(key, None, ZSET, ZSet(staged.items()), size)
        else:
            ns.check(rec, key, size)
            zs = rec.value
            for m, s in staged.items():
                zs.add(m, s)
            ns.write(key, rec, ZSET, zs, size)
    if incr:
        return double(result, c.proto) if processed else NULL[c.proto]
    return integer(added + updated if ch else added)


@command(
    "zincrby",
    4,
    "write denyoom fast",
    (1, 1, 1),
    G,
    "Increments the score of a member in a sorted set.",
    "key increment:double member",
    since="1.2.0",
    complexity="O(log(N))",
    example="ZINCRBY test:board 5 bob",
)
def zincrby(c, a):
    return _zadd(c, a[1], [(parse_double(a[2]), a[3])], False, False, False, False, False, True)


@command(
    "zrem",
    -3,
    "write fast",
    (1, 1, 1),
    G,
    "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
    "key member...",
    since="1.2.0",
    complexity="O(M*log(N))",
    example="ZREM test:board bob",
)
def zrem(c, a):
    key = a[1]
    ns, rec = _zset(c, key, True)
    if rec is None:
        return ZERO
    return integer(_remove(ns, key, rec, dict.fromkeys(a[2:])))


def _remove(ns, key: bytes, rec: Record, members) -> int:
    return remove_members(ns, key, rec, members, ZO)


@command(
    "zscore",
    3,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the score of a member in a sorted set.",
    "key member",
    since="1.2.0",
    example="ZSCORE test:board ann",
)
def zscore(c, a):
    _, rec = _zset(c, a[1])
    score = None if rec is None else rec.value.scores.get(a[2])
    return NULL[c.proto] if score is None else double(score, c.proto)


@command(
    "zmscore",
    -3,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the score of one or more members in a sorted set.",
    "key member...",
    since="6.2.0",
    complexity="O(N)",
    example="ZMSCORE test:board ann bob",
)
def zmscore(c, a):
    _, rec = _zset(c, a[1])
    scores = {} if rec is None else rec.value.scores
    null = NULL[c.proto]
    out = [null if (s := scores.get(m)) is None else double(s, c.proto) for m in a[2:]]
    return b"*%d\r\n%s" % (len(out), b"".join(out))


@command(
    "zcard",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the number of members in a sorted set.",
    "key",
    since="1.2.0",
    example="ZCARD test:board",
)
def zcard(c, a):
    _, rec = _zset(c, a[1])
    return ZERO if rec is None else integer(len(rec.value))


@command(
    "zcount",
    4,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the count of members in a sorted set that have scores within a range.",
    "key min:double max:double",
    since="2.0.0",
    complexity="O(log(N))",
    example="ZCOUNT test:board (5 +inf",
)
def zcount(c, a):
    lo, lo_ex, hi, hi_ex = parse_score_range(a[2], a[3])
    _, rec = _zset(c, a[1])
    if rec is None or _empty_score_range(lo, lo_ex, hi, hi_ex):
        return ZERO
    zs = rec.value
    return integer(max(0, _score_end(zs, hi, hi_ex) - _score_start(zs, lo, lo_ex)))


@command(
    "zlexcount",
    4,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the number of members in a sorted set within a lexicographical range.",
    "key min max",
    since="2.8.9",
    complexity="O(log(N))",
    example="ZLEXCOUNT test:names [a (c",
)
def zlexcount(c, a):
    rng = parse_lex_range(a[2], a[3])
    _, rec = _zset(c, a[1])
    if rec is None:
        return ZERO
    return integer(len(lex_range(rec.value, rng, False)))


def _rank(c, a, reverse: bool) -> bytes:
    _, rec = _zset(c, a[1])
    if rec is None:
        return NULL[c.proto]
    zs = rec.value
    r = zs.rank(a[2])
    if r is None:
        return NULL[c.proto]
    return integer(len(zs) - 1 - r if reverse else r)


@command(
    "zrank",
    3,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the index of a member in a sorted set ordered by ascending scores.",
    "key member",
    since="2.0.0",
    complexity="O(log(N))",
    example="ZRANK test:board ann",
)
def zrank(c, a):
    return _rank(c, a, False)


@command(
    "zrevrank",
    3,
    "readonly fast",
    (1, 1, 1),
    G,
    "Returns the index of a member in a sorted set ordered by descending scores.",
    "key member",
    since="2.0.0",
    complexity="O(log(N))",
    example="ZREVRANK test:board ann",
)
def zrevrank(c, a):
    return _rank(c, a, True)


# --- ZRANGE family ---------------------------------------------------------------------------

RANK, SCORE, LEX = "rank", "score", "lex"


def _zrange(c, a, first: int, by: str | None, reverse: bool | None, store: str | None = None):
    """Redis's zrangeGenericCommand: a[first] is the source key, then min, max, options.
    `by`/`reverse` preset by the legacy commands (None: given by the options)."""
    key = a[first]
    lo_arg, hi_arg = a[first + 1], a[first + 2]
    withscores = False
    offset, limit = 0, -1
    limit_given = False
    j = first + 3
    while j < len(a):
        opt = a[j].upper()
        left = len(a) - j - 1
        if opt == b"WITHSCORES" and not store:
            withscores = True
        elif opt == b"LIMIT" and left >= 2:
            offset, limit = to_int(a[j + 1]), to_int(a[j + 2])
            limit_given = True
            j += 2
        elif reverse is None and opt == b"REV":
            reverse = True
        elif by is None and opt == b"BYSCORE":
            by = SCORE
        elif by is None and opt == b"BYLEX":
            by = LEX
        else:
            raise RedisError(SYNTAX)
        j += 1
    reverse = bool(reverse)
    by = by or RANK
    if limit_given and by == RANK:
        raise RedisError(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    if withscores and by == LEX:
        raise RedisError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    if reverse and by != RANK:
        lo_arg, hi_arg = hi_arg, lo_arg
    if by == RANK:
        start, stop = to_int(lo_arg), to_int(hi_arg)
    elif by == SCORE:
        rng = parse_score_range(lo_arg, hi_arg)
    else:
        lrng = parse_lex_range(lo_arg, hi_arg)
    _, rec = _zset(c, key)
    if rec is None:
        items: list = []
    elif by == RANK:
        items = rank_range(rec.value, start, stop, reverse)
    elif by == SCORE:
        items = score_range(rec.value, rng, reverse, offset, limit)
    else:
        items = lex_range(rec.value, lrng, reverse, offset, limit)
    if store is not None:
        return integer(store_zset(c, a[1], items))
    return _items(c, items, withscores)


@command(
    "zrange",
    -4,
    "readonly",
    (1, 1, 1),
    G,
    "Returns members in a sorted set within a range of indexes, scores or (BYLEX) names.",
    "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset:integer count:integer] [WITHSCORES]",
    since="1.2.0",
    complexity="O(log(N)+M)",
    example="ZRANGE test:board +inf 5 BYSCORE REV LIMIT 0 10 WITHSCORES",
)
def zrange(c, a):
    return _zrange(c, a, 1, None, None)


@command(
    "zrangestore",
    -5,
    "write denyoom",
    (1, 2, 1),
    G,
    "Stores a range of members from sorted set in a key.",
    "dst:key src:key min max [BYSCORE|BYLEX] [REV] [LIMIT offset:integer count:integer]",
    since="6.2.0",
    complexity="O(log(N)+M)",
    example="ZRANGESTORE test:top test:board 0 9 REV",
)
def zrangestore(c, a):
    return _zrange(c, a, 2, None, None, store="store")


@command(
    "zrevrange",
    -4,
    "readonly",
    (1, 1, 1),
    G,
    "Returns members in a sorted set within a range of indexes, in descending order.",
    "key start:integer stop:integer [WITHSCORES]",
    since="1.2.0",
    complexity="O(log(N)+M)",
    example="ZREVRANGE test:board 0 2 WITHSCORES",
)
def zrevrange(c, a):
    return _zrange(c, a, 1, RANK, True)


@command(
    "zrangebyscore",
    -4,
    "readonly",
    (1, 1, 1),
    G,
    "Returns members in a sorted set within a range of scores.",
    "key min:double max:double [WITHSCORES] [LIMIT offset:integer count:integer]",
    since="1.0.5",
    complexity="O(log(N)+M)",
    example="ZRANGEBYSCORE test:board (5 +inf WITHSCORES",
)
def zrangebyscore(c, a):
    return _zrange(c, a, 1, SCORE, False)


@command(
    "zrevrangebyscore",
    -4,
    "readonly",
    (1, 1, 1),
    G,
    "Returns members in a sorted set within a range of scores, in descending order.",
    "key max:double min:double [WITHSCORES] [LIMIT offset:integer count:integer]",
    since="2.2.0",
    complexity="O(log(N)+M)",
    example="ZREVRANGEBYSCORE test:board +inf (5",
)
def zrevrangebyscore(c, a):
    return _zrange(c, a, 1, SCORE, True)


@command(
    "zrangebylex",
    -4,
    "readonly",
    (1, 1, 1),
    G,
    "Returns members in a sorted set within a lexicographical range.",
    "key min max [LIMIT offset:integer count:integer]",
    since="2.8.9",
    complexity="O(log(N)+M)",
    example="ZRANGEBYLEX test:names [a (c",
)
def zrangebylex(c, a):
    return _zrange(c, a, 1, LEX, False)


@command(
    "zrevrangebylex",
    -4,
    "readonly",
    (1, 1, 1),
    G,
    "Returns members in a sorted set within a lexicographical range, in reverse order.",
    "key max min [LIMIT offset:integer count:integer]",
    since="2.8.9",
    complexity="O(log(N)+M)",
    example="ZREVRANGEBYLEX test:names + [b",
)
def zrevrangebylex(c, a):
    return _zrange(c, a, 1, LEX, True)


def _zpop(c, a, reverse: bool, name: str) -> bytes:
    if len(a) > 3:
        raise RedisError(SYNTAX)
    count = to_count(a[2]) if len(a) == 3 else None
    key = a[1]
    ns, rec = _zset(c, key, True)
    if rec is None or count == 0:
        return EMPTY_ARRAY
    zs = rec.value
    take = 1 if count is None else min(count, len(zs))
    popped = [zs.pop(-1 if reverse else 0) for _ in range(take)]
    size = value_size_of(key, rec) - sum(len(m) + ZO for m, _ in popped)
    if zs:
        ns.write(key, rec, ZSET, zs, size)
    else:
        ns.delete(key, rec)
    if count is None or c.proto == 2:
        return b"*%d\r\n%s" % (
            2 * len(popped),
            b"".join(bulk(m) + double(s, c.proto) for m, s in popped),
        )
    return _items(c, popped, True)


@command(
    "zpopmin",
    -2,
    "write fast",
    (1, 1, 1),
    G,
    "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
    "key [count:integer]",
    since="5.0.0",
    complexity="O(log(N)*M)",
    example="ZPOPMIN test:board 2",
)
def zpopmin(c, a):
    return _zpop(c, a, False, "zpopmin")


@command(
    "zpopmax",
    -2,
    "write fast",
    (1, 1, 1),
    G,
    "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
    "key [count:integer]",
    since="5.0.0",
    complexity="O(log(N)*M)",
    example="ZPOPMAX test:board",
)
def zpopmax(c, a):
    return _zpop(c, a, True, "zpopmax")


def _remrange(c, a, by: str) -> bytes:
    key = a[1]
    if by == RANK:
        start, stop = to_int(a[2]), to_int(a[3])
    elif by == SCORE:
        rng = parse_score_range(a[2], a[3])
    else:
        lrng = parse_lex_range(a[2], a[3])
    ns, rec = _zset(c, key, True)
    if rec is None:
        return ZERO
    zs = rec.value
    if by == RANK:
        items = rank_range(zs, start, stop, False)
    elif by == SCORE:
        items = score_range(zs, rng, False)
    else:
        items = lex_range(zs, lrng, False)
    return integer(_remove(ns, key, rec, [m for m, _ in items]))


@command(
    "zremrangebyrank",
    4,
    "write",
    (1, 1, 1),
    G,
    "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
    "key start:integer stop:integer",
    since="2.0.0",
    complexity="O(log(N)+M)",
    example="ZREMRANGEBYRANK test:board 0 -11",
)
def zremrangebyrank(c, a):
    return _remrange(c, a, RANK)


@command(
    "zremrangebyscore",
    4,
    "write",
    (1, 1, 1),
    G,
    "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
    "key min:double max:double",
    since="1.2.0",
    complexity="O(log(N)+M)",
    example="ZREMRANGEBYSCORE test:board -inf (0",
)
def zremrangebyscore(c, a):
    return _remrange(c, a, SCORE)


@command(
    "zremrangebylex",
    4,
    "write",
    (1, 1, 1),
    G,
    "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
    "key min max",
    since="2.8.9",
    complexity="O(log(N)+M)",
    example="ZREMRANGEBYLEX test:names [a (c",
)
def zremrangebylex(c, a):
    return _remrange(c, a, LEX)


# --- ZSCAN ---------------------------------------------------------------------------------------


@command(
    "zscan",
    -3,
    "readonly",
    (1, 1, 1),
    G,
    "Iterates over members and scores of a sorted set.",
    "key cursor:integer [MATCH pattern:pattern] [COUNT count:integer]",
    since="2.8.0",
    complexity="O(1) per call, O(N) for a full iteration",
    example="ZSCAN test:board 0 MATCH a*",
)
def zscan(c, a):
    try:
        cursor = int(a[2])
    except ValueError:
        raise RedisError("ERR invalid cursor") from None
    if not 0 <= cursor < 1 << 64:
        raise RedisError("ERR invalid cursor")
    matcher, count, _ = scan_options(a, 3, False)
    _, rec = _zset(c, a[1])
    if rec is None:
        return b"*2\r\n$1\r\n0\r\n*0\r\n"
    zs = rec.value
    order = zs.order
    n = len(zs)
    if n <= SMALL_ZSET:
        start, end = (0, n) if cursor == 0 else (n, n)
    else:
        # The cursor is the score to resume from (order-preserving bits); a step always ends
        # after the last member of a score, so members whose score did not change are never
        # missed (those sharing the resume score may come twice, as SCAN allows).
        start = order.bisect_left((_cursor_score(cursor), b"")) if cursor else 0
        end = min(start + count, n)
        if end < n:
            last = order[end - 1][0]
            end = (
                n if last == math.inf else order.bisect_left((math.nextafter(last, math.inf), b""))
            )
    out = []
    for s, m in order.islice(start, end):
        if matcher(m):
            out.append(bulk(m))
            out.append(bulk(format_float(s).encode()))
    next_cursor = 0 if end >= n else _score_cursor(order[end][0])
    return b"*2\r\n" + bulk(b"%d" % next_cursor) + b"*%d\r\n%s" % (len(out), b"".join(out))


def _score_cursor(score: float) -> int:
    bits = struct.unpack(">Q", struct.pack(">d", score))[0]
    return bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | 1 << 63


def _cursor_score(cursor: int) -> float:
    bits = cursor & 0x7FFFFFFFFFFFFFFF if cursor >> 63 else cursor ^ 0xFFFFFFFFFFFFFFFF
    return struct.unpack(">d", struct.pack(">Q", bits))[0]


# --- union, intersection, difference -------------------------------------------------------------


def _numkeys_store(args: list[bytes]) -> list[int]:
    """ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE destination numkeys key...: the keys' positions."""
    try:
        n = int(args[2])
    except (ValueError, IndexError):
        return [1]
    return [1] + list(range(3, min(3 + max(n, 0), len(args))))


def _numkeys(args: list[bytes]) -> list[int]:
    """ZUNION/ZINTER/ZDIFF numkeys key...: the keys' positions."""
    try:
        n = int(args[1])
    except (ValueError, IndexError):
        return []
    return list(range(2, min(2 + max(n, 0), len(args))))


def _agg(how: bytes, a: float, b: float) -> float:
    if how == b"SUM":
        s = a + b
        return 0.0 if s != s else s
    return min(a, b) if how == b"MIN" else max(a, b)


def _combine(c, a, numkeys_at: int, op: str, name: str, store: bool):
    """Redis's zunionInterDiffGenericCommand."""
    setnum = to_int(a[numkeys_at])
    if setnum < 1:
        raise RedisError(f"ERR at least 1 input key is needed for '{name}' command")
    if setnum > len(a) - numkeys_at - 1:
        raise RedisError(SYNTAX)
    keys = a[numkeys_at + 1 : numkeys_at + 1 + setnum]
    sources: list = []
    for key in keys:
        rec = c.engine.namespace_for(key).read(key)
        if rec is None:
            sources.append(None)
        elif rec.kind == ZSET:
            sources.append(rec.value.scores)
        elif rec.kind == SET:
            sources.append(rec.value)
        else:
            raise RedisError(WRONGTYPE)
    weights = [1.0] * setnum
    how = b"SUM"
    withscores = False
    j = numkeys_at + 1 + setnum
    while j < len(a):
        remaining = len(a) - j
        opt = a[j].upper()
        if op != "diff" and remaining >= setnum + 1 and opt == b"WEIGHTS":
            weights = [
                parse_double(w, "ERR weight value is not a float")
                for w in a[j + 1 : j + 1 + setnum]
            ]
            j += 1 + setnum
        elif op != "diff" and remaining >= 2 and opt == b"AGGREGATE":
            how = a[j + 1].upper()
            if how not in (b"SUM", b"MIN", b"MAX"):
                raise RedisError(SYNTAX)
            j += 2
        elif not store and opt == b"WITHSCORES":
            withscores = True
            j += 1
        else:
            raise RedisError(SYNTAX)

    def scores_of(src):
        if isinstance(src, RSet):
            return {m: 1.0 for m in src.pos}
        return src

    result: dict[bytes, float] = {}
    if op == "union":
        for src, w in zip(sources, weights, strict=True):
            if src is None:
                continue
            for m, s in scores_of(src).items():
                v = w * s
                if v != v:
                    v = 0.0
                old = result.get(m)
                result[m] = v if old is None else _agg(how, old, v)
    elif op == "inter":
        if all(s is not None for s in sources):
            order = sorted(range(setnum), key=lambda k: len(sources[k]))
            first = order[0]
            tables = [(scores_of(sources[k]), weights[k]) for k in order[1:]]
            for m, s in scores_of(sources[first]).items():
                v = weights[first] * s
                if v != v:
                    v = 0.0
                for table, w in tables:
                    other = table.get(m)
                    if other is None:
                        break
                    x = w * other
                    if x != x:
                        x = 0.0
                    v = _agg(how, v, x)
                else:
                    result[m] = v
    else:
        first = sources[0]
        if first is not None:
            rest = [scores_of(s) for s in sources[1:] if s is not None]
            result = {m: s for m, s in scores_of(first).items() if not any(m in r for r in rest)}
    if store:
        return integer(store_zset(c, a[1], result.items()))
    items = sorted(((m, s) for m, s in result.items()), key=lambda ms: (ms[1], ms[0]))
    return _items(c, items, withscores)


@command(
    "zunionstore",
    -4,
    "write denyoom movablekeys",
    (1, 1, 1),
    G,
    "Stores the union of multiple sorted sets in a key.",
    "destination:key numkeys:integer key... [WEIGHTS weight:double...] [AGGREGATE SUM|MIN|MAX]",
    since="2.0.0",
    complexity="O(N)+O(M log(M))",
    example="ZUNIONSTORE test:all 2 test:a test:b WEIGHTS 1 2 AGGREGATE MAX",
    getkeys=_numkeys_store,
)
def zunionstore(c, a):
    return _combine(c, a, 2, "union", "zunionstore", True)


@command(
    "zinterstore",
    -4,
    "write denyoom movablekeys",
    (1, 1, 1),
    G,
    "Stores the intersect of multiple sorted sets in a key.",
    "destination:key numkeys:integer key... [WEIGHTS weight:double...] [AGGREGATE SUM|MIN|MAX]",
    since="2.0.0",
    complexity="O(N*K)+O(M*log(M))",
    example="ZINTERSTORE test:both 2 test:a test:b",
    getkeys=_numkeys_store,
)
def zinterstore(c, a):
    return _combine(c, a, 2, "inter", "zinterstore", True)


@command(
    "zdiffstore",
    -4,
    "write denyoom movablekeys",
    (1, 1, 1),
    G,
    "Stores the difference of multiple sorted sets in a key.",
    "destination:key numkeys:integer key...",
    since="6.2.0",
    complexity="O(L + (N-K)log(N))",
    example="ZDIFFSTORE test:only-a 2 test:a test:b",
    getkeys=_numkeys_store,
)
def zdiffstore(c, a):
    return _combine(c, a, 2, "diff", "zdiffstore", True)


@command(
    "zunion",
    -3,
    "readonly movablekeys",
    (0, 0, 0),
    G,
    "Returns the union of multiple sorted sets.",
    "numkeys:integer key... [WEIGHTS weight:double...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]",
    since="6.2.0",
    complexity="O(N)+O(M*log(M))",
    example="ZUNION 2 test:a test:b WITHSCORES",
    getkeys=_numkeys,
)
def zunion(c, a):
    return _combine(c, a, 1, "union", "zunion", False)


@command(
    "zinter",
    -3,
    "readonly movablekeys",
    (0, 0, 0),
    G,
    "Returns the intersect of multiple sorted sets.",
    "numkeys:integer key... [WEIGHTS weight:double...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]",
    since="6.2.0",
    complexity="O(N*K)+O(M*log(M))",
    example="ZINTER 2 test:a test:b",
    getkeys=_numkeys,
)
def zinter(c, a):
    return _combine(c, a, 1, "inter", "zinter", False)


@command(
    "zdiff",
    -3,
    "readonly movablekeys",
    (0, 0, 0),
    G,
    "Returns the difference between multiple sorted sets.",
    "numkeys:integer key... [WITHSCORES]",
    since="6.2.0",
    complexity="O(L + (N-K)log(N))",
    example="ZDIFF 2 test:a test:b",
    getkeys=_numkeys,
)
def zdiff(c, a):
    return _combine(c, a, 1, "diff", "zdiff", False)
