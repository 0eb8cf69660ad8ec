"""Hash commands: a hash is a record whose fields are bins."""

from __future__ import annotations

import pytest
import redis

from tests.helpers import NOT_FLOAT, NOT_INT, SYNTAX, WRONGTYPE, arity, as_map


def test_hset_hget_hgetall(r):
    assert r.hset("h", mapping={"name": "ann", "age": "31"}) == 2
    assert r.hset("h", mapping={"age": "32", "city": "oslo"}) == 1
    assert r.hget("h", "age") == b"32"
    assert r.hget("h", "nope") is None
    assert r.hget("missing", "f") is None
    assert r.hgetall("h") == {b"name": b"ann", b"age": b"32", b"city": b"oslo"}
    assert r.hgetall("missing") == {}
    assert r.type("h") == b"hash"
    # binary field names and values, empty value, integers read back as written
    r.hset("b", b"\x00f\r\n", b"\xff\x00")
    r.hset("b", "empty", "")
    r.hset("b", "num", "-17")
    r.hset("b", "lead0", "007")
    assert r.hgetall("b") == {
        b"\x00f\r\n": b"\xff\x00",
        b"empty": b"",
        b"num": b"-17",
        b"lead0": b"007",
    }


def test_hset_errors(rc):
    assert rc.error("HSET", "h") == arity("hset")
    assert rc.error("HSET", "h", "f") == arity("hset")
    assert rc.error("HSET", "h", "f", "v", "g") == arity("hset")
    assert rc.error("HMSET", "h", "f") == arity("hmset")
    assert rc.error("HMSET", "h", "f", "v", "g") == arity("hmset")
    assert rc.call("EXISTS", "h") == 0
    rc.call("SET", "s", "v")
    assert rc.error("HSET", "s", "f", "v") == WRONGTYPE
    assert rc.call("GET", "s") == b"v"


def test_hmset_hsetnx(r, rc):
    assert rc.call("HMSET", "h", "a", "1", "b", "2") == b"OK"
    assert r.hsetnx("h", "a", "x") == 0
    assert r.hget("h", "a") == b"1"
    assert r.hsetnx("h", "c", "3") == 1
    assert r.hsetnx("new", "f", "v") == 1
    assert r.hgetall("new") == {b"f": b"v"}
    rc.call("SET", "s", "v")
    assert rc.error("HSETNX", "s", "f", "v") == WRONGTYPE
    assert rc.error("HSETNX", "h", "f") == arity("hsetnx")


def test_hmget(r, rc):
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.hmget("h", ["a", "zz", "b", "a"]) == [b"1", None, b"2", b"1"]
    assert r.hmget("missing", ["a", "b"]) == [None, None]
    assert rc.error("HMGET", "h") == arity("hmget")
    rc.call("SET", "s", "v")
    assert rc.error("HMGET", "s", "a") == WRONGTYPE


def test_hdel_removes_empty_hash(r, rc):
    r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    assert r.hdel("h", "a", "zz", "a") == 1
    assert r.hlen("h") == 2
    assert r.hdel("missing", "a") == 0
    assert r.hdel("h", "b", "c") == 2
    assert r.exists("h") == 0  # the last field gone: the record is gone
    assert r.type("h") == b"none"
    assert rc.error("HDEL", "h") == arity("hdel")
    rc.call("SET", "s", "v")
    assert rc.error("HDEL", "s", "f") == WRONGTYPE


