"""Keyspace notifications compared with redis-server: the same commands on both, a
subscriber on `__key*__:*`, and the two sequences of (channel, message) must be equal;
CONFIG SET/GET of notify-keyspace-events; expiry found by nsup and by a read."""

from __future__ import annotations

import time

import pytest
import redis

from respike.process import NodeProcess
from tests.helpers import namespace_stats, wait_until

pytestmark = pytest.mark.timeout(120)

SEQUENCES = {
    "strings": [
        ("SET", "n:s", "1"),
        ("SET", "n:s", "2", "EX", "100"),
        ("SET", "n:s", "3", "NX"),
        ("SETNX", "n:s2", "x"),
        ("SETEX", "n:s3", "100", "v"),
        ("PSETEX", "n:s4", "100000", "v"),
        ("GETSET", "n:s", "4"),
        ("MSET", "n:m1", "a", "n:m2", "b"),
        ("INCR", "n:i"),
        ("DECRBY", "n:i", "5"),
        ("INCRBYFLOAT", "n:i", "1.5"),
        ("APPEND", "n:s", "x"),
        ("SETRANGE", "n:s", "1", "yy"),
        ("GETEX", "n:s", "EX", "50"),
        ("GETEX", "n:s", "PERSIST"),
        ("GETDEL", "n:s"),
    ],
    "generic": [
        ("SET", "n:a", "1"),
        ("EXPIRE", "n:a", "100"),
        ("PEXPIRE", "n:a", "100000"),
        ("PERSIST", "n:a"),
        ("RENAME", "n:a", "n:b"),
        ("SET", "n:c", "1"),
        ("RENAMENX", "n:b", "n:c"),
        ("EXPIRE", "n:c", "-1"),
        ("DEL", "n:b", "n:missing"),
        ("SET", "n:d", "1"),
        ("UNLINK", "n:d"),
    ],
    "lists": [
        ("RPUSH", "n:l", "a", "b", "c"),
        ("LPUSH", "n:l", "z"),
        ("LPUSHX", "n:l", "y"),
        ("RPUSHX", "n:nolist", "y"),
        ("LINSERT", "n:l", "BEFORE", "a", "q"),
        ("LSET", "n:l", "0", "w"),
        ("LREM", "n:l", "0", "q"),
        ("LTRIM", "n:l", "0", "2"),
        ("LMOVE", "n:l", "n:l2", "LEFT", "RIGHT"),
        ("RPOPLPUSH", "n:l", "n:l2"),
        ("LPOP", "n:l"),
        ("RPOP", "n:l2", "2"),
    ],
    "hashes": [
        ("HSET", "n:h", "f", "1", "g", "2"),
        ("HSETNX", "n:h", "x", "1"),
        ("HMSET", "n:h", "y", "1"),
        ("HINCRBY", "n:h", "f", "2"),
        ("HINCRBYFLOAT", "n:h", "f", "0.5"),
        ("HDEL", "n:h", "f", "g", "x"),
        ("HDEL", "n:h", "y"),
    ],
    "sets": [
        ("SADD", "n:st", "a", "b", "c"),
        ("SREM", "n:st", "a"),
        ("SMOVE", "n:st", "n:st2", "b"),
        ("SADD", "n:st3", "c", "d"),
        ("SINTERSTORE", "n:st4", "n:st", "n:st3"),
        ("SUNIONSTORE", "n:st5", "n:st", "n:st3"),
        ("SDIFFSTORE", "n:st5", "n:st", "n:st"),
        ("SPOP", "n:st"),
    ],
    "zsets": [
        ("ZADD", "n:z", "1", "a", "2", "b", "3", "c", "4", "d"),
        ("ZADD", "n:z", "INCR", "5", "a"),
        ("ZINCRBY", "n:z", "1", "b"),
        ("ZREM", "n:z", "c"),
        ("ZREMRANGEBYSCORE", "n:z", "0", "0"),
        ("ZUNIONSTORE", "n:z2", "1", "n:z"),
        ("ZPOPMIN", "n:z"),
        ("ZREMRANGEBYRANK", "n:z", "0", "-1"),
    ],
    "streams": [
        ("XADD", "n:x", "1-1", "f", "v"),
        ("XADD", "n:x", "2-1", "f", "v"),
        ("XDEL", "n:x", "1-1"),
        ("XTRIM", "n:x", "MAXLEN", "0"),
    ],
}


