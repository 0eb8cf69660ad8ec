"""The device engine in one process: restarts, tombstones through defrag, expiry, checkpoints.

These drive `Namespace` + `DeviceStorage` directly (no sockets) to reach states that are
slow to produce through a server: blocks defragmented in a chosen order, a tombstone whose
block is erased before the older copy's, a checkpoint made stale by a later write.
"""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respike.config import ConfigError, build_config
from respike.engine.device.format import RECORD_SIZE, padded
from respike.engine.device.index import DEAD, TOMB
from respike.engine.device.scan import build
from respike.engine.device.storage import B_SEALED, DeviceStorage, _digest_groups
from respike.engine.engine import Engine
from respike.engine.namespace import DEFAULT
from respike.engine.record import HASH, STRING, pack_value

pytestmark = pytest.mark.timeout(60)

SETTINGS = {
    "storage-engine": "device",
    "file-size": "2M",
    "write-block-size": "64K",
    "max-record-size": "32K",
    "nsup-period": 1,
    "defrag-lwm-pct": 0,  # these tests choose what to defragment
    "stop-writes-used-pct": 0,
}


class Node:
    """An engine whose device namespace is opened and closed like a node's."""

    def __init__(self, data_dir: str, **settings):
        values = dict(SETTINGS, **settings)
        self.config = build_config({"namespaces": {"test": values}}, {"data-dir": data_dir})
        self.engine = Engine(self.config)
        self.ns = self.engine.namespaces[b"test"]
        self.dev: DeviceStorage = self.ns.storage  # type: ignore[assignment]

    async def __aenter__(self):
        await self.dev.start()
        return self

    async def __aexit__(self, *exc):
        self.engine.waits.clear()

    def set(self, key: bytes, value: bytes, void: int = DEFAULT) -> None:
        self.ns.write(key, self.ns.get(key), STRING, value, len(value), void)

    def get(self, key: bytes) -> bytes | None:
        rec = self.ns.get(key)
        return None if rec is None else rec.value

    def seal(self) -> int:
        """Close the current write block; returns its number."""
        g = self.dev.buf_g
        self.dev._seal()
        return g

    def block_of(self, key: bytes) -> int:
        dev = self.dev
        c = dev._resolve(key)
        pid, j = c.pid, c.j
        loc = dev.index.ents[pid][j * 5 + 2]
        return (loc & ((1 << 40) - 1)) >> dev.ushift


def run(coro):
    return asyncio.run(coro)


def test_values_restart_through_checkpoint_and_scan(tmp_path):
    data = str(tmp_path)

    async def write():
        async with Node(data) as n:
            n.set(b"a", b"1")
            n.set(b"test:users:1", b"ann")
            n.ns.write(b"h", None, HASH, {b"f": b"v", b"n": 7}, 10)
            n.set(b"a", b"2")
            n.ns.delete(b"test:users:1")
            n.dev.close()

    async def check(mode):
        async with Node(data) as n:
            assert n.dev.start_mode == mode
            assert n.get(b"a") == b"2"
            assert n.get(b"h") == {b"f": b"v", b"n": 7}
            assert n.get(b"test:users:1") is None
            assert n.ns.count() == 2 and n.ns.set_objects == {}
            assert n.ns.get(b"a").gen == 2
            n.dev.close(checkpoint=False)

    run(write())
    run(check("checkpoint"))  # the clean close above wrote a checkpoint
    run(check("scan"))  # ... that was used once and deleted; this close wrote none


def test_tombstone_outlives_defrag_of_its_block(tmp_path):
    """A deleted record must not come back when the tombstone's block is defragmented
    while the block with the older copy still exists."""
    data = str(tmp_path)

    async def scenario():
        async with Node(data) as n:
            n.set(b"victim", b"old")
            for i in range(20):
                n.set(b"keep%d" % i, b"x" * 100)
            a = n.seal()
            n.ns.delete(b"victim")
            n.set(b"filler", b"y")
            b = n.seal()
            assert a != b
            await n.dev.defrag_block(b)  # the tombstone (2 copies) moves on
            assert n.dev.state[b] == 0
            n.dev.close(checkpoint=False)
        async with Node(data) as n:
            assert n.dev.start_mode == "scan"
            assert n.get(b"victim") is None and n.get(b"keep3") == b"x" * 100
            assert n.dev.index.dead == 1
            # Once the old copy's block is erased too, nothing is left to mask.
            for i in range(20):
                n.set(b"keep%d" % i, b"z")
            n.seal()
            await n.dev.defrag_block(a)
            g = n.block_of(b"filler")
            n.seal()
            await n.dev.defrag_block(g)
            assert n.dev.index.dead == 0
            n.dev.close(checkpoint=False)
        async with Node(data) as n:
            assert n.get(b"victim") is None and n.get(b"keep3") == b"z"
            n.dev.close()

    run(scenario())


