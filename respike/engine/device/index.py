"""The primary index of a device namespace: digest -> location and metadata, in arrays.

One table per partition (4096), so SCAN, sweeps and migrations walk one partition at a
time. A partition has

* `ents[pid]`: an `array('Q')` of 5-word entries (40 bytes, no Python object per record):

    word 0, 1  digest bytes 2..17 (the 128 bits after the partition id) as two integers
    word 2     loc: 16-byte unit address on the device (40 bits) | size in units << 40
    word 3     generation (16 bits) | last-update-time in ms << 16 (48 bits)
    word 4     void-time in ms (42 bits) | set id << 42 (12 bits) | DEAD bit 54 |
               TOMB bit 55 | copies on the device << 56 (8 bits, saturating; the rest
               of a count above 255 is kept in `extra`)

* `tabs[pid]`: an open-addressing hash table of entry numbers + 1 (0 = empty), `array('H')`
  while a partition has under 64K entries, else `array('I')`. Linear probing from
  `d0 & mask` never wraps: the table has an overflow tail past `mask` and its last slot is
  always empty, so every probe ends. Deletion shifts followers back (no tombstone
  slots); a removed entry is replaced by the partition's last one, so `ents` stays dense.

At a load factor of at most 0.7 this costs 40 bytes of entry (plus array slack) and 3-6
bytes of table per record. Tables are built in bulk with numpy (cold start, growth).

An entry is LIVE, or DEAD: deleted (TOMB: its newest copy is a tombstone), expired or
truncated. A DEAD entry stays while older copies of the record may remain on the device,
so that a cold start, which keeps the newest copy of each digest, never brings them back;
`copies` counts every copy of the digest on the device, and the entry goes when its last
copy is erased (see docs/storage.md, "Tombstones").
"""

from __future__ import annotations

import sys
from array import array
from typing import Final

import numpy as np

from ...keyspace import N_PARTITIONS

W: Final = 5
ADDR_MASK: Final = (1 << 40) - 1
VOID_MASK: Final = (1 << 42) - 1
SID_SHIFT: Final = 42
SID_MASK: Final = 0xFFF
DEAD: Final = 1 << 54
TOMB: Final = 1 << 55
CNT_SHIFT: Final = 56
CNT_ONE: Final = 1 << CNT_SHIFT
CNT_MAX: Final = 255
LOW_MASK: Final = CNT_ONE - 1  # everything but the copy count
MAX_LOAD: Final = 0.7
MIN_CAP: Final = 16

_EMPTY_TAB: Final = array("H", [0])


