"""The array-based primary index: lookups, inserts, deletes, growth, bulk builds, counts."""

from __future__ import annotations

import random

import numpy as np

from respike.engine.device.index import CNT_MAX, CNT_ONE, DEAD, Index, W, build_table


def digests(n: int, seed: int = 1) -> list[tuple[int, int]]:
    rnd = random.Random(seed)
    return [(rnd.getrandbits(64), rnd.getrandbits(64)) for _ in range(n)]


def check(index: Index, pid: int, present: dict[tuple[int, int], int]) -> None:
    assert index.entries(pid) == len(present)
    for (d0, d1), loc in present.items():
        j = index.find(pid, d0, d1)
        assert j >= 0 and index.ents[pid][j * W + 2] == loc
    tab = index.tabs[pid]
    assert tab[len(tab) - 1] == 0  # the sentinel that ends every probe
    slots = [s for s in tab if s]
    assert sorted(slots) == list(range(1, len(present) + 1))


def test_insert_find_remove_against_a_dict():
    index = Index()
    rnd = random.Random(7)
    present: dict[tuple[int, int], int] = {}
    keys = digests(3000)
    for step in range(12000):
        d0, d1 = rnd.choice(keys)
        j = index.find(9, d0, d1)
        assert (j >= 0) == ((d0, d1) in present)
        if j < 0:
            loc = step + 1
            index.insert(9, d0, d1, loc, 0, CNT_ONE)
            present[(d0, d1)] = loc
        elif rnd.random() < 0.6:
            index.remove(9, j)
            del present[(d0, d1)]
        if step % 1000 == 0:
            check(index, 9, present)
    check(index, 9, present)
    assert index.find(9, 1, 2) == -1 and index.find(10, *keys[0]) == -1


def test_colliding_home_slots_and_growth():
    index = Index()
    # Same low bits: every digest starts probing at the same slot.
    keys = [((i << 20) | 5, i) for i in range(500)]
    for i, (d0, d1) in enumerate(keys):
        index.insert(0, d0, d1, i, 0, 0)
    for i, (d0, d1) in enumerate(keys):
        assert index.ents[0][index.find(0, d0, d1) * W + 2] == i
    for d0, d1 in keys[::2]:
        index.remove(0, index.find(0, d0, d1))
    for i, (d0, d1) in enumerate(keys):
        assert (index.find(0, d0, d1) >= 0) == bool(i % 2)


def test_bulk_install_matches_inserts():
    keys = digests(5000, seed=3)
    ents = np.array([[d0, d1, i, 0, 0] for i, (d0, d1) in enumerate(keys)], dtype=np.uint64)
    index = Index()
    index.install(4, ents)
    check(index, 4, {k: i for i, k in enumerate(keys)})
    tab, cap = build_table(np.array([d0 for d0, _ in keys], dtype=np.uint64), 16)
    assert cap >= 5000 / 0.7 and tab.typecode == "H"


def test_copy_counts_saturate_into_extra():
    index = Index()
    j = index.insert(1, 11, 22, 0, 0, CNT_ONE | DEAD)
    for _ in range(CNT_MAX + 10):
        index.add_copy(1, j)
    assert index.copies(1, j) == CNT_MAX + 11
    assert index.drop_copy(1, j) == CNT_MAX + 10
    assert index.drop_copies(1, j, 20) == CNT_MAX - 10
    assert not index.extra
    assert index.ents[1][j * W + 4] & DEAD
    assert index.drop_copies(1, j, 1000) == 0


def test_memory_per_record_is_compact():
    index = Index()
    for pid, (d0, d1) in enumerate(digests(40000, seed=5)):
        index.insert(pid % 64, d0, d1, 1, 2, 3)
    per = (index.nbytes() - 4096 * 64) / 40000  # minus the empty partitions' array headers
    assert per < 64, per
