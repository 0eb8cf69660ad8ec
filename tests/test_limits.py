"""Namespace limits: max-record-size (13), stop-writes (8) and eviction, with the node
still serving everyone and nothing half-written."""

from __future__ import annotations

import pytest

from tests.helpers import RawClient, as_map, namespace_stats, wait_until


def coded(text: str, name: str, code: int) -> bool:
    return text.startswith(name + " ") and text.endswith(f"({code})")


@pytest.fixture(scope="module")
def small(request):
    """A node whose `test` namespace takes records of at most 1 KiB."""
    from respike.process import NodeProcess

    proc = NodeProcess(
        config="[namespaces.test]\nmax-record-size = '1K'\n[namespaces.other]\n"
    ).start()
    yield proc
    proc.cleanup()


@pytest.fixture
def c(small):
    with RawClient.to(small) as client:
        client.call("FLUSHALL")
        yield client


@pytest.mark.parametrize(
    "cmd",
    [
        ["SET", "k", "x" * 1000],
        ["SETEX", "k", "100", "x" * 1000],
        ["GETSET", "k", "x" * 1000],
        ["MSET", "a", "ok", "k", "x" * 1000],
        ["MSETNX", "a2", "ok", "k", "x" * 1000],
        ["APPEND", "k", "x" * 1000],
        ["SETRANGE", "k", "999", "x"],
        ["HSET", "h", "g", "x" * 1000],
        ["HMSET", "h", "g", "x" * 500, "i", "y" * 500],
        ["HSETNX", "h", "new", "x" * 1000],
        ["HINCRBYFLOAT", "h", "n" * 1000, "1"],
        ["AS.PUT", "k", "BINS", "a", "x" * 1000],
        ["AS.OPERATE", "h", "OPS", "APPEND", "f", "x" * 1000],
        ["SET", "k" * 1000, "v"],
    ],
)
def test_record_too_big_changes_nothing(c, cmd):
    c.call("SET", "k", "small")
    c.call("HSET", "h", "f", "v")
    text = c.error(*cmd)
    assert coded(text, "RECORD_TOO_BIG", 13) and "max-record-size" in text, text
    assert c.call("GET", "k") == b"small"
    assert as_map(c.call("HGETALL", "h")) == {b"f": b"v"}
    assert c.call("EXISTS", "a", "a2") == 0  # multi-key writes are all or nothing
    assert as_map(c.call("AS.GETMETA", "k"))[b"generation"] == 1
    assert int(namespace_stats(c)["fail_record_too_big"]) >= 1


def test_limit_is_per_namespace_and_counts_key_and_bins(c):
    assert c.call("SET", "other:k", "x" * 100_000) == b"OK"  # `other` keeps the 1 MiB default
    assert c.call("SET", "k", "x" * 900) == b"OK"  # 900 + key + overhead fits in 1 KiB
    assert coded(c.error("SET", "k" * 100, "x" * 900), "RECORD_TOO_BIG", 13)
    assert c.call("PING") == b"PONG"


def test_stop_writes_refuses_writes_and_serves_reads(start_node):
    node = start_node(
        "[namespaces.test]\nmemory-size = '64K'\nstop-writes-used-pct = 50\n[namespaces.other]\n"
    )
    with RawClient.to(node) as c, RawClient.to(node, 3) as reader:
        i = 0
        while True:
            reply = c.call("SET", f"k{i}", "x" * 500)
            if isinstance(reply, Exception):
                break
            i += 1
            assert i < 200
        text = str(reply)
        assert coded(text, "OUT_OF_SPACE", 8) and "stop-writes" in text
        assert 50 <= i <= 70  # about 32 KiB of records
        stats = namespace_stats(c)
        assert stats["stop_writes"] == "1"
        assert float(stats["memory_used_pct"]) >= 50
        # every kind of write is refused ...
        for cmd in (
            ["SET", "k0", "y"],
            ["INCR", "n"],
            ["HSET", "h", "f", "v"],
            ["APPEND", "k0", "y"],
            ["EXPIRE", "k0", "100"],
            ["AS.PUT", "p", "BINS", "a", "1"],
        ):
            assert coded(c.error(*cmd), "OUT_OF_SPACE", 8), cmd
        # ... while reads are served, to everyone, and other namespaces still take writes
        assert c.call("GET", "k0") == b"x" * 500
        assert reader.call("MGET", "k1", "k2") == [b"x" * 500] * 2
        assert reader.call("DBSIZE") == i
        assert c.call("SET", "other:k", "v") == b"OK"
        # deletes are allowed and bring the namespace back under the mark
        assert c.call("DEL", *[f"k{j}" for j in range(20)]) == 20
        assert c.call("SET", "k0", "again") == b"OK"
        assert namespace_stats(c)["stop_writes"] == "0"


