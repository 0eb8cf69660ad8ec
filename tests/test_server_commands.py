"""Server commands: COMMAND, INFO, CONFIG, DBSIZE, FLUSHDB/FLUSHALL, TIME, FUNCTION, DEBUG."""

from __future__ import annotations

import socket
import time

import pytest
import redis

from tests.helpers import RawClient, arity, as_map, encode, info_dict, namespace_stats

# The commands this suite owns; their declarations are compared with redis-server's.
OWN = """get set setnx setex psetex mget mset msetnx getset getdel getex incr decr incrby decrby
incrbyfloat append strlen getrange setrange hset hsetnx hmset hget hmget hgetall hdel hexists
hlen hkeys hvals hincrby hincrbyfloat hstrlen hscan hrandfield del unlink exists type expire
pexpire expireat pexpireat ttl pttl expiretime pexpiretime persist touch scan keys randomkey
rename renamenx multi exec discard watch unwatch ping echo hello auth select quit reset client
command info config dbsize flushdb flushall time function debug""".split()

# Flags whose meaning clients act on (cluster routing, read-only replicas, OOM handling).
ROUTING_FLAGS = {b"write", b"readonly", b"denyoom", b"fast", b"admin", b"noscript"}
DOC_TYPES = {
    b"key",
    b"string",
    b"integer",
    b"double",
    b"pattern",
    b"unix-time",
    b"token",
    b"oneof",
    b"block",
    b"pure-token",
}


@pytest.fixture
def ref(redis_server):
    with RawClient(*redis_server) as client:
        yield client


def _entries(reply: list) -> dict[bytes, list]:
    """COMMAND reply by name, subcommands included."""
    out = {}
    for entry in reply:
        out[entry[0]] = entry
        for sub in entry[9]:
            out[sub[0]] = sub
    return out


# --- COMMAND ----------------------------------------------------------------------------


def test_command_matches_redis_for_arity_flags_and_key_positions(node, ref):
    with RawClient.to(node) as c:
        mine = _entries(c.call("COMMAND"))
    theirs = _entries(ref.call("COMMAND"))
    compared = 0
    for name in OWN:
        entry = mine[name.encode()]
        subs = [entry] + [s for s in entry[9]]
        for e in subs:
            other = theirs.get(e[0])
            if other is None:  # e.g. DEBUG SLEEP, CLIENT SETINFO (7.2) are not in the 7.0 reference
                continue
            assert e[1] == other[1], (e[0], "arity", e[1], other[1])
            assert e[3:6] == other[3:6], (e[0], "first/last/step", e[3:6], other[3:6])
            if not e[9]:  # containers differ in flags that matter to nobody
                assert set(e[2]) & ROUTING_FLAGS == set(other[2]) & ROUTING_FLAGS, e[0]
            compared += 1
    assert compared > 70


@pytest.mark.parametrize(
    "args",
    [
        ["GET", "a"],
        ["SET", "a", "1", "EX", "10"],
        ["MSET", "a", "1", "b", "2", "c", "3"],
        ["MGET", "a", "b", "c"],
        ["DEL", "a", "b"],
        ["RENAME", "a", "b"],
        ["HSET", "h", "f", "v"],
        ["EXPIRE", "a", "10", "NX"],
        ["WATCH", "a", "b"],
        ["EXISTS", "x", "y", "z"],
        ["GETEX", "a", "PERSIST"],
        ["HSCAN", "h", "0", "COUNT", "5"],
        ["TOUCH", "a", "b"],
    ],
)
def test_command_getkeys_matches_redis(node, ref, args):
    with RawClient.to(node) as c:
        assert c.call("COMMAND", "GETKEYS", *args) == ref.call("COMMAND", "GETKEYS", *args)
        flags = c.call("COMMAND", "GETKEYSANDFLAGS", *args)
        assert [k for k, _ in flags] == ref.call("COMMAND", "GETKEYS", *args)


@pytest.mark.parametrize(
    "args",
    [
        ["GETKEYS"],
        ["GETKEYS", "GET"],
        ["GETKEYS", "NOPE", "a"],
        ["GETKEYS", "PING", "x"],
        ["GETKEYS", "GET", "a", "b"],
        ["GETKEYS", "MSET", "a"],
        ["GETKEYS", "ECHO", "a", "b"],
        ["GETKEYSANDFLAGS", "PING"],
        ["NOPE"],
        ["COUNT", "x"],
        ["INFO"],
    ],
)
def test_command_errors_match_redis(node, ref, args):
    with RawClient.to(node) as c:
        mine, theirs = c.call("COMMAND", *args), ref.call("COMMAND", *args)
    if isinstance(theirs, Exception):
        assert str(mine) == str(theirs)
    else:
        assert not isinstance(mine, Exception)


