"""Differential test: random command sequences over strings, hashes and generic key
commands go to respike and to a reference redis-server; the replies must be the same.

Only documented differences (docs/compatibility.md) are normalised away:
- TTL-like replies are read at slightly different moments, so they may differ by a tick;
- key and field order of KEYS/SCAN/HKEYS/HVALS/HGETALL is not part of either contract;
- HRANDFIELD and RANDOMKEY are random;
- INCRBYFLOAT uses exact decimals (Redis a long double): results are compared as numbers;
- SET with an EXAT/PXAT in the past: Redis keeps the expired key (DBSIZE counts it until
  it is reclaimed), respike removes it at once, so DBSIZE is not compared after one.
Sequences avoid what is different on purpose: TTLs above max-ttl, SELECT, DEBUG, RENAME
across namespaces, values over max-record-size.
"""

from __future__ import annotations

import math
import os
import time

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import RawClient

KEYS = ["k0", "k1", "k2", "test:s:k3", "other:k4"]
SAME_NS = ["k0", "k1", "k2", "test:s:k3"]  # RENAME stays inside one namespace
FIELDS = ["f0", "f1", "f2", "f3"]
VALUES = [
    "",
    "0",
    "1",
    "-7",
    "42",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "-0.25",
    "abc",
    "hello world",
    "007",
    " 1",
    "\x00\xff",
    "1e3",
    "inf",
    "10",
]
INTS = [
    "0",
    "1",
    "-1",
    "5",
    "-3",
    "100",
    "x",
    "1.5",
    "9223372036854775807",
    "-9223372036854775808",
    "",
]
FLOATS = ["0.5", "-1.25", "3", "1e2", "2.5e-1", "-0.75", "x", "nan", "inf"]
TTLS = ["1000", "86400", "5000000", "0", "-5", "x"]
PTTLS = ["200000", "86400000", "0", "-1"]

key = st.sampled_from(KEYS)
field = st.sampled_from(FIELDS)
value = st.sampled_from(VALUES)
integer = st.sampled_from(INTS)
fl = st.sampled_from(FLOATS)
small_offset = st.sampled_from(["0", "1", "3", "-1", "-3", "10", "-100", "x"])


def _cmd(*parts):
    return st.tuples(*[p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts]).map(
        list
    )


set_options = st.lists(
    st.sampled_from(
        [
            ["NX"],
            ["XX"],
            ["GET"],
            ["KEEPTTL"],
            ["EX", "1000"],
            ["PX", "5000000"],
            ["EX", "0"],
            ["EXAT", "@+1000"],
            ["PXAT", "@+100000ms"],
            ["EXAT", "1"],
            ["FOO"],
        ]
    ),
    max_size=2,
).map(lambda opts: [x for o in opts for x in o])

STRING_COMMANDS = [
    _cmd("GET", key),
    st.tuples(_cmd("SET", key, value), set_options).map(lambda t: t[0] + t[1]),
    _cmd("SETNX", key, value),
    _cmd("SETEX", key, st.sampled_from(TTLS), value),
    _cmd("PSETEX", key, st.sampled_from(PTTLS), value),
    st.lists(key, min_size=1, max_size=4).map(lambda ks: ["MGET", *ks]),
    st.lists(st.tuples(key, value), min_size=1, max_size=3).map(
        lambda kv: ["MSET", *[x for p in kv for x in p]]
    ),
    st.lists(st.tuples(key, value), min_size=1, max_size=3).map(
        lambda kv: ["MSETNX", *[x for p in kv for x in p]]
    ),
    _cmd("GETSET", key, value),
    _cmd("GETDEL", key),
    st.tuples(
        _cmd("GETEX", key),
        st.sampled_from(
            [[], ["PERSIST"], ["EX", "1000"], ["PX", "0"], ["EXAT", "1"], ["EX", "1", "PX", "1"]]
        ),
    ).map(lambda t: t[0] + t[1]),
    _cmd("INCR", key),
    _cmd("DECR", key),
    _cmd("INCRBY", key, integer),
    _cmd("DECRBY", key, integer),
    _cmd("INCRBYFLOAT", key, fl),
    _cmd("APPEND", key, value),
    _cmd("STRLEN", key),
    _cmd("GETRANGE", key, small_offset, small_offset),
    _cmd("SETRANGE", key, st.sampled_from(["0", "2", "5", "-1", "x"]), value),
]