def test_hexists_hlen_hstrlen_hkeys_hvals(r, rc):
    r.hset("h", mapping={"a": "hello", "n": "12345"})
    assert r.hexists("h", "a") is True
    assert r.hexists("h", "zz") is False
    assert r.hexists("missing", "a") is False
    assert r.hlen("h") == 2
    assert r.hlen("missing") == 0
    assert r.hstrlen("h", "a") == 5
    assert r.hstrlen("h", "n") == 5
    assert r.hstrlen("h", "zz") == 0
    assert r.hstrlen("missing", "a") == 0
    assert sorted(r.hkeys("h")) == [b"a", b"n"]
    assert sorted(r.hvals("h")) == [b"12345", b"hello"]
    assert r.hkeys("missing") == []
    assert r.hvals("missing") == []
    # keys and values come back in the same order
    assert dict(zip(r.hkeys("h"), r.hvals("h"), strict=True)) == r.hgetall("h")
    rc.call("SET", "s", "v")
    for cmd in (
        ["HEXISTS", "s", "a"],
        ["HLEN", "s"],
        ["HSTRLEN", "s", "a"],
        ["HKEYS", "s"],
        ["HVALS", "s"],
        ["HGETALL", "s"],
        ["HGET", "s", "a"],
    ):
        assert rc.error(*cmd) == WRONGTYPE, cmd
    for cmd, args in [
        ("hexists", ["h"]),
        ("hlen", []),
        ("hstrlen", ["h"]),
        ("hkeys", ["h", "x"]),
        ("hvals", []),
        ("hgetall", []),
        ("hget", ["h"]),
    ]:
        assert rc.error(cmd.upper(), *args) == arity(cmd)


def test_hincrby(r, rc):
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    assert r.hget("h", "n") == b"-2"
    r.hset("h", "s", "abc")
    assert rc.error("HINCRBY", "h", "s", "1") == "ERR hash value is not an integer"
    r.hset("h", "lead", "01")
    assert rc.error("HINCRBY", "h", "lead", "1") == "ERR hash value is not an integer"
    assert rc.error("HINCRBY", "h", "n", "x") == NOT_INT
    assert rc.error("HINCRBY", "h", "n", "1.5") == NOT_INT
    r.hset("h", "max", "9223372036854775807")
    assert rc.error("HINCRBY", "h", "max", "1") == "ERR increment or decrement would overflow"
    assert r.hget("h", "max") == b"9223372036854775807"
    rc.call("SET", "str", "1")
    assert rc.error("HINCRBY", "str", "f", "1") == WRONGTYPE
    assert rc.error("HINCRBY", "h", "n") == arity("hincrby")


def test_hincrbyfloat(r, rc):
    assert rc.call("HINCRBYFLOAT", "h", "f", "1.5") == b"1.5"
    assert rc.call("HINCRBYFLOAT", "h", "f", "0.1") == b"1.6"
    assert rc.call("HINCRBYFLOAT", "h", "f", "-1.6") == b"0"
    assert rc.call("HINCRBYFLOAT", "h", "g", "5.0e3") == b"5000"
    r.hset("h", "i", "10")
    assert r.hincrbyfloat("h", "i", 0.5) == 10.5
    r.hset("h", "s", "abc")
    assert rc.error("HINCRBYFLOAT", "h", "s", "1") == "ERR hash value is not a float"
    for bad in ("abc", "nan", "", "1 "):
        assert rc.error("HINCRBYFLOAT", "h", "f", bad) == NOT_FLOAT, bad
    assert rc.error("HINCRBYFLOAT", "h", "f", "inf") == "ERR value is NaN or Infinity"
    r.hset("h", "big", "inf")
    assert (
        rc.error("HINCRBYFLOAT", "h", "big", "1") == "ERR increment would produce NaN or Infinity"
    )
    rc.call("SET", "str", "1")
    assert rc.error("HINCRBYFLOAT", "str", "f", "1") == WRONGTYPE
    assert r.hget("h", "f") == b"0"


def test_hscan_small(r, rc):
    fields = {f"f{i}": str(i) for i in range(20)}
    r.hset("h", mapping=fields)
    cursor, items = r.hscan("h", 0)
    assert cursor == 0
    assert items == {k.encode(): v.encode() for k, v in fields.items()}
    cursor, items = r.hscan("h", 0, match="f1*")
    assert set(items) == {b"f1"} | {b"f1%d" % i for i in range(10)}
    reply = rc.call("HSCAN", "h", "0", "MATCH", "f2", "NOVALUES")
    assert reply == [b"0", [b"f2"]]
    assert rc.call("HSCAN", "missing", "0") == [b"0", []]
    assert rc.error("HSCAN", "h", "x") == "ERR invalid cursor"
    assert rc.error("HSCAN", "h", " 1") == "ERR invalid cursor"
    assert rc.call("HSCAN", "h", "-1", "MATCH", "f3")[1] == [b"f3", b"3"]  # strtoul wraps
    assert rc.error("HSCAN", "h", "0", "COUNT", "0") == SYNTAX
    assert rc.error("HSCAN", "h", "0", "COUNT", "x") == NOT_INT
    assert rc.error("HSCAN", "h", "0", "MATCH") == SYNTAX
    assert rc.error("HSCAN", "h", "0", "FOO", "bar") == SYNTAX
    assert rc.error("HSCAN", "h") == arity("hscan")
    rc.call("SET", "s", "v")
    assert rc.error("HSCAN", "s", "0") == WRONGTYPE


