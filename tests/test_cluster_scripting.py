"""Scripts and functions in a real 3-node cluster (issue item 4): keys in one slot for
cluster-aware connections (-CROSSSLOT otherwise), a plain connection's script proxied to
the master of its keys, a script without keys run where it arrives (and refused keys it
does not master), a script's writes replicated like any write (the replica's copy is
there when the reply arrives), and libraries on every node, a node that joins later
included."""

from __future__ import annotations

import hashlib

import hiredis
import pytest

from respike.keyspace import hash_slot
from respike.process import NodeProcess, wait_until
from tests.helpers import RawClient

from .cluster import Cluster

pytestmark = pytest.mark.timeout(300)

INCR = "return redis.call('incr', KEYS[1])"
LIB = (
    "#!lua name=clib\n"
    "redis.register_function('cincr', function(keys, args) "
    "return redis.call('incrby', keys[1], args[1]) end)\n"
    "redis.register_function{function_name='cget', callback=function(keys) "
    "return redis.call('get', keys[1]) end, flags={'no-writes'}}\n"
)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(3, "[namespaces.test]\nreplication-factor = 2\n").start()
    try:
        c.wait_migrated(c.nodes)
        yield c
    finally:
        c.stop()


def _raw(proc: NodeProcess) -> RawClient:
    return RawClient(proc.host, proc.port, timeout=10)