def test_command_count_info_list(r, rc):
    everything = rc.call("COMMAND")
    assert rc.call("COMMAND", "COUNT") == len(everything)
    assert all(len(e) >= 10 for e in everything)  # RESP3 cluster clients need >= 7
    info = rc.call("COMMAND", "INFO", "get", "nosuch", "client|kill", "SET")
    assert info[0][0] == b"get" and info[0][1] == 2 and info[0][3:6] == [1, 1, 1]
    assert info[1] is None
    assert info[2][0] == b"client|kill"
    assert info[3][0] == b"set"
    names = rc.call("COMMAND", "LIST")
    assert b"get" in names and b"client|kill" in names and b"as.put" in names
    assert sorted(rc.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "hinc*")) == [
        b"hincrby",
        b"hincrbyfloat",
    ]
    assert b"hget" in rc.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "hash")
    assert rc.call("COMMAND", "LIST", "FILTERBY", "MODULE", "x") == []
    assert rc.error("COMMAND", "LIST", "FILTERBY", "FOO", "x") == "ERR syntax error"
    # redis-py's own parsing of COMMAND works in both protocols (cluster clients rely on it)
    table = r.command()
    assert table["mset"]["step_count"] == 2 and table["mset"]["last_key_pos"] == -1
    assert r.command_getkeys("MSET", "a", "1", "b", "2") in ([b"a", b"b"], ["a", "b"])


def test_command_docs_shape_is_what_redis_cli_expects(node):
    with RawClient.to(node, 3) as c:
        docs = c.call("COMMAND", "DOCS")
        raw_client = RawClient.to(node)
        raw_client.send(encode("COMMAND", "DOCS", "set", "client"))
        raw = raw_client.read_raw(timeout=0.5)
        raw_client.close()
    assert isinstance(docs, dict) and b"get" in docs

    def check_arg(arg):
        arg = as_map(arg)
        assert isinstance(arg[b"name"], bytes)
        assert arg[b"type"] in DOC_TYPES, arg
        for sub in arg.get(b"arguments", []):
            check_arg(sub)

    def check_doc(name, doc):
        for field in (b"summary", b"since", b"group"):
            assert isinstance(doc[field], bytes), (name, field)
        for arg in doc.get(b"arguments", []):
            check_arg(arg)
        for sub_name, sub in as_map(doc.get(b"subcommands", {})).items():
            assert b"|" in sub_name  # redis-cli splits at the '|'
            check_doc(sub_name, sub)

    for name, doc in docs.items():
        check_doc(name, doc)
    # argument flags are simple strings: redis-cli asserts it and aborts otherwise
    assert b"+optional\r\n" in raw and b"$8\r\noptional\r\n" not in raw


# --- INFO -------------------------------------------------------------------------------


def test_info_sections(r, rc):
    r.mset({"a": "1", "test:s1:b": "2", "other:c": "3"})
    text = rc.call("INFO")
    for header in (
        b"# Server",
        b"# Clients",
        b"# Memory",
        b"# Stats",
        b"# Keyspace",
        b"# Namespace",
    ):
        assert header in text
    info = info_dict(text)
    assert info["redis_version"] == "7.2.0"
    assert info["redis_mode"] == "standalone"
    assert int(info["connected_clients"]) >= 2
    assert int(info["used_memory"]) > 0
    assert info["db0"].startswith("keys=3,")
    test = dict(kv.split("=") for kv in info["test"].split(","))
    assert test["objects"] == "2" and int(test["memory_used_bytes"]) > 0
    assert dict(kv.split("=") for kv in info["other"].split(","))["objects"] == "1"
    assert info["test.s1"] == "objects=1"
    # one section, several sections, case-insensitive, unknown ones ignored
    only = rc.call("INFO", "SERVER")
    assert b"# Server" in only and b"# Clients" not in only
    two = rc.call("INFO", "clients", "memory", "nosuchsection")
    assert b"# Clients" in two and b"# Memory" in two and b"# Server" not in two
    assert rc.call("INFO", "nosuchsection") == b""
    assert b"# Namespace" in rc.call("INFO", "all")
    # redis-py folds INFO into a dict, namespaces included
    parsed = r.info()
    assert parsed["redis_version"] == "7.2.0"
    assert parsed["test"]["objects"] == 2


