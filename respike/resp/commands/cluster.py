"""Redis Cluster commands, answered from respike's partition table (partition = slot // 4).

A connection that asks for the slot map (CLUSTER SLOTS/SHARDS/NODES) or sends READONLY/
READWRITE is cluster-aware: from then on it gets -MOVED for keys mastered elsewhere instead
of being proxied (see respike/cluster/service.py `route`).
"""

from __future__ import annotations

import asyncio
import time

from ...cluster.slots import compact, node_id40
from ...errors import CLUSTER_DISABLED, RedisError
from ...keyspace import hash_slot
from ..client import Blocking
from ..encode import OK, Verbatim, bulk_array, encode, integer
from ..table import command, container, help_reply
from .args import to_int

G = "cluster"
CLUSTER = container("cluster", G, "A container for Redis Cluster commands.", since="3.0.0")


def _cluster(c):
    cluster = c.server.node.cluster
    if cluster is None:
        raise RedisError(CLUSTER_DISABLED)
    return cluster


def _node(cluster, node: int) -> list:
    address = cluster.service_address(node)
    ip, _, port = address.rpartition(":")
    return [ip, int(port or 0), node_id40(node), {}]


@command(
    "cluster|slots",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns the mapping of cluster slots to nodes.",
    "",
    since="3.0.0",
    complexity="O(N) where N is the number of slot ranges",
    example="CLUSTER SLOTS",
)
def cluster_slots(c, a):
    cluster = _cluster(c)
    c.cluster_aware = True
    out = [
        [r.start, r.end, _node(cluster, r.master), *(_node(cluster, n) for n in r.replicas)]
        for r in cluster.ranges()
    ]
    return encode(out, c.proto)


def _by_master(cluster) -> dict[int, tuple[list[tuple[int, int]], set[int]]]:
    """master -> (its slot ranges, nodes replicating any of its partitions)."""
    out: dict[int, tuple[list[tuple[int, int]], set[int]]] = {}
    for r in cluster.ranges():
        slots, replicas = out.setdefault(r.master, ([], set()))
        if slots and slots[-1][1] + 1 == r.start:
            slots[-1] = (slots[-1][0], r.end)
        else:
            slots.append((r.start, r.end))
        replicas.update(r.replicas)
    return out


@command(
    "cluster|shards",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns the mapping of cluster slots to shards.",
    "",
    since="7.0.0",
    complexity="O(N) where N is the number of cluster nodes",
    example="CLUSTER SHARDS",
)
def cluster_shards(c, a):
    cluster = _cluster(c)
    c.cluster_aware = True
    shards = []
    for master, (slots, replicas) in sorted(_by_master(cluster).items()):
        nodes = []
        for node, role in [(master, "master")] + [
            (n, "replica") for n in sorted(replicas - {master})
        ]:
            ip, port = cluster.service_address(node).rsplit(":", 1)
            nodes.append(
                {
                    "id": node_id40(node),
                    "port": int(port),
                    "ip": ip,
                    "endpoint": ip,
                    "role": role,
                    "replication-offset": 0,
                    "health": "online",
                }
            )
        shards.append({"slots": [x for pair in slots for x in pair], "nodes": nodes})
    return encode(shards, c.proto)


def nodes_text(cluster) -> str:
    """CLUSTER NODES: one line per node, the 8 fields redis-cli --cluster parses, then slots."""
    me = cluster.core.node_id
    view = cluster.core.view
    epoch = view.epoch if view is not None else 0
    owned = _by_master(cluster)
    now_ms = int(time.time() * 1000)
    lines = []
    for node, address in cluster.members():
        fabric = (cluster.core.address_of(node) or cluster.address).rsplit(":", 1)[-1]
        flags = "myself,master" if node == me else "master"
        slots = compact(owned.get(node, ([], set()))[0])
        line = f"{node_id40(node)} {address}@{fabric} {flags} - 0 {now_ms} {epoch} connected"
        lines.append(" ".join([line, *slots]) + "\n")
    return "".join(lines)


@command(
    "cluster|nodes",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns the cluster configuration for a node.",
    "",
    since="3.0.0",
    complexity="O(N) where N is the total number of Cluster nodes",
    example="CLUSTER NODES",
)
def cluster_nodes(c, a):
    cluster = _cluster(c)
    c.cluster_aware = True
    return encode(Verbatim(nodes_text(cluster)), c.proto)


@command(
    "cluster|info",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns information about the state of a node.",
    "",
    since="3.0.0",
    example="CLUSTER INFO",
)
def cluster_info(c, a):
    cluster = _cluster(c)
    stats = cluster.core.stats()
    integrity = bool(stats["cluster_integrity"]) or not cluster.active
    masters = {r.master for r in cluster.ranges()}
    epoch = stats["cluster_epoch"]
    info = {
        "cluster_state": "ok" if integrity else "fail",
        "cluster_slots_assigned": 16384,
        "cluster_slots_ok": 16384 if integrity else 0,
        "cluster_slots_pfail": 0,
        "cluster_slots_fail": 0 if integrity else 16384,
        "cluster_known_nodes": len(cluster.members()),
        "cluster_size": len(masters),
        "cluster_current_epoch": epoch,
        "cluster_my_epoch": epoch,
        "cluster_stats_messages_sent": cluster.fabric.sent,
        "cluster_stats_messages_received": cluster.fabric.received,
        "total_cluster_links_buffer_limit_exceeded": 0,
    }
    return encode(Verbatim("".join(f"{k}:{v}\r\n" for k, v in info.items())), c.proto)


