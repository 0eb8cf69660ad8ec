"""Generic key commands: existence, type, expiry, iteration, renaming."""

from __future__ import annotations

import time

from tests.helpers import NOT_INT, SYNTAX, arity, as_map


def test_del_unlink_exists(r, rc):
    r.mset({"a": "1", "b": "2", "c": "3"})
    r.hset("h", "f", "v")
    assert r.exists("a", "a", "b", "missing") == 3  # repeated keys count twice
    assert r.delete("a", "missing") == 1
    assert r.delete("a") == 0
    assert r.unlink("b", "h", "missing") == 2
    assert r.exists("a", "b", "h") == 0
    assert r.exists("c") == 1
    for cmd in ("del", "unlink", "exists"):
        assert rc.error(cmd.upper()) == arity(cmd)


def test_type(r, rc):
    r.set("s", "v")
    r.set("n", "12")
    r.hset("h", "f", "v")
    assert r.type("s") == b"string"
    assert r.type("n") == b"string"
    assert r.type("h") == b"hash"
    assert r.type("missing") == b"none"
    assert rc.error("TYPE") == arity("type")
    assert rc.error("TYPE", "a", "b") == arity("type")


def test_touch(r, rc):
    r.set("a", "1")
    r.hset("h", "f", "v")
    assert r.touch("a", "h", "missing", "a") == 3
    assert rc.error("TOUCH") == arity("touch")
    # TOUCH does not write: the generation is unchanged
    assert as_map(rc.call("AS.GETMETA", "a"))[b"generation"] == 1


def test_expire_ttl_pttl(r):
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.pttl("k") == -1
    assert r.ttl("missing") == -2
    assert r.pttl("missing") == -2
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 99000 <= r.pttl("k") <= 100000
    assert r.pexpire("k", 50000) is True
    assert 49 <= r.ttl("k") <= 50
    assert r.expire("missing", 10) is False
    assert r.pexpire("missing", 10) is False
    r.hset("h", "f", "v")
    assert r.expire("h", 100) is True  # any type
    assert 99 <= r.ttl("h") <= 100


def test_expireat_pexpireat_expiretime(r):
    r.set("k", "v")
    assert r.expiretime("k") == -1
    assert r.pexpiretime("k") == -1
    assert r.expiretime("missing") == -2
    assert r.pexpiretime("missing") == -2
    when = int(time.time()) + 1000
    assert r.expireat("k", when) is True
    assert r.expiretime("k") == when
    assert r.pexpiretime("k") == when * 1000
    assert r.pexpireat("k", when * 1000 + 789) is True
    assert r.pexpiretime("k") == when * 1000 + 789
    assert r.expiretime("k") == when + 1  # rounded to the nearest second, as Redis does
    r.pexpireat("k", when * 1000 + 499)
    assert r.expiretime("k") == when
    assert r.expireat("missing", when) is False


def test_expire_in_the_past_deletes(r):
    for cmd, arg in [
        ("EXPIRE", "0"),
        ("EXPIRE", "-5"),
        ("PEXPIRE", "-1"),
        ("EXPIREAT", "1"),
        ("PEXPIREAT", "1"),
    ]:
        r.set("k", "v")
        assert r.execute_command(cmd, "k", arg) == 1
        assert r.exists("k") == 0, cmd


def test_expire_conditions(r, rc):
    r.set("k", "v")
    assert rc.call("EXPIRE", "k", "100", "XX") == 0  # no TTL yet
    assert rc.call("EXPIRE", "k", "100", "GT") == 0  # no TTL counts as infinite
    assert rc.call("EXPIRE", "k", "100", "LT") == 1
    assert rc.call("EXPIRE", "k", "200", "NX") == 0
    assert rc.call("EXPIRE", "k", "200", "GT") == 1
    assert rc.call("EXPIRE", "k", "150", "GT") == 0
    assert rc.call("EXPIRE", "k", "300", "LT") == 0
    assert rc.call("EXPIRE", "k", "50", "lt") == 1
    assert rc.call("EXPIRE", "k", "60", "XX", "GT") == 1
    assert 59 <= rc.call("TTL", "k") <= 60
    r.persist("k")
    assert rc.call("EXPIRE", "k", "100", "NX") == 1
    assert rc.call("PEXPIRE", "missing", "100", "NX") == 0
    assert rc.error("EXPIRE", "k", "10", "NX", "XX") == (
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    )
    assert rc.error("EXPIRE", "k", "10", "NX", "GT") == (
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    )
    assert rc.error("EXPIRE", "k", "10", "GT", "LT") == (
        "ERR GT and LT options at the same time are not compatible"
    )
    assert rc.error("EXPIRE", "k", "10", "FOO") == "ERR Unsupported option FOO"


