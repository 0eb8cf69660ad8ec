"""Cold start: rebuild the primary index by scanning every used block.

Blocks are read in the order they were opened (block sequence number), and records
within a block in the order they were appended, so the last copy of a digest met is the
newest one the node committed: defrag rewrites only current copies, and every write,
delete (tombstone) and defrag move goes through the one append stream. (Generation and
last-update-time order copies that come from different nodes; on one device the append
order is exact even where those cannot be: a record deleted and created again restarts
at generation 1, and generations wrap.)

Every copy is counted per digest: an entry whose newest copy is a tombstone, expired or
truncated is kept DEAD while older copies remain (see index.py).

The per-record work in Python is walking record lengths; headers are read as numpy
arrays and the newest copy per digest is chosen by one stable sort.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from ...keyspace import N_PARTITIONS
from .format import (
    ALIGN,
    BAD,
    F_TOMBSTONE,
    USED,
    check_record,
    parse_block,
)
from .index import (
    CNT_MAX,
    CNT_SHIFT,
    DEAD,
    SID_MASK,
    SID_SHIFT,
    TOMB,
    VOID_MASK,
    Index,
)

log = logging.getLogger("respike.device")


@dataclass
class ScanStats:
    blocks: int = 0  # used blocks read
    fast_blocks: int = 0  # taken whole thanks to an intact trailer
    records: int = 0  # intact record copies found
    corrupt_records: int = 0  # bad checksum: torn or damaged
    skipped_bytes: int = 0
    stale_records: int = 0  # intact leftovers of an earlier use of a reused block
    bad_blocks: int = 0  # blocks whose header is damaged
    salvaged_blocks: int = 0  # ... whose records were still read
    seconds: float = 0.0


@dataclass
class ScanResult:
    index: Index
    live: np.ndarray  # bytes of LIVE copies per block
    used_bytes: int  # logical size of LIVE records (what the namespace charges)
    set_objects: dict[int, int]  # set id -> LIVE records
    last_lut: int
    max_bseq: int
    stats: ScanStats = field(default_factory=ScanStats)
    salvaged: dict[int, int] = field(
        default_factory=dict
    )  # block -> incarnation read from its records


def read_ahead(
    read: Callable[[int], bytes], blocks: list[int], ahead: int = 8
) -> Iterator[tuple[int, bytes]]:
    """Yield (block, bytes) in order while a thread reads the next ones."""
    with ThreadPoolExecutor(2, thread_name_prefix="scan-read") as pool:
        pending: deque = deque()
        it = iter(blocks)
        for g in islice(it, ahead):
            pending.append((g, pool.submit(read, g)))
        while pending:
            g, fut = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(read, nxt)))
            yield g, fut.result()


def salvage_bseq(buf, wbs: int, start: int) -> int | None:
    """The incarnation of a block whose header is damaged, from its first intact record."""
    limit = wbs - 32
    off = start
    while off + 72 <= limit and off < start + 4096:
        if (
            check_record(buf, off, limit, int.from_bytes(bytes(buf[off + 16 : off + 24]), "little"))
            > 0
        ):
            return int.from_bytes(bytes(buf[off + 16 : off + 24]), "little")
        off += ALIGN
    return None


def scan(
    headers: list[tuple[str, int]],
    read: Callable[[int], bytes],
    wbs: int,
    set_id: Callable[[bytes], int],
    cutoff_of: Callable[[np.ndarray], np.ndarray],
    now: int,
) -> ScanResult:
    """headers[g] = (state, bseq) of every block; `read(g)` returns a whole block;
    `set_id(name)` numbers set names; `cutoff_of(set ids)` gives each record's truncate
    cutoff (0 = none)."""
    started = time.monotonic()
    stats = ScanStats()
    nblocks = len(headers)
    order = sorted((bseq, g) for g, (state, bseq) in enumerate(headers) if state == USED)
    bad = [g for g, (state, _) in enumerate(headers) if state == BAD]
    max_bseq = max((b for _, b in headers), default=0)
    # Blocks whose header is damaged: their records still say which incarnation they are.
    salvaged: dict[int, int] = {}
    for g, buf in read_ahead(read, bad):
        stats.bad_blocks += 1
        bseq = salvage_bseq(buf, wbs, 64)
        if bseq is not None:
            stats.salvaged_blocks += 1
            salvaged[g] = bseq
            order.append((bseq, g))
            max_bseq = max(max_bseq, bseq)
    order.sort()
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("pid", "d0", "d1", "loc", "m1", "m2", "lsize")
    }
    for g, buf in read_ahead(read, [g for _, g in order]):
        bseq = headers[g][1] if headers[g][0] == USED else salvaged[g]
        recs = parse_block(buf, bseq, wbs)
        stats.blocks += 1
        stats.fast_blocks += recs.fast
        stats.corrupt_records += recs.corrupt
        stats.skipped_bytes += recs.skipped_bytes
        stats.stale_records += recs.stale
        n = len(recs.offs)
        if not n:
            continue
        stats.records += n
        hdr = recs.hdr
        units = (hdr["length"].astype(np.uint64) + np.uint64(15)) >> np.uint64(4)
        addr = (np.uint64(g * wbs) + recs.offs.astype(np.uint64)) >> np.uint64(4)
        cols["loc"].append(addr | (units << np.uint64(40)))
        cols["pid"].append((hdr["pid"] & 0xFFF).astype(np.uint16))
        cols["d0"].append(hdr["d0"].copy())
        cols["d1"].append(hdr["d1"].copy())
        cols["m1"].append(
            hdr["gen"].astype(np.uint64) | (hdr["lut"].astype(np.uint64) << np.uint64(16))
        )
        sids = np.zeros(n, dtype=np.uint64)
        for i, name in enumerate(recs.setnames):
            if name:
                sids[i] = set_id(name)
        tomb = (hdr["flags"] & F_TOMBSTONE).astype(np.uint64) * np.uint64(TOMB)
        cols["m2"].append(
            (hdr["void"].astype(np.uint64) & np.uint64(VOID_MASK))
            | (sids << np.uint64(SID_SHIFT))
            | tomb
        )
        cols["lsize"].append(hdr["lsize"].copy())
    result = build(cols, nblocks, wbs, cutoff_of, now)
    result.max_bseq = max(max_bseq, result.max_bseq)
    result.salvaged = salvaged
    stats.seconds = time.monotonic() - started
    result.stats = stats
    return result


def _by_partition_and_d0(pid: np.ndarray, d0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order of the copies by partition, then by the digest's first 64 bits, and their
    partitions in that order: a radix sort of the 12-bit partition ids, then one small sort
    per partition (5x faster than one sort of all of them at 10 million records: the small
    ones stay in cache)."""
    porder = np.argsort(pid, kind="stable")
    d0p = d0[porder]
    spid = pid[porder]
    bounds = np.searchsorted(spid, np.arange(N_PARTITIONS + 1)).tolist()
    parts = [
        porder[a:b][np.argsort(d0p[a:b])] for a, b in zip(bounds, bounds[1:], strict=False) if b > a
    ]
    return np.concatenate(parts), spid


