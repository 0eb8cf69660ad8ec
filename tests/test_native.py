"""Native AS.* commands: records with bins and metadata, Aerospike policies and result codes."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.helpers import RawClient, as_map, encode


def coded(text: str, name: str, code: int) -> bool:
    return text.startswith(name + " ") and text.endswith(f"({code})")


def get(rc, key, *bins) -> dict:
    reply = as_map(rc.call("AS.GET", key, *bins))
    reply[b"bins"] = as_map(reply[b"bins"])
    return reply


def meta(rc, key) -> dict:
    return as_map(rc.call("AS.GETMETA", key))


def test_put_get_with_metadata(rc):
    before = int(time.time() * 1000)
    assert rc.call("AS.PUT", "test:users:42", "BINS", "name", "ann", "age", "31") == b"OK"
    rec = get(rc, "test:users:42")
    assert rec[b"bins"] == {b"name": b"ann", b"age": 31}  # the integer is an integer bin
    assert rec[b"namespace"] == b"test" and rec[b"set"] == b"users" and rec[b"key"] == b"42"
    assert rec[b"generation"] == 1 and rec[b"ttl"] == -1 and rec[b"void_time"] == 0
    assert before - 1000 <= rec[b"last_update_time"] <= time.time() * 1000 + 1000
    assert re.fullmatch(rb"[0-9a-f]{40}", rec[b"digest"])  # 20-byte digest
    assert rec[b"type"] == b"hash"
    assert get(rc, "test:users:42", "name", "nope")[b"bins"] == {b"name": b"ann"}
    assert meta(rc, "test:users:42")[b"generation"] == 1
    assert b"bins" not in meta(rc, "test:users:42")
    # the same record through Redis commands
    assert as_map(rc.call("HGETALL", "test:users:42")) == {b"name": b"ann", b"age": b"31"}
    for missing in (["AS.GET", "test:nope"], ["AS.GETMETA", "test:nope"]):
        assert coded(rc.error(*missing), "KEY_NOT_FOUND", 2)


def test_digest_is_stable_and_partitioned(rc):
    rc.call("SET", "foo", "1")
    rc.call("SET", "test:foo", "1")
    d1, d2 = meta(rc, "foo")[b"digest"], meta(rc, "test:foo")[b"digest"]
    assert d1 != d2  # each distinct Redis key is its own record
    rc.call("DEL", "foo")
    rc.call("SET", "foo", "2")
    assert meta(rc, "foo")[b"digest"] == d1
    # partition id = byte0 + 256 * (byte1 & 0xF) = hash slot // 4 (CLUSTER KEYSLOT of foo is 12182)
    raw = bytes.fromhex(d1.decode())
    assert raw[0] + 256 * (raw[1] & 0x0F) == 12182 // 4


def test_put_updates_merge_and_null_deletes_bins(rc):
    rc.call("AS.PUT", "k", "BINS", "a", "1", "b", "2")
    rc.call("AS.PUT", "k", "BINS", "b", "3", "c", "x")
    assert get(rc, "k")[b"bins"] == {b"a": 1, b"b": 3, b"c": b"x"}
    assert meta(rc, "k")[b"generation"] == 2
    rc.call(
        "AS.PUT",
        "k",
        "JSON",
        '{"a": null, "f": 1.5, "l": [1, "two", {"x": true}], "m": {"k": "v"}}',
    )
    bins = get(rc, "k")[b"bins"]
    assert set(bins) == {b"b", b"c", b"f", b"l", b"m"}
    assert float(bins[b"f"]) == 1.5
    # Redis commands see the non-string bins as JSON text
    assert json.loads(rc.call("HGET", "k", "l")) == [1, "two", {"x": True}]
    assert rc.call("HGET", "k", "m") == b'{"k":"v"}'


def test_single_value_bin_is_a_redis_string(rc):
    rc.call("AS.PUT", "s", "BINS", "value", "hello")
    assert rc.call("TYPE", "s") == b"string"
    assert rc.call("GET", "s") == b"hello"
    rc.call("AS.PUT", "n", "BINS", "value", "41")
    assert rc.call("INCR", "n") == 42
    rc.call("AS.PUT", "s", "BINS", "other", "x")  # a second bin: now a hash
    assert rc.call("TYPE", "s") == b"hash"
    assert as_map(rc.call("HGETALL", "s")) == {b"value": b"hello", b"other": b"x"}


@pytest.mark.parametrize(
    "action,exists_before,ok",
    [
        ("UPDATE", False, True),
        ("UPDATE", True, True),
        ("UPDATE_ONLY", False, False),
        ("UPDATE_ONLY", True, True),
        ("REPLACE", False, True),
        ("REPLACE", True, True),
        ("REPLACE_ONLY", False, False),
        ("REPLACE_ONLY", True, True),
        ("CREATE_ONLY", False, True),
        ("CREATE_ONLY", True, False),
    ],
)
def test_record_exists_actions(rc, action, exists_before, ok):
    if exists_before:
        rc.call("AS.PUT", "k", "BINS", "old", "1")
    reply = rc.call("AS.PUT", "k", "EXISTS", action, "BINS", "new", "2")
    if ok:
        assert reply == b"OK"
        bins = get(rc, "k")[b"bins"]
        keeps_old = exists_before and action in ("UPDATE", "UPDATE_ONLY")
        assert bins == ({b"old": 1, b"new": 2} if keeps_old else {b"new": 2})
    else:
        expected = ("KEY_EXISTS", 5) if action == "CREATE_ONLY" else ("KEY_NOT_FOUND", 2)
        assert coded(str(reply), *expected), reply
        if exists_before:
            assert get(rc, "k")[b"bins"] == {b"old": 1}
        else:
            assert rc.call("AS.EXISTS", "k") == 0


def test_generation_policies(rc):
    rc.call("AS.PUT", "k", "BINS", "v", "1")
    assert coded(rc.error("AS.PUT", "k", "GEN", "5", "BINS", "v", "2"), "GENERATION", 3)
    assert rc.call("AS.PUT", "k", "GEN", "1", "BINS", "v", "2") == b"OK"
    assert coded(rc.error("AS.PUT", "k", "GEN", "1", "BINS", "v", "3"), "GENERATION", 3)
    assert coded(rc.error("AS.PUT", "k", "GENGT", "2", "BINS", "v", "3"), "GENERATION", 3)
    assert rc.call("AS.PUT", "k", "GENGT", "3", "BINS", "v", "3") == b"OK"
    assert get(rc, "k")[b"bins"] == {b"v": 3} and meta(rc, "k")[b"generation"] == 3
    assert coded(rc.error("AS.DELETE", "k", "GEN", "2"), "GENERATION", 3)
    assert coded(rc.error("AS.TOUCH", "k", "GEN", "9"), "GENERATION", 3)
    assert coded(rc.error("AS.OPERATE", "k", "GEN", "9", "OPS", "WRITE", "v", "9"), "GENERATION", 3)
    assert get(rc, "k")[b"bins"] == {b"v": 3}
    assert rc.call("AS.DELETE", "k", "GEN", "3") == b"OK"
    assert rc.call("AS.EXISTS", "k") == 0


def test_generation_wraps_to_1(rc):
    rc.call("SET", "g", "0")  # generation 1
    n = 65534
    rc.send(encode("INCR", "g") * n)  # pipelined: generation 65535
    for i in range(n):
        assert rc.read() == i + 1
    assert meta(rc, "g")[b"generation"] == 65535
    rc.call("INCR", "g")
    assert meta(rc, "g")[b"generation"] == 1  # wraps 65535 -> 1, never 0
    rc.call("INCR", "g")
    assert meta(rc, "g")[b"generation"] == 2


def test_ttl_values(rc):
    rc.call("AS.PUT", "k", "TTL", "100", "BINS", "a", "1")
    m = meta(rc, "k")
    assert 99 <= m[b"ttl"] <= 100 and m[b"void_time"] > time.time() * 1000
    rc.call("AS.PUT", "k", "TTL", "-2", "BINS", "a", "2")  # -2: leave unchanged
    assert 98 <= meta(rc, "k")[b"ttl"] <= 100
    rc.call("AS.PUT", "k", "BINS", "a", "3")  # no TTL given: unchanged too
    assert 98 <= meta(rc, "k")[b"ttl"] <= 100
    rc.call("AS.PUT", "k", "TTL", "-1", "BINS", "a", "4")  # -1: never expire
    assert meta(rc, "k")[b"ttl"] == -1 and rc.call("TTL", "k") == -1
    rc.call("AS.PUT", "k", "TTL", "50", "BINS", "a", "4")
    rc.call("AS.PUT", "k", "TTL", "0", "BINS", "a", "5")  # 0: the namespace default-ttl (0)
    assert meta(rc, "k")[b"ttl"] == -1
    assert coded(rc.error("AS.PUT", "k", "TTL", "-3", "BINS", "a", "1"), "PARAMETER", 4)
    assert coded(
        rc.error("AS.PUT", "k", "TTL", str(11 * 365 * 86400), "BINS", "a", "1"), "PARAMETER", 4
    )
    assert get(rc, "k")[b"bins"] == {b"a": 5}


def test_ttl_zero_uses_default_ttl(start_node):
    node = start_node("[namespaces.test]\nnsup-period = 1\ndefault-ttl = 500\n")
    with RawClient.to(node) as c:
        c.call("AS.PUT", "k", "TTL", "0", "BINS", "a", "1")
        assert 499 <= as_map(c.call("AS.GETMETA", "k"))[b"ttl"] <= 500
        c.call("AS.PUT", "k", "TTL", "-1", "BINS", "a", "1")
        assert c.call("TTL", "k") == -1
        c.call("AS.PUT", "k2", "BINS", "a", "1")  # -2 on create acts as 0: default-ttl
        assert 499 <= c.call("TTL", "k2") <= 500
        c.call("AS.TOUCH", "k")  # touch resets to the default-ttl
        assert 499 <= c.call("TTL", "k") <= 500
        c.call("SET", "s", "v")  # Redis writes get the default-ttl too
        assert 499 <= c.call("TTL", "s") <= 500
        c.call("SET", "s", "v", "EX", "20")
        assert 19 <= c.call("TTL", "s") <= 20


def test_exists_delete_touch(rc):
    assert rc.call("AS.EXISTS", "k") == 0
    rc.call("AS.PUT", "k", "BINS", "a", "1")
    assert rc.call("AS.EXISTS", "k") == 1
    assert rc.call("AS.TOUCH", "k", "TTL", "300") == b"OK"
    m = meta(rc, "k")
    assert m[b"generation"] == 2 and 299 <= m[b"ttl"] <= 300
    assert rc.call("AS.TOUCH", "k") == b"OK"  # default: the namespace default-ttl (never)
    assert meta(rc, "k")[b"ttl"] == -1 and meta(rc, "k")[b"generation"] == 3
    assert coded(rc.error("AS.TOUCH", "nope"), "KEY_NOT_FOUND", 2)
    assert rc.call("AS.DELETE", "k") == b"OK"
    assert rc.call("AS.EXISTS", "k") == 0
    assert coded(rc.error("AS.DELETE", "k"), "KEY_NOT_FOUND", 2)
    assert rc.error("AS.DELETE", "k", "EXISTS", "CREATE_ONLY") == "ERR syntax error"


def test_operate(rc):
    rc.call("AS.PUT", "k", "BINS", "name", "ann", "n", "5", "gone", "x")
    reply = as_map(
        rc.call(
            "AS.OPERATE",
            "k",
            "OPS",
            "INCR",
            "n",
            "2",
            "READ",
            "n",
            "APPEND",
            "name",
            "ie",
            "PREPEND",
            "name",
            "j",
            "READ",
            "name",
            "DELETE",
            "gone",
            "WRITE",
            "new",
            "7",
            "INCR",
            "f",
            "0.5",
            "INCR",
            "f",
            "1.25",
            "READ",
            "f",
            "READ",
            "missing",
        )
    )
    results = reply[b"results"]
    assert results[1] == 7 and results[4] == b"jannie" and float(results[9]) == 1.75
    assert results[10] is None
    assert reply[b"generation"] == 2 and reply[b"ttl"] == -1
    bins = get(rc, "k")[b"bins"]
    assert bins[b"n"] == 7 and bins[b"name"] == b"jannie" and bins[b"new"] == 7
    assert b"gone" not in bins
    everything = as_map(as_map(rc.call("AS.OPERATE", "k", "OPS", "READALL"))[b"results"][0])
    assert everything[b"n"] == 7
    assert meta(rc, "k")[b"generation"] == 2  # reads only: no write
    # TOUCH as an op resets the TTL to the default and bumps the generation
    rc.call("EXPIRE", "k", "100")
    reply = as_map(rc.call("AS.OPERATE", "k", "OPS", "TOUCH"))
    assert reply[b"ttl"] == -1 and reply[b"generation"] == 4
    reply = as_map(rc.call("AS.OPERATE", "k", "TTL", "60", "OPS", "WRITE", "a", "1"))
    assert 59 <= reply[b"ttl"] <= 60


def test_operate_is_atomic(rc):
    rc.call("AS.PUT", "k", "BINS", "s", "str", "n", "1")
    text = rc.error("AS.OPERATE", "k", "OPS", "INCR", "n", "1", "INCR", "s", "1")
    assert coded(text, "INCOMPATIBLE_TYPE", 12)
    assert get(rc, "k")[b"bins"] == {b"s": b"str", b"n": 1}  # the first INCR did not stick
    assert meta(rc, "k")[b"generation"] == 1
    assert coded(rc.error("AS.OPERATE", "k", "OPS", "INCR", "n", "1.5"), "INCOMPATIBLE_TYPE", 12)
    assert coded(rc.error("AS.OPERATE", "k", "OPS", "INCR", "n", "x"), "PARAMETER", 4)
    assert coded(rc.error("AS.OPERATE", "k", "OPS", "BOGUS", "x"), "PARAMETER", 4)
    assert coded(rc.error("AS.OPERATE", "k", "OPS", "READ"), "PARAMETER", 4)
    rc.call("AS.PUT", "m", "BINS", "n", "9223372036854775807")
    assert coded(rc.error("AS.OPERATE", "m", "OPS", "INCR", "n", "1"), "PARAMETER", 4)


def test_operate_on_missing_records(rc):
    assert coded(rc.error("AS.OPERATE", "k", "OPS", "READ", "a"), "KEY_NOT_FOUND", 2)
    assert coded(
        rc.error("AS.OPERATE", "k", "EXISTS", "UPDATE_ONLY", "OPS", "WRITE", "a", "1"),
        "KEY_NOT_FOUND",
        2,
    )
    reply = as_map(rc.call("AS.OPERATE", "k", "OPS", "INCR", "c", "1", "READ", "c"))
    assert reply[b"results"] == [None, 1] and reply[b"generation"] == 1
    assert coded(
        rc.error("AS.OPERATE", "k", "EXISTS", "CREATE_ONLY", "OPS", "WRITE", "a", "1"),
        "KEY_EXISTS",
        5,
    )
    # deleting the last bin deletes the record, as in Aerospike
    rc.call("AS.OPERATE", "k", "OPS", "DELETE", "c")
    assert rc.call("AS.EXISTS", "k") == 0


def test_operate_on_redis_values(rc):
    rc.call("SET", "plain", "5")
    reply = as_map(rc.call("AS.OPERATE", "plain", "OPS", "INCR", "value", "10", "READ", "value"))
    assert reply[b"results"] == [None, 15]
    assert rc.call("GET", "plain") == b"15" and rc.call("TYPE", "plain") == b"string"
    rc.call("HSET", "h", "f", "v")
    rc.call("AS.OPERATE", "h", "OPS", "APPEND", "f", "w", "WRITE", "g", "1")
    assert as_map(rc.call("HGETALL", "h")) == {b"f": b"vw", b"g": b"1"}


def test_put_syntax_errors(rc):
    for args in (
        ["k", "BINS"],
        ["k", "BINS", "a"],
        ["k", "FOO", "1", "BINS", "a", "1"],
        ["k", "EXISTS", "MAYBE", "BINS", "a", "1"],
        ["k", "TTL", "1", "a", "1"],
        ["k", "JSON", "{}", "extra"],
        ["k", "COMMIT", "SOME", "BINS", "a", "1"],
    ):
        text = rc.error("AS.PUT", *args)
        assert text in ("ERR syntax error", "ERR wrong number of arguments for 'as.put' command"), (
            args
        )
    assert rc.error("AS.PUT", "k", "TTL", "x", "BINS", "a", "1") == (
        "ERR value is not an integer or out of range"
    )
    assert coded(rc.error("AS.PUT", "k", "JSON", "not json"), "PARAMETER", 4)
    assert coded(rc.error("AS.PUT", "k", "JSON", "[1, 2]"), "PARAMETER", 4)
    assert rc.call("AS.EXISTS", "k") == 0
    assert rc.call("AS.PUT", "k", "COMMIT", "MASTER", "BINS", "a", "1") == b"OK"
    assert rc.error("AS.GET") == "ERR wrong number of arguments for 'as.get' command"


def test_bin_name_limit(start_node):
    node = start_node("[namespaces.test]\nmax-bin-name-length = 15\n")
    with RawClient.to(node) as c:
        assert c.call("AS.PUT", "k", "BINS", "x" * 15, "1") == b"OK"
        assert coded(c.error("AS.PUT", "k", "BINS", "x" * 16, "1"), "BIN_NAME", 21)
        assert coded(c.error("HSET", "h", "f" * 16, "v"), "BIN_NAME", 21)
        assert c.call("EXISTS", "h") == 0
        assert c.call("HSET", "h", "f", "v") == 1  # an existing hash takes HSET's fast path
        assert coded(c.error("HSET", "h", "g" * 16, "v"), "BIN_NAME", 21)
        assert c.call("HKEYS", "h") == [b"f"]


def test_namespaces_and_sets(rc):
    rc.call(
        "MSET",
        "test:users:1",
        "a",
        "test:users:2",
        "b",
        "test:cars:1",
        "c",
        "plain",
        "d",
        "other:users:1",
        "e",
    )
    spaces = as_map(rc.call("AS.NAMESPACES"))
    test = as_map(spaces[b"test"])
    assert test[b"objects"] == 4 and test[b"sets"] == 2 and test[b"memory_used_bytes"] > 0
    assert as_map(spaces[b"other"])[b"objects"] == 1
    sets = {k: as_map(v) for k, v in as_map(rc.call("AS.SETS")).items()}
    assert sets == {
        b"test:users": {b"objects": 2},
        b"test:cars": {b"objects": 1},
        b"other:users": {b"objects": 1},
    }
    assert set(as_map(rc.call("AS.SETS", "other"))) == {b"other:users"}
    assert coded(rc.error("AS.SETS", "nope"), "NAMESPACE", 20)
    rc.call("DEL", "test:cars:1")
    assert b"test:cars" not in as_map(rc.call("AS.SETS", "test"))


def test_scan_with_cursor(rc):
    for i in range(60):
        rc.call("SET", f"test:a:{i}", str(i))
    for i in range(15):
        rc.call("HSET", f"test:b:{i}", "f", str(i))
    seen = {}
    cursor = b"0"
    while True:
        cursor, records = rc.call("AS.SCAN", "test", "SET", "a", "CURSOR", cursor, "COUNT", "7")
        for rec in records:
            rec = as_map(rec)
            seen[rec[b"key"]] = as_map(rec[b"bins"])[b"value"]
        if cursor == b"0":
            break
    assert seen == {str(i).encode(): i for i in range(60)}
    cursor, records = rc.call("AS.SCAN", "test", "COUNT", "1000", "NOBINS")
    assert cursor == b"0" and len(records) == 75
    assert all(b"bins" not in as_map(r) and b"generation" in as_map(r) for r in records)
    assert coded(rc.error("AS.SCAN", "nope"), "NAMESPACE", 20)
    assert rc.error("AS.SCAN", "test", "SET") == "ERR syntax error"
    assert rc.error("AS.SCAN", "test", "FOO", "x") == "ERR syntax error"


def test_truncate(rc):
    rc.call("MSET", "test:a:1", "1", "test:a:2", "2", "test:b:1", "3", "other:a:1", "4", "x", "5")
    assert rc.call("AS.TRUNCATE", "test", "a") == b"OK"
    assert rc.call("EXISTS", "test:a:1", "test:a:2", "test:b:1", "other:a:1", "x") == 3
    assert rc.call("AS.TRUNCATE", "other") == b"OK"
    assert rc.call("EXISTS", "other:a:1") == 0 and rc.call("EXISTS", "test:b:1") == 1
    # BEFORE: only records last updated at or before that time
    cut = meta(rc, "x")[b"last_update_time"]
    time.sleep(0.005)
    rc.call("SET", "later", "1")
    assert rc.call("AS.TRUNCATE", "test", "BEFORE", str(cut)) == b"OK"
    assert rc.call("EXISTS", "x") == 0 and rc.call("EXISTS", "later") == 1
    # writes after a truncate are kept
    rc.call("SET", "test:a:1", "again")
    assert rc.call("GET", "test:a:1") == b"again"
    assert coded(rc.error("AS.TRUNCATE", "nope"), "NAMESPACE", 20)
    assert rc.error("AS.TRUNCATE", "test", "a", "b") == "ERR syntax error"
    assert (
        rc.error("AS.TRUNCATE", "test", "BEFORE", "x")
        == "ERR value is not an integer or out of range"
    )


def test_native_replies_are_resp3_maps(node):
    with RawClient.to(node, 3) as c:
        c.call("AS.PUT", "k", "BINS", "a", "1")
        assert isinstance(c.call("AS.GET", "k"), dict)
        assert isinstance(c.call("AS.NAMESPACES"), dict)
    with RawClient.to(node, 2) as c:
        assert isinstance(c.call("AS.GET", "k"), list)
        c.call("DEL", "k")
