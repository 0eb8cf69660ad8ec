"""Lua scripting and functions against a real node, compared reply by reply with
redis-server where Redis defines the answer; BUSY / SCRIPT KILL with a script that never
ends; functions kept across a restart; the sandbox."""

from __future__ import annotations

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import RawClient

# Scripts whose replies (and errors, including the script's SHA and line) must be
# exactly redis-server's.
SCRIPTS = [
    ("return redis.call('incr', KEYS[1])", ["k1"], []),
    ("return redis.call('incr', KEYS[1], 'x')", ["k1"], []),
    ("redis.call('set', KEYS[1], 'str') return redis.call('incr', KEYS[1])", ["k2"], []),
    ("redis.call('set', KEYS[1], 'str') return redis.pcall('incr', KEYS[1])", ["k2"], []),
    ("return foo", [], []),
    ("return (", [], []),
    ("error('boom')", [], []),
    ("error({err='MY bad'})", [], []),
    ("return redis.error_reply('X y')", [], []),
    ("return redis.status_reply('FINE')", [], []),
    ("return {1, 2, {3, 'a'}, nil, 4}", [], []),
    ("return 3.99", [], []),
    ("return 7", [], []),
    ("return -7", [], []),
    ("return 2^53", [], []),
    ("return 1e20", [], []),
    ("return ''", [], []),
    ("return 'abc'", [], []),
    ("return ARGV[1]", [], ["x\r\ny"]),
    ("return -3.99", [], []),
    ("return {ok='x'}", [], []),
    ("return {err='WRONGTYPE x'}", [], []),
    ("return true", [], []),
    ("return false", [], []),
    ("return nil", [], []),
    ("os.execute('ls')", [], []),
    ("return io", [], []),
    ("return redis.call('nosuch')", [], []),
    ("return redis.call('get')", [], []),
    ("return redis.call()", [], []),
    ("return redis.call('multi')", [], []),
    ("x = 5", [], []),
    ("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}", ["a", "b"], ["c", "d"]),
    ("return redis.call('set', KEYS[1], 3.5)", ["k3"], []),
    ("return redis.call('set', KEYS[1], 12)", ["k3"], []),
    ("return redis.call('set', KEYS[1], {})", ["k3"], []),
    (
        "return {redis.call('rpush', KEYS[1], 'a', 'b'), redis.call('lrange', KEYS[1], 0, -1)}",
        ["l1"],
        [],
    ),  # fmt: skip
    ("return redis.call('hgetall', 'nohash')", [], []),
    ("redis.setresp(3) return redis.call('hgetall', 'nohash')", [], []),
    ("redis.setresp(3) return redis.call('get', 'nokey')", [], []),
    ("redis.setresp(3) return {double=3.5}", [], []),
    ("return {double=3.5}", [], []),
    ("redis.setresp(3) return true", [], []),
    ("redis.setresp(3) return {false, true}", [], []),  # (a bare #f reads as 'no reply' in hiredis)
    ("redis.setresp(4)", [], []),
    ("return redis.sha1hex('')", [], []),
    ("return cjson.encode({1, 2, 3})", [], []),
    ("return cjson.decode('[1,2,{\"a\":3}]')[3].a", [], []),
    ("return cmsgpack.unpack(cmsgpack.pack({1, 2, 3}))", [], []),
    ("return bit.band(0xff, 0x0f)", [], []),
    ("return bit.tohex(65535)", [], []),
    ("return struct.pack('>I2', 258)", [], []),
    ("return {struct.unpack('<i4', struct.pack('<i4', -7))}", [], []),
    ("return redis.call('exists', KEYS[1]) == 0", ["nothere"], []),
    ("return tostring(redis.call('get', 'nothere'))", [], []),
    ("return type(redis.call('set', 'k9', 'v').ok)", [], []),
    ("return loadstring(string.dump(function() return 1 end))", [], []),
    ("local t = {} t[1] = 1 t[3] = 3 return t", [], []),
    ("#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')", [], []),
    ("#!lua flags=bogus\nreturn 1", [], []),
    ("#!lua\nreturn redis.call('get', 'a')", [], []),
]


def _call(client: RawClient, *args):
    try:
        return _plain(client.call(*args))
    except hiredis.ReplyError as exc:
        return ("error", str(exc))


def _plain(reply):
    if isinstance(reply, hiredis.ReplyError):
        return ("error", str(reply))
    if isinstance(reply, list):
        return [_plain(r) for r in reply]
    return reply