def build(
    cols: dict[str, list[np.ndarray]],
    nblocks: int,
    wbs: int,
    cutoff_of: Callable[[np.ndarray], np.ndarray],
    now: int,
) -> ScanResult:
    """The index from every record copy, listed oldest first."""
    index = Index()
    live = np.zeros(nblocks, dtype=np.int64)
    if not cols["d0"]:
        return ScanResult(index, live, 0, {}, 0, 0)
    c = {k: np.concatenate(v) for k, v in cols.items()}
    n = len(c["d0"])
    d0, d1, pid = c["d0"], c["d1"], c["pid"]
    # Group the copies of each digest; the newest (appended last) has the largest index.
    order, spid = _by_partition_and_d0(pid, d0)
    brk = np.ones(n, dtype=bool)
    sd0 = d0[order]
    brk[1:] = (sd0[1:] != sd0[:-1]) | (spid[1:] != spid[:-1])
    del sd0, spid
    dup = np.flatnonzero(~brk[1:])  # copies after the first of their digest's group
    if np.any(d1[order[dup]] != d1[order[dup + 1]]):
        # Two digests share their partition and first 64 bits: group on all of it (never
        # seen in practice).
        order = np.lexsort((np.arange(n), d1, d0, pid))
        brk[1:] = (
            (d0[order][1:] != d0[order][:-1])
            | (d1[order][1:] != d1[order][:-1])
            | (pid[order][1:] != pid[order][:-1])
        )
    del dup
    starts = np.flatnonzero(brk)
    del brk
    # Winners in partition order (what the tables are built from), each its digest's last copy.
    win = np.maximum.reduceat(order, starts)
    copies = np.diff(np.append(starts, n)).astype(np.uint64)
    del order, starts
    last_lut = int((c["m1"] >> np.uint64(16)).max())
    wpid = pid[win]
    m1 = c["m1"][win]
    m2 = c["m2"][win]
    loc = c["loc"][win]
    tomb = (m2 & np.uint64(TOMB)) != 0
    void = m2 & np.uint64(VOID_MASK)
    expired = (void != 0) & (void <= np.uint64(now))
    sid = ((m2 >> np.uint64(SID_SHIFT)) & np.uint64(SID_MASK)).astype(np.int64)
    truncated = (m1 >> np.uint64(16)) <= cutoff_of(sid)
    dead = tomb | expired | truncated
    alive = ~dead
    m2 |= (dead.astype(np.uint64) * np.uint64(DEAD)) | (
        np.minimum(copies, CNT_MAX) << np.uint64(CNT_SHIFT)
    )
    shift = wbs.bit_length() - 1 - 4
    blocks = ((loc & np.uint64((1 << 40) - 1)) >> np.uint64(shift)).astype(np.int64)
    sizes = ((loc >> np.uint64(40)) << np.uint64(4)).astype(np.int64)
    live += np.bincount(blocks[alive], weights=sizes[alive], minlength=nblocks).astype(np.int64)
    used_bytes = int(c["lsize"][win][alive].sum())
    per_set = np.bincount(sid[alive], minlength=SID_MASK + 1)
    set_objects = {int(s): int(per_set[s]) for s in np.flatnonzero(per_set).tolist() if s}
    nlive = np.bincount(wpid[alive], minlength=N_PARTITIONS)
    ents = np.empty((len(win), 5), dtype=np.uint64)
    ents[:, 0] = d0[win]
    ents[:, 1] = d1[win]
    ents[:, 2] = loc
    ents[:, 3] = m1
    ents[:, 4] = m2
    for i in np.flatnonzero(copies > CNT_MAX).tolist():
        index.extra[(int(wpid[i]), int(ents[i, 0]), int(ents[i, 1]))] = int(copies[i]) - CNT_MAX
    del c, m1, m2, loc, blocks, sizes, win
    # One table per partition.
    bounds = np.searchsorted(wpid, np.arange(N_PARTITIONS + 1))
    for p in np.flatnonzero(np.diff(bounds)).tolist():
        index.install(p, ents[bounds[p] : bounds[p + 1]])
        index.nlive[p] = int(nlive[p])
    index.live = int(alive.sum())
    index.dead = int(dead.sum())
    return ScanResult(index, live, used_bytes, set_objects, last_lut, 0)
