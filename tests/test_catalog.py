"""The system-metadata catalog (engine/catalog.py) and its distribution
(cluster/metadata.py), without sockets: merging is order-independent, deletions win when
newer, entries persist in lmdb, and two nodes' sync messages make their catalogs equal."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from respike.cluster.messages import MetadataEntries, decode, encode
from respike.cluster.metadata import MetadataSync
from respike.engine.catalog import Catalog, Entry
from respike.engine.smd import SystemMetadata

changes = st.lists(
    st.tuples(
        st.sampled_from(["udf", "functions"]),
        st.sampled_from(["a", "b", "c"]),
        st.one_of(st.none(), st.binary(max_size=4)),
        st.integers(1, 20),
        st.integers(1, 3),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(changes, st.randoms())
def test_merging_in_any_order_gives_the_same_catalog(items, rnd):
    entries = [(m, k, Entry(v, stamp, origin)) for m, k, v, stamp, origin in items]
    one, two = Catalog(10), Catalog(11)
    one.merge(entries)
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    for entry in shuffled:  # one at a time, in another order
        two.merge([entry])
    assert one.entries == two.entries
    assert one.digest() == two.digest()


def test_local_changes_stamp_past_everything_seen_and_listeners_hear_changes():
    cat = Catalog(5, now_ms=lambda: 100)
    heard = []
    cat.listen("udf", lambda key, value: heard.append((key, value)))
    cat.merge([("udf", "a", Entry(b"x", 500, 9))])  # a peer's clock is ahead
    entry = cat.set("udf", "a", b"y")
    assert entry.stamp == 501 and entry.beats(Entry(b"x", 500, 9))
    assert cat.delete("udf", "a") and not cat.delete("udf", "a")
    assert cat.merge([("udf", "a", Entry(b"old", 400, 9))]) == 0  # older: ignored
    assert heard == [("a", b"x"), ("a", b"y"), ("a", None)]
    assert cat.items("udf") == {}


def test_entries_persist(tmp_path):
    smd = SystemMetadata(str(tmp_path))
    cat = Catalog(5, smd)
    cat.set("udf", "a.lua", b"src")
    cat.set("udf", "b.lua", b"src")
    cat.delete("udf", "b.lua")
    smd.close()
    smd = SystemMetadata(str(tmp_path))
    again = Catalog(5, smd)
    assert again.items("udf") == {"a.lua": b"src"}
    assert again.entries == cat.entries
    assert again.set("udf", "c.lua", b"").stamp > cat.last_stamp - 1
    smd.close()


def _deliver(sends, nodes: dict[int, MetadataSync], src: int) -> None:
    for send in sends:
        _, msg = decode(encode(send.msg, src))  # through the wire form
        assert isinstance(msg, MetadataEntries)
        nodes[send.dest].on_entries(msg)


def test_two_nodes_converge_through_changes_and_pulse_digests():
    a, b = MetadataSync(Catalog(1), 600), MetadataSync(Catalog(2), 600)
    nodes = {1: a, 2: b}
    a.catalog.set("udf", "x.lua", b"1")
    _deliver(a.tick([2]), nodes, 1)  # a change goes to the live peers at the next tick
    assert b.catalog.items("udf") == {"x.lua": b"1"}
    # b was away when a made more changes (lost messages): the digests differ, so each
    # sends the other its whole catalog once the pulses show it
    a.catalog.set("udf", "y.lua", b"2")
    a.tick([])
    b.catalog.set("functions", "lib", b"3")
    b.tick([])
    assert a.digest() != b.digest()
    _deliver(a.on_pulse(2, b.digest(), now=1000), nodes, 1)
    _deliver(b.on_pulse(1, a.digest(), now=1000), nodes, 2)
    assert a.catalog.entries == b.catalog.entries
    assert a.on_pulse(2, b.digest(), now=1001) == []  # equal now: nothing to send
    assert a.on_pulse(2, b"other", now=1200) == []  # and not again within resend_ms


def test_random_loss_still_converges():
    rnd = random.Random(7)
    nodes = {i: MetadataSync(Catalog(i), 100) for i in (1, 2, 3)}
    for step in range(200):
        node = rnd.choice(list(nodes.values()))
        node.catalog.set("udf", rnd.choice("abc"), rnd.choice([None, b"v%d" % step]))
        for nid, sync in nodes.items():
            peers = [p for p in nodes if p != nid]
            sends = sync.tick(peers) + [
                s for p in peers for s in sync.on_pulse(p, nodes[p].digest(), step * 50)
            ]
            _deliver([s for s in sends if rnd.random() < 0.5], nodes, nid)  # half are lost
    for step in range(200, 210):  # quiet: pulses repair what was lost
        for nid, sync in nodes.items():
            for p in nodes:
                if p != nid:
                    _deliver(sync.on_pulse(p, nodes[p].digest(), step * 50), nodes, nid)
    assert nodes[1].catalog.entries == nodes[2].catalog.entries == nodes[3].catalog.entries
