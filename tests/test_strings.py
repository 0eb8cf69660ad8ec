"""String commands through redis-py (RESP2 and RESP3) and a raw client for exact errors."""

from __future__ import annotations

import time

import pytest
import redis

from tests.helpers import NOT_FLOAT, NOT_INT, SYNTAX, WRONGTYPE, arity, as_map

# --- GET / SET ---------------------------------------------------------------------------


def test_get_set_roundtrip_binary_and_empty(r):
    assert r.get("missing") is None
    assert r.set("k", b"\x00\xff\r\nbinary") is True
    assert r.get("k") == b"\x00\xff\r\nbinary"
    assert r.set("empty", b"") is True
    assert r.get("empty") == b""
    assert r.exists("empty") == 1
    big = bytes(range(256)) * 1000
    r.set("big", big)
    assert r.get("big") == big


def test_integers_read_back_byte_exact(r):
    # canonical integers are stored as integer bins; everything else stays bytes
    for text in [
        b"0",
        b"-1",
        b"42",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"007",
        b"+5",
        b" 5",
        b"1.0",
        b"-0",
        b"9223372036854775808",
        b"1e3",
    ]:
        r.set("n", text)
        assert r.get("n") == text
        assert r.strlen("n") == len(text)


def test_set_overwrites_other_types(r):
    r.hset("h", "f", "v")
    assert r.set("h", "now a string") is True
    assert r.type("h") == b"string"
    assert r.get("h") == b"now a string"


def test_set_nx_xx(r):
    assert r.set("k", "1", nx=True) is True
    assert r.set("k", "2", nx=True) is None
    assert r.get("k") == b"1"
    assert r.set("k", "3", xx=True) is True
    assert r.get("k") == b"3"
    assert r.set("nokey", "3", xx=True) is None
    assert r.exists("nokey") == 0


