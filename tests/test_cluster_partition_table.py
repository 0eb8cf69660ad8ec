"""The partition table: deterministic rows, balanced masters, RF capped, few moves."""

from __future__ import annotations

import random

import pytest

from respike.cluster.partition_table import PartitionTable, TableCache, fnv1a64, mix64
from respike.cluster.rebalance import EMPTY, FULL, PartitionVersion, plan_namespace
from respike.keyspace import N_PARTITIONS


def random_ids(rng: random.Random, n: int) -> list[int]:
    ids: set[int] = set()
    while len(ids) < n:
        ids.add(rng.getrandbits(64) or 1)
    return sorted(ids, reverse=True)


def test_fnv_and_mixer_known_values():
    assert fnv1a64(b"") == 0xCBF29CE484222325
    assert fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert mix64(0) == 0
    assert mix64(1) != mix64(2)


@pytest.mark.parametrize("n", range(2, 9))
def test_masters_within_ten_percent_for_random_node_ids(n):
    rng = random.Random(1000 + n)
    ideal = N_PARTITIONS / n
    for _ in range(5):
        table = PartitionTable(random_ids(rng, n))
        counts = table.counts(0)
        assert sum(counts.values()) == N_PARTITIONS
        for node, count in counts.items():
            assert abs(count - ideal) <= 0.10 * ideal, (n, node, count, ideal)


def test_unbalanced_hash_alone_can_miss_the_bound():
    """Why the balancing pass exists: raw hash order strays past +-10 % for some id sets."""
    rng = random.Random(7)
    worst = 0.0
    for _ in range(30):
        table = PartitionTable(random_ids(rng, 8), balance=False)
        worst = max(worst, max(abs(c - 512) / 512 for c in table.counts(0).values()))
    assert worst > 0.05  # a multinomial spread, not an even one


def test_rows_are_deterministic_permutations():
    ids = random_ids(random.Random(3), 5)
    a, b = PartitionTable(ids), PartitionTable(list(ids))
    assert a.rows == b.rows
    for row in a.rows:
        assert sorted(row) == sorted(ids)


def test_replication_factor_capped_at_cluster_size():
    ids = random_ids(random.Random(4), 3)
    table = PartitionTable(ids)
    assert all(len(table.replicas(pid, 5)) == 3 for pid in range(N_PARTITIONS))
    assert table.replicas(17, 2) == table.row(17)[:2]
    assert table.master(17) == table.row(17)[0]


def test_replicas_also_balanced():
    ids = random_ids(random.Random(5), 4)
    counts = PartitionTable(ids).counts(1)
    for c in counts.values():
        assert abs(c - 1024) <= 103


def test_adding_a_node_moves_about_one_nth_of_masters():
    rng = random.Random(6)
    ids = random_ids(rng, 4)
    new = rng.getrandbits(64)
    before, after = PartitionTable(ids), PartitionTable(sorted(ids + [new], reverse=True))
    moved = sum(1 for pid in range(N_PARTITIONS) if before.master(pid) != after.master(pid))
    assert N_PARTITIONS / 5 * 0.9 <= moved < 1.5 * N_PARTITIONS / 5  # ~1/5 must move, not all


def test_single_node_table():
    table = PartitionTable([42], n_partitions=16)
    assert table.rows == ((42,),) * 16


def test_cache_returns_same_table():
    cache = TableCache(size=2)
    ids = [9, 5, 1]
    assert cache.get(ids, 64) is cache.get(tuple(ids), 64)
    cache.get([8], 64)
    cache.get([7], 64)
    assert cache.get(ids, 64) is not None


def test_per_namespace_replication_factor():
    ids = random_ids(random.Random(8), 3)
    table = PartitionTable(ids, n_partitions=64)
    versions = {n: [PartitionVersion(FULL, 1, 5)] * 64 for n in ids}
    one = plan_namespace("cache", 1, table, versions)
    three = plan_namespace("safe", 3, table, versions)
    assert all(len(p.replicas) == 1 for p in one.parts)
    assert all(len(p.replicas) == 3 for p in three.parts)
    # full copies everywhere: nothing moves, non-replica copies are dropped
    assert all(not p.fills and not p.dups for p in one.parts)
    assert all(len(p.drops) == 2 for p in one.parts)
    empty = {n: [EMPTY] * 64 for n in ids}
    fresh = plan_namespace("new", 2, table, empty)
    assert all(p.master == table.row(pid)[0] and not p.fills for pid, p in enumerate(fresh.parts))