def test_overwrites_not_yet_handed_to_the_device_rewrite_their_copy(tmp_path):
    """A key overwritten while its copy is still in the open buffer, unwritten, keeps that
    one copy (same padded size); a copy handed to the writer is never touched again. The
    copy count, restarts (checkpoint and scan) and defrag all see the newest value."""
    data = str(tmp_path)
    long_, short = b"v" * 6, b"v" * 5  # both pad to one size (checked below)
    assert len({padded(RECORD_SIZE + 3 + len(pack_value(STRING, v))) for v in (long_, short)}) == 1

    def copies(n: Node, key: bytes) -> int:
        c = n.dev._resolve(key)
        pid, j = c.pid, c.j
        return n.dev.index.copies(pid, j)

    async def write():
        async with Node(data) as n:
            dev = n.dev
            n.set(b"hot", long_)
            n.set(b"nxt", b"neighbour")
            end, used = dev.wpos, dev.used
            for i in range(29):
                n.set(b"hot", short if i % 2 else long_)
            n.set(b"hot", short)  # shorter than the copy it overwrites, in the same padded size
            assert (dev.wpos, dev.used, dev.st.buffer_rewrites) == (end, used, 30)
            assert n.get(b"hot") == short and n.ns.get(b"hot").gen == 31 and copies(n, b"hot") == 1
            n.set(b"hot", b"a value that pads to another size")  # appended
            assert dev.wpos > end and copies(n, b"hot") == 2
            await dev.barrier()  # written and synced: the next overwrite appends
            end = dev.wpos
            n.set(b"hot", b"a value that pads to another sizf")
            assert dev.wpos > end and dev.st.buffer_rewrites == 30 and copies(n, b"hot") == 3
            n.set(b"hot", b"a value that pads to another sizg")  # this one is not written yet
            assert copies(n, b"hot") == 3
            dev.close()

    async def check(mode: str, expect: bytes, count: int, defrag: bool = False):
        async with Node(data) as n:
            assert n.dev.start_mode == mode
            assert n.get(b"hot") == expect and n.get(b"nxt") == b"neighbour"
            assert n.ns.get(b"hot").gen == 34 and copies(n, b"hot") == count
            if defrag:  # the block with every copy goes; the current one moves on
                g = n.block_of(b"hot")
                n.seal()
                await n.dev.defrag_block(g)
                assert copies(n, b"hot") == 1 and n.dev.state[g] == 0
            n.dev.close(checkpoint=defrag)

    run(write())
    run(check("checkpoint", b"a value that pads to another sizg", 3))
    run(check("scan", b"a value that pads to another sizg", 3, defrag=True))
    run(check("checkpoint", b"a value that pads to another sizg", 1))


def test_expired_copy_masks_older_copies(tmp_path):
    """An expired record is dropped without a write; its copy keeps older ones dead,
    and defrag carries it while they exist."""
    data = str(tmp_path)

    async def scenario():
        async with Node(data) as n:
            n.set(b"k", b"forever")
            for i in range(10):
                n.set(b"other%d" % i, b"o" * 200)
            a = n.seal()
            now = n.ns.clock()
            n.set(b"k", b"brief", now + 50)
            n.set(b"x", b"x")
            b = n.seal()
            await asyncio.sleep(0.08)
            n.ns.clock()
            assert n.get(b"k") is None  # expired: removed without a tombstone
            assert n.dev.st.expired_unwritten == 1 and n.dev.st.tombstones_written == 0
            await n.dev.defrag_block(b)  # the expired copy moves: an older one exists
            n.dev.close(checkpoint=False)
        async with Node(data) as n:
            assert n.get(b"k") is None and n.dev.state[a] == B_SEALED
            n.dev.close()

    run(scenario())