def test_set_get_option(r):
    assert r.set("k", "new", get=True) is None
    assert r.set("k", "newer", get=True) == b"new"
    assert r.get("k") == b"newer"
    # GET with NX: returns the old value and does not write
    assert r.set("k", "x", nx=True, get=True) == b"newer"
    assert r.get("k") == b"newer"
    assert r.set("other", "x", xx=True, get=True) is None
    assert r.exists("other") == 0
    r.hset("h", "f", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.set("h", "x", get=True)
    assert r.type("h") == b"hash"


def test_set_expiry_options(r):
    r.set("ex", "v", ex=100)
    assert 99 <= r.ttl("ex") <= 100
    r.set("px", "v", px=100000)
    assert 99000 <= r.pttl("px") <= 100000
    now = int(time.time())
    r.set("exat", "v", exat=now + 100)
    assert 98 <= r.ttl("exat") <= 100
    assert r.expiretime("exat") == now + 100
    r.set("pxat", "v", pxat=(now + 100) * 1000 + 123)
    assert r.pexpiretime("pxat") == (now + 100) * 1000 + 123
    # a plain SET clears the TTL; KEEPTTL keeps it
    r.set("ex", "w")
    assert r.ttl("ex") == -1
    r.set("ex", "v", ex=100)
    r.set("ex", "w", keepttl=True)
    assert 99 <= r.ttl("ex") <= 100
    assert r.get("ex") == b"w"


def test_set_exat_in_the_past_deletes(r):
    r.set("k", "v")
    assert r.set("k", "w", exat=1) is True
    assert r.exists("k") == 0
    assert r.set("k2", "w", pxat=1) is True
    assert r.exists("k2") == 0


def test_set_errors(rc):
    assert rc.error("SET") == arity("set")
    assert rc.error("SET", "k") == arity("set")
    for args in (
        ["NX", "XX"],
        ["XX", "NX"],
        ["EX", "10", "PX", "100"],
        ["EX", "10", "KEEPTTL"],
        ["KEEPTTL", "EX", "10"],
        ["EX"],
        ["FOO"],
        ["PX"],
        ["EXAT", "10", "PXAT", "10"],
    ):
        assert rc.error("SET", "k", "v", *args) == SYNTAX, args
    assert rc.error("SET", "k", "v", "EX", "abc") == NOT_INT
    for bad in ("0", "-1", "9223372036854775807"):
        assert rc.error("SET", "k", "v", "EX", bad) == "ERR invalid expire time in 'set' command"
    assert rc.error("SET", "k", "v", "PX", "0") == "ERR invalid expire time in 'set' command"
    assert rc.error("SET", "k", "v", "EXAT", "0") == "ERR invalid expire time in 'set' command"
    assert rc.call("EXISTS", "k") == 0
    # options are case-insensitive and may repeat when they agree
    assert rc.call("SET", "k", "v", "nx", "NX", "ex", "100") == b"OK"
    assert rc.call("SET", "k", "v", "xx", "get", "GET") == b"v"


def test_setnx(r):
    assert r.setnx("k", "1") is True
    assert r.setnx("k", "2") is False
    assert r.get("k") == b"1"
    r.hset("h", "f", "v")
    assert r.setnx("h", "x") is False  # any type counts as existing


def test_setex_psetex(r, rc):
    assert r.execute_command("SETEX", "k", 100, "v") is True
    assert r.get("k") == b"v"
    assert 99 <= r.ttl("k") <= 100
    assert r.psetex("p", 100000, "v") is True
    assert 99000 <= r.pttl("p") <= 100000
    for cmd in ("SETEX", "PSETEX"):
        assert rc.error(cmd, "k", "0", "v") == f"ERR invalid expire time in '{cmd.lower()}' command"
        assert (
            rc.error(cmd, "k", "-5", "v") == f"ERR invalid expire time in '{cmd.lower()}' command"
        )
        assert rc.error(cmd, "k", "x", "v") == NOT_INT
        assert rc.error(cmd, "k", "10") == arity(cmd.lower())


def test_mget_mset_msetnx(r, rc):
    assert r.mset({"a": "1", "b": "2"}) is True
    r.hset("h", "f", "v")
    assert r.mget("a", "b", "missing", "h") == [b"1", b"2", None, None]
    assert r.msetnx({"a": "x", "c": "3"}) is False
    assert r.exists("c") == 0
    assert r.get("a") == b"1"
    assert r.msetnx({"c": "3", "d": "4"}) is True
    assert r.mget("c", "d") == [b"3", b"4"]
    # the last value wins for a repeated key
    assert rc.call("MSET", "x", "1", "x", "2") == b"OK"
    assert rc.call("GET", "x") == b"2"
    # MSET clears TTLs and overwrites other types
    rc.call("SET", "t", "v", "EX", "100")
    rc.call("MSET", "t", "w", "h", "now-string")
    assert rc.call("TTL", "t") == -1
    assert rc.call("TYPE", "h") == b"string"
    for cmd in ("MSET", "MSETNX"):
        assert rc.error(cmd, "a") == arity(cmd.lower())
        assert rc.error(cmd, "a", "1", "b") == arity(cmd.lower())
    assert rc.error("MGET") == arity("mget")


def test_getset_getdel(r, rc):
    assert r.getset("k", "1") is None
    assert r.getset("k", "2") == b"1"
    assert r.get("k") == b"2"
    r.set("t", "v", ex=100)
    r.getset("t", "w")
    assert r.ttl("t") == -1  # GETSET clears the TTL
    assert r.getdel("k") == b"2"
    assert r.exists("k") == 0
    assert r.getdel("k") is None
    r.hset("h", "f", "v")
    assert rc.error("GETSET", "h", "x") == WRONGTYPE
    assert rc.error("GETDEL", "h") == WRONGTYPE
    assert rc.call("TYPE", "h") == b"hash"
    assert rc.error("GETDEL", "a", "b") == arity("getdel")


def test_getex(r, rc):
    assert r.getex("missing", ex=10) is None
    r.set("k", "v")
    assert r.getex("k") == b"v"
    assert r.ttl("k") == -1
    assert r.getex("k", ex=100) == b"v"
    assert 99 <= r.ttl("k") <= 100
    assert r.getex("k", px=50000) == b"v"
    assert 49000 <= r.pttl("k") <= 50000
    assert r.getex("k", exat=int(time.time()) + 200) == b"v"
    assert 198 <= r.ttl("k") <= 200
    assert r.getex("k", persist=True) == b"v"
    assert r.ttl("k") == -1
    assert r.getex("k", pxat=1) == b"v"  # in the past: deleted
    assert r.exists("k") == 0
    rc.call("SET", "k", "v")
    for args in (["EX", "1", "PX", "1"], ["PERSIST", "EX", "1"], ["FOO"], ["EX"]):
        assert rc.error("GETEX", "k", *args) == SYNTAX
    assert rc.error("GETEX", "k", "EX", "0") == "ERR invalid expire time in 'getex' command"
    assert rc.error("GETEX", "k", "EX", "x") == NOT_INT
    rc.call("HSET", "h", "f", "v")
    assert rc.error("GETEX", "h") == WRONGTYPE


# --- counters ----------------------------------------------------------------------------


def test_incr_decr_family(r):
    assert r.incr("c") == 1
    assert r.incr("c") == 2
    assert r.incrby("c", 10) == 12
    assert r.decr("c") == 11
    assert r.decrby("c", 20) == -9
    assert r.incrby("c", -1) == -10
    assert r.get("c") == b"-10"
    r.set("s", "41")
    assert r.incr("s") == 42
    r.set("t", "5", ex=100)
    r.incr("t")
    assert 99 <= r.ttl("t") <= 100  # INCR keeps the TTL


def test_incr_errors_leave_value(rc):
    rc.call("SET", "s", "hello")
    for value in ("hello", " 1", "1 ", "01", "+1", "1.0", "9223372036854775808", ""):
        rc.call("SET", "s", value)
        assert rc.error("INCR", "s") == NOT_INT, value
        assert rc.call("GET", "s") == value.encode()
    assert rc.error("INCRBY", "c", "x") == NOT_INT
    assert rc.error("INCRBY", "c", "1.5") == NOT_INT
    assert rc.error("DECRBY", "c", "99999999999999999999") == NOT_INT
    rc.call("SET", "max", "9223372036854775807")
    assert rc.error("INCR", "max") == "ERR increment or decrement would overflow"
    rc.call("SET", "min", "-9223372036854775808")
    assert rc.error("DECR", "min") == "ERR increment or decrement would overflow"
    assert rc.error("DECRBY", "x", "-9223372036854775808") == "ERR decrement would overflow"
    assert rc.call("GET", "max") == b"9223372036854775807"
    rc.call("HSET", "h", "f", "1")
    for cmd in (
        ["INCR", "h"],
        ["DECR", "h"],
        ["INCRBY", "h", "1"],
        ["DECRBY", "h", "1"],
        ["INCRBYFLOAT", "h", "1"],
    ):
        assert rc.error(*cmd) == WRONGTYPE
    assert rc.error("INCR") == arity("incr")
    assert rc.error("INCRBY", "a") == arity("incrby")


def test_incrbyfloat(r, rc):
    assert r.incrbyfloat("f", 10.5) == 10.5
    assert r.incrbyfloat("f", 0.1) == pytest.approx(10.6)
    assert r.get("f") == b"10.6"
    r.set("f", "5.0e3")
    assert r.incrbyfloat("f", "2.0e2") == 5200
    assert r.get("f") == b"5200"
    r.set("i", "3")
    assert rc.call("INCRBYFLOAT", "i", "-3") == b"0"
    assert rc.call("INCRBYFLOAT", "z", "0.1") == b"0.1"
    assert rc.call("INCRBYFLOAT", "z", "0.2") == b"0.3"  # exact decimal arithmetic
    assert rc.call("INCRBYFLOAT", "z", "1e-3") == b"0.301"
    rc.call("SET", "s", "abc")
    assert rc.error("INCRBYFLOAT", "s", "1") == NOT_FLOAT
    for bad in ("abc", "nan", "", " 1", "1 ", "1_0"):
        assert rc.error("INCRBYFLOAT", "z", bad) == NOT_FLOAT, bad
    assert rc.error("INCRBYFLOAT", "z", "inf") == "ERR increment would produce NaN or Infinity"
    assert rc.call("GET", "z") == b"0.301"


# --- APPEND / STRLEN / ranges --------------------------------------------------------------


def test_append_strlen(r, rc):
    assert r.append("k", "hello") == 5
    assert r.append("k", " world") == 11
    assert r.get("k") == b"hello world"
    assert r.strlen("k") == 11
    assert r.strlen("missing") == 0
    r.set("n", "12")
    assert r.append("n", "3") == 3
    assert r.incr("n") == 124  # still a number after APPEND
    r.set("t", "v", ex=100)
    r.append("t", "w")
    assert 99 <= r.ttl("t") <= 100  # APPEND keeps the TTL
    rc.call("HSET", "h", "f", "v")
    assert rc.error("APPEND", "h", "x") == WRONGTYPE
    assert rc.error("STRLEN", "h") == WRONGTYPE
    assert rc.error("APPEND", "k") == arity("append")


@pytest.mark.parametrize(
    "start,end,expected",
    [
        (0, 4, b"Hello"),
        (-5, -1, b"World"),
        (0, -1, b"Hello World"),
        (5, 1, b""),
        (-1, -5, b""),
        (0, -100, b"H"),
        (-100, 2, b"Hel"),
        (6, 100, b"World"),
        (100, 200, b""),
        (-100, -50, b"H"),
    ],  # Redis 7 clamps both ends to 0
)
def test_getrange(r, start, end, expected):
    r.set("s", "Hello World")
    assert r.getrange("s", start, end) == expected


def test_getrange_errors_and_missing(r, rc):
    assert r.getrange("missing", 0, 10) == b""
    r.set("n", "12345")
    assert r.getrange("n", 1, 2) == b"23"
    assert rc.error("GETRANGE", "n", "a", "1") == NOT_INT
    assert rc.error("GETRANGE", "n", "0") == arity("getrange")
    rc.call("HSET", "h", "f", "v")
    assert rc.error("GETRANGE", "h", "0", "1") == WRONGTYPE


def test_setrange(r, rc):
    r.set("s", "Hello World")
    assert r.setrange("s", 6, "Redis") == 11
    assert r.get("s") == b"Hello Redis"
    assert r.setrange("s", 11, "!") == 12
    assert r.setrange("pad", 3, "x") == 4
    assert r.get("pad") == b"\x00\x00\x00x"
    assert r.setrange("none", 0, "") == 0
    assert r.exists("none") == 0  # an empty patch does not create the key
    assert r.setrange("s", 100, "") == 12
    assert rc.error("SETRANGE", "s", "-1", "x") == "ERR offset is out of range"
    assert rc.error("SETRANGE", "s", "536870912", "x") == (
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    )
    assert rc.error("SETRANGE", "s", "x", "x") == NOT_INT
    rc.call("HSET", "h", "f", "v")
    assert rc.error("SETRANGE", "h", "0", "x") == WRONGTYPE
    assert rc.call("GET", "s") == b"Hello Redis!"


def test_string_commands_on_hash_are_wrongtype(rc):
    rc.call("HSET", "h", "f", "v")
    for cmd in (
        ["GET", "h"],
        ["GETSET", "h", "v"],
        ["GETDEL", "h"],
        ["GETEX", "h"],
        ["STRLEN", "h"],
        ["APPEND", "h", "x"],
        ["GETRANGE", "h", "0", "1"],
        ["SETRANGE", "h", "0", "x"],
        ["INCR", "h"],
        ["INCRBYFLOAT", "h", "1"],
    ):
        assert rc.error(*cmd) == WRONGTYPE, cmd
    assert rc.call("HGETALL", "h") in ([b"f", b"v"], {b"f": b"v"})


def test_string_arity_errors(rc):
    for cmd, args in [
        ("get", []),
        ("get", ["a", "b"]),
        ("setnx", ["a"]),
        ("setex", ["a", "1"]),
        ("psetex", ["a"]),
        ("getset", ["a"]),
        ("getdel", []),
        ("getex", []),
        ("incr", ["a", "b"]),
        ("decr", []),
        ("decrby", ["a"]),
        ("incrbyfloat", ["a"]),
        ("strlen", []),
        ("setrange", ["a", "1"]),
    ]:
        assert rc.error(cmd.upper(), *args) == arity(cmd), (cmd, args)


def test_key_names_select_namespace_and_set(r):
    # `foo` and `test:foo` are different records; `other:` is another namespace
    r.set("foo", "plain")
    r.set("test:foo", "ns-no-set")
    r.set("test:s1:foo", "ns-set")
    r.set("other:s1:foo", "other-ns")
    r.set("nosuchns:x:y", "default-ns")
    assert r.mget("foo", "test:foo", "test:s1:foo", "other:s1:foo") == [
        b"plain",
        b"ns-no-set",
        b"ns-set",
        b"other-ns",
    ]
    assert r.dbsize() == 5
    meta = as_map(r.execute_command("AS.GETMETA", "other:s1:foo"))
    assert (meta[b"namespace"], meta[b"set"], meta[b"key"]) == (b"other", b"s1", b"foo")
    r.set("test:a:b:c", "1")
    meta = as_map(r.execute_command("AS.GETMETA", "test:a:b:c"))
    assert (meta[b"namespace"], meta[b"set"], meta[b"key"]) == (b"test", b"a", b"b:c")
    meta = as_map(r.execute_command("AS.GETMETA", "nosuchns:x:y"))
    assert (meta[b"namespace"], meta[b"key"]) == (b"test", b"nosuchns:x:y")
    assert meta[b"set"] in (b"", None)


def test_integer_values_are_integer_bins(r):
    r.set("n", "42")
    r.set("s", "042")
    r.incr("c")
    assert as_map(as_map(r.execute_command("AS.GET", "n"))[b"bins"]) == {b"value": 42}
    assert as_map(as_map(r.execute_command("AS.GET", "c"))[b"bins"]) == {b"value": 1}
    assert as_map(as_map(r.execute_command("AS.GET", "s"))[b"bins"]) == {b"value": b"042"}
