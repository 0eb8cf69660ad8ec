"""Sorted-set commands through redis-py (RESP2 and RESP3)."""

from __future__ import annotations

import math
import time

import pytest
import redis

from tests.helpers import WRONGTYPE


def err(exc_info) -> str:
    return str(exc_info.value)


def pairs(reply) -> list[tuple]:
    """(member, score) pairs however redis-py shaped them (RESP3 gives lists, or one flat pair)."""
    if reply and not isinstance(reply[0], (list, tuple)):
        return [tuple(reply[i : i + 2]) for i in range(0, len(reply), 2)]
    return [tuple(p) for p in reply]


def test_zadd_and_scores(r):
    assert r.zadd("z", {"a": 1, "b": 2, "c": 0.1}) == 3
    assert r.zscore("z", "c") == 0.1 and r.zscore("z", "nope") is None
    assert r.zmscore("z", ["a", "nope", "b"]) == [1.0, None, 2.0]
    assert r.zcard("z") == 3 and r.type("z") == b"zset"
    assert r.zadd("z", {"a": 5}) == 0 and r.zscore("z", "a") == 5
    assert r.zadd("z", {"a": 6, "d": 1}, ch=True) == 2
    assert r.zadd("z", {"a": 1, "e": 1}, nx=True) == 1 and r.zscore("z", "a") == 6
    assert r.zadd("z", {"a": 7, "f": 1}, xx=True) == 0 and r.zscore("z", "f") is None
    assert r.zadd("z", {"a": 3}, gt=True, ch=True) == 0 and r.zscore("z", "a") == 7
    assert r.zadd("z", {"a": 3}, lt=True, ch=True) == 1 and r.zscore("z", "a") == 3
    assert r.zadd("z", {"a": 2}, incr=True) == 5.0
    assert r.zadd("z", {"a": 2}, incr=True, nx=True) is None
    assert r.zadd("z", {"new": 2}, incr=True, xx=True) is None
    assert r.zadd("z", {"a": -10}, incr=True, gt=True) is None
    assert r.zincrby("z", 1.5, "a") == 6.5
    assert r.zincrby("z", 2, "fresh") == 2.0
    assert r.zadd("inf", {"x": float("inf"), "y": float("-inf")}) == 2
    assert r.zscore("inf", "x") == math.inf and r.zscore("inf", "y") == -math.inf


def test_zadd_errors(r):
    cases = [
        (
            ["ZADD", "z", "NX", "XX", "1", "a"],
            "XX and NX options at the same time are not compatible",
        ),
        (
            ["ZADD", "z", "GT", "LT", "1", "a"],
            "GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            ["ZADD", "z", "NX", "GT", "1", "a"],
            "GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            ["ZADD", "z", "INCR", "1", "a", "2", "b"],
            "INCR option supports a single increment-element pair",
        ),
        (["ZADD", "z", "1", "a", "2"], "syntax error"),
        (["ZADD", "z", "x", "a"], "value is not a valid float"),
        (["ZADD", "z", "nan", "a"], "value is not a valid float"),
        (["ZINCRBY", "z", "x", "a"], "value is not a valid float"),
    ]
    for args, text in cases:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert err(e) == text, args
    r.zadd("z", {"a": float("inf")})
    with pytest.raises(redis.ResponseError) as e:
        r.zincrby("z", float("-inf"), "a")
    assert err(e) == "resulting score is not a number (NaN)"
    r.set("str", "x")
    with pytest.raises(redis.ResponseError) as e:
        r.zadd("str", {"a": 1})
    assert err(e) == WRONGTYPE


def test_rank_count_rem(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 3})
    assert r.zrank("z", "a") == 0 and r.zrank("z", "d") == 3 and r.zrank("z", "x") is None
    assert r.zrevrank("z", "a") == 3
    assert (
        r.zcount("z", 2, 3) == 3
        and r.zcount("z", "(2", "+inf") == 2
        and r.zcount("z", "-inf", "(1") == 0
    )
    assert r.zcount("nokey", 0, 1) == 0
    with pytest.raises(redis.ResponseError) as e:
        r.zcount("z", "x", 1)
    assert err(e) == "min or max is not a float"
    assert r.zrem("z", "a", "nope") == 1
    assert r.zrem("z", "b", "c", "d") == 3 and r.exists("z") == 0