def test_hscan_large_hash_walks_with_cursor(r):
    fields = {f"field:{i}": i for i in range(1500)}
    r.hset("big", mapping=fields)
    seen: dict[bytes, bytes] = {}
    cursor, steps = 0, 0
    while True:
        cursor, items = r.hscan("big", cursor, count=100)
        seen.update(items)
        steps += 1
        if cursor == 0:
            break
        assert steps < 200
    assert steps > 3  # really iterated
    assert seen == {k.encode(): str(v).encode() for k, v in fields.items()}


def test_hscan_large_hash_stable_while_fields_change(r):
    r.hset("big", mapping={f"keep:{i}": 1 for i in range(800)})
    seen: set[bytes] = set()
    cursor, step = 0, 0
    while True:
        cursor, items = r.hscan("big", cursor, count=50)
        seen.update(items)
        # churn: add and remove other fields between steps
        r.hset("big", f"tmp:{step}", "x")
        r.hdel("big", f"tmp:{step - 1}")
        step += 1
        if cursor == 0:
            break
    assert {f"keep:{i}".encode() for i in range(800)} <= seen


def test_hrandfield(r, rc):
    assert r.hrandfield("missing") is None
    assert r.hrandfield("missing", 3) == []
    fields = {"a": "1", "b": "2", "c": "3"}
    r.hset("h", mapping=fields)
    assert r.hrandfield("h") in (b"a", b"b", b"c")
    assert sorted(r.hrandfield("h", 10)) == [b"a", b"b", b"c"]  # distinct, at most all
    two = r.hrandfield("h", 2)
    assert len(two) == 2 and len(set(two)) == 2
    many = r.hrandfield("h", -10)  # repeats allowed, exactly 10
    assert len(many) == 10 and set(many) <= {b"a", b"b", b"c"}
    assert r.hrandfield("h", 0) == []
    pairs = rc.call("HRANDFIELD", "h", "5", "WITHVALUES")
    if rc.proto == 3:
        assert all(len(p) == 2 for p in pairs)
        got = dict((bytes(k), bytes(v)) for k, v in pairs)
    else:
        got = as_map(pairs)
    assert got == {b"a": b"1", b"b": b"2", b"c": b"3"}
    assert rc.error("HRANDFIELD", "h", "x") == NOT_INT
    assert rc.error("HRANDFIELD", "h", "1", "FOO") == SYNTAX
    assert rc.error("HRANDFIELD", "h", "1", "WITHVALUES", "x") == SYNTAX
    assert rc.error("HRANDFIELD", "h", "-9223372036854775808") == (
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    )
    assert rc.error("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES") == (
        "ERR value is out of range"
    )
    rc.call("SET", "s", "v")
    assert rc.error("HRANDFIELD", "s") == WRONGTYPE


def test_hash_fields_are_bins(r):
    r.hset("test:users:42", mapping={"name": "ann", "age": "31"})
    meta = as_map(r.execute_command("AS.GET", "test:users:42"))
    assert as_map(meta[b"bins"]) == {b"name": b"ann", b"age": 31}
    assert meta[b"generation"] == 1
    r.hset("test:users:42", "age", "32")
    r.hincrby("test:users:42", "age", 1)
    meta = as_map(r.execute_command("AS.GETMETA", "test:users:42"))
    assert meta[b"generation"] == 3
    assert r.hget("test:users:42", "age") == b"33"


def test_hash_writes_are_atomic_on_failure(node, r):
    """A field write that fails a limit changes nothing (the whole HSET is refused)."""
    r.hset("h", "a", "1")
    with pytest.raises(redis.ResponseError, match=r"RECORD_TOO_BIG .* \(13\)"):
        r.hset("h", mapping={"b": "2", "c": b"x" * (1 << 20)})
    assert r.hgetall("h") == {b"a": b"1"}