IN_PLACE = [
    ("HDEL", "h", "a"),
    ("HINCRBY", "h", "b", "1"),
    ("LPOP", "l"),
    ("RPOP", "l"),
    ("LREM", "l", "0", "x"),
    ("LTRIM", "l", "1", "1"),
    ("LSET", "l", "0", "w"),
    ("LMOVE", "l", "l", "LEFT", "RIGHT"),
    ("SREM", "s", "m1"),
    ("SPOP", "s"),
    ("SMOVE", "s", "s2", "m1"),
    ("ZREM", "z", "a"),
    ("ZPOPMIN", "z"),
    ("ZREMRANGEBYSCORE", "z", "0", "9"),
]


def test_stop_writes_refuses_in_place_changes_before_they_happen(start_node):
    """Pops and removes change a collection in place: at stop-writes they answer error 8
    and the collection is exactly as it was (they used to answer 8 after changing it)."""
    node = start_node("[namespaces.test]\nmemory-size = '64K'\nstop-writes-used-pct = 50\n")
    with RawClient.to(node) as c:
        c.call("HSET", "h", "a", "1", "b", "2")
        c.call("RPUSH", "l", "x", "y", "x")
        c.call("SADD", "s", "m1", "m2")
        c.call("ZADD", "z", "1", "a", "2", "b")

        def state():
            return [
                c.call("HGETALL", "h"),
                c.call("LRANGE", "l", "0", "-1"),
                sorted(c.call("SMEMBERS", "s")),
                c.call("ZRANGE", "z", "0", "-1", "WITHSCORES"),
            ]

        i = 0
        while not isinstance(c.call("SET", f"fill{i}", "x" * 500), Exception):
            i += 1
            assert i < 200
        before = state()
        for cmd in IN_PLACE:
            assert coded(c.error(*cmd), "OUT_OF_SPACE", 8), cmd
            assert state() == before, cmd


def test_stop_writes_mark_changes_at_run_time(start_node):
    node = start_node("[namespaces.test]\nmemory-size = '64K'\n")
    with RawClient.to(node) as c:
        for i in range(20):
            c.call("SET", f"k{i}", "x" * 500)
        assert c.call("CONFIG", "SET", "test.stop-writes-used-pct", "5") == b"OK"
        assert coded(c.error("SET", "more", "v"), "OUT_OF_SPACE", 8)
        assert c.call("CONFIG", "SET", "test.memory-size", "1M") == b"OK"
        assert c.call("SET", "more", "v") == b"OK"


def test_eviction_removes_soonest_to_expire_first(start_node):
    node = start_node(
        "[namespaces.test]\nnsup-period = 1\nmemory-size = '64K'\nevict-used-pct = 40\n"
        "stop-writes-used-pct = 90\nevict-tenths-pct = 500\n"
    )
    with RawClient.to(node) as c:
        ttl_keys = [f"t{i:03d}" for i in range(60)]
        for i, key in enumerate(ttl_keys):
            c.call("SET", key, "x" * 400, "EX", str(1000 + 10 * i))  # t000 expires first
        for i in range(40):
            c.call("SET", f"p{i:03d}", "x" * 400)  # no TTL: never evicted
        assert float(namespace_stats(c)["memory_used_pct"]) > 40

        def settled() -> bool:
            """Under evict-used-pct, and no eviction round half done: a round walks the
            partitions with yields in between, so it is checked on both sides of the count."""
            before = namespace_stats(c)
            gone = len(ttl_keys) - sum(c.call("EXISTS", k) for k in ttl_keys)
            after = namespace_stats(c)
            return float(after["memory_used_pct"]) <= 40 and int(
                before["evicted_objects"]
            ) == gone == int(after["evicted_objects"])

        wait_until(settled, 15, "eviction to bring memory under evict-used-pct")
        alive = [k for k in ttl_keys if c.call("EXISTS", k)]
        gone = len(ttl_keys) - len(alive)
        assert gone >= 30
        assert alive == ttl_keys[gone:]  # the soonest-to-expire went first
        assert c.call("EXISTS", *[f"p{i:03d}" for i in range(40)]) == 40
