"""respike's partition table as Redis Cluster sees it: slots, node ids and ranges.

partition = slot // 4, so the owner of a slot is the working master of its partition in
the default namespace's plan (every namespace shares the table; during a migration another
namespace's acting master may differ, and a request there is simply redirected again).
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha1

from ..keyspace import N_SLOTS, SLOTS_PER_PARTITION


def node_id40(node_id: int) -> str:
    """A Redis Cluster node id (40 hex) that starts with respike's 16-hex node id."""
    return f"{node_id:016x}" + sha1(node_id.to_bytes(8, "big")).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class SlotRange:
    start: int
    end: int
    master: int
    replicas: tuple[int, ...]


def slot_ranges(owners: list[tuple[int, tuple[int, ...]]]) -> list[SlotRange]:
    """Contiguous slot ranges from per-partition (master, replicas), in slot order."""
    ranges: list[SlotRange] = []
    for pid, (master, replicas) in enumerate(owners):
        start = pid * SLOTS_PER_PARTITION
        end = start + SLOTS_PER_PARTITION - 1
        last = ranges[-1] if ranges else None
        if last is not None and last.master == master and last.replicas == replicas:
            ranges[-1] = SlotRange(last.start, end, master, replicas)
        else:
            ranges.append(SlotRange(start, end, master, replicas))
    assert not ranges or ranges[-1].end == N_SLOTS - 1
    return ranges


def compact(slots: list[tuple[int, int]]) -> list[str]:
    """`a-b` / `a` items of CLUSTER NODES from (start, end) ranges."""
    return [f"{a}-{b}" if a != b else str(a) for a, b in slots]