@pytest.fixture(scope="module")
def servers(redis_server):
    proc = NodeProcess().start()
    yield {"respike": (proc.host, proc.port), "redis": redis_server}
    proc.cleanup()


def _events(addr, commands, classes="KEA") -> list[tuple[str, str]]:
    r = redis.Redis(*addr, decode_responses=True)
    r.config_set("notify-keyspace-events", classes)
    p = r.pubsub()
    try:
        p.psubscribe("__key*__:*")
        p.subscribe("n:done")
        wait_until(lambda: p.get_message(timeout=0.1) is None, 5, "subscribed")
        r.delete(*{c[1] for c in commands} | {"n:l2", "n:st2", "n:st4", "n:st5", "n:z2", "n:b"})
        wait_until(lambda: p.get_message(timeout=0.1) is None, 5, "quiet")
        for cmd in commands:
            try:
                r.execute_command(*cmd)
            except redis.ResponseError:
                pass
        r.publish("n:done", "end")
        out = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            m = p.get_message(timeout=1)
            if m is None or m["type"] not in ("message", "pmessage"):
                continue
            if m["channel"] == "n:done":
                return out
            out.append((m["channel"], m["data"]))
        raise AssertionError(f"no end marker; got {out}")
    finally:
        p.close()
        r.config_set("notify-keyspace-events", "")
        r.close()


@pytest.mark.parametrize("group", sorted(SEQUENCES))
def test_events_match_redis(servers, group):
    commands = SEQUENCES[group]
    expected = _events(servers["redis"], commands)
    got = _events(servers["respike"], commands)
    assert got == expected
    assert expected  # the sequence did notify something


@pytest.mark.parametrize("classes", ["KEA", "Kl", "E$", "KEg", "Kn", "AKEn", "KEx"])
def test_classes_filter_as_redis(servers, classes):
    commands = SEQUENCES["lists"] + SEQUENCES["strings"][:3]
    assert _events(servers["respike"], commands, classes) == _events(
        servers["redis"], commands, classes
    )


@pytest.mark.parametrize("value", ["KEA", "AKE", "Kg$lshzxetd", "El", "xK", "", "m", "AKEn", "gE$"])
def test_config_get_normalizes_as_redis(servers, value):
    answers = []
    for addr in (servers["respike"], servers["redis"]):
        r = redis.Redis(*addr, decode_responses=True)
        r.config_set("notify-keyspace-events", value)
        answers.append(r.config_get("notify-keyspace-events"))
        r.config_set("notify-keyspace-events", "")
        r.close()
    assert answers[0] == answers[1]


def test_config_set_refuses_unknown_letter(servers):
    for addr in (servers["respike"], servers["redis"]):
        r = redis.Redis(*addr)
        with pytest.raises(redis.ResponseError, match="notify-keyspace-events"):
            r.config_set("notify-keyspace-events", "KEQ")
        r.close()


def test_nothing_published_when_off(servers):
    r = redis.Redis(*servers["respike"])
    p = r.pubsub()
    p.psubscribe("__key*__:*")
    wait_until(lambda: p.get_message(timeout=0.1) is None, 5, "subscribed")
    r.set("n:off", "1")
    r.publish("__keyspace@0__:probe", "x")  # the subscription works: this arrives
    m = p.get_message(timeout=2)
    assert m is not None and m["data"] == b"x"
    assert p.get_message(timeout=0.3) is None
    p.close()
    r.close()


def _expiry_events(addr, read: bool) -> list[tuple[str, str]]:
    r = redis.Redis(*addr, decode_responses=True)
    r.config_set("notify-keyspace-events", "KEA")
    p = r.pubsub()
    try:
        p.psubscribe("__key*__:n:ttl*")
        p.psubscribe("__keyevent@0__:*")
        wait_until(lambda: p.get_message(timeout=0.1) is None, 5, "subscribed")
        r.set("n:ttl", "v", px=150)
        out = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if read:
                r.get("n:ttl")
            m = p.get_message(timeout=0.2)
            if m is not None and m["type"] == "pmessage":
                out.append((m["channel"], m["data"]))
                if m["data"] == "expired" or m["channel"].endswith(":expired"):
                    if len(out) >= 6:
                        return out
        raise AssertionError(f"no expired event: {out}")
    finally:
        p.close()
        r.config_set("notify-keyspace-events", "")
        r.close()


