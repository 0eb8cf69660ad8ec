"""Cluster-aware Redis clients against a real 3-node respike cluster (issue: slot maps,
MOVED and single-hop routing): redis-py's RedisCluster (sync and asyncio, RESP3 and RESP2),
redis-cli -c, redis-cli --cluster check, redis-benchmark --cluster, and plain clients."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest
import redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from respike.keyspace import hash_slot

from .cluster import Cluster

pytestmark = pytest.mark.timeout(300)
N_KEYS = 10_000


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(3, "[namespaces.test]\nreplication-factor = 2\n").start()
    c.wait_migrated(c.nodes)
    yield c
    c.stop()


def proxied(cluster: Cluster) -> int:
    return sum(cluster.info(p)["client_proxy_complete"] for p in cluster.nodes)


@pytest.mark.parametrize("protocol", [3, 2])
def test_redis_cluster_client_single_hop(cluster, protocol):
    before = proxied(cluster)
    a = cluster.nodes[0]
    rc = RedisCluster(host=a.host, port=a.port, protocol=protocol)
    try:
        for i in range(0, N_KEYS, 2):
            assert rc.set(f"rc{protocol}:{i}", i)
        pipe = rc.pipeline()
        for i in range(1, N_KEYS, 2):
            pipe.set(f"rc{protocol}:{i}", i)
        assert all(pipe.execute())
        pipe = rc.pipeline()
        for i in range(N_KEYS):
            pipe.get(f"rc{protocol}:{i}")
        assert pipe.execute() == [str(i).encode() for i in range(N_KEYS)]
        assert rc.get(f"rc{protocol}:7") == b"7"
        assert rc.mget_nonatomic([f"rc{protocol}:{i}" for i in range(50)]) == [
            str(i).encode() for i in range(50)
        ]
        assert rc.delete(*[f"rc{protocol}:{i}" for i in range(10)]) == 10
        assert rc.hset(f"rc{protocol}:h", mapping={"a": 1}) == 1
        assert rc.hgetall(f"rc{protocol}:h") == {b"a": b"1"}
    finally:
        rc.close()
    assert proxied(cluster) == before  # every command reached its master in one hop


@pytest.mark.parametrize("protocol", [3, 2])
def test_async_redis_cluster_client(cluster, protocol):
    a = cluster.nodes[1]
    before = proxied(cluster)

    async def run():
        rc = AsyncRedisCluster(host=a.host, port=a.port, protocol=protocol)
        await rc.initialize()  # before the concurrent burst: the client builds its map once
        try:
            limit = asyncio.Semaphore(50)  # the client's pool holds 100 connections per node

            async def put(i: int) -> None:
                async with limit:
                    await rc.set(f"arc{protocol}:{i}", i)

            await asyncio.gather(*(put(i) for i in range(2000)))
            pipe = rc.pipeline()
            for i in range(2000):
                pipe.get(f"arc{protocol}:{i}")
            return await pipe.execute()
        finally:
            await rc.aclose()

    assert asyncio.run(run()) == [str(i).encode() for i in range(2000)]
    assert proxied(cluster) == before


def test_slot_map_covers_every_slot_identically(cluster):
    maps = []
    for proc in cluster.nodes:
        slots = cluster.client(proc).execute_command("CLUSTER SLOTS")
        covered = sorted((s[0], s[1]) for s in slots)
        assert covered[0][0] == 0 and covered[-1][1] == 16383
        assert sum(e - s + 1 for s, e in covered) == 16384
        assert all(len(s[2]) == 4 and len(s[2][2]) == 40 for s in slots)  # [ip, port, id40, {}]
        maps.append(sorted((s[0], s[1], s[2][1]) for s in slots))
    assert maps[0] == maps[1] == maps[2]
    info = cluster.client(cluster.nodes[0]).execute_command("CLUSTER INFO")
    assert info["cluster_state"] == "ok" and int(info["cluster_slots_ok"]) == 16384
    assert cluster.client(cluster.nodes[0]).execute_command("CLUSTER KEYSLOT", "foo") == 12182


def test_moved_for_cluster_aware_connections(cluster):
    a = cluster.nodes[0]
    conn = cluster.client(a)
    key = next(f"m{i}" for i in range(1000) if not _masters(cluster, a, f"m{i}"))
    conn.execute_command("CLUSTER", "SLOTS")  # the connection is cluster-aware from now on
    with pytest.raises(redis.exceptions.MovedError) as exc:
        conn.get(key)
    assert str(exc.value).startswith(f"{hash_slot(key.encode())} ")
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        conn.mget("a", "b")
    tag = next(f"{{t{i}}}" for i in range(1000) if _masters(cluster, a, f"{{t{i}}}"))
    conn.set(f"{tag}a", "1")
    assert conn.mget(f"{tag}a", f"{tag}b") == [b"1", None]  # one slot, mastered here


def test_plain_connections_are_proxied_and_fan_out(cluster):
    writer = cluster.client(cluster.nodes[0])
    writer.mset({f"plain:{i}": i for i in range(200)})  # keys on every node
    for proc in cluster.nodes:
        client = cluster.client(proc)
        assert client.mget([f"plain:{i}" for i in range(200)]) == [
            str(i).encode() for i in range(200)
        ]
        assert client.exists(*[f"plain:{i}" for i in range(200)]) == 200
    keys = set()
    cursor = 0
    client = cluster.client(cluster.nodes[2])
    while True:
        cursor, batch = client.scan(cursor, match="plain:*", count=100)
        keys.update(batch)
        if cursor == 0:
            break
    assert keys == {f"plain:{i}".encode() for i in range(200)}
    # DBSIZE: the whole cluster on a plain connection, a node's masters on a cluster-aware one
    per_node = []
    for proc in cluster.nodes:
        aware = cluster.client(proc)
        aware.execute_command("READWRITE")
        per_node.append(aware.dbsize())
    assert client.dbsize() == sum(per_node) >= 200
    assert client.delete(*[f"plain:{i}" for i in range(200)]) == 200


def test_redis_cli_follows_moved_and_plain_redis_cli_reads_everything(cluster):
    writer = cluster.client(cluster.nodes[0])
    writer.mset({f"cli:{i}": i for i in range(30)})
    for proc in cluster.nodes:
        for flag in (["-c"], []):
            for i in range(30):
                out = subprocess.run(
                    ["redis-cli", *flag, "-h", proc.host, "-p", str(proc.port), "GET", f"cli:{i}"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                )
                assert out.stdout.strip() == str(i)


def test_redis_cli_cluster_check(cluster):
    a = cluster.nodes[0]
    out = subprocess.run(
        ["redis-cli", "--cluster", "check", a.address], capture_output=True, text=True, timeout=60
    )
    assert "[OK] All nodes agree about slots configuration." in out.stdout
    assert "[OK] All 16384 slots covered." in out.stdout
    assert "[ERR]" not in out.stdout


def test_redis_benchmark_cluster(cluster):
    a = cluster.nodes[0]
    out = subprocess.run(
        [
            "redis-benchmark",
            "--cluster",
            "-h",
            a.host,
            "-p",
            str(a.port),
            "-t",
            "set,get",
            "-n",
            "20000",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr
    assert "SET:" in out.stdout and "GET:" in out.stdout
    assert "Error" not in out.stdout + out.stderr


def test_readonly_reads_replicas_and_wait(cluster):
    a = cluster.nodes[0]
    key = next(
        f"ro{i}"
        for i in range(1000)
        if not _masters(cluster, a, f"ro{i}") and _replica(cluster, a, f"ro{i}")
    )
    cluster.client(a).set(key, "v")
    conn = cluster.client(a)
    conn.execute_command("READONLY")
    assert conn.get(key) == b"v"  # served here, from the replica's copy
    conn.execute_command("READWRITE")
    with pytest.raises(redis.exceptions.MovedError):
        conn.get(key)
    plain = cluster.client(a)
    plain.set("waitkey", "x")
    assert plain.execute_command("WAIT", 1, 1000) == 1


def test_cluster_client_survives_kill_and_rejoin():
    """While the survivors re-form (heartbeat-timeout, then a rebalance) the dead node's
    slots are unreachable; RedisCluster's own retries take milliseconds, so the writer here
    retries like an application would. Afterwards the client works, its slot map is right
    and no acknowledged write is lost."""
    c = Cluster(3, "[namespaces.test]\nreplication-factor = 2\n").start()
    try:
        c.wait_migrated(c.nodes)
        a, b, victim = c.nodes
        rc = RedisCluster(host=a.host, port=a.port)
        for i in range(2000):
            rc.set(f"kr:{i}", i)
        victim.kill()
        killed = time.monotonic()
        last_error = 0.0
        for i in range(2000, 2500):
            while True:
                try:
                    rc.set(f"kr:{i}", i)
                    break
                except (
                    redis.ConnectionError,
                    redis.TimeoutError,
                    redis.ResponseError,
                    redis.exceptions.ClusterError,
                ):
                    last_error = time.monotonic() - killed
                    assert last_error < 30, "the cluster did not recover"
                    time.sleep(0.1)
        assert [rc.get(f"kr:{i}") for i in range(2500)] == [str(i).encode() for i in range(2500)]
        victim.start()
        c.wait_migrated(c.nodes)
        assert [rc.get(f"kr:{i}") for i in range(2500)] == [str(i).encode() for i in range(2500)]
        slots = rc.cluster_slots(target_nodes=RedisCluster.RANDOM)  # {(start, end): {...}}
        assert sum(end - start + 1 for start, end in slots) == 16384
        assert {v["primary"][1] for v in slots.values()} == {p.port for p in c.nodes}
        print(f"writes failed for {last_error:.2f}s after kill -9")
        rc.close()
    finally:
        c.stop()


def _masters(cluster: Cluster, proc, key: str) -> bool:
    before = cluster.info(proc)["client_proxy_complete"]
    cluster.client(proc).get(key)
    return cluster.info(proc)["client_proxy_complete"] == before


def _replica(cluster: Cluster, proc, key: str) -> bool:
    slot = hash_slot(key.encode())
    for s in cluster.client(proc).execute_command("CLUSTER SLOTS"):
        if s[0] <= slot <= s[1]:
            return any(
                r[1] == proc.port and r[0] == proc.host.encode() or r[0] == proc.host for r in s[3:]
            )
    return False