def trim_heap() -> None:
    """Give free heap memory back to the system (glibc; a no-op elsewhere). Growing
    thousands of arrays leaves ~10 bytes per record of free heap behind otherwise."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _overflow(cap: int) -> int:
    return 16 + (cap >> 3)


def build_table(d0: np.ndarray, cap: int) -> tuple[array, int]:
    """Hash table of entry numbers for digests `d0` (entry i -> i + 1): (table, cap)."""
    n = len(d0)
    while n and n > cap * MAX_LOAD:
        cap *= 2
    while True:
        size = cap + _overflow(cap)
        typecode, dtype = ("H", np.uint16) if cap <= 65536 else ("I", np.uint32)
        tab = np.zeros(size, dtype=dtype)
        if n:
            home = (d0 & np.uint64(cap - 1)).astype(np.int64)
            # Slots under 64K: a 16-bit key sorts by radix.
            order = np.argsort(home.astype(np.uint16) if cap <= 65536 else home, kind="stable")
            ranks = np.arange(n, dtype=np.int64)
            pos = np.maximum.accumulate(home[order] - ranks) + ranks
            if pos[-1] >= size - 1:  # ran into the sentinel slot: a bigger table
                cap *= 2
                continue
            tab[pos] = (order + 1).astype(dtype)
        return array(typecode, tab.tobytes()), cap


class Index:
    def __init__(self) -> None:
        self.ents: list[array] = [array("Q") for _ in range(N_PARTITIONS)]
        self.tabs: list[array] = [_EMPTY_TAB] * N_PARTITIONS
        self.masks: list[int] = [0] * N_PARTITIONS
        self.limits: list[int] = [0] * N_PARTITIONS
        self.nlive = array("I", bytes(4 * N_PARTITIONS))
        self.live = 0  # LIVE entries
        self.dead = 0  # DEAD entries (tombstones, expired or truncated, kept for their copies)
        self.extra: dict[tuple[int, int, int], int] = {}  # copy counts above CNT_MAX

    # --- lookups -----------------------------------------------------------------------

    def find(self, pid: int, d0: int, d1: int) -> int:
        """Entry number of a digest in its partition, or -1."""
        tab = self.tabs[pid]
        ent = self.ents[pid]
        i = d0 & self.masks[pid]
        s = tab[i]
        while s:
            k = s * W - W
            if ent[k] == d0 and ent[k + 1] == d1:
                return s - 1
            i += 1
            s = tab[i]
        return -1

    def entries(self, pid: int) -> int:
        return len(self.ents[pid]) // W

    # --- changes -----------------------------------------------------------------------

    def insert(self, pid: int, d0: int, d1: int, loc: int, m1: int, m2: int) -> int:
        """Add an entry (the digest must be absent); returns its number."""
        ent = self.ents[pid]
        n = len(ent) // W
        ent.extend((d0, d1, loc, m1, m2))
        if n + 1 > self.limits[pid]:
            self._rebuild(pid, max(MIN_CAP, (self.masks[pid] + 1) * 2))
            return n
        tab = self.tabs[pid]
        i = d0 & self.masks[pid]
        while tab[i]:
            i += 1
        if i == len(tab) - 1:  # only the sentinel left: grow
            self._rebuild(pid, (self.masks[pid] + 1) * 2)
            return n
        tab[i] = n + 1
        return n

    def remove(self, pid: int, j: int) -> None:
        """Drop entry j; the partition's last entry takes its number."""
        ent = self.ents[pid]
        tab = self.tabs[pid]
        mask = self.masks[pid]
        k = j * W
        self._unslot(tab, ent, mask, self._slot(tab, ent, mask, j))
        last = len(ent) // W - 1
        if j != last:
            lk = last * W
            ent[k : k + W] = ent[lk : lk + W]
            tab[self._slot(tab, ent, mask, last, ent[k])] = j + 1
        del ent[-W:]

    @staticmethod
    def _slot(tab: array, ent: array, mask: int, j: int, d0: int | None = None) -> int:
        if d0 is None:
            d0 = ent[j * W]
        i = d0 & mask
        target = j + 1
        while tab[i] != target:
            if not tab[i]:
                raise KeyError(f"index entry {j} missing from its hash table")
            i += 1
        return i

    @staticmethod
    def _unslot(tab: array, ent: array, mask: int, i: int) -> None:
        """Empty slot i, shifting back the followers that may move (no wrap-around)."""
        j = i + 1
        s = tab[j]
        while s:
            if ent[s * W - W] & mask <= i:
                tab[i] = s
                i = j
            j += 1
            s = tab[j]
        tab[i] = 0

    def _rebuild(self, pid: int, cap: int) -> None:
        ent = self.ents[pid]
        view = np.frombuffer(ent, dtype="<u8") if len(ent) else np.zeros(0, dtype="<u8")
        d0 = view[0::W].copy()
        del view  # release the buffer export so the array may grow again
        tab, cap = build_table(d0, cap)
        self.tabs[pid] = tab
        self.masks[pid] = cap - 1
        self.limits[pid] = int(cap * MAX_LOAD)

    def install(self, pid: int, entries: np.ndarray) -> None:
        """Replace a partition with `entries` (an (n, 5) uint64 array), e.g. from a scan."""
        ent = array("Q", np.ascontiguousarray(entries, dtype="<u8").tobytes())
        self.ents[pid] = ent
        if len(ent):
            self._rebuild(pid, MIN_CAP)
        else:
            self.tabs[pid], self.masks[pid], self.limits[pid] = _EMPTY_TAB, 0, 0

    # --- copy counts -------------------------------------------------------------------

    def copies(self, pid: int, j: int) -> int:
        ent = self.ents[pid]
        k = j * W
        c = ent[k + 4] >> CNT_SHIFT
        if c == CNT_MAX:
            c += self.extra.get((pid, ent[k], ent[k + 1]), 0)
        return c

    def add_copy(self, pid: int, j: int) -> None:
        ent = self.ents[pid]
        k = j * W + 4
        if ent[k] >> CNT_SHIFT < CNT_MAX:
            ent[k] += CNT_ONE
        else:
            key = (pid, ent[k - 4], ent[k - 3])
            self.extra[key] = self.extra.get(key, 0) + 1

    def drop_copy(self, pid: int, j: int) -> int:
        """One copy of entry j was erased; returns the copies left."""
        ent = self.ents[pid]
        k = j * W + 4
        c = ent[k] >> CNT_SHIFT
        if c == CNT_MAX:
            key = (pid, ent[k - 4], ent[k - 3])
            more = self.extra.get(key, 0)
            if more:
                if more == 1:
                    del self.extra[key]
                else:
                    self.extra[key] = more - 1
                return CNT_MAX + more - 1
        if c:
            ent[k] -= CNT_ONE
            return c - 1
        return 0

    def set_copies(self, pid: int, j: int, count: int) -> None:
        ent = self.ents[pid]
        k = j * W + 4
        key = (pid, ent[k - 4], ent[k - 3])
        if count > CNT_MAX:
            self.extra[key] = count - CNT_MAX
            count = CNT_MAX
        else:
            self.extra.pop(key, None)
        ent[k] = (ent[k] & LOW_MASK) | count << CNT_SHIFT

    def drop_copies(self, pid: int, j: int, n: int) -> int:
        """n copies of entry j were erased; returns the copies left."""
        c = self.ents[pid][j * W + 4] >> CNT_SHIFT
        if n == 1 and 1 <= c < CNT_MAX:
            self.ents[pid][j * W + 4] -= CNT_ONE
            return c - 1
        left = max(self.copies(pid, j) - n, 0)
        self.set_copies(pid, j, left)
        return left

    # --- whole-index views -------------------------------------------------------------

    def view(self, pid: int) -> np.ndarray:
        """A copy of a partition's entries as an (n, 5) uint64 array."""
        ent = self.ents[pid]
        if not ent:
            return np.zeros((0, W), dtype="<u8")
        v = np.frombuffer(ent, dtype="<u8").reshape(-1, W)
        out = v.copy()
        del v
        return out

    def nbytes(self) -> int:
        """Memory held by the index arrays (allocated sizes, including slack)."""
        total = sys.getsizeof(self.nlive)
        seen_empty = False
        for pid in range(N_PARTITIONS):
            total += sys.getsizeof(self.ents[pid])
            tab = self.tabs[pid]
            if tab is _EMPTY_TAB:
                if not seen_empty:
                    total += sys.getsizeof(tab)
                    seen_empty = True
            else:
                total += sys.getsizeof(tab)
        return total + 200 * len(self.extra)
