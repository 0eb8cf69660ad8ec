"""Client-side caching (CLIENT TRACKING) against a real node: raw RESP3 pushes and RESP2 REDIRECT to a `__redis__:invalidate`
subscriber compared frame by frame with redis-server, BCAST prefixes, OPTIN, NOLOOP,
flushes, expiry, and Redis's errors."""

from __future__ import annotations

import socket

import hiredis
import pytest
import redis

from respike.process import NodeProcess
from tests.helpers import encode, namespace_stats, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def servers(redis_server):
    proc = NodeProcess(config="[namespaces.test]\nnsup-period = 1\n").start()
    yield {"respike": (proc.host, proc.port), "redis": redis_server}
    proc.cleanup()


class Conn:
    """A raw connection reading parsed frames (pushes included)."""

    def __init__(self, addr, proto: int):
        self.sock = socket.create_connection(addr, timeout=5)
        self.reader = hiredis.Reader()
        if proto == 3:
            self.call("HELLO", "3")

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.next()

    def next(self, timeout: float = 5):
        self.sock.settimeout(timeout)
        while True:
            got = self.reader.gets()
            if got is not False:
                return got
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("closed")
            self.reader.feed(data)

    def quiet(self, wait: float = 0.3) -> bool:
        try:
            self.next(wait)
        except TimeoutError:
            return True
        return False

    def close(self):
        self.sock.close()


def _both(servers, script):
    """The script's results on both servers (error replies as their text)."""
    return [_plain(script(servers[name])) for name in ("respike", "redis")]


def _plain(value):
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Exception):
        return f"error: {value}"
    return value


def _resp3_default(addr):
    c, w = Conn(addr, 3), Conn(addr, 2)
    try:
        w.call("DEL", "t:a", "t:b")
        got = [
            c.call("CLIENT", "TRACKING", "ON"),
            c.call("GET", "t:a"),
            c.call("MGET", "t:a", "t:b"),
        ]
        w.call("SET", "t:a", "1")
        got.append(c.next())  # the invalidation push
        w.call("SET", "t:a", "2")  # not read again: no second push
        got.append(c.quiet())
        got.append(c.call("GET", "t:b"))
        w.call("SET", "t:b", "x")
        got.append(c.next())
        got.append(c.call("CLIENT", "TRACKINGINFO"))
        got.append(c.call("CLIENT", "GETREDIR"))
        w.call("SET", "t:a", "3")
        c.call("GET", "t:a")
        c.sock.sendall(encode("SET", "t:a", "4"))  # its own write: reply, then the push
        got.append([c.next(), c.next()])
        return got
    finally:
        c.close()
        w.close()


def test_resp3_invalidations_match_redis(servers):
    mine, ref = _both(servers, _resp3_default)
    assert mine == ref
    assert [b"invalidate", [b"t:a"]] in mine


def _resp2_redirect(addr):
    sub, c, w = Conn(addr, 2), Conn(addr, 2), Conn(addr, 2)
    try:
        sub_id = sub.call("CLIENT", "ID")
        got = [sub.call("SUBSCRIBE", "__redis__:invalidate")]
        got.append(c.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(sub_id)))
        got.append(c.call("CLIENT", "GETREDIR") == sub_id)
        c.call("GET", "t:r")
        w.call("SET", "t:r", "1")
        got.append(sub.next())
        c.call("GET", "t:r")
        w.call("FLUSHALL")
        got.append(sub.next())
        flags = [f for f in c.call("CLIENT", "INFO").split() if f.startswith(b"flags=")]
        got.append(flags)
        sub.close()
        c.call("GET", "t:r")
        w.call("SET", "t:r", "2")
        wait_until(lambda: b"R" in c.call("CLIENT", "INFO").split(b"flags=")[1][:4], 5, "R")
        got.append(c.call("CLIENT", "TRACKINGINFO")[1])
        return got
    finally:
        c.close()
        w.close()


def test_resp2_redirect_to_subscriber_matches_redis(servers):
    mine, ref = _both(servers, _resp2_redirect)
    assert mine == ref
    assert [b"message", b"__redis__:invalidate", [b"t:r"]] in mine


def _bcast(addr):
    c, w = Conn(addr, 3), Conn(addr, 2)
    try:
        got = [c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "t:u:", "PREFIX", "t:v:")]
        got.append(c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "t:u:x"))
        got.append(c.call("CLIENT", "TRACKINGINFO"))
        w.call("SET", "t:u:1", "a")
        got.append(c.next())
        w.call("SET", "t:other", "a")
        got.append(c.quiet())
        got.append(c.call("CLIENT", "TRACKING", "ON", "NOLOOP"))
        return got
    finally:
        c.close()
        w.close()


def test_bcast_prefixes_match_redis(servers):
    mine, ref = _both(servers, _bcast)
    assert mine == ref