def _both(node, redis_server, proto: int):
    ours = RawClient(node.host, node.port, proto)
    theirs = RawClient(*redis_server, proto=proto)
    for c in (ours, theirs):
        c.call("FLUSHALL")
        c.call("SCRIPT", "FLUSH")
    return ours, theirs


@pytest.mark.parametrize("proto", [2, 3])
def test_scripts_answer_as_redis(node, redis_server, proto):
    ours, theirs = _both(node, redis_server, proto)
    with ours, theirs:
        for body, keys, argv in SCRIPTS:
            args = ["EVAL", body, len(keys), *keys, *argv]
            assert _call(ours, *args) == _call(theirs, *args), body
            sha = _call(theirs, "SCRIPT", "LOAD", body)
            if isinstance(sha, bytes):
                assert _call(ours, "SCRIPT", "LOAD", body) == sha
                assert _call(ours, "EVALSHA", sha, len(keys), *keys, *argv) == _call(
                    theirs, "EVALSHA", sha, len(keys), *keys, *argv
                )
        for args in (
            ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", 0],
            ["EVAL", "return 1", "x"],
            ["EVAL", "return 1", -1],
            ["EVAL", "return 1", 3, "a"],
            ["EVAL_RO", "return redis.call('set', KEYS[1], 'v')", 1, "k"],
            ["EVAL_RO", "return redis.call('get', KEYS[1])", 1, "k"],
            ["SCRIPT", "EXISTS", "ffffffffffffffffffffffffffffffffffffffff"],
            ["SCRIPT", "KILL"],
            ["SCRIPT", "FLUSH", "BAD"],
        ):
            assert _call(ours, *args) == _call(theirs, *args), args
        # the data the scripts left is the same too
        for key in ("k1", "k2", "k3", "l1", "k9"):
            assert _call(ours, "TYPE", key) == _call(theirs, "TYPE", key)


