"""Pub/sub on a real 3-node cluster: a message published on any node reaches the
subscribers of every node exactly once, in publish order, and PUBLISH answers the
cluster-wide count; after kill -9 of a node the survivors' subscribers keep receiving;
shard channels live on their slot's master (MOVED elsewhere, SPUBLISH proxied for plain
connections) and a slot whose mastership moves away ends its subscriptions with a
`sunsubscribe` push."""

from __future__ import annotations

import time

import hiredis
import pytest
from redis.cluster import RedisCluster

from respike.cluster.messages import PubSubCount, PubSubPublish
from respike.cluster.pubsub_relay import WAIT_MS, PublishRelay
from respike.keyspace import hash_slot
from tests.test_pubsub import Conn, encode

from .cluster import Cluster

pytestmark = pytest.mark.timeout(300)
RF2 = "[namespaces.test]\nreplication-factor = 2\n"


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(3, RF2).start()
    c.wait_migrated(c.nodes)
    yield c
    c.stop()


def addr(proc) -> tuple[str, int]:
    return (proc.host, proc.port)


def parsed(frame: bytes):
    r = hiredis.Reader()
    r.feed(frame)
    return r.gets()


def message(proto: int, channel: bytes, payload: bytes, kind: bytes = b"message") -> bytes:
    head = b">3\r\n" if proto == 3 else b"*3\r\n"
    return head + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in (kind, channel, payload))


def test_publish_reaches_every_node_once_in_order(cluster):
    subs = []
    for proc in cluster.nodes:
        for proto in (2, 3):
            s = Conn(addr(proc), proto)
            s.send("SUBSCRIBE", "all")
            s.frames(1)
            subs.append(s)
    pattern = Conn(addr(cluster.nodes[1]), 3)
    pattern.send("PSUBSCRIBE", "a*")
    pattern.frames(1)
    n = 300
    try:
        for i, proc in enumerate(cluster.nodes):
            pub = Conn(addr(proc), 2)
            pub.sock.sendall(b"".join(encode("PUBLISH", "all", f"{i}:{k}") for k in range(n)))
            # the cluster-wide count: six channel subscribers and one pattern, on 3 nodes
            assert pub.frames(n) == [b":7\r\n"] * n
            pub.close()
            for s in subs:
                want = [message(s.proto, b"all", b"%d:%d" % (i, k)) for k in range(n)]
                assert s.frames(n) == want
            got = pattern.frames(n)
            assert [parsed(f)[3] for f in got] == [b"%d:%d" % (i, k) for k in range(n)]
        for s in subs + [pattern]:
            assert s.quiet() == b""  # exactly once
        pub = Conn(addr(cluster.nodes[2]), 3)
        pub.send("PUBLISH", "nobody", "x")
        assert pub.frames(1) == [b":0\r\n"]
        pub.close()
    finally:
        for s in subs + [pattern]:
            s.close()


def test_publish_from_a_script_reaches_every_node(cluster):
    """A script cannot wait for the other nodes' counts: it is told this node's (as Redis
    Cluster answers), and the message still reaches every node."""
    subs = []
    for proc in cluster.nodes:
        s = Conn(addr(proc), 3)
        s.send("SUBSCRIBE", "scripted")
        s.frames(1)
        subs.append(s)
    try:
        c = Conn(addr(cluster.nodes[0]), 2)
        c.send("EVAL", "return redis.call('publish', 'scripted', 'from lua')", "0")
        assert c.frames(1) == [b":1\r\n"]
        c.close()
        for s in subs:
            assert s.frames(1) == [message(3, b"scripted", b"from lua")]
    finally:
        for s in subs:
            s.close()