# --- quiesce: quiesced nodes go to the end of every row ---------------------------------


@pytest.mark.parametrize("n,q", [(2, 1), (3, 1), (4, 1), (5, 2), (8, 1), (8, 3)])
def test_quiesced_nodes_master_nothing_and_the_others_stay_balanced(n, q):
    rng = random.Random(2000 + 10 * n + q)
    ids = random_ids(rng, n)
    quiesced = set(rng.sample(ids, q))
    table = PartitionTable(ids, quiesced=quiesced)
    assert table.quiesced == quiesced
    counts = table.counts(0)
    assert all(counts[node] == 0 for node in quiesced)
    ideal = N_PARTITIONS / (n - q)
    for node in ids:
        if node not in quiesced:
            assert abs(counts[node] - ideal) <= 0.10 * ideal, (node, counts[node], ideal)
    for row in table.rows:
        assert sorted(row) == sorted(ids)
        assert set(row[n - q :]) == quiesced  # at the end of every row: the last replicas


def test_serving_part_of_each_row_is_the_table_without_the_quiesced_nodes():
    """Moving quiesced nodes to the end ranks the others exactly as if they were absent."""
    ids = random_ids(random.Random(21), 5)
    quiesced = {ids[0], ids[3]}  # the principal may be quiesced too
    table = PartitionTable(ids, quiesced=quiesced)
    without = PartitionTable([n for n in ids if n not in quiesced])
    assert [row[:3] for row in table.rows] == list(without.rows)


def test_undo_restores_the_exact_original_table():
    ids = random_ids(random.Random(22), 4)
    cache = TableCache()
    before = cache.get(ids)
    during = cache.get(ids, N_PARTITIONS, {ids[1]})
    assert during is not before and during.counts(0)[ids[1]] == 0
    after = cache.get(ids, N_PARTITIONS, ())
    assert after is before  # same cache entry: quiesce changes the key, undo restores it
    assert after.rows == PartitionTable(ids).rows == PartitionTable(ids, quiesced=()).rows


def test_handoff_goes_to_replicas_that_already_hold_the_data():
    """Why quiesce is cheap: nearly every new master was already a replica (RF 2)."""
    ids = random_ids(random.Random(23), 4)
    before = PartitionTable(ids)
    after = PartitionTable(ids, quiesced={ids[2]})
    kept = sum(1 for b, a in zip(before.rows, after.rows, strict=True) if a[0] in b[:2])
    assert kept >= 0.97 * N_PARTITIONS


def test_every_node_quiesced_or_unknown_ids_are_ignored():
    ids = random_ids(random.Random(24), 3)
    plain = PartitionTable(ids, n_partitions=256)
    everyone = PartitionTable(ids, n_partitions=256, quiesced=ids)
    assert everyone.quiesced == frozenset() and everyone.rows == plain.rows
    assert PartitionTable(ids, n_partitions=256, quiesced={12345}).rows == plain.rows
    cache = TableCache()
    assert cache.get(ids, 256, ids) is cache.get(ids, 256)  # keyed by the effective set
    single = PartitionTable([42], n_partitions=16, quiesced={42})
    assert single.rows == ((42,),) * 16


def test_quiesced_node_is_the_last_replica_when_rf_exceeds_the_others():
    ids = random_ids(random.Random(25), 2)
    table = PartitionTable(ids, n_partitions=64, quiesced={ids[0]})
    assert all(table.replicas(pid, 2) == (ids[1], ids[0]) for pid in range(64))


def test_plan_with_a_quiesced_node_in_sync_everywhere():
    """Full copies everywhere: the plan's masters follow the quiesced table at once, and the
    quiesced node's copies it is no longer a replica of are dropped."""
    ids = random_ids(random.Random(26), 3)
    q = ids[1]
    table = PartitionTable(ids, n_partitions=64, quiesced={q})
    versions = {n: [PartitionVersion(FULL, 1, 5)] * 64 for n in ids}
    plan = plan_namespace("test", 2, table, versions)
    assert all(p.master != q and p.master == table.row(pid)[0] for pid, p in enumerate(plan.parts))
    assert all(p.drops == (q,) and not p.fills for p in plan.parts)
    assert plan.handoffs(table) == 0