# Random scripts built from redis.call of supported commands, with pcall and nesting.
_CALLS = st.sampled_from(
    [
        "redis.call('set', KEYS[1], ARGV[1])",
        "redis.call('get', KEYS[1])",
        "redis.call('incr', KEYS[1])",
        "redis.pcall('incr', KEYS[1])",
        "redis.call('del', KEYS[1])",
        "redis.call('rpush', KEYS[2], ARGV[1])",
        "redis.call('lrange', KEYS[2], 0, -1)",
        "redis.pcall('lpush', KEYS[1], 'x')",
        "redis.call('hset', KEYS[3], ARGV[1], ARGV[2])",
        "redis.call('hgetall', KEYS[3])",
        "redis.call('exists', KEYS[1], KEYS[2])",
        "redis.pcall('hget', KEYS[1], 'f')",
        "redis.call('sadd', KEYS[4], ARGV[1])",
        "redis.call('smembers', KEYS[4])",
        "redis.call('zadd', KEYS[5], 1, ARGV[1])",
        "redis.call('zrange', KEYS[5], 0, -1, 'WITHSCORES')",
        "redis.call('type', KEYS[2])",
        "redis.call('ping')",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    calls=st.lists(_CALLS, min_size=1, max_size=6),
    nested=st.booleans(),
    resp3=st.booleans(),
    value=st.sampled_from(["1", "abc", "-5", "10"]),
)
def test_random_scripts_match_redis(node, redis_server, calls, nested, resp3, value):
    ours, theirs = _both(node, redis_server, 3 if resp3 else 2)
    head = "redis.setresp(3) " if resp3 else ""
    body = head + "local r = {} " + " ".join(f"r[#r+1] = {c}" for c in calls)
    body += " return {r, #r}" if nested else " return r[#r]"
    args = ["EVAL", body, 5, "a", "b", "c", "d", "e", value, "v2"]
    with ours, theirs:
        assert _sorted(_call(ours, *args)) == _sorted(_call(theirs, *args)), body
        for key in "abcde":
            assert _call(ours, "TYPE", key) == _call(theirs, "TYPE", key)


def _sorted(reply):
    """Sets and maps come back in any order: compare them sorted."""
    if isinstance(reply, list):
        return [_sorted(r) for r in reply]
    if isinstance(reply, dict):
        return sorted((repr(k), repr(_sorted(v))) for k, v in reply.items())
    if isinstance(reply, set):
        return sorted(map(repr, reply))
    if isinstance(reply, tuple) and reply[0] == "error":
        return (reply[0], reply[1].split(" script: ")[0])
    return reply


LIB = (
    "#!lua name=mylib\n"
    "local function f(keys, args) return redis.call('incrby', keys[1], args[1]) end\n"
    "redis.register_function('myincr', f)\n"
    "redis.register_function{function_name='ro', callback=function(keys) "
    "return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}\n"
)


def test_functions_answer_as_redis(node, redis_server):
    ours, theirs = _both(node, redis_server, 2)
    with ours, theirs:
        for c in (ours, theirs):
            c.call("FUNCTION", "FLUSH")
        for args in (
            ["FUNCTION", "LOAD", LIB],
            ["FCALL", "myincr", 1, "ctr", 5],
            ["FCALL_RO", "ro", 1, "ctr"],
            ["FCALL_RO", "myincr", 1, "ctr", 1],
            ["FCALL", "nosuch", 0],
            ["FUNCTION", "LOAD", LIB],
            ["FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('myincr', function() return 1 end)"],
            ["FUNCTION", "LOAD", "#!lua name=bad\nredis.call('set','a','b')"],
            ["FUNCTION", "LOAD", "#!lua name=empty\nlocal x = 1"],
            ["FUNCTION", "LOAD", "no shebang"],
            ["FUNCTION", "LOAD", "REPLACE", LIB],
            ["FUNCTION", "DELETE", "mylib"],
            ["FUNCTION", "DELETE", "mylib"],
            ["FCALL", "myincr", 1, "ctr", 1],
            ["FUNCTION", "LOAD", "#!lua name=errs\nredis.register_function('e', function() return redis.call('incr', 'str') end)"],
            ["SET", "str", "abc"],
            ["FCALL", "e", 0],
        ):  # fmt: skip
            assert _call(ours, *args) == _call(theirs, *args), args
        dump = ours.call("FUNCTION", "DUMP")
        ours.call("FUNCTION", "FLUSH")
        assert ours.call("FUNCTION", "RESTORE", dump) == b"OK"
        assert _call(ours, "FCALL", "e", 0) == _call(theirs, "FCALL", "e", 0)
        assert _call(ours, "FUNCTION", "RESTORE", dump)[0] == "error"  # APPEND: exists
        assert ours.call("FUNCTION", "RESTORE", dump, "REPLACE") == b"OK"


def test_functions_survive_a_restart(start_node):
    node = start_node()
    with RawClient.to(node) as c:
        assert c.call("FUNCTION", "LOAD", LIB) == b"mylib"
    node.stop()
    node.start()
    with RawClient.to(node) as c:
        assert c.call("FCALL", "myincr", 1, "ctr", 2) == 2


# A script that runs for at least 25 ms (TIME, not a loop of a guessed length).
SLOW = """local t = redis.call('time') local start = t[1] * 1000000 + t[2]
repeat t = redis.call('time') until t[1] * 1000000 + t[2] - start >= 25000
return 1"""


def _logged(c, command: bytes) -> int:
    return sum(1 for entry in c.call("SLOWLOG", "GET", "-1") if entry[3][0] == command)


def test_scripts_are_in_the_slowlog_every_time(node):
    """Scripts run on the connection's inline path (timed one call in SAMPLE_EVERY for the
    latency statistics) but log themselves: every slow one is in SLOWLOG, once."""
    with RawClient.to(node) as c:
        c.call("CONFIG", "SET", "slowlog-max-len", "1000", "slowlog-log-slower-than", "20000")
        c.call("SLOWLOG", "RESET")
        slow, fast = c.call("SCRIPT", "LOAD", SLOW), c.call("SCRIPT", "LOAD", "return 1")
        for _ in range(20):  # more than SAMPLE_EVERY
            assert c.call("EVALSHA", slow, 0) == 1
            assert c.call("EVALSHA", fast, 0) == 1
        assert _logged(c, b"EVALSHA") == 20
        assert all(e[3][1] == slow for e in c.call("SLOWLOG", "GET", "-1") if e[3][0] == b"EVALSHA")
        assert c.call("EVAL", SLOW, 0) == 1 and _logged(c, b"EVAL") == 1
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")  # every command, once
        c.call("SLOWLOG", "RESET")
        for _ in range(40):
            c.call("EVALSHA", fast, 0)
        assert _logged(c, b"EVALSHA") == 40
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")


def test_sandbox(node):
    with RawClient.to(node) as c:
        for body in (
            "return os.execute('true')",
            "return io.open('/etc/passwd')",
            "return require('os')",
            "return dofile('/etc/passwd')",
            "return getfenv(0).os",
            "return loadstring(string.dump(function() return 1 end))()",
        ):
            reply = _call(c, "EVAL", body, 0)
            assert isinstance(reply, tuple) and reply[0] == "error", (body, reply)
        huge = _call(c, "EVAL", "local t = {} for i = 1, 200000 do t[i] = i end return t", 0)
        assert len(huge) == 200000
        assert c.call("PING") == b"PONG"