def test_info_stats_count_hits_and_misses(r, rc):
    rc.call("CONFIG", "RESETSTAT")
    r.set("k", "v")
    r.get("k")
    r.get("k")
    r.get("missing")
    stats = info_dict(rc.call("INFO", "stats"))
    assert stats["keyspace_hits"] == "2" and stats["keyspace_misses"] == "1"
    assert int(stats["total_commands_processed"]) >= 4
    ns = namespace_stats(rc)
    assert ns["client_read_success"] == "2" and ns["client_write_success"] == "1"
    assert rc.call("CONFIG", "RESETSTAT") == b"OK"
    stats = info_dict(rc.call("INFO", "stats"))
    assert stats["keyspace_hits"] == "0" and stats["keyspace_misses"] == "0"
    assert namespace_stats(rc)["client_write_success"] == "0"


# --- CONFIG -----------------------------------------------------------------------------


def test_config_get(r, rc):
    # what redis-benchmark asks for at start-up: arrays of >= 2 elements
    assert as_map(rc.call("CONFIG", "GET", "save")) == {b"save": b""}
    assert as_map(rc.call("CONFIG", "GET", "appendonly")) == {b"appendonly": b"no"}
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    got = as_map(rc.call("CONFIG", "GET", "test.default-ttl", "test.nsup-period", "port"))
    assert got == {
        b"test.default-ttl": b"0",
        b"test.nsup-period": b"1",
        b"port": str(r.connection_pool.connection_kwargs["port"]).encode(),
    }
    many = as_map(rc.call("CONFIG", "GET", "*.max-record-size"))
    assert many == {b"test.max-record-size": b"1048576", b"other.max-record-size": b"1048576"}
    assert as_map(rc.call("CONFIG", "GET", "TEST.DEFAULT-TTL")) == {b"test.default-ttl": b"0"}
    assert as_map(rc.call("CONFIG", "GET", "nosuch")) == {}
    assert rc.error("CONFIG", "GET") == arity("config|get")


def test_config_set_namespace_setting_takes_effect(r, rc):
    try:
        assert rc.call("CONFIG", "SET", "test.default-ttl", "300") == b"OK"
        assert as_map(rc.call("CONFIG", "GET", "test.default-ttl")) == {b"test.default-ttl": b"300"}
        r.set("k", "v")  # a write Redis makes persistent gets the namespace default-ttl
        assert 299 <= r.ttl("k") <= 300
        r.set("other:k", "v")  # another namespace: unaffected
        assert r.ttl("other:k") == -1
        assert (
            rc.call("CONFIG", "SET", "test.default-ttl", "1h", "test.max-record-size", "1K")
            == b"OK"
        )
        assert as_map(rc.call("CONFIG", "GET", "test.default-ttl"))[b"test.default-ttl"] == b"3600"
        text = rc.error("SET", "big", "x" * 2000)
        assert text.startswith("RECORD_TOO_BIG") and text.endswith("(13)")
    finally:
        rc.call("CONFIG", "SET", "test.default-ttl", "0", "test.max-record-size", "1M")
    r.set("k2", "v")
    assert r.ttl("k2") == -1


def test_config_set_errors(rc):
    try:
        _config_set_errors(rc)
    finally:  # the node is shared: put back anything a failing assertion left changed
        rc.call("CONFIG", "SET", "test.default-ttl", "0")
        rc.call("CONFIG", "SET", "test.max-ttl", "3650d")


def _config_set_errors(rc):
    assert rc.error("CONFIG", "SET", "nosuch", "1") == (
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    )
    text = rc.error("CONFIG", "SET", "test.replication-factor", "3")
    assert text.startswith(
        "ERR CONFIG SET failed (possibly related to argument 'test.replication-factor')"
    )
    assert "restart" in text
    text = rc.error("CONFIG", "SET", "test.default-ttl", "soon")
    assert text.startswith("ERR CONFIG SET failed") and "default-ttl" in text
    text = rc.error("CONFIG", "SET", "test.max-ttl", "10", "test.default-ttl", "20")
    assert text.startswith("ERR CONFIG SET failed (possibly related to argument 'test.max-ttl')")
    assert "'default-ttl' exceeds 'max-ttl'" in text
    text = rc.error("CONFIG", "SET", "test.nsup-period", "5", "test.default-ttl", "x")
    assert text.startswith(
        "ERR CONFIG SET failed (possibly related to argument 'test.default-ttl')"
    )
    text = rc.error("CONFIG", "SET", "test.nsup-period", "5", "test.nsup-period", "6")
    assert text.endswith("duplicate parameter")
    # valid only together: both at once are accepted
    assert rc.call("CONFIG", "SET", "test.max-ttl", "100", "test.default-ttl", "50") == b"OK"
    assert rc.call("CONFIG", "SET", "test.default-ttl", "0", "test.max-ttl", "3650d") == b"OK"
    # nothing of a refused CONFIG SET was applied
    assert as_map(rc.call("CONFIG", "GET", "test.max-ttl")) == {b"test.max-ttl": b"315360000"}
    assert as_map(rc.call("CONFIG", "GET", "test.default-ttl")) == {b"test.default-ttl": b"0"}
    assert rc.error("CONFIG", "SET", "save", "").startswith("ERR CONFIG SET failed")
    assert rc.error("CONFIG", "SET", "a") == arity("config|set")
    assert rc.error("CONFIG", "SET", "a", "b", "c") == arity("config|set")
    assert rc.error("CONFIG", "RESETSTAT", "x") == arity("config|resetstat")
    assert rc.error("CONFIG") == arity("config")
    assert rc.error("CONFIG", "NOPE") == "ERR unknown subcommand 'NOPE'. Try CONFIG HELP."