def master_of(cluster, channel: bytes):
    """The node that masters `channel`'s slot (from CLUSTER SLOTS)."""
    c = Conn(addr(cluster.nodes[0]), 2)
    try:
        c.send("CLUSTER", "SLOTS")
        slots = parsed(c.frames(1)[0])
    finally:
        c.close()
    slot = hash_slot(channel)
    for start, end, master, *_ in slots:
        if start <= slot <= end:
            host, port = master[0].decode(), master[1]
            return next(p for p in cluster.nodes if (p.host, p.port) == (host, port))
    raise AssertionError(f"no master for slot {slot}")


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
def test_sharded_pubsub(cluster, proto):
    channel = f"orders{proto}".encode()
    master = master_of(cluster, channel)
    others = [p for p in cluster.nodes if p is not master]
    slot = hash_slot(channel)
    elsewhere = Conn(addr(others[0]), proto)
    sub = Conn(addr(master), proto)
    try:
        # not on a node that does not master the slot, plain or cluster-aware
        elsewhere.send("SSUBSCRIBE", channel)
        assert elsewhere.frames(1) == [
            b"-MOVED %d %s:%d\r\n" % (slot, master.host.encode(), master.port)
        ]
        elsewhere.send("SSUBSCRIBE", "a", "b")
        assert elsewhere.frames(1)[0].startswith(b"-CROSSSLOT")
        sub.send("SSUBSCRIBE", channel)
        assert parsed(sub.frames(1)[0]) == [b"ssubscribe", channel, 1]
        # a plain connection's SPUBLISH elsewhere is proxied to the master
        elsewhere.send("SPUBLISH", channel, "p1")
        assert elsewhere.frames(1) == [b":1\r\n"]
        assert sub.frames(1) == [message(proto, channel, b"p1", b"smessage")]
        # a cluster-aware one is redirected
        elsewhere.send("READWRITE")
        elsewhere.frames(1)
        elsewhere.send("SPUBLISH", channel, "p2")
        assert elsewhere.frames(1)[0].startswith(b"-MOVED %d " % slot)
        local = Conn(addr(master), proto)
        local.send("SPUBLISH", channel, "p3")
        assert local.frames(1) == [b":1\r\n"]
        local.send("PUBSUB", "SHARDNUMSUB", channel)
        assert parsed(local.frames(1)[0]) == [channel, 1]
        local.close()
        assert sub.frames(1) == [message(proto, channel, b"p3", b"smessage")]
        # PUBLISH does not reach shard subscribers
        elsewhere.send("PUBLISH", channel, "plain")
        assert elsewhere.frames(1) == [b":0\r\n"]
        assert sub.quiet() == b""
        sub.send("SUNSUBSCRIBE")
        assert parsed(sub.frames(1)[0]) == [b"sunsubscribe", channel, 0]
    finally:
        sub.close()
        elsewhere.close()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_redis_py_cluster_pubsub(cluster, protocol):
    """redis-py's RedisCluster: PUBLISH from the cluster client reaches a subscriber on
    whichever node its PubSub picked; shard channels of several slots, each on its master."""
    a = cluster.nodes[0]
    rc = RedisCluster(host=a.host, port=a.port, protocol=protocol)
    p = rc.pubsub()
    try:
        p.subscribe("rp:plain")
        assert _next(p.get_message)["type"] == "subscribe"
        assert rc.publish("rp:plain", "one") == 1
        assert _next(p.get_message)["data"] == b"one"
        channels = [f"rp:shard{i}" for i in range(6)]
        assert len({master_of(cluster, c.encode()).port for c in channels}) > 1
        p.ssubscribe(*channels)
        got = [_next(p.get_sharded_message) for _ in channels]
        assert sorted(m["channel"] for m in got) == sorted(c.encode() for c in channels)
        for c in channels:
            assert rc.spublish(c, f"to {c}") == 1
        got = [_next(p.get_sharded_message) for _ in channels]
        assert sorted((m["channel"], m["data"]) for m in got) == sorted(
            (c.encode(), f"to {c}".encode()) for c in channels
        )
    finally:
        p.close()
        rc.close()