HASH_COMMANDS = [
    st.lists(st.tuples(field, value), min_size=1, max_size=3).map(
        lambda fv: ["HSET", "KEY", *[x for p in fv for x in p]]
    ),
    _cmd("HSETNX", "KEY", field, value),
    st.lists(st.tuples(field, value), min_size=1, max_size=2).map(
        lambda fv: ["HMSET", "KEY", *[x for p in fv for x in p]]
    ),
    _cmd("HGET", "KEY", field),
    st.lists(field, min_size=1, max_size=3).map(lambda fs: ["HMGET", "KEY", *fs]),
    _cmd("HGETALL", "KEY"),
    st.lists(field, min_size=1, max_size=3).map(lambda fs: ["HDEL", "KEY", *fs]),
    _cmd("HEXISTS", "KEY", field),
    _cmd("HLEN", "KEY"),
    _cmd("HKEYS", "KEY"),
    _cmd("HVALS", "KEY"),
    _cmd("HINCRBY", "KEY", field, integer),
    _cmd("HINCRBYFLOAT", "KEY", field, fl),
    _cmd("HSTRLEN", "KEY", field),
    st.sampled_from(
        [
            ["HSCAN", "KEY", "0"],
            ["HSCAN", "KEY", "0", "MATCH", "f[01]"],
            ["HSCAN", "KEY", "0", "COUNT", "2"],
            ["HSCAN", "KEY", "x"],
        ]
    ),
    st.sampled_from(
        [
            ["HRANDFIELD", "KEY", "10"],
            ["HRANDFIELD", "KEY", "10", "WITHVALUES"],
            ["HRANDFIELD", "KEY", "-3"],
            ["HRANDFIELD", "KEY", "0"],
            ["HRANDFIELD", "KEY", "x"],
            ["HRANDFIELD", "KEY", "1", "FOO"],
        ]
    ),
]

