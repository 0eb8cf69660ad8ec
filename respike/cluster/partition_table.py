"""The partition table every node derives, identically, from the agreed succession list.

For each partition the nodes are ordered by a score: a 64-bit mix of FNV-1a(partition id)
and FNV-1a(node id) (Aerospike's idea in partition_balance.c, with murmur3's finalizer as
the mixer), highest first, node id breaking ties. The first replication-factor nodes of a
row hold copies; the first is the master. Because each (partition, node) score is
independent of the other nodes, adding or removing one node only changes the rows in which
it ranks high: about 1/N of the partitions move (consistent hashing).

Pure hashing leaves master counts spread like a multinomial draw: for 8 nodes the standard
deviation is about 4 % of the mean, so some node id sets land outside +-10 %. A balancing
pass then caps every node at ceil(partitions / N) per column: walking partitions in order,
a node over the cap swaps places with the first node further along the row that is under
it. This is deterministic (every node computes the same table) and only touches the
partitions over the cap, like Aerospike EE's prefer-uniform-balance.

Quiesced nodes (Aerospike EE's quiesce, see `PartitionTable`) go to the end of every row: a
table is a function of the succession list *and* the set of quiesced members, both agreed
in the view, so every node still derives the same one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence

from ..keyspace import N_PARTITIONS

MASK64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def mix64(x: int) -> int:
    """murmur3 fmix64: every input bit affects every output bit."""
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK64
    x ^= x >> 33
    return x


def node_hash(node_id: int) -> int:
    return fnv1a64(node_id.to_bytes(8, "little"))


def pid_hash(pid: int) -> int:
    return fnv1a64(pid.to_bytes(2, "little"))


def score(hp: int, hn: int) -> int:
    """Rank of a node in a partition's row (higher first)."""
    return mix64(hp ^ mix64(hn ^ 0x9E3779B97F4A7C15))


def effective_quiesced(succession: Sequence[int], quiesced: Iterable[int]) -> frozenset[int]:
    """The quiesced members a table honours: those in `succession`, or none if that is all
    of them (someone must master the partitions; Aerospike ignores the flags then too)."""
    members = set(succession)
    q = frozenset(n for n in quiesced if n in members)
    return frozenset() if len(q) == len(members) else q


class PartitionTable:
    """Rows of node ids per partition for one succession list and set of quiesced nodes.

    Quiesced nodes are moved to the end of every row, so they master nothing and are the
    last replicas (replicas at all only where the replication factor exceeds the number of
    other nodes). The other nodes are ranked and balanced exactly as if the quiesced ones
    were absent, which keeps their master counts within the usual bound; the quiesced ones
    are ranked and balanced among themselves behind them. With no quiesced node the table is
    the plain one, so undoing a quiesce restores exactly the table from before.
    """

    __slots__ = ("succession", "quiesced", "n_partitions", "rows")

    def __init__(
        self,
        succession: Sequence[int],
        n_partitions: int = N_PARTITIONS,
        balance: bool = True,
        quiesced: Iterable[int] = (),
    ):
        if not succession:
            raise ValueError("a partition table needs at least one node")
        self.succession = tuple(succession)
        self.quiesced = effective_quiesced(self.succession, quiesced)
        self.n_partitions = n_partitions
        # Two segments per row, each ranked and balanced on its own: serving nodes first.
        segments = [
            tuple(n for n in self.succession if n not in self.quiesced),
            tuple(n for n in self.succession if n in self.quiesced),
        ]
        segments = [seg for seg in segments if seg]
        hashes = [[node_hash(node) for node in seg] for seg in segments]
        rows: list[list[int]] = []
        for pid in range(n_partitions):
            hp = pid_hash(pid)
            row: list[int] = []
            for seg, hs in zip(segments, hashes, strict=True):
                if len(seg) == 1:
                    row.append(seg[0])
                    continue
                ranked = sorted(
                    ((score(hp, hn), node) for hn, node in zip(hs, seg, strict=True)),
                    reverse=True,
                )
                row.extend(node for _, node in ranked)
            rows.append(row)
        if balance:
            start = 0
            for seg in segments:
                end = start + len(seg)
                for column in range(start, end - 1):
                    _balance_column(rows, seg, column, end, n_partitions)
                start = end
        self.rows: tuple[tuple[int, ...], ...] = tuple(tuple(r) for r in rows)

    def row(self, pid: int) -> tuple[int, ...]:
        return self.rows[pid]

    def replicas(self, pid: int, rf: int) -> tuple[int, ...]:
        """The first `rf` nodes of the row (rf is capped at the cluster size)."""
        return self.rows[pid][:rf]

    def master(self, pid: int) -> int:
        return self.rows[pid][0]

    def counts(self, column: int = 0) -> dict[int, int]:
        """Partitions per node in one column of the table (0 = masters)."""
        out = dict.fromkeys(self.succession, 0)
        for row in self.rows:
            if column < len(row):
                out[row[column]] += 1
        return out


def _balance_column(
    rows: list[list[int]], nodes: Sequence[int], column: int, end: int, n_partitions: int
) -> None:
    """Cap `nodes` at ceil(partitions / len(nodes)) in `column`, swapping with a node of
    columns column+1 .. end-1 (the same segment of the row, so a quiesced node never swaps
    forward and a serving node never swaps behind the quiesced ones)."""
    cap = -(-n_partitions // len(nodes))
    counts = dict.fromkeys(nodes, 0)
    for row in rows:
        node = row[column]
        if counts[node] < cap:
            counts[node] += 1
            continue
        for j in range(column + 1, end):
            other = row[j]
            if counts[other] < cap:
                row[column], row[j] = other, node
                counts[other] += 1
                break
        else:
            counts[node] += 1


class TableCache:
    """Tables by succession list and quiesced set, so nodes (or simulated nodes) sharing a
    view compute each once."""

    def __init__(self, size: int = 64):
        self.size = size
        # (succession, partitions, effective quiesced set) -> table
        self._tables: OrderedDict[tuple, PartitionTable] = OrderedDict()

    def get(
        self,
        succession: Sequence[int],
        n_partitions: int = N_PARTITIONS,
        quiesced: Iterable[int] = (),
    ) -> PartitionTable:
        nodes = tuple(succession)
        key = (nodes, n_partitions, effective_quiesced(nodes, quiesced))
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = PartitionTable(nodes, n_partitions, quiesced=key[2])
            if len(self._tables) > self.size:
                self._tables.popitem(last=False)
        else:
            self._tables.move_to_end(key)
        return table