@pytest.mark.parametrize("read", [False, True], ids=["nsup", "read"])
def test_expired_event(start_node, redis_server, read):
    node = start_node("[namespaces.test]\nnsup-period = 1\n")
    assert _expiry_events((node.host, node.port), read) == _expiry_events(redis_server, read)


EVICTING = (
    "[namespaces.test]\nnsup-period = 1\nmemory-size = '64K'\nevict-used-pct = 40\n"
    "stop-writes-used-pct = 90\nevict-tenths-pct = 500\n"
)


def _messages(p, quiet: float = 1.5) -> list[tuple[str, str]]:
    """Every pmessage until none arrives for `quiet` seconds."""
    out = []
    while True:
        m = p.get_message(timeout=quiet)
        if m is None:
            return out
        if m["type"] == "pmessage":
            out.append((m["channel"], m["data"]))


def test_evicted_event(start_node):
    """Above evict-used-pct nsup evicts the soonest-to-expire records: each one evicted
    notifies `evicted` (class e), on both channels, and nothing else does."""
    node = start_node(EVICTING)
    r = redis.Redis(node.host, node.port, decode_responses=True)
    r.config_set("notify-keyspace-events", "KEe")
    p = r.pubsub()
    try:
        p.psubscribe("__key*__:*")
        wait_until(lambda: p.get_message(timeout=0.1) is None, 5, "subscribed")
        keys = [f"ev{i:03d}" for i in range(60)]
        for i, key in enumerate(keys):
            r.set(key, "x" * 400, ex=1000 + 10 * i)  # ev000 expires (so is evicted) first
        for i in range(40):
            r.set(f"keep{i:03d}", "x" * 400)  # no TTL: never evicted
        wait_until(lambda: int(namespace_stats(r)["evicted_objects"]) >= 30, 15, "evictions")
        wait_until(
            lambda: float(namespace_stats(r)["memory_used_pct"]) <= 40, 15, "eviction to settle"
        )
        got = _messages(p)
        gone = [k for k in keys if not r.exists(k)]
        assert len(gone) == int(namespace_stats(r)["evicted_objects"]) >= 30
        assert gone == keys[: len(gone)]
        expected = []
        for key in gone:
            expected += [(f"__keyspace@0__:{key}", "evicted"), ("__keyevent@0__:evicted", key)]
        assert sorted(got) == sorted(expected)  # (nsup walks partitions, not key order)
    finally:
        p.close()
        r.close()


def test_truncate_notifies_del_per_record_of_the_set(start_node):
    """AS.TRUNCATE of one set: `del` for each of its records (Redis has no truncate; a
    record removed is a `del`); a whole-namespace truncate, like FLUSHALL, notifies
    nothing."""
    node = start_node("[namespaces.test]\n")
    r = redis.Redis(node.host, node.port, decode_responses=True)
    r.config_set("notify-keyspace-events", "KEA")
    p = r.pubsub()
    try:
        p.psubscribe("__key*__:*")
        wait_until(lambda: p.get_message(timeout=0.1) is None, 5, "subscribed")
        users = [f"test:users:u{i}" for i in range(5)]
        for key in users:
            r.set(key, "v")
        r.set("test:other:o", "v")
        r.set("plain", "v")
        assert len(_messages(p, 0.5)) == 2 * 7  # the sets
        assert r.execute_command("AS.TRUNCATE", "test", "users") == "OK"
        expected = []
        for key in users:
            expected += [(f"__keyspace@0__:{key}", "del"), ("__keyevent@0__:del", key)]
        assert sorted(_messages(p, 1)) == sorted(expected)
        assert r.exists(*users) == 0 and r.exists("test:other:o", "plain") == 2
        assert r.execute_command("AS.TRUNCATE", "test") == "OK"
        assert r.exists("test:other:o", "plain") == 0
        assert _messages(p, 1) == []
    finally:
        p.close()
        r.close()