def test_expire_errors(rc):
    rc.call("SET", "k", "v")
    assert rc.error("EXPIRE", "k", "x") == NOT_INT
    assert rc.error("EXPIRE", "k", "1.5") == NOT_INT
    assert (
        rc.error("EXPIRE", "k", "9223372036854775807")
        == "ERR invalid expire time in 'expire' command"
    )
    assert (
        rc.error("EXPIRE", "k", "-9223372036854775808")
        == "ERR invalid expire time in 'expire' command"
    )
    assert (
        rc.error("PEXPIRE", "k", "9223372036854775807")
        == "ERR invalid expire time in 'pexpire' command"
    )
    assert (
        rc.error("EXPIREAT", "k", "9223372036854775807")
        == "ERR invalid expire time in 'expireat' command"
    )
    for cmd in ("expire", "pexpire", "expireat", "pexpireat"):
        assert rc.error(cmd.upper(), "k") == arity(cmd)
    for cmd in ("ttl", "pttl", "expiretime", "pexpiretime", "persist"):
        assert rc.error(cmd.upper()) == arity(cmd)
        assert rc.error(cmd.upper(), "a", "b") == arity(cmd)
    assert rc.call("TTL", "k") == -1


def test_ttl_above_max_ttl_is_a_parameter_error(rc):
    rc.call("SET", "k", "v")
    text = rc.error("EXPIRE", "k", str(11 * 365 * 86400))
    assert text.startswith("PARAMETER ") and text.endswith("(4)") and "max-ttl" in text
    text = rc.error("SET", "k2", "v", "EX", str(11 * 365 * 86400))
    assert text.startswith("PARAMETER ") and text.endswith("(4)")
    assert rc.call("EXISTS", "k2") == 0
    assert rc.call("TTL", "k") == -1
    assert rc.call("EXPIRE", "k", str(9 * 365 * 86400)) == 1


def test_persist(r):
    r.set("k", "v", ex=100)
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.persist("k") is False
    assert r.persist("missing") is False


def test_expiry_writes_bump_generation(rc):
    rc.call("SET", "k", "v")
    rc.call("EXPIRE", "k", "100")
    assert as_map(rc.call("AS.GETMETA", "k"))[b"generation"] == 2
    rc.call("PERSIST", "k")
    meta = as_map(rc.call("AS.GETMETA", "k"))
    assert meta[b"generation"] == 3 and meta[b"ttl"] == -1
    rc.call("EXPIRE", "k", "100", "XX")  # refused: no write
    assert as_map(rc.call("AS.GETMETA", "k"))[b"generation"] == 3


def test_keys_pattern(r, rc):
    names = ["one", "two", "three", "four", "test:users:1", "other:x", "h[x]", "a*b", "a?c"]
    r.mset({n: "v" for n in names})
    assert sorted(r.keys("*")) == sorted(n.encode() for n in names)
    assert sorted(r.keys("t*")) == [b"test:users:1", b"three", b"two"]
    assert sorted(r.keys("?o*")) == [b"four"]
    assert sorted(r.keys("[ot]*")) == [b"one", b"other:x", b"test:users:1", b"three", b"two"]
    assert sorted(r.keys("[^ot]*")) == [b"a*b", b"a?c", b"four", b"h[x]"]
    assert sorted(r.keys("[a-f]*")) == [b"a*b", b"a?c", b"four"]
    assert r.keys("h\\[x\\]") == [b"h[x]"]
    assert r.keys("a\\*b") == [b"a*b"]
    assert r.keys("nothing*") == []
    assert rc.error("KEYS") == arity("keys")
    assert rc.error("KEYS", "a", "b") == arity("keys")


def test_randomkey(r):
    assert r.randomkey() is None
    r.mset({"a": "1", "test:b": "2", "other:c": "3"})
    seen = {r.randomkey() for _ in range(60)}
    assert seen <= {b"a", b"test:b", b"other:c"}
    assert len(seen) >= 2


def _scan_all(r, **kwargs) -> list[bytes]:
    out: list[bytes] = []
    cursor, steps = 0, 0
    while True:
        cursor, keys = r.scan(cursor, **kwargs)
        out.extend(keys)
        steps += 1
        assert steps < 10000
        if cursor == 0:
            return out


