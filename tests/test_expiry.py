"""TTL and expiry with real clocks: lazy expiry on access, nsup removing expired records
every nsup-period, Aerospike's TTL rules (max-ttl, no TTL while nsup is off)."""

from __future__ import annotations

import time

import pytest

from tests.helpers import RawClient, as_map, namespace_stats, wait_until


def coded(text: str, name: str, code: int) -> bool:
    return text.startswith(name + " ") and text.endswith(f"({code})")


def test_keys_expire_on_time(r3):
    r = r3
    r.set("px", "v", px=300)
    r.set("ex-then-persist", "v", px=300)
    r.persist("ex-then-persist")
    r.set("overwritten", "v", px=300)
    r.set("overwritten", "w")  # a plain SET drops the TTL
    r.hset("h", "f", "v")
    r.pexpire("h", 300)
    r.set("getex", "v")
    r.getex("getex", px=300)
    r.set("long", "v", ex=100)
    r.set("other:lazy", "v", px=300)  # namespace `other` has no nsup round in sight
    pttl = r.pttl("px")
    assert 0 < pttl <= 300
    assert r.ttl("px") == 0 or r.ttl("px") == 1  # rounded, as Redis does
    time.sleep(0.6)
    assert r.get("px") is None
    assert r.exists("px", "h", "getex") == 0
    assert r.ttl("px") == -2 and r.pttl("h") == -2
    assert r.get("ex-then-persist") == b"v" and r.get("overwritten") == b"w"
    assert r.get("long") == b"v"
    assert sorted(r.keys("*")) == [b"ex-then-persist", b"long", b"overwritten"]
    cursor, keys = r.scan(0, count=1000)
    assert sorted(keys) == [b"ex-then-persist", b"long", b"overwritten"]


def test_lazy_expiry_on_access(r3):
    r = r3
    """In namespace `other` (nsup-period 120 s) only an access reclaims an expired record."""
    r.set("other:k", "v", px=100)
    before = int(namespace_stats(r, "other")["expired_objects"])
    time.sleep(0.3)
    assert namespace_stats(r, "other")["objects"] == "1"  # still there: nobody looked
    assert r.get("other:k") is None  # the read reclaims it
    stats = namespace_stats(r, "other")
    assert stats["objects"] == "0"
    assert int(stats["expired_objects"]) == before + 1


def test_nsup_removes_expired_records(r3):
    r = r3
    """Namespace `test` has nsup-period 1: expired records go without being touched."""
    r.mset({f"n{i}": "v" for i in range(50)})
    for i in range(50):
        r.pexpire(f"n{i}", 200)
    r.set("stays", "v")
    before = int(r.info("stats")["expired_keys"])
    wait_until(lambda: namespace_stats(r)["objects"] == "1", 5, "nsup to remove 50 expired records")
    assert int(namespace_stats(r)["expired_objects"]) >= 50
    assert int(r.info("stats")["expired_keys"]) >= before + 50
    assert r.get("stays") == b"v"


def test_ttl_counts_down(r3, node):
    rc = RawClient.to(node)
    rc.call("SET", "k", "v", "PX", "2000")
    first = rc.call("PTTL", "k")
    time.sleep(0.25)
    second = rc.call("PTTL", "k")
    assert 1700 <= second < first <= 2000
    void = rc.call("PEXPIRETIME", "k")
    assert abs(void - (time.time() * 1000 + second)) < 200
    meta = as_map(rc.call("AS.GETMETA", "k"))
    assert meta[b"void_time"] == void and meta[b"ttl"] in (1, 2)
    rc.close()


@pytest.fixture
def rc_pair(r, node):
    with RawClient.to(node, r.connection_pool.connection_kwargs["protocol"]) as client:
        yield client


@pytest.fixture(scope="module")
def nsup_off(tmp_path_factory):
    """One node whose namespaces have nsup off (with and without allow-ttl-without-nsup)."""
    from respike.process import NodeProcess

    proc = NodeProcess(
        config=(
            "[namespaces.test]\nnsup-period = 0\n"
            "[namespaces.allowed]\nnsup-period = 0\nallow-ttl-without-nsup = true\n"
        )
    ).start()
    yield proc
    proc.cleanup()


@pytest.mark.parametrize(
    "cmd",
    [
        ["SET", "k", "v", "EX", "10"],
        ["SET", "k", "v", "PX", "100"],
        ["SETEX", "k", "10", "v"],
        ["PSETEX", "k", "100", "v"],
        ["EXPIRE", "old", "10"],
        ["PEXPIRE", "old", "100"],
        ["EXPIREAT", "old", "IN_100_SECONDS"],
        ["GETEX", "old", "EX", "10"],
        ["AS.PUT", "k", "TTL", "10", "BINS", "a", "1"],
        ["AS.TOUCH", "old", "TTL", "10"],
        ["AS.OPERATE", "old", "TTL", "10", "OPS", "WRITE", "a", "1"],
    ],
)
def test_ttl_forbidden_while_nsup_is_off(nsup_off, cmd):
    # an absolute time is computed when the test runs, not when the module is collected
    cmd = [str(int(time.time()) + 100) if a == "IN_100_SECONDS" else a for a in cmd]
    with RawClient.to(nsup_off) as c:
        c.call("SET", "old", "v")
        text = c.error(*cmd)
        assert coded(text, "FORBIDDEN", 22) and "nsup-period" in text
        assert c.call("TTL", "old") == -1 and c.call("EXISTS", "k") == 0
        # without a TTL the same writes are fine
        assert c.call("SET", "k", "v") == b"OK"
        assert c.call("AS.PUT", "k", "TTL", "-1", "BINS", "a", "1") == b"OK"
        assert c.call("PERSIST", "old") == 0
        # allow-ttl-without-nsup lets TTLs through (they expire lazily)
        allowed = ["allowed:" + a if a in ("k", "old") else a for a in cmd]
        c.call("SET", "allowed:old", "v")
        assert not isinstance(c.call(*allowed), Exception)
        c.call("FLUSHALL")


def test_lazy_expiry_without_nsup(nsup_off):
    with RawClient.to(nsup_off) as c:
        c.call("SET", "allowed:k", "v", "PX", "100")
        time.sleep(0.25)
        assert c.call("GET", "allowed:k") is None
        assert namespace_stats(c, "allowed")["objects"] == "0"


def test_nsup_period_change_at_run_time(r, rc_pair):
    rc = rc_pair
    try:
        assert rc.call("CONFIG", "SET", "test.nsup-period", "0") == b"OK"
        assert coded(rc.error("SET", "k", "v", "EX", "10"), "FORBIDDEN", 22)
        text = rc.error("CONFIG", "SET", "test.default-ttl", "10")
        assert text.startswith("ERR CONFIG SET failed") and "nsup-period" in text
    finally:
        assert rc.call("CONFIG", "SET", "test.nsup-period", "1") == b"OK"
    assert rc.call("SET", "k", "v", "EX", "10") == b"OK"


def test_expired_keys_stat(r3):
    r = r3
    r.execute_command("CONFIG", "RESETSTAT")
    r.set("other:gone", "v", px=50)
    time.sleep(0.15)
    assert r.get("other:gone") is None
    assert int(r.info("stats")["expired_keys"]) >= 1
