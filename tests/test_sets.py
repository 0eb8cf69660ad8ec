"""Set commands through redis-py (RESP2 and RESP3)."""

from __future__ import annotations

import pytest
import redis

from tests.helpers import WRONGTYPE


def err(exc_info) -> str:
    return str(exc_info.value)


def test_add_remove_members(r):
    assert r.sadd("s", "a", "b", "a") == 2
    assert r.sadd("s", "b", "c") == 1
    assert r.smembers("s") == {b"a", b"b", b"c"}
    assert r.scard("s") == 3 and r.scard("nos") == 0
    assert r.sismember("s", "a") == 1 and r.sismember("s", "z") == 0
    assert r.smismember("s", ["a", "z", "c"]) == [1, 0, 1]
    assert r.srem("s", "a", "z") == 1
    assert r.srem("s", "b", "c") == 2
    assert r.exists("s") == 0 and r.smembers("s") == set()
    assert r.type("s") == b"none"
    r.sadd("s", 1, 2)
    assert r.type("s") == b"set" and r.smembers("s") == {b"1", b"2"}


def test_spop(r):
    r.sadd("s", *range(10))
    popped = r.spop("s")
    assert popped not in r.smembers("s") and r.scard("s") == 9
    many = r.spop("s", 4)
    assert len(set(many)) == 4 and r.scard("s") == 5
    assert set(r.spop("s", 0)) == set()
    rest = r.spop("s", 100)
    assert len(rest) == 5 and r.exists("s") == 0
    assert r.spop("s") is None and not r.spop("s", 2)
    with pytest.raises(redis.ResponseError) as e:
        r.spop("s", -1)
    assert err(e) == "value is out of range, must be positive"


def test_srandmember(r):
    r.sadd("s", "a", "b", "c")
    assert r.srandmember("s") in {b"a", b"b", b"c"}
    assert sorted(r.srandmember("s", 2)) != [] and len(set(r.srandmember("s", 2))) == 2
    assert sorted(r.srandmember("s", 10)) == [b"a", b"b", b"c"]
    neg = r.srandmember("s", -7)
    assert len(neg) == 7 and set(neg) <= {b"a", b"b", b"c"}
    assert r.srandmember("s", 0) == []
    assert r.srandmember("nos") is None and r.srandmember("nos", 3) == []
    assert r.scard("s") == 3


def test_smove(r):
    r.sadd("a", "x", "y")
    r.sadd("b", "y")
    assert r.smove("a", "b", "x") == 1
    assert r.smove("a", "b", "nope") == 0
    assert r.smove("a", "b", "y") == 1
    assert r.exists("a") == 0 and r.smembers("b") == {b"x", b"y"}
    assert r.smove("nos", "b", "x") == 0
    r.set("str", "v")
    with pytest.raises(redis.ResponseError) as e:
        r.smove("b", "str", "x")
    assert err(e) == WRONGTYPE
    assert r.smembers("b") == {b"x", b"y"}


def test_algebra_and_store(r):
    r.sadd("a", "1", "2", "3")
    r.sadd("b", "2", "3", "4")
    r.sadd("c", "3", "5")
    assert r.sinter("a", "b") == {b"2", b"3"}
    assert r.sinter("a", "b", "c") == {b"3"}
    assert r.sinter("a", "nos") == set()
    assert r.sunion("a", "b", "nos") == {b"1", b"2", b"3", b"4"}
    assert r.sdiff("a", "b") == {b"1"}
    assert r.sdiff("nos", "a") == set()
    assert r.sinterstore("d", "a", "b") == 2 and r.smembers("d") == {b"2", b"3"}
    assert r.sunionstore("d", "a", "c") == 4 and r.smembers("d") == {b"1", b"2", b"3", b"5"}
    assert r.sdiffstore("d", "a", "b", "c") == 1 and r.smembers("d") == {b"1"}
    assert r.sinterstore("d", "a", "nos") == 0 and r.exists("d") == 0
    r.set("str", "x")
    assert (
        r.sunionstore("str", "a") == 3 and r.type("str") == b"set"
    )  # the destination is overwritten
    assert r.sintercard(2, ["a", "b"]) == 2 and r.sintercard(2, ["a", "b"], limit=1) == 1
    r.set("str2", "x")
    with pytest.raises(redis.ResponseError) as e:
        r.sunion("a", "str2")
    assert err(e) == WRONGTYPE


def test_sscan(r):
    members = {f"m{i}".encode() for i in range(1000)}
    r.sadd("big", *members)
    seen: set[bytes] = set()
    cursor = 0
    calls = 0
    while True:
        cursor, batch = r.sscan("big", cursor, count=100)
        seen.update(batch)
        calls += 1
        if cursor == 0:
            break
    assert seen == members and calls > 5
    r.sadd("small", "apple", "avocado", "banana")
    assert set(r.sscan("small", 0, match="a*")[1]) == {b"apple", b"avocado"}
    assert r.sscan("nos", 0) == (0, [])
    with pytest.raises(redis.ResponseError) as e:
        r.sscan("small", -1)
    assert err(e) == "invalid cursor"


def test_sscan_sees_survivors_while_set_changes(r):
    r.sadd("big", *[f"m{i}" for i in range(2000)])
    survivors = {f"m{i}".encode() for i in range(1000, 2000)}
    seen: set[bytes] = set()
    cursor, removed = 0, 0
    while True:
        cursor, batch = r.sscan("big", cursor, count=50)
        seen.update(batch)
        if removed < 1000:
            r.srem("big", *[f"m{i}" for i in range(removed, removed + 100)])
            removed += 100
        if cursor == 0:
            break
    assert survivors <= seen


def test_errors(r):
    r.set("str", "x")
    for call in (
        lambda: r.sadd("str", "a"),
        lambda: r.smembers("str"),
        lambda: r.scard("str"),
        lambda: r.spop("str"),
        lambda: r.sismember("str", "a"),
        lambda: r.sinter("str"),
    ):
        with pytest.raises(redis.ResponseError) as e:
            call()
        assert err(e) == WRONGTYPE
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SPOP", "s", "1", "2")
    assert err(e) == "syntax error"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SADD", "s")
    assert err(e) == "wrong number of arguments for 'sadd' command"


def test_record_size_limit(r):
    old = r.config_get("test.max-record-size")["test.max-record-size"]
    r.config_set("test.max-record-size", 300)
    try:
        r.sadd("s", "x" * 100)
        with pytest.raises(redis.ResponseError) as e:
            r.sadd("s", "y" * 100, "z" * 100)
        assert "RECORD_TOO_BIG" in err(e)
        assert r.smembers("s") == {b"x" * 100}
    finally:
        r.config_set("test.max-record-size", old)


def test_large_set_spop_is_fast(r):
    r.sadd("big", *range(30000))
    pipe = r.pipeline(transaction=False)
    for _ in range(3000):
        pipe.spop("big")
    popped = pipe.execute()
    assert len(set(popped)) == 3000 and r.scard("big") == 27000
