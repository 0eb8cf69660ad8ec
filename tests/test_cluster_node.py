"""One or two ClusterNodes driven by hand: the client write path and its errors."""

from __future__ import annotations

import random

from respike.cluster.config import ClusterConfig, NamespacePolicy
from respike.cluster.events import DupResDone, ProxyDone, ProxyRequested, ViewChanged, WriteDone
from respike.cluster.messages import ReplicaWrite, Send, decode, encode
from respike.cluster.node import LOCAL, READY, REMOTE, UNAVAILABLE, ClusterNode
from respike.cluster.records import RecordCopy
from tests.sim.store import DictStore

P = 16


class Loop:
    """Instant, lossless delivery between nodes, except on dropped (src, dst) links."""

    def __init__(self, ids, **cfg):
        addrs = {n: f"n{n}" for n in ids}
        self.now = 0
        self.drop: set[tuple[int, int]] = set()
        self.events: dict[int, list] = {n: [] for n in ids}
        self.nodes = {
            n: ClusterNode(
                ClusterConfig(
                    node_id=n, address=addrs[n], seeds=tuple(addrs.values()), n_partitions=P, **cfg
                ),
                DictStore(P),
                0,
                random.Random(n),
            )
            for n in ids
        }
        self.by_addr = {a: n for n, a in addrs.items()}
        self.queue: list[tuple[int, bytes]] = []

    def out(self, src: int, sends: list[Send]) -> None:
        node = self.nodes[src]
        sends = sends + node.take_sends()
        self.events[src].extend(node.take_events())
        for s in sends:
            dst = s.dest or self.by_addr[s.addr]
            if dst != src and (src, dst) not in self.drop:
                self.queue.append((dst, encode(s.msg, src)))

    def run(self, ms: int, step: int = 10) -> None:
        for _ in range(ms // step):
            self.now += step
            for n, node in self.nodes.items():
                self.out(n, node.tick(self.now))
            while self.queue:
                dst, data = self.queue.pop(0)
                self.out(dst, self.nodes[dst].receive_bytes(data, self.now))


def copy(gen: int, value: bytes = b"x") -> RecordCopy:
    return RecordCopy(0, value, gen, 0, 1000 + gen, False)


def test_single_node_forms_its_own_cluster_and_acks_at_once():
    loop = Loop([7])
    loop.run(1000)
    node = loop.nodes[7]
    assert node.view is not None and node.view.succession == (7,)
    assert any(isinstance(e, ViewChanged) for e in loop.events[7])
    assert node.route("test", 3).kind == LOCAL
    assert node.write_gate("test", 3, b"k", loop.now).kind == READY
    txn = node.replicate("test", 3, b"k", copy(1), loop.now)
    assert WriteDone(txn, True, 0, "") in node.take_events()  # RF capped at 1: no replica


def test_two_nodes_replicate_and_a_silent_replica_times_out_with_an_error():
    loop = Loop([7, 3], transaction_timeout_ms=500)
    loop.run(2500)
    a, b = loop.nodes[7], loop.nodes[3]
    assert a.view == b.view and a.view.succession == (7, 3)
    pid = next(p for p in range(P) if a.route("test", p).kind == LOCAL)
    assert b.route("test", pid).kind == REMOTE and b.route("test", pid).node == 7
    txn = a.replicate("test", pid, b"k", copy(1), loop.now)
    sends = a.take_sends()
    assert [(s.dest, type(s.msg)) for s in sends] == [(3, ReplicaWrite)]
    loop.out(7, sends)
    loop.run(50)
    assert WriteDone(txn, True, 0, "") in loop.events[7]
    assert b.store.get_copy("test", pid, b"k") == copy(1)
    # the replica stops answering: the write fails with TIMEOUT, never a silent success
    loop.drop.add((3, 7))
    txn = a.replicate("test", pid, b"k", copy(2), loop.now)
    loop.out(7, [])
    loop.run(300)
    assert not any(isinstance(e, WriteDone) and e.txn == txn for e in loop.events[7])
    loop.run(400)
    done = [e for e in loop.events[7] if isinstance(e, WriteDone) and e.txn == txn]
    assert len(done) == 1 and not done[0].ok and done[0].code == 9
    assert "outcome unknown" in done[0].message


def test_commit_level_master_replies_before_replicas():
    loop = Loop([7, 3], namespaces={"test": NamespacePolicy(commit_all=False)})
    loop.run(2500)
    a = loop.nodes[7]
    pid = next(p for p in range(P) if a.route("test", p).kind == LOCAL)
    txn = a.replicate("test", pid, b"k", copy(1), loop.now)
    assert WriteDone(txn, True, 0, "") in a.take_events()
    loop.out(7, [])
    loop.run(50)
    assert loop.nodes[3].store.get_copy("test", pid, b"k") == copy(1)  # still replicated


def test_orphan_is_unavailable_and_proxy_round_trip():
    loop = Loop([7, 3])
    assert loop.nodes[7].route("test", 0).kind == UNAVAILABLE
    loop.run(2500)
    a, b = loop.nodes[7], loop.nodes[3]
    txn = b.proxy(7, "test", 1, 3, (b"GET", b"k"), loop.now)
    loop.out(3, [])
    loop.run(20)
    req = [e for e in loop.events[7] if isinstance(e, ProxyRequested)]
    assert req and req[0].args == (b"GET", b"k") and req[0].resp_proto == 3
    a.proxy_reply(req[0].src, req[0].txn, 0, b"$1\r\nv\r\n")
    loop.out(7, [])
    loop.run(20)
    assert ProxyDone(txn, 0, b"$1\r\nv\r\n") in loop.events[3]


def test_dupres_reads_the_duplicate_before_a_write():
    """After a split heals, the master fetches a record from the duplicate before writing."""
    loop = Loop([7, 3])
    loop.drop |= {(7, 3), (3, 7)}
    loop.run(3000)  # split: two single-node clusters
    a, b = loop.nodes[7], loop.nodes[3]
    assert a.view.succession == (7,) and b.view.succession == (3,)
    pid = 5
    b.store.put_copy("test", pid, b"k", copy(9, b"from-b"))
    a.store.put_copy("test", pid, b"k", copy(2, b"from-a"))
    loop.drop.clear()
    for _ in range(300):
        loop.run(10)
        masters = [n for n in (a, b) if n.plans and n.route("test", pid).kind == LOCAL]
        gate = masters[0].write_gate("test", pid, b"k", loop.now) if masters else None
        if gate and gate.kind == "wait":
            break
    else:
        raise AssertionError("no duplicate resolution happened")
    master = masters[0]
    loop.out(master.node_id, [])
    loop.run(30)
    assert any(
        isinstance(e, DupResDone) and e.txn == gate.txn and e.ok
        for e in loop.events[master.node_id]
    )
    assert master.store.get_copy("test", pid, b"k") == copy(9, b"from-b")  # the better copy won


def test_decode_of_sent_messages():
    loop = Loop([7, 3])
    sends = loop.nodes[7].tick(0)
    assert sends and all(decode(encode(s.msg, 7))[1] == s.msg for s in sends)


def test_config_from_respike_toml_settings():
    from respike.cluster.records import ConflictPolicy
    from respike.config import build_config

    config = build_config(
        {
            "node": {"seeds": ["10.0.0.2:3002"], "heartbeat-interval": 100},
            "namespaces": {
                "test": {"replication-factor": 3, "conflict-resolution-policy": "last-update-time"},
                "cache": {"replication-factor": 1, "commit-level": "master"},
            },
        }
    )
    cc = ClusterConfig.from_config(config, node_id=5, address="10.0.0.1:3002")
    assert cc.seeds == ("10.0.0.2:3002",) and cc.heartbeat_interval_ms == 100
    assert cc.heartbeat_timeout_ms == 1000
    assert cc.namespaces["test"] == NamespacePolicy(3, ConflictPolicy.LAST_UPDATE_TIME, True)
    assert cc.namespaces["cache"] == NamespacePolicy(1, ConflictPolicy.GENERATION, False)


def settled(loop: Loop) -> bool:
    """One view, carrying the members' quiesce flags, rebalanced, migrations done."""
    nodes = list(loop.nodes.values())
    views = {n.view for n in nodes}
    flags = tuple(sorted((n.node_id for n in nodes if n.quiesced), reverse=True))
    return (
        len(views) == 1
        and None not in views
        and views.pop().quiesced == flags
        and all(n.plans is not None and not n.migrations.pending and not n.handoffs for n in nodes)
    )


def run_until_settled(loop: Loop, limit_ms: int = 20_000) -> None:
    for _ in range(limit_ms // 100):
        loop.run(100)
        if settled(loop):
            return
    raise AssertionError("the cluster did not settle")


def masters_of(node: ClusterNode) -> dict[int, int]:
    out: dict[int, int] = {}
    for p in node.plan("test").parts:
        out[p.master] = out.get(p.master, 0) + 1
    return out


def test_quiesce_hands_off_mastership_keeps_serving_and_undo_takes_it_back():
    loop = Loop([7, 5, 3])
    run_until_settled(loop)
    a, q = loop.nodes[7], loop.nodes[5]
    original = a.table
    before = [p.master for p in a.plan("test").parts]
    # an acknowledged write on every partition
    for pid in range(P):
        master = loop.nodes[before[pid]]
        master.store.put_copy("test", pid, b"k%d" % pid, copy(1))  # the engine applies it
        txn = master.replicate("test", pid, b"k%d" % pid, copy(1), loop.now)
        loop.out(master.node_id, [])
        loop.run(20)
        assert WriteDone(txn, True, 0, "") in loop.events[master.node_id]
    held = {pid for pid in range(P) if q.store.partition_count("test", pid)}
    assert held
    q.set_quiesced(True, loop.now)
    assert q.stats()["quiesced"] and not q.stats()["effective_is_quiesced"]  # not yet
    loop.out(5, [])
    run_until_settled(loop)
    # it keeps its data: copies it is no longer a replica of stay, as subsets
    assert all(q.store.partition_count("test", pid) for pid in held)
    assert all(5 not in p.replicas for p in a.plan("test").parts)
    assert all(n.view.quiesced == (5,) for n in loop.nodes.values())
    assert all(n.stats()["nodes_quiesced"] == 1 for n in loop.nodes.values())
    assert q.stats()["effective_is_quiesced"] and not a.stats()["quiesced"]
    assert 5 not in masters_of(a) and set(masters_of(a)) == {7, 3}
    for pid in range(P):  # the quiesced node still answers: it routes every command away
        r = q.route("test", pid)
        assert r.kind == REMOTE and r.node in (7, 3)
        master = loop.nodes[r.node]
        assert master.store.get_copy("test", pid, b"k%d" % pid) == copy(1)  # nothing lost
    txn = q.proxy(7, "test", 0, 2, (b"GET", b"k0"), loop.now)
    loop.out(5, [])
    loop.run(20)
    req = [e for e in loop.events[7] if isinstance(e, ProxyRequested) and e.txn == txn]
    assert req and req[0].src == 5
    q.set_quiesced(False, loop.now)
    loop.out(5, [])
    run_until_settled(loop)
    assert all(n.view.quiesced == () for n in loop.nodes.values())
    assert a.table.rows == original.rows  # the exact original table ...
    assert [p.master for p in a.plan("test").parts] == before  # ... served by its masters
    replica_of = {pid for pid, p in enumerate(a.plan("test").parts) if 5 in p.replicas}
    assert {pid for pid in range(P) if q.store.partition_count("test", pid)} == replica_of


def test_quiescing_the_principal_or_every_node():
    loop = Loop([7, 3])
    run_until_settled(loop)
    a, b = loop.nodes[7], loop.nodes[3]
    before = [p.master for p in a.plan("test").parts]
    a.set_quiesced(True, loop.now)  # the principal: it keeps leading, masters nothing
    loop.out(7, [])
    run_until_settled(loop)
    assert a.view.principal == 7 and a.view.quiesced == (7,)
    assert masters_of(a) == {3: P}
    assert all(p.replicas == (3, 7) for p in a.plan("test").parts)  # the last replica
    b.set_quiesced(True, loop.now)  # everyone quiesced: the flags are ignored
    loop.out(3, [])
    run_until_settled(loop)
    assert b.view.quiesced == (7, 3) and b.stats()["nodes_quiesced"] == 2
    assert not b.stats()["effective_is_quiesced"]
    assert [p.master for p in b.plan("test").parts] == before