KEY_COMMANDS = [
    st.lists(key, min_size=1, max_size=3).map(lambda ks: ["DEL", *ks]),
    st.lists(key, min_size=1, max_size=3).map(lambda ks: ["UNLINK", *ks]),
    st.lists(key, min_size=1, max_size=3).map(lambda ks: ["EXISTS", *ks]),
    st.lists(key, min_size=1, max_size=3).map(lambda ks: ["TOUCH", *ks]),
    _cmd("TYPE", key),
    st.tuples(
        _cmd(st.sampled_from(["EXPIRE", "PEXPIRE"]), key, st.sampled_from(TTLS)),
        st.sampled_from([[], ["NX"], ["XX"], ["GT"], ["LT"], ["NX", "XX"], ["GT", "LT"], ["FOO"]]),
    ).map(lambda t: t[0] + t[1]),
    _cmd(st.sampled_from(["EXPIREAT", "PEXPIREAT"]), key, st.sampled_from(["@+1000", "1", "x"])),
    _cmd(st.sampled_from(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"]), key),
    _cmd(
        st.sampled_from(["RENAME", "RENAMENX"]), st.sampled_from(SAME_NS), st.sampled_from(SAME_NS)
    ),
    _cmd("RENAME", "other:k4", "other:k5"),
    st.sampled_from(
        [
            ["KEYS", "*"],
            ["KEYS", "k?"],
            ["KEYS", "*:*"],
            ["DBSIZE"],
            ["SCAN", "0", "COUNT", "1000"],
            ["SCAN", "0", "COUNT", "1000", "TYPE", "hash"],
            ["SCAN", "0", "COUNT", "1000", "MATCH", "k*"],
        ]
    ),
]

MISC_COMMANDS = [
    st.sampled_from(
        [
            ["GET"],
            ["SET", "k0"],
            ["HSET", "k0", "f"],
            ["HSET", "k0", "f", "v", "g"],
            ["MSET", "k0"],
            ["NOPE", "a"],
            ["EXPIRE", "k0"],
            ["PING"],
            ["ECHO", "x"],
            ["INCRBY", "k0", "1", "2"],
            ["GETRANGE", "k0", "0"],
            ["MULTI"],
            ["EXEC"],
            ["DISCARD"],
        ]
    ),
]


def _with_key(cmd_strategy):
    return st.tuples(cmd_strategy, key).map(lambda t: [t[1] if a == "KEY" else a for a in t[0]])


command = st.one_of(
    *STRING_COMMANDS, *[_with_key(c) for c in HASH_COMMANDS], *KEY_COMMANDS, *MISC_COMMANDS
)
sequences = st.lists(command, min_size=3, max_size=30)
# 200 sequences per protocol by default; RESPIKE_DIFF_EXAMPLES=5000 for a deeper hunt.
EXAMPLES = int(os.environ.get("RESPIKE_DIFF_EXAMPLES", "200"))


def _resolve(args: list[str], now: float) -> list[bytes]:
    """Relative times (`@+N` seconds, `@+Nms`) become one absolute value for both servers."""
    out = []
    for a in args:
        if a.startswith("@+"):
            if a.endswith("ms"):
                a = str(int(now * 1000) + int(a[2:-2]))
            else:
                a = str(int(now) + int(a[2:]))
        out.append(a.encode("latin-1"))
    return out


def _pairs(reply):
    if isinstance(reply, dict):
        return sorted(reply.items())
    return sorted(zip(reply[::2], reply[1::2], strict=True))


def normalise(cmd: list[bytes], reply, queued: list[list[bytes]]):
    """Apply the documented differences (see the module docstring)."""
    name = cmd[0].upper()
    if isinstance(reply, hiredis.ReplyError):
        return ("error", str(reply))
    if reply == b"QUEUED":
        return reply
    if name == b"EXEC" and isinstance(reply, list):
        return [normalise(q, r, []) for q, r in zip(queued, reply, strict=False)]
    if (
        name in (b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME")
        and isinstance(reply, int)
        and reply >= 0
    ):
        scale = 1 if name in (b"TTL", b"EXPIRETIME") else 1000
        return ("time", round(reply / scale / 3))  # compared to within a few seconds
    if name in (b"KEYS", b"HKEYS", b"HVALS"):
        return sorted(reply)
    if name == b"HGETALL":
        return _pairs(reply)
    if name == b"SCAN":
        return (reply[0], sorted(reply[1]))
    if name == b"HSCAN":
        return (reply[0], _pairs(reply[1]))
    if name == b"HRANDFIELD" and isinstance(reply, list):
        count = int(cmd[2])
        if count < 0:
            return ("random", len(reply))
        if len(cmd) > 3:  # WITHVALUES: pairs (RESP3 nests them)
            flat = [x for p in reply for x in p] if reply and isinstance(reply[0], list) else reply
            return _pairs(flat)
        return sorted(reply)
    if name in (b"INCRBYFLOAT", b"HINCRBYFLOAT") and isinstance(reply, bytes):
        return ("float", float(reply))
    return reply


def _same(a, b) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple) and a[:1] == b[:1] == ("float",):
        return math.isclose(a[1], b[1], rel_tol=1e-12) or a[1] == b[1]
    if isinstance(a, tuple) and isinstance(b, tuple) and a[:1] == b[:1] == ("time",):
        return abs(a[1] - b[1]) <= 1
    return a == b


@pytest.fixture(scope="module", params=[2, 3], ids=["resp2", "resp3"])
def pair(request, node, redis_server):
    mine = RawClient.to(node, request.param)
    theirs = RawClient(*redis_server, proto=request.param)
    yield mine, theirs
    mine.close()
    theirs.close()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(commands=sequences)
def test_same_replies_as_redis(pair, commands):
    mine, theirs = pair
    for client in (mine, theirs):
        client.call("DISCARD")  # leave a transaction the previous example left open
        assert client.call("FLUSHALL") == b"OK"
    now = time.time()
    transcript = []
    queued: list[list[bytes]] = []  # commands of the open MULTI, to read EXEC's replies
    stale = False
    for args in commands:
        cmd = _resolve(args, now)
        a, b = mine.call(*cmd), theirs.call(*cmd)
        transcript.append((cmd, a, b))
        if cmd[0].upper() == b"SET" and b"1" in cmd[3:] and a == b"OK":
            stale = True  # SET ... EXAT 1: Redis keeps the dead key until it is reclaimed
        if cmd[0].upper() == b"DBSIZE" and stale:
            continue  # and DBSIZE counts it; respike drops it at once
        na, nb = normalise(cmd, a, queued), normalise(cmd, b, queued)
        if a == b"QUEUED":
            queued.append(cmd)
        elif cmd[0].upper() in (b"EXEC", b"DISCARD"):
            queued = []
        if a != b and isinstance(na, tuple) and na[:1] == ("float",) and _same(na, nb):
            break  # the same number, printed from a decimal vs a long double: what follows differs
        assert _same(na, nb), "\n".join(
            f"{'!!' if c is cmd else '  '} {[x.decode('latin-1') for x in c]}: respike={x!r} redis={y!r}"
            for c, x, y in transcript
        )
