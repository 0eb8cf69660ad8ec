"""Real node processes forming clusters, losing nodes and healing (issue: the cluster).

Each test starts its own nodes on 127.0.x.y addresses; faults are real (kill -9, SIGSTOP,
iptables on loopback). "No acknowledged write lost" is checked by reading back every key a
writer was told OK for; writes that failed or timed out have an unknown outcome and are
not checked.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from respike.process import wait_until

from .cluster import Cluster, Workload, cut, heal, iptables_available

pytestmark = pytest.mark.timeout(240)

RF2 = "[namespaces.test]\nreplication-factor = 2\n"


@pytest.fixture
def cluster3():
    cluster = Cluster(3, RF2).start()
    yield cluster
    cluster.stop()


def test_three_nodes_form_one_cluster(cluster3):
    infos = [cluster3.info(p) for p in cluster3.nodes]
    assert len({i["cluster_key"] for i in infos}) == 1
    assert {i["cluster_size"] for i in infos} == {3}
    members = {
        i["cluster_nodes"] if isinstance(i["cluster_nodes"], str) else ",".join(i["cluster_nodes"])
        for i in infos
    }
    assert len(members) == 1  # every node lists the same members
    cluster3.wait_migrated(cluster3.nodes)
    # Every key written anywhere is readable from every node (proxied to its master).
    writer = cluster3.client(cluster3.nodes[0])
    for i in range(300):
        writer.set(f"k{i}", i)
    for proc in cluster3.nodes:
        client = cluster3.client(proc)
        assert [client.get(f"k{i}") for i in range(300)] == [str(i).encode() for i in range(300)]
    stats = [cluster3.info(p, "migrations") for p in cluster3.nodes]
    assert all(s["migrate_partitions_remaining"] == 0 for s in stats)


def test_kill_one_node_under_load_loses_no_acknowledged_write(cluster3):
    cluster3.wait_migrated(cluster3.nodes)
    work = Workload(cluster3).start()
    wait_until(lambda: len(work.acked) > 300, 30, "some acknowledged writes")
    victim = cluster3.nodes[1]
    victim.kill()
    killed_at = time.monotonic()
    survivors = [p for p in cluster3.nodes if p is not victim]
    cluster3.wait_formed(survivors, 30)
    reformed = time.monotonic() - killed_at
    wait_until(lambda: len(work.acked) > 600, 30, "writes after the kill")
    work.stop()
    for proc in survivors:
        assert work.missing(proc) == []
    # The killed node restarts with an empty memory namespace, rejoins, and migrations bring
    # every record back to it and the table back to balance.
    victim.start()
    cluster3.wait_migrated(cluster3.nodes)
    for proc in cluster3.nodes:
        assert work.missing(proc) == []
    print(f"survivors re-formed {reformed:.2f}s after kill -9")


def test_paused_node_is_dropped_and_rejoins(cluster3):
    cluster3.wait_migrated(cluster3.nodes)
    work = Workload(cluster3, prefix="p").start()
    wait_until(lambda: len(work.acked) > 200, 30, "some acknowledged writes")
    victim = cluster3.nodes[2]
    victim.signal(signal.SIGSTOP)
    try:
        survivors = [p for p in cluster3.nodes if p is not victim]
        cluster3.wait_formed(survivors, 30)
        wait_until(lambda: len(work.acked) > 500, 30, "writes while the node is paused")
    finally:
        victim.signal(signal.SIGCONT)
    cluster3.wait_formed(cluster3.nodes, 60)
    work.stop()
    cluster3.wait_migrated(cluster3.nodes)
    for proc in cluster3.nodes:
        assert work.missing(proc) == []


@pytest.mark.skipif(os.geteuid() != 0 or not iptables_available(), reason="needs root and iptables")
def test_network_split_heals_by_conflict_policy():
    cluster = Cluster(3, RF2).start()
    try:
        a, b, c = cluster.nodes
        cluster.wait_migrated(cluster.nodes)
        client = cluster.client(a)
        client.set("shared", "before")
        # Split {a} | {b, c}; both sides keep accepting writes (AP).
        cut(a.host, b.host)
        cut(a.host, c.host)
        cluster.wait_formed([b, c], 30)
        cluster.wait_formed([a], 30)
        for _ in range(3):  # more generations on the minority side
            cluster.client(a).set("shared", "minority")
        cluster.client(b).set("shared", "majority")
        heal()
        cluster.wait_formed(cluster.nodes, 60)
        cluster.wait_migrated(cluster.nodes)
        # conflict-resolution-policy = generation: the copy with the higher generation wins.
        values = {cluster.client(p).get("shared") for p in cluster.nodes}
        assert values == {b"minority"}
    finally:
        heal()
        cluster.stop()


@pytest.mark.skipif(os.geteuid() != 0 or not iptables_available(), reason="needs root and iptables")
def test_half_connected_cluster_settles():
    cluster = Cluster(3, RF2).start()
    try:
        a, b, c = cluster.nodes
        cut(b.host, c.host)  # a sees b and c; b and c do not see each other

        def changes() -> int:
            return sum(int(cluster.info(p)["cluster_view_changes"]) for p in cluster.nodes)

        def quiet(p) -> bool:  # no migration left, so no balance view still to come
            return (
                cluster.info(p, "migrations").get("migrate_partitions_remaining") == 0
                and cluster.info(p).get("acting_master_partitions") == 0
            )

        def settled() -> bool:
            before = changes()
            time.sleep(3)
            return changes() == before and all(quiet(p) for p in cluster.nodes)

        wait_until(settled, 60, "the cluster to stop changing views")
        keys = {cluster.info(p)["cluster_key"] for p in cluster.nodes}
        sizes = sorted(cluster.info(p)["cluster_size"] for p in cluster.nodes)
        assert len(keys) <= 2 and sizes in ([1, 2, 2], [2, 2, 1], [1, 2, 2])
        before = changes()
        time.sleep(4)
        assert changes() == before  # no flapping
    finally:
        heal()
        cluster.stop()


def test_replica_timeout_is_an_error_not_a_silent_success():
    cluster = Cluster(2, RF2 + "[node]\ntransaction-timeout = 300\n").start()
    try:
        a, b = cluster.nodes
        cluster.wait_migrated(cluster.nodes)
        client = cluster.client(a)
        key = next(f"t{i}" for i in range(10000) if _masters(cluster, a, f"t{i}"))
        b.signal(signal.SIGSTOP)
        try:
            with pytest.raises(redis.ResponseError, match=r"TIMEOUT|CLUSTER_KEY_MISMATCH"):
                client.set(key, "v")
        finally:
            b.signal(signal.SIGCONT)
    finally:
        cluster.stop()


def _masters(cluster: Cluster, proc, key: str) -> bool:
    """Whether `proc` masters `key` (a write there is not proxied)."""
    client = cluster.client(proc)
    before = cluster.info(proc)["client_proxy_complete"]
    client.get(key)
    return cluster.info(proc)["client_proxy_complete"] == before


def test_device_namespace_in_a_cluster_keeps_data_and_deletes_across_restarts():
    config = (
        '[namespaces.test]\nreplication-factor = 2\nstorage-engine = "device"\nfile-size = "64M"\n'
        'write-block-size = "128K"\nmax-record-size = "128K"\n'
    )
    cluster = Cluster(2, config).start()
    try:
        a, b = cluster.nodes
        cluster.wait_migrated(cluster.nodes)
        writer = cluster.client(a)
        for i in range(2000):
            writer.set(f"d{i}", i)
        writer.delete("d5")
        b.stop()  # clean restart: its copies come back from its device (merged, never trusted)
        b.start()
        cluster.wait_migrated(cluster.nodes)
        a.kill()
        cluster.wait_formed([b])
        reader = cluster.client(b)
        assert [reader.get(f"d{i}") for i in range(2000) if i != 5] == [
            str(i).encode() for i in range(2000) if i != 5
        ]
        assert reader.get("d5") is None  # the delete stays deleted
        a.start()  # a kill -9 restart: cold start from its device, then merged
        cluster.wait_migrated(cluster.nodes)
        reader = cluster.client(a)
        assert [reader.get(f"d{i}") for i in range(0, 2000, 3) if i != 5] == [
            str(i).encode() for i in range(0, 2000, 3) if i != 5
        ]
        assert reader.get("d5") is None
    finally:
        cluster.stop()
