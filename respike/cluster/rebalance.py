"""Partition versions and the rebalance every node computes after the version exchange.

A node's copy of a partition has a *version*: its state (none, subset, full) and the
*lineage* it belongs to, (epoch, cluster key) of the view in which it was last known to
hold every acknowledged write of the partition. Every rebalance starts a new lineage at
the working master, so two copies with the same lineage have received the same writes,
and copies with different lineages may have diverged (a network split, a paused node) and
must be merged record by record.

After a view change every node sends its versions to the principal, which sends all of
them back to everybody (the *exchange*); every node then runs `plan_namespace` on the same
input and gets the same plan. Per partition:

* `replicas` = the first RF nodes of the partition-table row (the natural owners).
* The **working master** is the first node in row order holding a *full* copy of the best
  (highest) lineage. If the natural master has no full copy yet, another node keeps acting
  as master until the natural master has been filled and a later *balance* view hands
  mastership over (clustering.py). So a master never answers "not found" for a record that
  a full copy elsewhere in the cluster holds. Only if no node has a full copy (more nodes
  lost than the replication factor covers, or a split) does a subset or an empty copy
  become master (`revived`): Aerospike AP's choice of availability over completeness.
* `dups`: holders of any other lineage (or, under a revived master, every other holder).
  They stream their copies into the working master (MERGE migrations), which keeps the
  winner of each record by the conflict-resolution policy; until each has finished, the
  master duplicate-resolves every write (and by default every read) against them.
* `fills`: replicas the working master streams the partition to (FILL migrations). When
  there are dups, every replica is re-filled after the merges, so replicas that were
  already in sync also get the records the merge brought in.
* `drops`: holders that are not replicas and whose copy the master already covers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from hashlib import blake2b

from .messages import NsVersions
from .partition_table import PartitionTable

NONE = 0
SUBSET = 1
FULL = 2
STATE_NAMES = ("none", "subset", "full")


@dataclass(frozen=True, slots=True)
class PartitionVersion:
    state: int
    epoch: int
    cluster_key: int

    @property
    def lineage(self) -> tuple[int, int]:
        return (self.epoch, self.cluster_key)

    def __str__(self) -> str:
        return f"{STATE_NAMES[self.state]}@{self.epoch}:{self.cluster_key:012x}"


EMPTY = PartitionVersion(NONE, 0, 0)


def encode_versions(ns: str, versions: Sequence[PartitionVersion]) -> NsVersions:
    table: dict[PartitionVersion, int] = {}
    index = bytearray(2 * len(versions))
    for pid, v in enumerate(versions):
        if v.state == NONE:
            continue
        i = table.get(v)
        if i is None:
            i = table[v] = len(table) + 1
        index[2 * pid] = i & 0xFF
        index[2 * pid + 1] = i >> 8
    return NsVersions(ns, tuple((v.state, v.epoch, v.cluster_key) for v in table), bytes(index))


def decode_versions(nv: NsVersions, n_partitions: int) -> list[PartitionVersion]:
    table = [EMPTY] + [PartitionVersion(*t) for t in nv.table]
    idx = nv.index
    if len(idx) != 2 * n_partitions:
        raise ValueError(
            f"versions of namespace {nv.ns} cover {len(idx) // 2} partitions, not {n_partitions}"
        )
    return [table[idx[2 * p] | idx[2 * p + 1] << 8] for p in range(n_partitions)]


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    master: int
    replicas: tuple[int, ...]
    fills: tuple[int, ...]
    dups: tuple[int, ...]
    drops: tuple[int, ...]
    revived: bool = False


@dataclass(slots=True)
class NamespacePlan:
    ns: str
    rf: int
    parts: list[PartitionPlan]
    digest: bytes  # identical on every node that computed the same plan

    def handoffs(self, table: PartitionTable) -> int:
        """Partitions served by an acting master rather than the natural one."""
        return sum(1 for pid, p in enumerate(self.parts) if p.master != table.rows[pid][0])


def plan_partition(
    row: tuple[int, ...],
    rf: int,
    versions: Mapping[int, Sequence[PartitionVersion]],
    pid: int,
    master_without_data: bool = False,
) -> PartitionPlan:
    replicas = row[:rf]
    best = None
    master = None
    for n in row:
        v = versions[n][pid]
        if v.state == FULL and (best is None or v.lineage > best):
            best = v.lineage
    full_master = best is not None
    if full_master:
        master = next(
            n for n in row if versions[n][pid].state == FULL and versions[n][pid].lineage == best
        )
    else:
        for n in row:
            v = versions[n][pid]
            if v.state == SUBSET and (best is None or v.lineage > best):
                best = v.lineage
        if best is not None:
            master = next(
                n
                for n in row
                if versions[n][pid].state == SUBSET and versions[n][pid].lineage == best
            )
        else:
            # No node has any data (a new cluster, or every copy lost): nothing to move,
            # every replica starts the new lineage empty and in sync.
            master = row[0]
            return PartitionPlan(master, replicas, (), (), (), True)
    if master_without_data:  # planted bug: the natural master serves even with no data
        master = row[0]
    in_sync: set[int] = set()
    dups: list[int] = []
    covered: list[int] = []  # same lineage as a full master: nothing the master lacks
    for n in row:
        if n == master:
            continue
        v = versions[n][pid]
        if v.state == NONE:
            continue
        if full_master and v.lineage == best:
            if v.state == FULL:
                in_sync.add(n)
            covered.append(n)
        else:
            dups.append(n)
    if dups:
        fills = tuple(n for n in replicas if n != master)
    else:
        fills = tuple(n for n in replicas if n != master and n not in in_sync)
    drops = tuple(n for n in covered if n not in replicas)
    return PartitionPlan(master, replicas, fills, tuple(dups), drops, not full_master)


def plan_namespace(
    ns: str,
    rf: int,
    table: PartitionTable,
    versions: Mapping[int, Sequence[PartitionVersion]],
    master_without_data: bool = False,
) -> NamespacePlan:
    """The same plan on every node, from the same table and exchanged versions."""
    rf = max(1, min(rf, len(table.succession)))
    parts: list[PartitionPlan] = []
    h = blake2b(digest_size=16)
    h.update(ns.encode())
    for pid, row in enumerate(table.rows):
        p = plan_partition(row, rf, versions, pid, master_without_data)
        parts.append(p)
        h.update(repr((p.master, p.fills, p.dups)).encode())
    return NamespacePlan(ns, rf, parts, h.digest())