# --- keyspace-wide ----------------------------------------------------------------------


def test_dbsize_flushdb_flushall(r, rc):
    r.mset({"a": "1", "test:s:b": "2", "other:c": "3"})
    assert r.dbsize() == 3
    assert r.flushdb() is True
    assert r.dbsize() == 0
    assert r.get("a") is None and r.get("other:c") is None
    r.mset({"a": "1", "other:c": "3"})
    assert rc.call("FLUSHALL", "ASYNC") == b"OK"
    assert r.dbsize() == 0
    assert rc.call("FLUSHDB", "sync") == b"OK"
    assert rc.error("FLUSHALL", "NOW") == "ERR syntax error"
    assert rc.error("FLUSHDB", "ASYNC", "x") == "ERR syntax error"
    assert rc.error("DBSIZE", "x") == arity("dbsize")
    r.set("after", "1")  # writes after a truncate are kept
    assert r.get("after") == b"1" and r.dbsize() == 1


def test_time(r, rc):
    seconds, micros = r.time()
    assert abs(seconds - time.time()) < 5 and 0 <= micros < 1_000_000
    reply = rc.call("TIME")
    assert len(reply) == 2 and all(isinstance(x, bytes) for x in reply)
    assert rc.error("TIME", "x") == arity("time")


def test_function_flush(rc):
    assert rc.call("FUNCTION", "FLUSH") == b"OK"
    assert rc.call("FUNCTION", "FLUSH", "ASYNC") == b"OK"
    assert rc.call("FUNCTION", "FLUSH", "sync") == b"OK"
    assert (
        rc.error("FUNCTION", "FLUSH", "NOW") == "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
    )
    assert rc.call("FUNCTION", "LIST") == []
    assert rc.error("FUNCTION", "NOPE") == "ERR unknown subcommand 'NOPE'. Try FUNCTION HELP."


def test_debug_sleep_blocks_only_the_caller(node, rc):
    sleeper = socket.create_connection((node.host, node.port), timeout=10)
    try:
        start = time.monotonic()
        sleeper.sendall(encode("DEBUG", "SLEEP", "0.5") + encode("PING"))
        # other connections are served meanwhile
        for _ in range(5):
            assert rc.call("PING") == b"PONG"
        assert time.monotonic() - start < 0.4
        data = b""
        while data.count(b"\r\n") < 2:
            data += sleeper.recv(100)
        assert data == b"+OK\r\n+PONG\r\n"  # the pipelined PING waited behind the sleep
        assert time.monotonic() - start >= 0.45
    finally:
        sleeper.close()
    assert rc.call("DEBUG", "SLEEP", "0") == b"OK"
    assert rc.error("DEBUG", "SLEEP", "x") == "ERR value is not a valid float"
    assert rc.error("DEBUG", "SLEEP") == arity("debug|sleep")
    assert rc.error("DEBUG", "NOPE") == "ERR unknown subcommand 'NOPE'. Try DEBUG HELP."


def test_unknown_command_and_arity_texts(rc):
    assert rc.error("NOPE") == "ERR unknown command 'NOPE', with args beginning with: "
    assert rc.error("NOPE", "a", "b c") == (
        "ERR unknown command 'NOPE', with args beginning with: 'a' 'b c' "
    )
    long = rc.error("NOPE", "x" * 200, "y")
    assert long == "ERR unknown command 'NOPE', with args beginning with: '" + "x" * 128 + "' "
    assert rc.error("GET") == arity("get")
    assert rc.error("CLIENT", "SETNAME") == arity("client|setname")
    with pytest.raises(redis.ResponseError, match="unknown command"):
        rc_redis = redis.Redis(
            host=rc.sock.getpeername()[0], port=rc.sock.getpeername()[1], protocol=rc.proto
        )
        try:
            rc_redis.execute_command("NOPE")
        finally:
            rc_redis.close()