def test_recreate_after_delete_wins_over_tombstone(tmp_path):
    data = str(tmp_path)

    async def scenario():
        async with Node(data) as n:
            for v in (b"1", b"2", b"3"):
                n.set(b"k", v)
            n.ns.delete(b"k")
            n.set(b"k", b"again")
            assert n.ns.get(b"k").gen == 1
            n.dev.close(checkpoint=False)
        async with Node(data) as n:
            assert n.get(b"k") == b"again"
            n.dev.close()

    run(scenario())


def test_truncate_points_hold_at_cold_start(tmp_path):
    data = str(tmp_path)

    async def scenario():
        async with Node(data) as n:
            n.set(b"test:s1:a", b"1")
            n.set(b"test:s2:a", b"2")
            n.ns.truncate(b"s1")
            await asyncio.gather(*n.engine.waits)
            n.set(b"test:s1:b", b"new")
            n.dev.close(checkpoint=False)
        async with Node(data) as n:
            assert n.get(b"test:s1:a") is None
            assert n.get(b"test:s1:b") == b"new" and n.get(b"test:s2:a") == b"2"
            assert n.ns.set_objects == {b"s1": 1, b"s2": 1}
            n.ns.truncate()
            assert n.ns.count() == 0 and n.get(b"test:s2:a") is None
            await asyncio.gather(*n.engine.waits)
            n.dev.close(checkpoint=False)
        async with Node(data) as n:
            assert n.ns.count() == 0
            n.dev.close()

    run(scenario())


def test_stale_or_damaged_checkpoint_falls_back_to_scan(tmp_path):
    data = str(tmp_path)

    async def scenario():
        async with Node(data) as n:
            n.set(b"a", b"1")
            n.dev.close()
        # The file changes after the checkpoint (another tool, a restored backup...).
        path = os.path.join(data, "test.dat")
        os.utime(path, ns=(1, 1))
        async with Node(data) as n:
            assert n.dev.start_mode == "scan" and n.get(b"a") == b"1"
            n.dev.close()
        # A damaged checkpoint part.
        from respike.engine.smd import open_smd, release_smd

        smd = open_smd(data)
        parts = smd.read_checkpoint("test")
        parts[b"p000"] = b"\x00" + parts[b"p000"][1:]
        smd.write_checkpoint("test", parts)
        release_smd(smd)
        async with Node(data) as n:
            assert n.dev.start_mode == "scan" and n.get(b"a") == b"1"
            n.dev.close()

    run(scenario())


def test_refuses_files_of_another_namespace_or_layout(tmp_path):
    data = str(tmp_path)

    async def make():
        async with Node(data) as n:
            n.dev.close()

    run(make())
    os.rename(os.path.join(data, "test.dat"), os.path.join(data, "other.dat"))
    with pytest.raises(ConfigError, match="belongs to namespace 'test', not 'other'"):
        config = build_config({"namespaces": {"other": SETTINGS}}, {"data-dir": data})
        Engine(config).namespaces[b"other"].storage.open()
    os.rename(os.path.join(data, "other.dat"), os.path.join(data, "test.dat"))
    with pytest.raises(ConfigError, match="write-block-size"):
        Node(data, **{"write-block-size": "128K"}).dev.open()


def test_sweep_reads_only_candidates(tmp_path):
    data = str(tmp_path)

    async def scenario():
        async with Node(data) as n:
            now = n.ns.clock()
            for i in range(300):
                n.set(b"k%d" % i, b"v", now + 30 if i % 3 == 0 else 0)
            await asyncio.sleep(0.05)
            n.dev.st.file_reads = 0
            removed = list(n.ns.sweep(n.ns.clock()))[-1]
            assert removed == 100 and n.ns.count() == 200
            assert n.ns.stats.expired_objects == 100
            ents = [n.dev.index.ents[p] for p in range(4096)]
            assert sum(1 for e in ents for k in range(4, len(e), 5) if e[k] & DEAD) == 100
            n.dev.close()

    run(scenario())


def test_device_settings_are_checked_together(tmp_path):
    base = {"storage-engine": "device", "write-block-size": "128K", "max-record-size": "64K"}

    def build(**spaces):
        return build_config({"namespaces": spaces}, {"data-dir": str(tmp_path)})

    with pytest.raises(ConfigError, match="multiple of 'write-block-size'"):
        build(a=dict(base, **{"file-size": "10000000"}))
    with pytest.raises(ConfigError, match="same file twice"):
        build(a=dict(base, file=["x.dat", "x.dat"]))
    with pytest.raises(ConfigError, match="also a file of namespace 'a'"):
        build(a=dict(base, file=["x.dat"]), b=dict(base, file=["x.dat"]))
    with pytest.raises(ConfigError, match="max-record-size"):
        build(a=dict(base, **{"max-record-size": "1M"}))
    build(a=dict(base), b=dict(base))  # a.dat and b.dat


