"""The rebalance plan: working master, acting masters, duplicates, fills and drops."""

from __future__ import annotations

from respike.cluster.rebalance import EMPTY, FULL, SUBSET, PartitionVersion, plan_partition

A, B, C = 30, 20, 10  # row order in these tests: A, B, C
ROW = (A, B, C)


def plan(a, b, c, rf=2, **kw):
    versions = {A: [a], B: [b], C: [c]}
    return plan_partition(ROW, rf, versions, 0, **kw)


def full(epoch, key=1):
    return PartitionVersion(FULL, epoch, key)


def subset(epoch, key=1):
    return PartitionVersion(SUBSET, epoch, key)


def test_in_sync_natural_master_nothing_moves():
    p = plan(full(3), full(3), EMPTY)
    assert (p.master, p.fills, p.dups, p.drops) == (A, (), (), ())


def test_empty_natural_master_gets_filled_and_another_node_acts_as_master():
    p = plan(EMPTY, full(3), full(3))
    assert p.master == B  # never serve "not found" while a full copy exists
    assert p.fills == (A,)
    assert p.drops == (C,) and not p.dups


def test_subset_of_the_same_lineage_is_filled_not_merged():
    p = plan(subset(3), full(3), EMPTY)
    assert p.master == B and p.fills == (A,) and not p.dups


def test_other_lineage_is_a_duplicate_merged_into_the_master_then_everyone_refilled():
    p = plan(full(5, 7), full(5, 7), full(4, 2))
    assert p.master == A
    assert p.dups == (C,)
    assert p.fills == (B,)  # B was in sync but must get what C brings in
    assert not p.drops


def test_best_lineage_wins_even_if_later_in_row():
    p = plan(full(2), EMPTY, full(6))
    assert p.master == C and p.dups == (A,) and p.fills == (A, B)


def test_no_full_copy_revives_the_best_subset():
    p = plan(EMPTY, subset(4), subset(3))
    assert p.revived and p.master == B and p.dups == (C,)


def test_no_copy_anywhere_starts_fresh_without_migrations():
    p = plan(EMPTY, EMPTY, EMPTY)
    assert p.master == A and p.revived and not (p.fills or p.dups or p.drops)


def test_replication_factor_three_fills_everyone():
    p = plan(full(3), EMPTY, EMPTY, rf=3)
    assert p.replicas == ROW and p.fills == (B, C)


def test_planted_bug_master_without_data():
    p = plan(EMPTY, full(3), EMPTY, master_without_data=True)
    assert p.master == A  # the empty natural master serves: the simulator must catch this