@command(
    "cluster|keyslot",
    3,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns the hash slot for a key.",
    "key:string",
    since="3.0.0",
    complexity="O(N) where N is the number of bytes in the key",
    example="CLUSTER KEYSLOT test:users:42",
)
def cluster_keyslot(c, a):
    return integer(hash_slot(a[2]))


@command(
    "cluster|myid",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns the ID of a node.",
    "",
    since="3.0.0",
    example="CLUSTER MYID",
)
def cluster_myid(c, a):
    return encode(node_id40(c.server.node.node_id), c.proto)


def _slot_arg(arg: bytes) -> int:
    slot = to_int(arg)
    if not 0 <= slot < 16384:
        raise RedisError("ERR Invalid slot")
    return slot


def _keys_in_slot(c, slot: int) -> list[bytes]:
    out = []
    for ns in c.engine.namespaces.values():
        for key in ns.storage.partition_keys(slot >> 2):
            if hash_slot(key) == slot and ns.get(key) is not None:
                out.append(key)
    return out


@command(
    "cluster|countkeysinslot",
    3,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns the number of keys in a hash slot (on this node).",
    "slot:integer",
    since="3.0.0",
    complexity="O(N) where N is the keys of the slot's partition",
    example="CLUSTER COUNTKEYSINSLOT 12182",
)
def cluster_countkeysinslot(c, a):
    return integer(len(_keys_in_slot(c, _slot_arg(a[2]))))


@command(
    "cluster|getkeysinslot",
    4,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns the key names in a hash slot (on this node).",
    "slot:integer count:integer",
    since="3.0.0",
    complexity="O(N) where N is the keys of the slot's partition",
    example="CLUSTER GETKEYSINSLOT 12182 10",
)
def cluster_getkeysinslot(c, a):
    slot, count = _slot_arg(a[2]), to_int(a[3])
    if count < 0:
        raise RedisError("ERR Invalid number of keys")
    return bulk_array(_keys_in_slot(c, slot)[:count])


@command(
    "cluster|help",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns helpful text about the different subcommands.",
    "",
    since="5.0.0",
    example="CLUSTER HELP",
)
def cluster_help(c, a):
    return help_reply(c, CLUSTER)


@command(
    "readonly",
    1,
    "loading stale fast",
    (0, 0, 0),
    G,
    "Lets this connection read from replicas (and makes it cluster-aware).",
    "",
    since="3.0.0",
    example="READONLY",
)
def readonly(c, a):
    c.readonly = c.cluster_aware = True
    return OK


@command(
    "readwrite",
    1,
    "loading stale fast",
    (0, 0, 0),
    G,
    "Reads go to masters again on this connection (which stays cluster-aware).",
    "",
    since="3.0.0",
    example="READWRITE",
)
def readwrite(c, a):
    c.readonly = False
    c.cluster_aware = True
    return OK


@command(
    "asking",
    1,
    "fast",
    (0, 0, 0),
    G,
    "Accepted for Redis Cluster clients; respike never answers -ASK.",
    "",
    since="3.0.0",
    example="ASKING",
)
def asking(c, a):
    c.asking = True
    return OK


@command(
    "wait",
    3,
    "",
    (0, 0, 0),
    "generic",
    "Waits until the connection's last write is on `numreplicas` replicas; answers how many hold it.",
    "numreplicas:integer timeout:integer",
    since="3.0.0",
    example="WAIT 1 100",
)
def wait(c, a):
    wanted, timeout = to_int(a[1]), to_int(a[2])
    if timeout < 0:
        raise RedisError("ERR timeout is negative")
    cluster = c.server.node.cluster
    if cluster is None or c.last_write is None:
        return integer(0)
    count = cluster.replicas_holding(c.last_write)
    if count >= wanted or c.in_exec:
        return integer(count)

    async def poll() -> bytes:
        deadline = time.monotonic() + timeout / 1000 if timeout else None
        while True:
            held = cluster.replicas_holding(c.last_write)
            if held >= wanted or (deadline is not None and time.monotonic() >= deadline):
                return integer(held)
            await asyncio.sleep(0.005)

    return Blocking(poll())


@command(
    "as.quiesce",
    -1,
    "admin",
    (0, 0, 0),
    "native",
    "Quiesces this node before maintenance (hands off mastership of its partitions; it stays in the cluster and keeps its data), or undoes it.",
    "[UNDO]",
    since="0.1.0",
    example="AS.QUIESCE",
)
def as_quiesce(c, a):
    if len(a) > 2 or (len(a) == 2 and a[1].upper() != b"UNDO"):
        raise RedisError("ERR syntax error")
    _cluster(c).set_quiesced(len(a) == 1)
    return OK
