"""In-memory representations of collection values, and their byte accounting.

Redis collections are records with one collection bin:

| kind | value | as an Aerospike bin |
|---|---|---|
| LIST | `collections.deque` of bytes: O(1) push/pop at both ends | unordered list |
| SET  | `RSet`: dict member -> slot + slot array: O(1) add/remove/member/random | map member -> true |
| ZSET | `ZSet`: dict member -> score + SortedList of (score, member): O(log n) | map member -> score |
| STREAM | `Stream`: SortedDict entry id -> flat field/value list, plus the stream's counters | key-ordered map `ms-seq` -> [field, value, ...] |

Native list and map bins inside multi-bin records are plain `list` / `dict`; an ordered
list is an `OrderedList` and a key-ordered map an `OrderedMap` (they pass for `list` and
`dict` everywhere values are dispatched on `value.__class__`).

Sizes are charged incrementally by the commands with the per-element functions below, and
`collection_size` computes the same total from scratch (native operations, restores).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Iterator

from sortedcontainers import SortedDict, SortedList

# Bytes charged per element on top of its own bytes (a msgpack header, roughly).
ELEMENT_OVERHEAD = 2
SCORE_SIZE = 8


class OrderedList(list):
    """A list bin with Aerospike's ORDERED flag: kept sorted in value order."""

    __slots__ = ()

    @property  # type: ignore[misc]
    def __class__(self):  # noqa: D105 - lets `value.__class__ is list` dispatch treat it as a list
        return list


class OrderedMap(dict):
    """A map bin with Aerospike's KEY_ORDERED (or KEY_VALUE_ORDERED) flag: kept in key order."""

    __slots__ = ("by_value",)

    def __init__(self, *args, by_value: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.by_value = by_value

    @property  # type: ignore[misc]
    def __class__(self):  # noqa: D105
        return dict

    def __reduce__(self):
        return (OrderedMap, (dict(self),), {"by_value": self.by_value})


_HOLE = object()  # a removed member's slot in RSet.slots


class RSet:
    """A Redis set: O(1) add, remove, membership and uniform random member.

    Members live in `slots` (removed ones leave a hole, so positions are stable for SSCAN)
    and `pos` maps each member to its slot. Holes are compacted away once they are more
    than half the slots, which bumps `epoch` (an SSCAN cursor from before then restarts).
    """

    __slots__ = ("pos", "slots", "holes", "epoch")

    def __init__(self, members: Iterable[bytes] = ()):
        self.pos: dict[bytes, int] = {}
        self.slots: list = []
        self.holes = 0
        self.epoch = 0
        for m in members:
            self.add(m)

    def __len__(self) -> int:
        return len(self.pos)

    def __contains__(self, member: object) -> bool:
        return member in self.pos

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.pos)

    def __repr__(self) -> str:
        return f"RSet({list(self.pos)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RSet) and self.pos.keys() == other.pos.keys()

    def add(self, member: bytes) -> bool:
        pos = self.pos
        if member in pos:
            return False
        slots = self.slots
        pos[member] = len(slots)
        slots.append(member)
        return True

    def discard(self, member: bytes) -> bool:
        i = self.pos.pop(member, None)
        if i is None:
            return False
        slots = self.slots
        if i == len(slots) - 1:
            slots.pop()
            while slots and slots[-1] is _HOLE:
                slots.pop()
                self.holes -= 1
        else:
            slots[i] = _HOLE
            self.holes += 1
            if self.holes > 16 and self.holes * 2 > len(slots):
                self._compact()
        return True

    def _compact(self) -> None:
        live = [m for m in self.slots if m is not _HOLE]
        self.slots = live
        self.pos = {m: i for i, m in enumerate(live)}
        self.holes = 0
        self.epoch += 1

    def random_member(self) -> bytes:
        """A uniformly random member (the set must not be empty)."""
        slots = self.slots
        n = len(slots)
        if self.holes * 4 > n * 3:  # tiny sets full of holes: don't spin
            self._compact()
            slots, n = self.slots, len(self.slots)
        while True:
            m = slots[random.randrange(n)]
            if m is not _HOLE:
                return m

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """One SSCAN step: cursor = slot position << 8 | epoch (mod 256); 0 starts and ends."""
        start, epoch = cursor >> 8, cursor & 0xFF
        if cursor and epoch != self.epoch & 0xFF:
            start = 0  # compacted since: start over (SCAN may return duplicates)
        slots = self.slots
        out: list[bytes] = []
        i, n = start, len(slots)
        budget = count * 10
        while i < n and len(out) < count and budget:
            m = slots[i]
            if m is not _HOLE:
                out.append(m)
            i += 1
            budget -= 1
        if i >= n:
            return 0, out
        return (i << 8) | (self.epoch & 0xFF), out