def test_scan_full_iteration(r):
    keys = [f"k{i}" for i in range(300)] + [f"other:o{i}" for i in range(50)]
    r.mset({k: "v" for k in keys})
    found = _scan_all(r, count=20)
    assert sorted(found) == sorted(k.encode() for k in keys)
    assert len(found) == len(set(found))


def test_scan_match_count_type(r, rc):
    for i in range(50):
        r.set(f"s:{i}", "v")
        r.hset(f"h:{i}", "f", "v")
    assert sorted(_scan_all(r, match="s:1*")) == sorted(
        [b"s:1"] + [b"s:1%d" % i for i in range(10)]
    )
    assert len(_scan_all(r, _type="hash")) == 50
    assert all(k.startswith(b"h:") for k in _scan_all(r, _type="HASH"))
    assert len(_scan_all(r, _type="string", match="*:4*")) == 11
    assert _scan_all(r, _type="nosuchtype") == []
    # COUNT is a hint: one call returns everything in a few steps with a big count
    cursor, keys = r.scan(0, count=1000)
    assert cursor == 0 and len(keys) == 100
    assert rc.error("SCAN", "x") == "ERR invalid cursor"
    assert rc.error("SCAN", "1.5") == "ERR invalid cursor"
    assert rc.error("SCAN", "18446744073709551616") == "ERR invalid cursor"
    assert rc.call("SCAN", "18446744073709551615")[0] == b"0"
    assert rc.error("SCAN", "0", "COUNT", "0") == SYNTAX
    assert rc.error("SCAN", "0", "COUNT", "x") == NOT_INT
    assert rc.error("SCAN", "0", "MATCH") == SYNTAX
    assert rc.error("SCAN", "0", "FOO", "x") == SYNTAX
    assert rc.error("SCAN") == arity("scan")


def test_scan_is_stable_while_keys_change(r):
    """Keys present for the whole scan are returned exactly once, however others come
    and go between steps (the cursor walks partitions, not a hash table that resizes)."""
    stable = {f"stable:{i}".encode() for i in range(400)}
    r.mset({k: "v" for k in stable})
    r.mset({f"doomed:{i}": "v" for i in range(200)})
    found: list[bytes] = []
    cursor, step = 0, 0
    while True:
        cursor, keys = r.scan(cursor, count=25)
        found.extend(keys)
        # churn between steps: delete old keys, add many new ones (would rehash a dict)
        r.delete(*[f"doomed:{i}" for i in range(step * 10, step * 10 + 10)])
        r.mset({f"new:{step}:{i}": "v" for i in range(40)})
        step += 1
        if cursor == 0:
            break
    got = [k for k in found if k.startswith(b"stable:")]
    assert sorted(got) == sorted(stable)  # all of them, none twice


def test_rename(r, rc):
    r.set("a", "1", ex=100)
    assert r.rename("a", "b") is True
    assert r.exists("a") == 0
    assert r.get("b") == b"1"
    assert 99 <= r.ttl("b") <= 100  # the TTL moves with the value
    r.hset("h", "f", "v")
    assert r.rename("h", "b") is True  # overwrites, whatever the type
    assert r.type("b") == b"hash"
    assert r.hgetall("b") == {b"f": b"v"}
    assert r.rename("b", "b") is True
    assert rc.error("RENAME", "missing", "x") == "ERR no such key"
    assert rc.error("RENAME", "b") == arity("rename")
    # within a namespace, across sets
    r.set("test:s1:k", "v")
    assert r.rename("test:s1:k", "test:s2:k") is True
    assert r.get("test:s2:k") == b"v"


def test_renamenx(r, rc):
    r.mset({"a": "1", "b": "2"})
    assert r.renamenx("a", "b") is False
    assert r.get("a") == b"1"
    assert r.renamenx("a", "c") is True
    assert r.mget("a", "c") == [None, b"1"]
    assert r.renamenx("c", "c") is False
    assert rc.error("RENAMENX", "missing", "x") == "ERR no such key"
    assert rc.error("RENAMENX", "c") == arity("renamenx")


def test_rename_across_namespaces_is_refused(r, rc):
    r.set("test:k", "v")
    text = rc.error("RENAME", "test:k", "other:k")
    assert text.startswith("ERR ") and "namespace" in text
    assert rc.error("RENAMENX", "test:k", "other:k").startswith("ERR ")
    assert r.get("test:k") == b"v"
    assert r.exists("other:k") == 0


def test_dbsize_counts_every_namespace(r):
    assert r.dbsize() == 0
    r.mset({"a": "1", "test:b": "2", "other:c": "3", "other:s:d": "4"})
    assert r.dbsize() == 4
    r.delete("other:c")
    assert r.dbsize() == 3