def _owners(cluster: Cluster, key: str) -> tuple[NodeProcess, list[NodeProcess]]:
    """The master of `key`'s slot and its replicas, from CLUSTER SLOTS."""
    slot = hash_slot(key.encode())
    by_port = {p.port: p for p in cluster.nodes}
    with _raw(cluster.nodes[0]) as c:
        for start, end, master, *replicas in c.call("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return by_port[master[1]], [by_port[r[1]] for r in replicas]
    raise AssertionError(f"slot {slot} is in no range")


def _key_not_mastered_by(cluster: Cluster, proc: NodeProcess, prefix: str) -> str:
    return next(
        f"{prefix}{i}" for i in range(1000) if _owners(cluster, f"{prefix}{i}")[0] is not proc
    )


def _proxied(proc: NodeProcess) -> int:
    with _raw(proc) as c:
        info = c.call("INFO", "cluster").decode()
    return int(info.split("client_proxy_complete:")[1].split()[0])


def _err(reply) -> str:
    assert isinstance(reply, hiredis.ReplyError), f"expected an error, got {reply!r}"
    return str(reply)


def test_cluster_aware_scripts_need_one_slot(cluster):
    a = cluster.nodes[0]
    with _raw(a) as c:
        c.call("FUNCTION", "LOAD", "REPLACE", LIB)
        c.call("CLUSTER", "SLOTS")  # the connection is cluster-aware from now on
        cross = "return 1", 2, "a", "b"
        assert hash_slot(b"a") != hash_slot(b"b")
        crossslot = "CROSSSLOT Keys in request don't hash to the same slot"
        assert _err(c.call("EVAL", *cross)) == crossslot
        assert _err(c.call("FCALL", "cincr", 2, "a", "b", 1)) == crossslot
        sha = c.call("SCRIPT", "LOAD", INCR)
        assert _err(c.call("EVALSHA", sha, 2, "a", "b")) == crossslot
        # one slot mastered here: runs here; one mastered elsewhere: MOVED to its master
        here = next(f"{{s{i}}}" for i in range(1000) if _owners(cluster, f"{{s{i}}}")[0] is a)
        assert c.call("EVAL", "redis.call('set', KEYS[2], 'x') " + INCR, 2, here + "k",
                      here + "j") == 1  # fmt: skip
        there = _key_not_mastered_by(cluster, a, "m")
        master = _owners(cluster, there)[0]
        moved = _err(c.call("EVAL", INCR, 1, there))
        assert moved == f"MOVED {hash_slot(there.encode())} {master.host}:{master.port}"


def test_plain_connection_scripts_run_on_their_keys_master(cluster):
    a = cluster.nodes[0]
    key = _key_not_mastered_by(cluster, a, "p")
    master, _ = _owners(cluster, key)
    before = _proxied(a)
    with _raw(a) as c:
        assert c.call("EVAL", INCR, 1, key) == 1
        sha = c.call("SCRIPT", "LOAD", INCR)
        assert c.call("EVALSHA", sha, 1, key) == 2  # the master cached it at the EVAL
        # SCRIPT LOAD reaches every member (cluster clients send it only to the nodes
        # they take for primaries); a script cached by EVAL stays where it ran
        other = c.call("SCRIPT", "LOAD", "return 'everywhere'")
        assert c.call("EVALSHA", other, 1, key) == b"everywhere"
        assert c.call("EVAL", "return 'evaled'", 0) == b"evaled"
        sha_evaled = hashlib.sha1(b"return 'evaled'").hexdigest()
        assert c.call("SCRIPT", "EXISTS", sha_evaled) == [1]
        assert _err(c.call("EVALSHA", sha_evaled, 1, key)).startswith("NOSCRIPT")
        assert c.call("EVALSHA", sha_evaled, 0) == b"evaled"
        assert c.call("FUNCTION", "LOAD", "REPLACE", LIB) == b"clib"
        wait_until(lambda: _has_library(master), 30, "the library on the key's master")
        assert c.call("FCALL", "cincr", 1, key, 10) == 12
        assert c.call("FCALL_RO", "cget", 1, key) == b"12"
        # no keys: runs where it arrives, and may touch only keys mastered there
        assert c.call("EVAL", "return redis.call('ping')", 0) == b"PONG"
        text = _err(c.call("EVAL", "return redis.call('get', ARGV[1])", 0, key))
        assert text.startswith("ERR Script attempted to access a non local key in a cluster")
    assert _proxied(a) >= before + 4
    with _raw(master) as m:
        assert m.call("GET", key) == b"12"


def test_script_writes_are_replicated(cluster):
    a = cluster.nodes[0]
    key = next(
        f"r{i}"
        for i in range(1000)
        if _owners(cluster, f"r{i}")[0] is not a and a in _owners(cluster, f"r{i}")[1]
    )
    master, replicas = _owners(cluster, key)
    body = "redis.call('set', KEYS[1], ARGV[1]) redis.call('rpush', KEYS[2], ARGV[1]) return 1"
    tag = "{" + key + "}"
    with _raw(master) as m:
        assert m.call("EVAL", body, 2, tag, tag + "l", "v1") == 1
    # commit-level all: the reply came after every replica acknowledged the writes
    for replica in replicas:
        with _raw(replica) as r:
            r.call("READONLY")
            assert r.call("GET", tag) == b"v1"
            assert r.call("LRANGE", tag + "l", 0, -1) == [b"v1"]
    # and the plain connection to a replica (proxied to the master) the same
    with _raw(a) as c:
        assert c.call("EVAL", body, 2, tag, tag + "l", "v2") == 1
    for replica in replicas:
        with _raw(replica) as r:
            r.call("READONLY")
            assert r.call("GET", tag) == b"v2"
            assert r.call("LRANGE", tag + "l", 0, -1) == [b"v1", b"v2"]


def _has_library(proc: NodeProcess, name: bytes = b"clib") -> bool:
    try:
        with _raw(proc) as c:
            return any(lib[1] == name for lib in c.call("FUNCTION", "LIST"))
    except OSError:
        return False


def test_functions_reach_every_node_and_a_late_joiner(cluster):
    a = cluster.nodes[0]
    with _raw(a) as c:
        assert c.call("FUNCTION", "LOAD", "REPLACE", LIB) == b"clib"
    for proc in cluster.nodes:
        wait_until(lambda p=proc: _has_library(p), 30, f"the library on {proc.address}")
    for i, proc in enumerate(cluster.nodes):
        with _raw(proc) as c:  # each node runs it, proxying to the key's master
            assert c.call("FCALL", "cincr", 1, "fkey", 1) == i + 1
    subnet = a.host.rsplit(".", 1)[0]
    late = NodeProcess(host=f"{subnet}.4", config=cluster.config,
                       args=["--seed", a.address, "--log-level", "info"])  # fmt: skip
    cluster.nodes.append(late)  # stopped with the cluster
    late.start()
    cluster.wait_formed(cluster.nodes)
    wait_until(lambda: _has_library(late), 30, "the library on the node that joined")
    with _raw(late) as c:
        assert c.call("FCALL", "cincr", 1, "fkey", 1) == len(cluster.nodes)
        assert c.call("FCALL_RO", "cget", 1, "fkey") == b"4"


def test_readonly_connections_read_replicas_with_read_only_scripts_only(cluster):
    """EVAL, EVALSHA and FCALL may write: routed as writes (to the master, through the
    write gates), never run on a replica's copy; EVAL_RO and FCALL_RO read it there."""
    a = cluster.nodes[0]
    key = next(
        f"ro{i}"
        for i in range(1000)
        if _owners(cluster, f"ro{i}")[0] is not a and a in _owners(cluster, f"ro{i}")[1]
    )
    master, _ = _owners(cluster, key)
    with _raw(master) as m:
        assert m.call("SET", key, "5") == b"OK"
        assert m.call("FUNCTION", "LOAD", "REPLACE", LIB) == b"clib"
    wait_until(lambda: _has_library(a), 30, "the library on the replica")
    moved = f"MOVED {hash_slot(key.encode())} {master.host}:{master.port}"
    with _raw(a) as c:
        assert c.call("READONLY") == b"OK"
        assert c.call("EVAL_RO", "return redis.call('get', KEYS[1])", 1, key) == b"5"
        assert c.call("FCALL_RO", "cget", 1, key) == b"5"
        assert _err(c.call("EVAL", INCR, 1, key)) == moved
        assert _err(c.call("EVAL", "return redis.call('get', KEYS[1])", 1, key)) == moved
        assert _err(c.call("FCALL", "cincr", 1, key, 1)) == moved
