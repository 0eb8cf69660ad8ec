"""Per-command statistics: calls, errors, latency histograms and the slow log.

Timing every command would cost about a tenth of the hot path, so O(1) commands are timed
once in SAMPLE_EVERY calls on each connection, and every other command (declared with
another complexity) on every call, so the slow log still sees each slow KEYS, SCAN,
HGETALL or MSET. Histograms therefore sample fast commands; `calls` is always exact and
`usec` is the sampled time scaled to all calls.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Final

SAMPLE_EVERY: Final = 17  # odd: commands that alternate on a connection are all sampled
SUB_BUCKETS: Final = 4  # per power of two: about ±12% resolution, like a 2-bit HDR histogram


def bucket_of(usec: int) -> int:
    """Buckets 0-3 hold 0-3 µs exactly; above, four buckets per power of two."""
    bits = usec.bit_length()
    if bits < 3:
        return usec
    return SUB_BUCKETS * (bits - 2) + (usec >> (bits - 3)) - 4


def bucket_upper(index: int) -> int:
    """Largest microsecond value that falls in bucket `index`."""
    if index < SUB_BUCKETS:
        return index
    bits, sub = index // SUB_BUCKETS + 2, index % SUB_BUCKETS
    return ((SUB_BUCKETS + sub + 1) << (bits - 3)) - 1


@dataclass
class Latency:
    """A histogram of microseconds."""

    counts: dict[int, int] = field(default_factory=dict)
    total: int = 0
    samples: int = 0

    def add(self, usec: int) -> None:
        i = bucket_of(usec)
        self.counts[i] = self.counts.get(i, 0) + 1
        self.total += usec
        self.samples += 1

    def percentile(self, pct: float) -> int:
        if not self.samples:
            return 0
        wanted = self.samples * pct / 100
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= wanted:
                return bucket_upper(index)
        return bucket_upper(max(self.counts))

    def cumulative_power_of_two(self) -> dict[int, int]:
        """Redis's LATENCY HISTOGRAM shape: upper bound (power of 2) -> cumulative count."""
        out: dict[int, int] = {}
        running = 0
        for index in sorted(self.counts):
            running += self.counts[index]
            bound = 1 << max(bucket_upper(index), 1).bit_length()
            out[bound] = running
        return out


@dataclass
class SlowEntry:
    id: int
    timestamp: int
    usec: int
    args: list[bytes]
    addr: str
    name: bytes


class SlowLog:
    def __init__(self) -> None:
        self.entries: deque[SlowEntry] = deque()
        self._ids = itertools.count()

    def add(self, usec: int, args: list[bytes], addr: str, name: bytes, max_len: int) -> None:
        shown = [
            a if len(a) <= 128 else a[:128] + b"... (%d more bytes)" % (len(a) - 128)
            for a in args[:32]
        ]
        if len(args) > 32:
            shown[-1] = b"... (%d more arguments)" % (len(args) - 31)
        self.entries.appendleft(
            SlowEntry(next(self._ids), int(time.time()), usec, shown, addr, name)
        )
        while len(self.entries) > max_len:
            self.entries.pop()

    def reset(self) -> None:
        self.entries.clear()
