"""Keyspace notifications and client tracking in a real 3-node cluster: each node notifies
for the partitions it masters (as each Redis Cluster node does for its slots), and a
tracked key is invalidated whichever node the write came through (proxied to the master,
or replicated to a replica's copy)."""

from __future__ import annotations

import pytest
import redis
from redis.cache import CacheConfig
from redis.connection import CacheProxyConnection

from respike.keyspace import hash_slot

from .cluster import Cluster
from .helpers import RawClient, wait_until

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(3, "[namespaces.test]\nreplication-factor = 2\nnsup-period = 1\n").start()
    c.wait_migrated(c.nodes)
    yield c
    c.stop()


def _roles(cluster: Cluster, key: str):
    """(master, replica, neither) node processes of `key`'s slot, by CLUSTER SLOTS."""
    slot = hash_slot(key.encode())
    by_port = {p.port: p for p in cluster.nodes}
    for s in cluster.client(cluster.nodes[0]).execute_command("CLUSTER SLOTS"):
        if s[0] <= slot <= s[1]:
            master = by_port[s[2][1]]
            replicas = [by_port[r[1]] for r in s[3:]]
            other = [p for p in cluster.nodes if p is not master and p not in replicas]
            return master, replicas[0], other[0]
    raise AssertionError(f"slot {slot} not covered")


class Subscriber:
    """A RESP2 connection psubscribed to every notification of one key."""

    def __init__(self, proc, key: str):
        self.proc = proc
        self.conn = RawClient.to(proc)
        self.conn.call("PSUBSCRIBE", f"__keyspace@0__:{key}", "__keyevent@0__:*")
        assert self.conn.read()[0] == b"psubscribe"  # (the second pattern's confirmation)

    def events(self, quiet: float = 0.5) -> list[tuple[bytes, bytes]]:
        """Every message until none arrives for `quiet` seconds."""
        out = []
        while True:
            self.conn.sock.settimeout(quiet)
            try:
                m = self.conn.read()
            except TimeoutError:
                return out
            out.append((m[2], m[3]))

    def close(self) -> None:
        self.conn.close()


def _notify(cluster: Cluster, value: str) -> None:
    for p in cluster.nodes:
        cluster.client(p).config_set("notify-keyspace-events", value)


@pytest.fixture
def notifying(cluster):
    _notify(cluster, "KEA")
    yield
    _notify(cluster, "")


def test_notifications_come_from_the_master_only(cluster, notifying):
    key = "cn:set"
    master, replica, other = _roles(cluster, key)
    subs = {p.port: Subscriber(p, key) for p in cluster.nodes}
    try:
        writer = cluster.client(other)  # a plain connection: proxied to the master
        before = cluster.info(other)["client_proxy_complete"]
        assert writer.set(key, "v")
        assert writer.expire(key, 100)
        assert writer.delete(key) == 1
        assert cluster.info(other)["client_proxy_complete"] == before + 3
        expected = [
            (f"__keyspace@0__:{key}".encode(), b"set"),
            (b"__keyevent@0__:set", key.encode()),
            (f"__keyspace@0__:{key}".encode(), b"expire"),
            (b"__keyevent@0__:expire", key.encode()),
            (f"__keyspace@0__:{key}".encode(), b"del"),
            (b"__keyevent@0__:del", key.encode()),
        ]
        assert subs[master.port].events() == expected
        assert subs[replica.port].events() == []  # its copy changed: not an event here
        assert subs[other.port].events() == []  # only proxied
    finally:
        for s in subs.values():
            s.close()


def test_expiry_notified_by_the_master_only(cluster, notifying):
    key = "cn:ttl"
    master, replica, other = _roles(cluster, key)
    subs = {p.port: Subscriber(p, key) for p in cluster.nodes}
    try:
        assert cluster.client(other).set(key, "v", px=200)
        space, k = f"__keyspace@0__:{key}".encode(), key.encode()
        expected = [(space, b"set"), (b"__keyevent@0__:set", k)]
        expected += [(space, b"expire"), (b"__keyevent@0__:expire", k)]
        expected += [(space, b"expired"), (b"__keyevent@0__:expired", k)]
        got: list = []
        wait_until(
            lambda: got.extend(subs[master.port].events(0.2)) or len(got) >= len(expected),
            10,
            "the master's nsup to expire the key",
        )
        got += subs[master.port].events(1.5)  # nothing more (the replica's nsup runs too)
        assert got == expected
        assert subs[replica.port].events(0.2) == []
        assert subs[other.port].events(0.2) == []
        assert cluster.client(replica).exists(key) == 0
    finally:
        for s in subs.values():
            s.close()


def _invalidated(conn: RawClient, key: str, timeout: float = 5) -> None:
    conn.sock.settimeout(timeout)
    assert conn.read() == [b"invalidate", [key.encode()]]