def test_replica_writes_leave_no_waits_for_client_commands(tmp_path):
    """A replicated or migrated copy written to a commit-to-device namespace holds no client
    reply: the sync it asks for must not be left in Engine.waits for the next command."""
    from respike.cluster.engine_store import EngineStore
    from respike.cluster.records import RecordCopy
    from respike.engine.record import pack_value
    from respike.keyspace import partition_of

    async def main():
        async with Node(str(tmp_path), **{"commit-to-device": True}) as n:
            store = EngineStore(n.engine)
            for i in range(3):
                key = b"k%d" % i
                store.put_copy(
                    "test",
                    partition_of(key),
                    key,
                    RecordCopy(STRING, pack_value(STRING, b"v"), 1, 0, 1000 + i),
                )
            assert list(n.engine.waits) == [] and not n.engine.waits.throttle
            assert n.get(b"k2") == b"v"

    run(main())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 2)), max_size=60))
def test_digest_groups_finds_each_digests_last_copy_and_count(records):
    """Defrag's grouping of a block's records by digest, against a plain Python reference
    (few distinct values, so digests repeat and differ in only one part)."""
    pid = np.array([r[0] for r in records], dtype="<u2")
    d0 = np.array([r[1] << 62 for r in records], dtype="<u8")
    d1 = np.array([r[2] for r in records], dtype="<u8")
    expect: dict[tuple[int, int, int], list[int]] = {}
    for i, (p, a, b) in enumerate(records):
        expect.setdefault((p, a << 62, b), [0, 0])[0] = i
        expect[(p, a << 62, b)][1] += 1
    last, pids, d0s, d1s, counts = _digest_groups(pid, d0, d1)
    got = {(p, a, b): [i, c] for i, p, a, b, c in zip(last, pids, d0s, d1s, counts, strict=True)}
    assert got == expect and list(zip(pids, d0s, d1s, strict=True)) == sorted(expect)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.booleans()),
        min_size=1,
        max_size=60,
    )
)
def test_cold_start_index_keeps_each_digests_newest_copy(copies):
    """The cold start's index build from record copies listed oldest first, against a plain
    Python reference: few distinct values, so digests repeat, and some share their
    partition and first 64 bits but not the rest (the build's fallback grouping)."""
    n = len(copies)
    cols = {
        "pid": [np.array([c[0] for c in copies], dtype=np.uint16)],
        "d0": [np.array([c[1] << 62 for c in copies], dtype=np.uint64)],
        "d1": [np.array([c[2] for c in copies], dtype=np.uint64)],
        "loc": [np.array([i | 1 << 40 for i in range(n)], dtype=np.uint64)],  # copy i at unit i
        "m1": [np.array([1 | (1000 + i) << 16 for i in range(n)], dtype=np.uint64)],
        "m2": [np.array([TOMB if c[3] else 0 for c in copies], dtype=np.uint64)],
        "lsize": [np.full(n, 10, dtype=np.uint32)],
    }
    expect: dict[tuple[int, int, int], list[int]] = {}
    for i, (p, a, b, _) in enumerate(copies):
        expect.setdefault((p, a << 62, b), [0, 0])[0] = i
        expect[(p, a << 62, b)][1] += 1
    res = build(cols, 4, 1 << 20, lambda sids: np.zeros(len(sids), dtype=np.uint64), 0)
    got = {}
    for p in range(4096):
        ent = res.index.ents[p]
        for k in range(0, len(ent), 5):
            assert res.index.find(p, ent[k], ent[k + 1]) == k // 5
            got[(p, ent[k], ent[k + 1])] = [ent[k + 2] & ((1 << 40) - 1), ent[k + 4] >> 56]
    assert got == expect
    newest_alive = [i for i, c in expect.values() if not copies[i][3]]
    assert res.index.live == len(newest_alive) and res.index.dead == len(expect) - len(newest_alive)
    assert res.used_bytes == 10 * len(newest_alive)