def test_zrange_variants(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.zrange("z", 0, -1) == [b"a", b"b", b"c", b"d"]
    assert pairs(r.zrange("z", 0, 1, withscores=True)) == [(b"a", 1.0), (b"b", 2.0)]
    assert r.zrange("z", 0, 1, desc=True) == [b"d", b"c"]
    assert pairs(r.zrevrange("z", 0, 0, withscores=True)) == [(b"d", 4.0)]
    assert r.zrange("z", "(1", 3, byscore=True) == [b"b", b"c"]
    assert r.zrange("z", 4, 2, byscore=True, desc=True) == [b"d", b"c", b"b"]
    assert r.zrange("z", "-inf", "+inf", byscore=True, offset=1, num=2) == [b"b", b"c"]
    assert pairs(r.zrangebyscore("z", 2, "+inf", withscores=True)) == [
        (b"b", 2.0),
        (b"c", 3.0),
        (b"d", 4.0),
    ]
    assert r.zrevrangebyscore("z", "+inf", "(3") == [b"d"]
    assert r.zrange("nokey", 0, -1) == []
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("ZRANGE", "z", "0", "1", "LIMIT", "0", "1")
    assert (
        err(e)
        == "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    )
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("ZRANGE", "z", "[a", "[b", "BYLEX", "WITHSCORES")
    assert err(e) == "syntax error, WITHSCORES not supported in combination with BYLEX"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("ZRANGE", "z", "0", "1", "BOGUS")
    assert err(e) == "syntax error"


def test_lex_ranges(r):
    r.zadd("n", {"alpha": 0, "beta": 0, "delta": 0, "gamma": 0})
    assert r.zrangebylex("n", "-", "+") == [b"alpha", b"beta", b"delta", b"gamma"]
    assert r.zrangebylex("n", "[beta", "(gamma") == [b"beta", b"delta"]
    assert r.zrange("n", "(alpha", "+", bylex=True, offset=1, num=1) == [b"delta"]
    assert r.zrevrangebylex("n", "+", "[c") == [b"gamma", b"delta"]
    assert r.zlexcount("n", "[b", "[d") == 1
    with pytest.raises(redis.ResponseError) as e:
        r.zrangebylex("n", "a", "+")
    assert err(e) == "min or max not valid string range item"


def test_pop(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    assert pairs(r.zpopmin("z")) == [(b"a", 1.0)]
    assert pairs(r.zpopmax("z", 5)) == [(b"c", 3.0), (b"b", 2.0)]
    assert r.exists("z") == 0 and r.zpopmin("z") == []
    with pytest.raises(redis.ResponseError) as e:
        r.zpopmin("z", -1)
    assert err(e) == "value is out of range, must be positive"


def test_zrangestore_and_combine(r):
    r.zadd("a", {"x": 1, "y": 2, "z": 3})
    r.zadd("b", {"y": 10, "z": 20, "w": 5})
    r.sadd("s", "x", "w")
    assert r.zrangestore("dst", "a", 0, 1) == 2 and pairs(
        r.zrange("dst", 0, -1, withscores=True)
    ) == [(b"x", 1.0), (b"y", 2.0)]
    assert r.zrangestore("dst", "a", 10, 20) == 0 and r.exists("dst") == 0
    assert r.zunionstore("u", ["a", "b"]) == 4
    assert pairs(r.zrange("u", 0, -1, withscores=True)) == [
        (b"x", 1.0),
        (b"w", 5.0),
        (b"y", 12.0),
        (b"z", 23.0),
    ]
    assert r.zinterstore("i", {"a": 2, "b": 1}, aggregate="MAX") == 2
    assert pairs(r.zrange("i", 0, -1, withscores=True)) == [(b"y", 10.0), (b"z", 20.0)]
    assert r.zunionstore("u", ["a", "s"], aggregate="MIN") == 4
    assert r.zscore("u", "w") == 1.0 and r.zscore("u", "x") == 1.0
    assert r.zinterstore("i", ["a", "nokey"]) == 0 and r.exists("i") == 0
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("ZUNIONSTORE", "u", "0", "a")
    assert err(e) == "at least 1 input key is needed for 'zunionstore' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("ZUNIONSTORE", "u", "3", "a")
    assert err(e) == "syntax error"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("ZINTERSTORE", "u", "1", "a", "WEIGHTS", "x")
    assert err(e) == "weight value is not a float"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("ZUNIONSTORE", "u", "1", "a", "AGGREGATE", "AVG")
    assert err(e) == "syntax error"
    r.set("str", "x")
    with pytest.raises(redis.ResponseError) as e:
        r.zunionstore("u", ["a", "str"])
    assert err(e) == WRONGTYPE


def test_movable_keys(r):
    keys = r.command_getkeys("ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2")
    assert [k.encode() if isinstance(k, str) else k for k in keys] == [b"dst", b"a", b"b"]
    entry = r.execute_command("COMMAND", "INFO", "zunionstore")
    entry = (
        entry.get("zunionstore", entry.get(b"zunionstore")) if isinstance(entry, dict) else entry[0]
    )
    flags = entry["flags"] if isinstance(entry, dict) else entry[2]
    assert "movablekeys" in [f.decode() if isinstance(f, bytes) else f for f in flags]


def test_zscan(r):
    members = {f"m{i}".encode(): float(i % 7) for i in range(600)}
    r.zadd("big", members)
    seen: dict[bytes, float] = {}
    cursor = 0
    while True:
        cursor, batch = r.zscan("big", cursor, count=50)
        seen.update(batch)
        if cursor == 0:
            break
    assert seen == members
    r.zadd("small", {"a": 1.5, "b": 2})
    assert r.zscan("small", 0) == (0, [(b"a", 1.5), (b"b", 2.0)])


def test_resp_types(node):
    import socket

    def raw(*cmds: bytes) -> bytes:
        with socket.create_connection((node.host, node.port)) as sock:
            sock.sendall(
                b"".join(
                    b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in c)
                    for c in cmds
                )
            )
            time.sleep(0.2)
            return sock.recv(65536)

    out = raw(
        [b"DEL", b"rz"],
        [b"ZADD", b"rz", b"0.5", b"a", b"inf", b"b"],
        [b"ZSCORE", b"rz", b"a"],
        [b"ZSCORE", b"rz", b"b"],
        [b"HELLO", b"3"],
        [b"ZSCORE", b"rz", b"a"],
        [b"ZSCORE", b"rz", b"b"],
        [b"ZRANGE", b"rz", b"0", b"-1", b"WITHSCORES"],
        [b"SMEMBERS", b"nos"],
        [b"DEL", b"rz"],
    )
    assert out.startswith(b":0\r\n:2\r\n$3\r\n0.5\r\n$3\r\ninf\r\n%")  # RESP2: bulk strings
    assert out.endswith(
        b",0.5\r\n,inf\r\n*2\r\n*2\r\n$1\r\na\r\n,0.5\r\n*2\r\n$1\r\nb\r\n,inf\r\n~0\r\n:1\r\n"
    )


def test_record_size_limit(r):
    old = r.config_get("test.max-record-size")["test.max-record-size"]
    r.config_set("test.max-record-size", 300)
    try:
        r.zadd("z", {"x" * 100: 1})
        with pytest.raises(redis.ResponseError) as e:
            r.zadd("z", {"y" * 100: 2, "w" * 100: 3})
        assert "RECORD_TOO_BIG" in err(e)
        assert r.zrange("z", 0, -1) == [b"x" * 100]
    finally:
        r.config_set("test.max-record-size", old)


def test_large_zset_ops_are_logarithmic(r):
    pipe = r.pipeline(transaction=False)
    for i in range(0, 30000, 1000):
        pipe.zadd("big", {f"m{j}": j for j in range(i, i + 1000)})
    pipe.execute()
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.zadd("big", {f"n{i}": i + 0.5})
        pipe.zrank("big", f"m{i}")
        pipe.zpopmin("big")
    out = pipe.execute()
    assert r.zcard("big") == 30000
    assert out[1] == 0