class ZSet:
    """A Redis sorted set: member -> score, plus the members in (score, member) order."""

    __slots__ = ("scores", "order")

    def __init__(self, items: Iterable[tuple[bytes, float]] = ()):
        self.scores: dict[bytes, float] = dict(items)
        self.order = SortedList((s, m) for m, s in self.scores.items())

    def __len__(self) -> int:
        return len(self.scores)

    def __repr__(self) -> str:
        return f"ZSet({[(m, s) for s, m in self.order]!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZSet) and self.scores == other.scores

    def add(self, member: bytes, score: float) -> None:
        scores = self.scores
        old = scores.get(member)
        if old is not None:
            self.order.remove((old, member))
        scores[member] = score
        self.order.add((score, member))

    def discard(self, member: bytes) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        self.order.remove((old, member))
        return True

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return self.order.bisect_left((score, member))

    def pop(self, index: int) -> tuple[bytes, float]:
        score, member = self.order.pop(index)
        del self.scores[member]
        return member, score


StreamID = tuple[int, int]  # (milliseconds, sequence)
ENTRY_OVERHEAD = 16  # bytes charged per stream entry: its id


class Stream:
    """A Redis stream: entries in id order, and what Redis keeps beside them (the last
    id handed out, how many entries were ever added, the highest deleted id), so ids keep
    growing after entries are trimmed or deleted."""

    __slots__ = ("entries", "last", "added", "max_deleted")

    def __init__(
        self,
        entries: Iterable[tuple[StreamID, list[bytes]]] = (),
        last: StreamID = (0, 0),
        added: int = 0,
        max_deleted: StreamID = (0, 0),
    ):
        self.entries: SortedDict = SortedDict(entries)
        self.last = last
        self.added = added
        self.max_deleted = max_deleted

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Stream)
            and list(self.entries.items()) == list(other.entries.items())
            and (self.last, self.added, self.max_deleted)
            == (other.last, other.added, other.max_deleted)
        )

    def __repr__(self) -> str:
        return f"Stream({list(self.entries.items())!r}, last={self.last})"

    def add(self, sid: StreamID, fields: list[bytes]) -> None:
        self.entries[sid] = fields
        self.last = sid
        self.added += 1

    def delete(self, sid: StreamID) -> list[bytes] | None:
        fields = self.entries.pop(sid, None)
        if fields is not None and sid > self.max_deleted:
            self.max_deleted = sid
        return fields

    def between(self, lo: StreamID, hi: StreamID, reverse: bool = False) -> Iterator[StreamID]:
        return self.entries.irange(lo, hi, reverse=reverse)


def entry_size(fields: list[bytes]) -> int:
    return sum(map(len, fields)) + ELEMENT_OVERHEAD * len(fields) + ENTRY_OVERHEAD


def stream_size(value: Stream) -> int:
    return sum(entry_size(f) for f in value.entries.values())


# --- whole-value sizes and conversions (for record.py) -------------------------------


def deque_size(value: deque) -> int:
    return sum(map(len, value)) + ELEMENT_OVERHEAD * len(value)


def rset_size(value: RSet) -> int:
    return sum(map(len, value.pos)) + ELEMENT_OVERHEAD * len(value.pos)


def zset_size(value: ZSet) -> int:
    return sum(map(len, value.scores)) + (SCORE_SIZE + ELEMENT_OVERHEAD) * len(value.scores)
