"""Record copies as the cluster moves them, the conflict-resolution rule, and the store protocol.

The cluster layer never looks inside a record: it moves `RecordCopy` values (an opaque,
already msgpack-packed value plus Aerospike's metadata) between nodes and decides which of
two copies of the same key wins. That decision lives here, once, because replication,
migration and duplicate resolution must all make it the same way, or replicas drift apart.

`RecordStore` is what the cluster needs from the storage engine. The real engine implements
it over `Namespace`/`Storage`; the simulator implements it with dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

MAX_GENERATION = 65535
GEN_MODULUS = 1 << 16
GEN_HALF = 1 << 15


class ConflictPolicy(IntEnum):
    """Aerospike's `conflict-resolution-policy`: which field decides first."""

    GENERATION = 0  # higher generation wins, then last-update-time (default)
    LAST_UPDATE_TIME = 1  # later last-update-time wins, then generation

    @classmethod
    def parse(cls, text: str) -> ConflictPolicy:
        try:
            return {"generation": cls.GENERATION, "last-update-time": cls.LAST_UPDATE_TIME}[text]
        except KeyError:
            raise ValueError(f"unknown conflict-resolution-policy {text!r}") from None


@dataclass(frozen=True, slots=True)
class RecordCopy:
    """One node's copy of one record, as it travels between nodes.

    `value` is opaque bytes (the engine packs it with msgpack); `gen` is Aerospike's 16-bit
    generation (wraps 65535 -> 1); `void` and `lut` are milliseconds since the Unix epoch.
    A tombstone is a deletion that must win over older copies during reconciliation (a
    durable delete); the engine may keep it or drop it once no older copy can come back.
    """

    kind: int
    value: bytes
    gen: int
    void: int
    lut: int
    tombstone: bool = False


def next_generation(gen: int) -> int:
    """16-bit generation that wraps 65535 -> 1 (0 means no record)."""
    return 1 if gen >= MAX_GENERATION else gen + 1


def compare_generation(a: int, b: int) -> int:
    """Wrap-aware generation order over a 32768 window, as Aerospike compares them.

    Returns 1 if `a` is newer, -1 if older, 0 if equal. A generation that wrapped from
    65535 to 1 is still newer than 65000, because the distance forward is under half the
    16-bit space.
    """
    if a == b:
        return 0
    forward = (a - b) % GEN_MODULUS
    return 1 if 0 < forward < GEN_HALF else -1


def compare(a: RecordCopy, b: RecordCopy, policy: ConflictPolicy) -> int:
    """>0 if copy `a` wins over `b` under `policy`, <0 if it loses, 0 if identical.

    After the two policy fields, a deterministic last tie-break (tombstone, then value
    bytes) makes every node pick the same winner even for two different writes that share
    generation and millisecond, so replicas cannot stay different forever.
    """
    if policy == ConflictPolicy.GENERATION:
        c = compare_generation(a.gen, b.gen)
        if c:
            return c
        if a.lut != b.lut:
            return 1 if a.lut > b.lut else -1
    else:
        if a.lut != b.lut:
            return 1 if a.lut > b.lut else -1
        c = compare_generation(a.gen, b.gen)
        if c:
            return c
    if a.tombstone != b.tombstone:
        return 1 if a.tombstone else -1
    if a.value != b.value:
        return 1 if a.value > b.value else -1
    if a.void != b.void:
        return 1 if a.void > b.void else -1
    return 0


def wins(incoming: RecordCopy, existing: RecordCopy | None, policy: ConflictPolicy) -> bool:
    """Replace-if-better: should `incoming` replace `existing`?"""
    return existing is None or compare(incoming, existing, policy) > 0


class RecordStore(Protocol):
    """What the cluster core needs from a node's records, per namespace and partition.

    All calls are synchronous and must not yield: the cluster core calls them inside one
    event-loop step and relies on nothing changing in between (see DESIGN.md 3).
    """

    def partition_keys(self, ns: str, pid: int) -> list[bytes]:
        """Keys of the partition's records (tombstones included), as a snapshot list."""
        ...

    def get_copy(self, ns: str, pid: int, key: bytes) -> RecordCopy | None:
        """The current copy of `key`, or None if the node has none."""
        ...

    def put_copy(self, ns: str, pid: int, key: bytes, copy: RecordCopy) -> None:
        """Store `copy` as the record, replacing any existing copy unconditionally.

        The cluster core has already decided (with `wins`) that it should replace.
        """
        ...

    def drop_partition(self, ns: str, pid: int) -> None:
        """Forget every record of the partition (this node no longer holds it)."""
        ...

    def partition_count(self, ns: str, pid: int) -> int:
        """Number of records (tombstones included) the node holds for the partition."""
        ...


def apply_if_better(
    store: RecordStore,
    ns: str,
    pid: int,
    key: bytes,
    copy: RecordCopy,
    policy: ConflictPolicy,
    blind: bool = False,
) -> bool:
    """Store `copy` if it wins over the local copy; True if it was stored.

    `blind` is the planted bug "skip reconciliation": store whatever arrives.
    """
    if blind or wins(copy, store.get_copy(ns, pid, key), policy):
        store.put_copy(ns, pid, key, copy)
        return True
    return False