def _optin_noloop(addr):
    c, w = Conn(addr, 3), Conn(addr, 2)
    try:
        got = [c.call("CLIENT", "TRACKING", "ON", "OPTIN", "NOLOOP")]
        c.call("GET", "t:o1")  # not cached: no CACHING YES before it
        got.append(c.call("CLIENT", "CACHING", "YES"))
        got.append(c.call("CLIENT", "TRACKINGINFO"))
        c.call("GET", "t:o2")
        w.call("SET", "t:o1", "1")
        w.call("SET", "t:o2", "1")
        got.append(c.next())
        c.call("CLIENT", "CACHING", "YES")
        c.call("GET", "t:o2")
        got.append(c.call("SET", "t:o2", "2"))  # NOLOOP: its own write tells it nothing
        got.append(c.quiet())
        return got
    finally:
        c.close()
        w.close()


def test_optin_and_noloop_match_redis(servers):
    mine, ref = _both(servers, _optin_noloop)
    assert mine == ref


ERRORS = [
    ("CLIENT", "TRACKING", "ON", "PREFIX", "x"),
    ("CLIENT", "TRACKING", "ON", "REDIRECT", "999999"),
    ("CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"),
    ("CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"),
    ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "abc"),
    ("CLIENT", "TRACKING", "MAYBE"),
    ("CLIENT", "TRACKING", "ON", "FOO"),
    ("CLIENT", "CACHING", "YES"),
]


def _errors(addr):
    c = Conn(addr, 3)
    try:
        got = [c.call(*cmd) for cmd in ERRORS]
        c.call("CLIENT", "TRACKING", "ON", "OPTIN")
        got += [c.call("CLIENT", "CACHING", "NO"), c.call("CLIENT", "TRACKING", "ON", "OPTOUT")]
        got.append(c.call("CLIENT", "TRACKING", "ON", "BCAST"))
        got.append(c.call("CLIENT", "TRACKING", "OFF"))
        got.append(c.call("CLIENT", "TRACKINGINFO"))
        return [str(x) for x in got]
    finally:
        c.close()


def test_errors_match_redis(servers):
    mine, ref = _both(servers, _errors)
    assert mine == ref


def test_expiry_invalidates(servers):
    c, w = Conn(servers["respike"], 3), Conn(servers["respike"], 2)
    try:
        w.call("SET", "t:ttl", "v", "PX", "200")
        c.call("CLIENT", "TRACKING", "ON")
        assert c.call("GET", "t:ttl") == b"v"
        assert c.next(5) == [b"invalidate", [b"t:ttl"]]  # nsup removed it
    finally:
        c.close()
        w.close()


def test_eviction_invalidates(start_node):
    """A tracked key the evictor removes (above evict-used-pct) is invalidated; a tracked
    key that stays is not."""
    node = start_node(
        "[namespaces.test]\nnsup-period = 1\nmemory-size = '64K'\nevict-used-pct = 40\n"
        "stop-writes-used-pct = 90\nevict-tenths-pct = 500\n"
    )
    addr = (node.host, node.port)
    c, w = Conn(addr, 3), Conn(addr, 2)
    try:
        assert c.call("CLIENT", "TRACKING", "ON") == b"OK"
        w.call("SET", "first", "x" * 400, "EX", "1000")  # the soonest to expire: evicted
        w.call("SET", "kept", "x" * 400)  # no TTL: never evicted
        assert c.call("MGET", "first", "kept") == [b"x" * 400] * 2
        for i in range(100):
            w.call("SET", f"fill{i:03d}", "x" * 400, "EX", str(2000 + i))
        assert c.next(15) == [b"invalidate", [b"first"]]
        wait_until(lambda: w.call("EXISTS", "first") == 0, 5, "first evicted")
        stats = redis.Redis(*addr)
        assert int(namespace_stats(stats)["evicted_objects"]) > 0
        stats.close()
        assert w.call("EXISTS", "kept") == 1
        assert c.quiet(1.5)  # (eviction goes on with the fill keys, not tracked)
    finally:
        c.close()
        w.close()


def test_truncate_invalidates(start_node):
    """AS.TRUNCATE sends every tracking connection a null key list (all keys), as FLUSHALL."""
    node = start_node("[namespaces.test]\n")
    addr = (node.host, node.port)
    c, w = Conn(addr, 3), Conn(addr, 2)
    try:
        assert c.call("CLIENT", "TRACKING", "ON") == b"OK"
        w.call("SET", "test:users:a", "1")
        assert c.call("GET", "test:users:a") == b"1"
        assert w.call("AS.TRUNCATE", "test", "users") == b"OK"
        assert c.next(5) == [b"invalidate", None]
        assert c.quiet()  # once
        assert c.call("GET", "test:users:a") is None
    finally:
        c.close()
        w.close()