def _next(get, timeout: float = 10):
    """The next message a redis-py PubSub getter returns (None while none is there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = get(timeout=0.2)
        if m is not None:
            return m
    raise AssertionError("no message")


def test_moved_slot_ends_shard_subscriptions(cluster):
    """Quiescing a node hands off mastership of all its slots: each of its shard
    subscribers gets a `sunsubscribe` push, then subscribes again on the new master."""
    victim = cluster.nodes[2]
    channels = [c for c in (b"ch%d" % i for i in range(200)) if master_of(cluster, c) is victim]
    channels = channels[:5]
    assert channels
    subs = []
    for i, ch in enumerate(channels):
        s = Conn(addr(victim), 2 + i % 2)
        s.send("SSUBSCRIBE", ch)
        assert parsed(s.frames(1)[0]) == [b"ssubscribe", ch, 1]
        subs.append(s)
    admin = Conn(addr(victim), 2)
    try:
        admin.send("AS.QUIESCE")
        assert admin.frames(1) == [b"+OK\r\n"]
        for s, ch in zip(subs, channels, strict=True):
            s.sock.settimeout(60)
            assert parsed(s.frames(1)[0]) == [b"sunsubscribe", ch, 0]
        for ch in channels:
            new = master_of(cluster, ch)
            assert new is not victim
            s = Conn(addr(new), 3)
            s.send("SSUBSCRIBE", ch)
            assert parsed(s.frames(1)[0]) == [b"ssubscribe", ch, 1]
            p = Conn(addr(victim), 2)  # plain: proxied to the new master
            p.send("SPUBLISH", ch, "after")
            assert p.frames(1) == [b":1\r\n"]
            assert s.frames(1) == [message(3, ch, b"after", b"smessage")]
            p.close()
            s.close()
    finally:
        admin.send("AS.QUIESCE", "UNDO")
        admin.frames(1)
        admin.close()
        for s in subs:
            s.close()


def test_survivors_keep_receiving_after_kill_9():
    c = Cluster(3, RF2).start()
    try:
        c.wait_migrated(c.nodes)
        survivors = [c.nodes[0], c.nodes[2]]
        subs = [Conn(addr(p), 3) for p in survivors]
        for s in subs:
            s.send("SUBSCRIBE", "news")
            s.frames(1)
        c.nodes[1].kill()
        pub = Conn(addr(survivors[0]), 2)
        for k in range(20):  # while the dead node is still in the view, then after
            pub.send("PUBLISH", "news", str(k))
            assert pub.frames(1) == [b":2\r\n"]  # the dead node counts 0
            for s in subs:
                assert s.frames(1) == [message(3, b"news", str(k).encode())]
        c.wait_formed(survivors, 30)
        other = Conn(addr(survivors[1]), 2)
        other.send("PUBLISH", "news", "after")
        assert other.frames(1) == [b":2\r\n"]
        for s in subs:
            assert s.frames(1) == [message(3, b"news", b"after")]
        for s in subs + [pub, other]:
            s.close()
    finally:
        c.stop()


def test_relay_counts_peers_that_answer_in_time():
    """The relay's bookkeeping on its own (sans I/O): answers are summed; a peer that does
    not answer within the wait counts 0, as does one that leaves the view; a late answer
    changes nothing."""
    relay = PublishRelay()
    txn, sends = relay.start(b"ch", b"m", 2, [7, 8, 9], now=1000)
    assert sorted(s.dest for s in sends) == [7, 8, 9]
    assert {s.msg for s in sends} == {PubSubPublish(txn, b"ch", b"m")}
    relay.on_count(7, PubSubCount(txn, 3))
    relay.on_count(7, PubSubCount(txn, 3))  # twice from one peer: counted once
    relay.on_count(5, PubSubCount(txn, 100))  # not asked
    assert relay.take_done() == []
    relay.tick(1000 + WAIT_MS - 1)
    assert relay.take_done() == []
    relay.tick(1000 + WAIT_MS)
    assert [(d.txn, d.receivers) for d in relay.take_done()] == [(txn, 5)]
    relay.on_count(8, PubSubCount(txn, 4))  # too late
    assert relay.take_done() == []

    txn2, _ = relay.start(b"ch", b"m", 1, [7, 8], now=2000)
    relay.on_count(8, PubSubCount(txn2, 2))
    relay.forget({8})  # 7 left the view
    assert [(d.txn, d.receivers) for d in relay.take_done()] == [(txn2, 3)]

    txn3, sends = relay.start(b"ch", b"m", 4, [], now=3000)  # alone: at once
    assert sends == []
    assert [(d.txn, d.receivers) for d in relay.take_done()] == [(txn3, 4)]