@pytest.mark.parametrize("through", ["replica", "other"])
def test_tracked_on_master_invalidated_by_write_through_another_node(cluster, through):
    key = f"ct:m:{through}"
    master, replica, other = _roles(cluster, key)
    cluster.client(master).set(key, "1")
    with RawClient.to(master, proto=3) as c:
        assert c.call("CLIENT", "TRACKING", "ON") == b"OK"
        assert c.call("GET", key) == b"1"
        writer = cluster.client(replica if through == "replica" else other)
        assert writer.set(key, "2")
        _invalidated(c, key)
        assert c.call("GET", key) == b"2"  # (tracked again)
        assert writer.delete(key) == 1
        _invalidated(c, key)


def test_tracked_on_replica_invalidated_by_replicated_write(cluster):
    key = "ct:r"
    master, replica, other = _roles(cluster, key)
    cluster.client(master).set(key, "1")
    with RawClient.to(replica, proto=3) as c:
        assert c.call("READONLY") == b"OK"
        assert c.call("CLIENT", "TRACKING", "ON") == b"OK"
        before = cluster.info(replica)["client_proxy_complete"]
        assert c.call("GET", key) == b"1"  # the replica's own copy
        assert cluster.info(replica)["client_proxy_complete"] == before
        assert cluster.client(other).set(key, "2")  # proxied to the master, replicated here
        _invalidated(c, key)
        assert c.call("GET", key) == b"2"


def test_tracked_read_by_proxy_on_a_replica(cluster):
    """A plain connection on a replica: its read is proxied to the master, and the write
    that reaches the replica's copy invalidates the key."""
    key = "ct:p:replica"
    master, replica, other = _roles(cluster, key)
    cluster.client(master).set(key, "1")
    with RawClient.to(replica, proto=3) as c:
        assert c.call("CLIENT", "TRACKING", "ON") == b"OK"
        before = cluster.info(replica)["client_proxy_complete"]
        assert c.call("GET", key) == b"1"
        assert cluster.info(replica)["client_proxy_complete"] == before + 1
        c.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            c.read()  # tracked: nothing until the key changes
        assert cluster.client(other).set(key, "2")
        _invalidated(c, key)
        assert c.call("GET", key) == b"2"


def test_tracked_read_by_proxy_on_a_node_without_a_copy(cluster):
    """No copy of the key on this node: its changes never reach it, so the invalidation
    follows the proxied read's reply at once (the client must not cache the value)."""
    key = "ct:p:other"
    master, replica, other = _roles(cluster, key)
    cluster.client(master).set(key, "1")
    with RawClient.to(other, proto=3) as c:
        assert c.call("CLIENT", "TRACKING", "ON") == b"OK"
        assert c.call("GET", key) == b"1"
        _invalidated(c, key, timeout=0.5)
        assert c.call("CLIENT", "TRACKING", "OFF") == b"OK"
        assert c.call("CLIENT", "TRACKING", "ON", "OPTIN") == b"OK"
        assert c.call("GET", key) == b"1"  # not asked for: not tracked, no invalidation
        assert c.call("CLIENT", "CACHING", "YES") == b"OK"
        assert c.call("GET", key) == b"1"
        _invalidated(c, key, timeout=0.5)
        assert c.call("GET", key) == b"1"  # CACHING YES applied to one command only
        c.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            c.read()


@pytest.mark.parametrize("where", ["master", "replica", "other"])
def test_redis_py_client_side_cache(cluster, where, monkeypatch):
    """redis-py 8's client-side cache over RESP3 on each kind of node, the writes going
    through another node: a read after the write never answers the stale value.

    redis-py enables its cache only for servers answering version 7.4 or later; respike
    answers 7.2.0 (its API level), so the test lowers that gate (the client's caching and
    invalidation handling are redis-py's own, unchanged)."""
    monkeypatch.setattr(CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.2.0")
    key = f"ct:py:{where}"
    master, replica, other = _roles(cluster, key)
    cluster.client(master).set(key, "1")
    node = {"master": master, "replica": replica, "other": other}[where]
    writer = cluster.client(replica if where == "other" else other)
    cached = redis.Redis(
        host=node.host, port=node.port, protocol=3, cache_config=CacheConfig(), socket_timeout=5
    )
    try:
        assert cached.get(key) == b"1"
        assert cached.get(key) == b"1"
        if where != "other":
            assert cached.get_cache().size == 1  # the second read came from the cache
        assert writer.set(key, "2")
        wait_until(lambda: cached.get(key) == b"2", 5, "the cache to drop the stale value")
        assert writer.set(key, "3")
        wait_until(lambda: cached.get(key) == b"3", 5, "the cache to drop the stale value")
    finally:
        cached.close()
