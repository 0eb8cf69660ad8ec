"""The simulated world: virtual clock, event queue, network, nodes, client load, invariants.

Everything random comes from one `random.Random(seed)`, events at the same virtual time
run in the order they were scheduled, and nothing reads the wall clock, so a seed replays
exactly. Nodes are `respike.cluster.node.ClusterNode`s over `DictStore`s; messages go
through the real wire encoding (`messages.encode`/`decode`) unless `wire` is off.
"""

from __future__ import annotations

import heapq
import logging
import random
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from respike.cluster.config import ClusterConfig, NamespacePolicy, PlantedBugs
from respike.cluster.events import DupResDone, ViewChanged, WriteDone
from respike.cluster.messages import Send, encode
from respike.cluster.node import LOCAL, READY, REMOTE, WAIT, ClusterNode
from respike.cluster.partition_table import TableCache, effective_quiesced
from respike.cluster.records import ConflictPolicy, RecordCopy, compare, next_generation

from .store import DictStore

NS = "test"
UP, DOWN, PAUSED = "up", "down", "paused"

TICK, DELIVER, CALL = 0, 1, 2


class InvariantViolation(AssertionError):
    """An invariant failed; the message ends with the command that replays the seed."""


@dataclass
class SimConfig:
    seed: int
    nodes: int = 3
    scenario: str = "faults"
    n_partitions: int = 32
    keys: int = 48
    rf: int = 2
    policy: str = "generation"
    loss: float = 0.02
    min_delay_ms: int = 1
    max_delay_ms: int = 12
    tick_ms: int = 50
    op_every_ms: int = 30
    skew_ms: int = 0
    migrate_threads: int = 1
    max_incoming: int = 4
    batch_records: int = 2
    duplicate: float = 0.0  # probability that the network delivers a message twice
    wire: bool = True
    bugs: PlantedBugs = field(default_factory=PlantedBugs)

    def replay_command(self) -> str:
        cmd = f"python -m tests.sim.run --seed {self.seed} --nodes {self.nodes} --scenario {self.scenario}"
        if self.n_partitions != SimConfig.n_partitions:
            cmd += f" --partitions {self.n_partitions}"
        if self.rf != SimConfig.rf:
            cmd += f" --rf {self.rf}"
        if not self.wire:
            cmd += " --no-wire"
        for name in (
            "forget_promises",
            "skip_reconcile",
            "ack_before_replicas",
            "master_without_data",
            "quiesced_drops",
        ):
            if getattr(self.bugs, name):
                cmd += f" --bug {name.replace('_', '-')}"
        return cmd


@dataclass
class Op:
    key: bytes
    seq: int
    delete: bool
    issued: int
    state: str = (
        "pending"  # pending | acked | failed (not applied) | unknown (applied, unconfirmed)
    )
    applied: bool = False
    copy: RecordCopy | None = None
    master: int = 0
    ended: int = 0
    why: str = ""


def seq_of(copy: RecordCopy) -> int:
    return int(copy.value)


class Client:
    """Sequential writers, one per key: a key's next op starts when its previous one ended.

    Like a smart client, it asks a random live node where the partition's master is and
    sends the op there; the master runs the sans-I/O write path (gate, duplicate
    resolution, local apply, replicate) exactly as the RESP layer will.
    """

    def __init__(self, sim: Simulator):
        self.sim = sim
        cfg = sim.cfg
        self.keys = [b"key:%d" % i for i in range(cfg.keys)]
        self.pid = {k: zlib.crc32(k) % cfg.n_partitions for k in self.keys}
        self.ops: dict[bytes, list[Op]] = {k: [] for k in self.keys}
        self.busy: dict[bytes, Op | None] = dict.fromkeys(self.keys)
        self.write_waits: dict[tuple[int, int], Op] = {}
        self.dupres_waits: dict[tuple[int, int], Op] = {}
        self.read_waits: dict[tuple[int, int], bytes] = {}
        self.enabled = False
        self.timeout_ms = 1000 + 400
        self.counts = {"acked": 0, "failed": 0, "unknown": 0, "reads": 0}

    def enable(self) -> None:
        if not self.enabled:
            self.enabled = True
            self.sim.call_at(self.sim.now + 1, self._issue)

    def disable(self) -> None:
        self.enabled = False

    def pending(self) -> int:
        return sum(1 for op in self.busy.values() if op is not None)

    def _issue(self) -> None:
        if not self.enabled:
            return
        sim = self.sim
        rng = sim.rng
        every = sim.cfg.op_every_ms
        sim.call_at(sim.now + rng.randint(every // 2, every * 3 // 2), self._issue)
        if rng.random() < 0.2:
            return self._read(rng.choice(self.keys))
        free = [k for k in self.keys if self.busy[k] is None]
        if not free:
            return
        key = rng.choice(free)
        ops = self.ops[key]
        op = Op(key, len(ops) + 1, rng.random() < 0.1, sim.now)
        ops.append(op)
        self.busy[key] = op
        sim.call_at(sim.now + self.timeout_ms, lambda: self._expire(op))
        up = sim.up_nodes()
        if not up:
            return self._end(op, "failed")
        entry = rng.choice(up)
        pid = self.pid[key]
        r = sim.nodes[entry].route(NS, pid)
        if r.kind == LOCAL:
            master = entry
        elif r.kind == REMOTE and sim.status.get(r.node) == UP:
            master = r.node
        else:
            return self._end(op, "failed")
        node = sim.nodes[master]
        gate = node.write_gate(NS, pid, key, sim.now)
        if gate.kind == READY:
            self._apply(master, op)
        elif gate.kind == WAIT:
            self.dupres_waits[(master, gate.txn)] = op
        else:
            self._end(op, "failed")
        sim.drain(master)

    def _read(self, key: bytes) -> None:
        """A read at the master (through duplicate resolution when needed). AP allows stale
        reads, so only one thing is checked: what is read is a copy some client wrote."""
        sim = self.sim
        up = sim.up_nodes()
        if not up:
            return
        entry = sim.rng.choice(up)
        pid = self.pid[key]
        r = sim.nodes[entry].route(NS, pid)
        master = entry if r.kind == LOCAL else r.node
        if r.kind not in (LOCAL, REMOTE) or sim.status.get(master) != UP:
            return
        gate = sim.nodes[master].read_gate(NS, pid, key, sim.now)
        if gate.kind == READY:
            self._check_read(master, key)
        elif gate.kind == WAIT:
            self.read_waits[(master, gate.txn)] = key
        sim.drain(master)

    def _check_read(self, master: int, key: bytes) -> None:
        copy = self.sim.stores[master].get_copy(NS, self.pid[key], key)
        self.counts["reads"] += 1
        if copy is None:
            return
        ops = self.ops[key]
        s = seq_of(copy)
        if not 1 <= s <= len(ops) or ops[s - 1].copy != copy:
            self.sim.fail(
                f"read of {key!r} at {self.sim.name[master]} returned a copy no client wrote: {copy}"
            )

    def _apply(self, master: int, op: Op) -> None:
        sim = self.sim
        node = sim.nodes[master]
        pid = self.pid[op.key]
        if node.route(NS, pid).kind != LOCAL:
            return self._end(op, "failed")
        store = sim.stores[master]
        old = store.get_copy(NS, pid, op.key)
        lut = sim.now + sim.skew[master]
        if old is not None and lut <= old.lut:
            lut = old.lut + 1
        gen = next_generation(old.gen) if old is not None else 1
        copy = RecordCopy(0, b"%d" % op.seq, gen, 0, lut, op.delete)
        store.put_copy(NS, pid, op.key, copy)
        op.applied = True
        op.copy = copy
        op.master = master
        txn = node.replicate(NS, pid, op.key, copy, sim.now)
        self.write_waits[(master, txn)] = op

    def _end(self, op: Op, state: str, why: str = "") -> None:
        if op.state != "pending":
            return
        op.state = state
        op.ended = self.sim.now
        op.why = why
        self.counts[state] += 1
        if self.busy.get(op.key) is op:
            self.busy[op.key] = None

    def _expire(self, op: Op) -> None:
        if op.state == "pending":
            self._end(op, "unknown" if op.applied else "failed")

    def on_event(self, nid: int, event: object) -> None:
        if isinstance(event, WriteDone):
            op = self.write_waits.pop((nid, event.txn), None)
            if op is not None:
                self._end(op, "acked" if event.ok else "unknown", event.message)
        elif isinstance(event, DupResDone):
            key = self.read_waits.pop((nid, event.txn), None)
            if key is not None:
                if event.ok:
                    self._check_read(nid, key)
                return
            op = self.dupres_waits.pop((nid, event.txn), None)
            if op is not None and op.state == "pending":
                if event.ok:
                    self._apply(nid, op)
                else:
                    self._end(op, "failed")

    def node_lost(self, nid: int) -> None:
        for waits in (self.write_waits, self.dupres_waits, self.read_waits):
            for k in [k for k in waits if k[0] == nid]:
                del waits[k]


class Simulator:
    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.now = 0
        self._seq = 0
        self.queue: list[tuple] = []
        ids: list[int] = []
        while len(ids) < cfg.nodes:
            nid = self.rng.getrandbits(64)
            if nid and nid not in ids:
                ids.append(nid)
        self.ids = ids
        self.addr = {nid: f"n{i}" for i, nid in enumerate(ids)}
        self.by_addr = {a: nid for nid, a in self.addr.items()}
        self.name = {nid: f"n{i}" for i, nid in enumerate(ids)}
        self.status: dict[int, str] = dict.fromkeys(ids, DOWN)
        self.nodes: dict[int, ClusterNode] = {}
        self.stores: dict[int, DictStore] = {}
        self.incarnation: dict[int, int] = dict.fromkeys(ids, 0)
        self.held: dict[int, list[tuple[int, object]]] = {nid: [] for nid in ids}
        self.held_ops: dict[int, list[Callable[[ClusterNode], None]]] = {nid: [] for nid in ids}
        self.cut: set[tuple[int, int]] = set()
        self.skew = {nid: self.rng.randint(-cfg.skew_ms, cfg.skew_ms) for nid in ids}
        self.tables = TableCache()
        self.policy = ConflictPolicy.parse(cfg.policy)
        self.client = Client(self)
        self.checker = Checker(self)
        self.trace: deque[str] = deque(maxlen=300)
        self.view_changes = 0
        self.messages = 0
        self.steps = 0

    # --- plumbing -----------------------------------------------------------------------

    def _push(self, t: int, kind: int, *args: object) -> None:
        self._seq += 1
        heapq.heappush(self.queue, (t, self._seq, kind, args))

    def call_at(self, t: int, fn: Callable[[], None]) -> None:
        self._push(t, CALL, fn)

    def note(self, text: str) -> None:
        self.trace.append(f"t={self.now} {text}")

    def fail(self, text: str) -> None:
        tail = "\n".join(self.trace)
        raise InvariantViolation(
            f"seed {self.cfg.seed} ({self.cfg.scenario}, {self.cfg.nodes} nodes) at t={self.now} ms: {text}\n"
            f"last events:\n{tail}\nreplay: {self.cfg.replay_command()}"
        )

    def up_nodes(self) -> list[int]:
        return [n for n in self.ids if self.status[n] == UP]

    def config_for(self, nid: int) -> ClusterConfig:
        cfg = self.cfg
        seeds = tuple(self.addr[n] for n in self.ids[:2] if n != nid) or (self.addr[self.ids[-1]],)
        return ClusterConfig(
            node_id=nid,
            address=self.addr[nid],
            seeds=seeds,
            namespaces={NS: NamespacePolicy(cfg.rf, self.policy, True)},
            n_partitions=cfg.n_partitions,
            migrate_threads=cfg.migrate_threads,
            migrate_max_num_incoming=cfg.max_incoming,
            migrate_batch_records=cfg.batch_records,
            bugs=cfg.bugs,
        )

    def drain(self, nid: int) -> None:
        """Route a node's pending sends and events (events may cause more of both)."""
        node = self.nodes.get(nid)
        if node is None:
            return
        while True:
            sends = node.take_sends()
            events = node.take_events()
            if not sends and not events:
                return
            if sends:
                self._send(nid, sends)
            for e in events:
                if isinstance(e, ViewChanged):
                    self.view_changes += 1
                    self.note(f"{self.name[nid]} view {e.new}")
                self.client.on_event(nid, e)

    def _send(self, src: int, sends: list[Send]) -> None:
        rng = self.rng
        cfg = self.cfg
        for s in sends:
            dst = s.dest or self.by_addr.get(s.addr, 0)
            if not dst or dst == src or (src, dst) in self.cut:
                continue
            if rng.random() < cfg.loss:
                continue
            delay = rng.randint(cfg.min_delay_ms, cfg.max_delay_ms)
            payload: object = encode(s.msg, src) if cfg.wire else s.msg
            self._push(self.now + delay, DELIVER, dst, self.incarnation[dst], src, payload)
            if cfg.duplicate and rng.random() < cfg.duplicate:
                delay = rng.randint(cfg.min_delay_ms, cfg.max_delay_ms * 3)
                self._push(self.now + delay, DELIVER, dst, self.incarnation[dst], src, payload)

    def _deliver(self, dst: int, inc: int, src: int, payload: object) -> None:
        if self.status[dst] == DOWN or self.incarnation[dst] != inc or (src, dst) in self.cut:
            return
        if self.status[dst] == PAUSED:
            self.held[dst].append((src, payload))
            return
        self.messages += 1
        node = self.nodes[dst]
        if self.cfg.wire:
            sends = node.receive_bytes(payload, self.now)  # type: ignore[arg-type]
        else:
            sends = node.receive(src, payload, self.now)  # type: ignore[arg-type]
        self._send(dst, sends)
        self.drain(dst)
        self.checker.step(dst)

    def _tick(self, nid: int, inc: int) -> None:
        if self.incarnation[nid] != inc:
            return
        self._push(self.now + self.cfg.tick_ms, TICK, nid, inc)
        if self.status[nid] != UP:
            return
        self._send(nid, self.nodes[nid].tick(self.now))
        self.drain(nid)
        self.checker.step(nid)

    def step(self) -> bool:
        if not self.queue:
            return False
        t, _, kind, args = heapq.heappop(self.queue)
        self.now = t
        self.steps += 1
        if kind == DELIVER:
            self._deliver(*args)
        elif kind == TICK:
            self._tick(*args)
        else:
            args[0]()
        return True

    def operate(self, nid: int, fn: Callable[[ClusterNode], None], what: str) -> None:
        """An operator request (an info command) to node `nid`: run now if the node runs,
        when it resumes if it is paused (it waits in the socket buffer), never if it is down."""
        if self.status[nid] == DOWN:
            return
        if self.status[nid] == PAUSED:
            self.held_ops[nid].append(fn)
            self.note(f"{what} {self.name[nid]} (held: paused)")
            return
        self.note(f"{what} {self.name[nid]}")
        fn(self.nodes[nid])
        self.drain(nid)
        self.checker.step(nid)

    def run_until(self, t_end: int) -> None:
        while self.queue and self.queue[0][0] <= t_end:
            self.step()
        self.now = max(self.now, t_end)

    def run_for(self, ms: int) -> None:
        self.run_until(self.now + ms)

    def wait_for(
        self, pred: Callable[[], bool], limit_ms: int, what: str, poll_ms: int = 100
    ) -> int:
        """Run until `pred()` holds (checked every `poll_ms`); fail after `limit_ms`."""
        start = self.now
        while not pred():
            if self.now - start >= limit_ms:
                self.fail(
                    f"{what} did not happen within {limit_ms} ms: {self.checker.why_not_settled()}"
                )
            self.run_for(poll_ms)
        return self.now - start

    # --- faults -------------------------------------------------------------------------

    def start(self, nid: int) -> None:
        self.incarnation[nid] += 1
        self.stores[nid] = DictStore(self.cfg.n_partitions)
        rng = random.Random(self.rng.getrandbits(64))
        self.nodes[nid] = ClusterNode(
            self.config_for(nid), self.stores[nid], self.now, rng, self.tables
        )
        self.status[nid] = UP
        self.held[nid] = []
        self.held_ops[nid] = []
        self.note(f"start {self.name[nid]}")
        self._push(
            self.now + self.rng.randint(0, self.cfg.tick_ms), TICK, nid, self.incarnation[nid]
        )

    def start_all(self) -> None:
        for nid in self.ids:
            self.call_at(self.now + self.rng.randint(0, 200), lambda n=nid: self.start(n))

    def crash(self, nid: int) -> None:
        """kill -9 of a memory-only node: its records are gone."""
        self.note(f"crash {self.name[nid]}")
        self.status[nid] = DOWN
        self.incarnation[nid] += 1
        self.nodes.pop(nid, None)
        self.stores.pop(nid, None)
        self.held[nid] = []
        self.held_ops[nid] = []
        self.client.node_lost(nid)

    def pause(self, nid: int) -> None:
        """SIGSTOP: no ticks, incoming messages wait in the socket buffers."""
        self.note(f"pause {self.name[nid]}")
        self.status[nid] = PAUSED

    def resume(self, nid: int) -> None:
        if self.status[nid] != PAUSED:
            return
        self.note(f"resume {self.name[nid]}")
        self.status[nid] = UP
        held, self.held[nid] = self.held[nid], []
        for src, payload in held:
            self._push(self.now, DELIVER, nid, self.incarnation[nid], src, payload)
        ops, self.held_ops[nid] = self.held_ops[nid], []
        for fn in ops:
            self.call_at(self.now, lambda fn=fn: self.operate(nid, fn, "held request to"))

    def cut_link(self, a: int, b: int) -> None:
        self.note(f"cut {self.name[a]}-{self.name[b]}")
        self.cut.add((a, b))
        self.cut.add((b, a))

    def split(self, groups: list[list[int]]) -> None:
        self.note("split " + " | ".join(",".join(self.name[n] for n in g) for g in groups))
        for i, g in enumerate(groups):
            for h in groups[i + 1 :]:
                for a in g:
                    for b in h:
                        self.cut.add((a, b))
                        self.cut.add((b, a))

    def heal(self) -> None:
        self.note("heal all links")
        self.cut.clear()

    # --- checks -------------------------------------------------------------------------

    def settled(self) -> bool:
        return self.checker.why_not_settled() is None

    def settle(self, what: str, limit_ms: int = 60_000) -> int:
        return self.wait_for(self.settled, limit_ms, what)


class Checker:
    """Invariants: cheap ones after every step, data ones at checkpoints."""

    def __init__(self, sim: Simulator):
        self.sim = sim
        self.views: dict[int, object] = {}
        self.digests: dict[int, bytes] = {}
        self.watchers: list[Callable[[int], None]] = []  # a scenario's own per-step probes

    # after every step of node `nid`
    def step(self, nid: int) -> None:
        for watch in self.watchers:
            watch(nid)
        node = self.sim.nodes.get(nid)
        if node is None:
            return
        v = node.view
        if v is None:
            return
        known = self.views.get(v.cluster_key)
        if known is None:
            s = v.succession
            if list(s) != sorted(set(s), reverse=True) or nid not in s:
                self.sim.fail(f"malformed view {v} adopted by {self.sim.name[nid]}")
            self.views[v.cluster_key] = v
        elif known != v:
            self.sim.fail(f"two views share cluster key {v.cluster_key:012x}: {known} and {v}")
        if node.plans is None:
            return
        d = self.digests.get(v.cluster_key)
        if d is None:
            self._check_plans(node)
            self.digests[v.cluster_key] = node.plan_digest
        elif d != node.plan_digest:
            self.sim.fail(f"nodes of view {v.cluster_key:012x} computed different partition plans")

    def _check_plans(self, node: ClusterNode) -> None:
        v = node.view
        assert v is not None and node.plans is not None and node.table is not None
        members = set(v.succession)
        quiesced = effective_quiesced(v.succession, v.quiesced)
        if node.table.quiesced != quiesced:
            self.sim.fail(f"table of view {v} ignores the view's quiesced set")
        if quiesced:
            tail = len(v.succession) - len(quiesced)
            for pid, row in enumerate(node.table.rows):
                if set(row[tail:]) != quiesced:
                    self.sim.fail(f"row {pid} of view {v} does not end with the quiesced nodes")
        for ns, plan in node.plans.items():
            rf = min(self.sim.cfg.rf, len(v.succession))
            for pid, p in enumerate(plan.parts):
                if p.master not in members:
                    self.sim.fail(f"partition {ns}/{pid} of view {v} has master outside the view")
                if p.replicas != node.table.rows[pid][:rf]:
                    self.sim.fail(
                        f"partition {ns}/{pid} replicas are not the table's first RF nodes"
                    )

    # checkpoints
    def components(self) -> list[list[int]]:
        """Groups of live nodes that can reach each other (connected components)."""
        sim = self.sim
        up = sim.up_nodes()
        seen: set[int] = set()
        groups = []
        for n in up:
            if n in seen:
                continue
            group, todo = [], [n]
            seen.add(n)
            while todo:
                a = todo.pop()
                group.append(a)
                for b in up:
                    if b not in seen and (a, b) not in sim.cut:
                        seen.add(b)
                        todo.append(b)
            groups.append(sorted(group, reverse=True))
        return groups

    def why_not_settled(self) -> str | None:
        """None if every group of mutually reachable live nodes is one balanced cluster."""
        sim = self.sim
        if any(s == PAUSED for s in sim.status.values()):
            return "a node is paused"
        for group in self.components():
            for a in group:
                for b in group:
                    if a != b and (a, b) in sim.cut:
                        return "live nodes are not a set of cliques (half-connected)"
            views = {sim.nodes[n].view for n in group}
            if len(views) != 1:
                return f"group {[sim.name[n] for n in group]} has {len(views)} views"
            v = views.pop()
            if v is None:
                return f"{sim.name[group[0]]} is an orphan"
            if list(v.succession) != group:
                return f"view {v} is not the group {[sim.name[n] for n in group]}"
            flags = tuple(n for n in group if sim.nodes[n].quiesced)
            if v.quiesced != flags:
                return f"view {v} does not carry the quiesced set {[sim.name[n] for n in flags]}"
            for n in group:
                node = sim.nodes[n]
                if node.plans is None:
                    return f"{sim.name[n]} has not rebalanced"
                if node.migrations.pending:
                    return f"{sim.name[n]} has {node.migrations.pending} migrations pending"
                if node.handoffs:
                    return f"{sim.name[n]} has {node.handoffs} acting masters"
        return None

    def check_data(self, strong: bool) -> None:
        """Every acknowledged write is visible at the master and held by every replica.

        strong: the copy at the master is the last acknowledged write of the key or a later
        write (nothing acknowledged was lost). weak (after splits, AP): the copy at the
        master is a written copy that wins over, or equals, every acknowledged copy under
        the conflict-resolution policy (losing writes of a split may be lost, nothing else).
        """
        sim = self.sim
        why = self.why_not_settled()
        if why is not None:
            sim.fail(f"data check on an unsettled cluster: {why}")
        groups = self.components()
        if len(groups) != 1:
            sim.fail("data check needs one connected cluster")
        nodes = groups[0]
        any_node = sim.nodes[nodes[0]]
        plan = any_node.plan(NS)
        assert plan is not None and any_node.table is not None
        policy = sim.policy
        client = sim.client
        for key in client.keys:
            pid = client.pid[key]
            p = plan.parts[pid]
            if p.master != any_node.table.rows[pid][0]:
                sim.fail(f"partition {pid} is served by an acting master after settling")
            copy = sim.stores[p.master].get_copy(NS, pid, key)
            ops = client.ops[key]
            acked = [op for op in ops if op.state == "acked"]
            if copy is not None:
                s = seq_of(copy)
                if not 1 <= s <= len(ops) or ops[s - 1].copy != copy:
                    sim.fail(f"{key!r}: master holds a copy no client wrote: {copy}")
            if not acked:
                continue
            last = acked[-1]
            if copy is None:
                sim.fail(
                    f"{key!r}: acknowledged write #{last.seq} lost: master {sim.name[p.master]} has no copy"
                )
            if strong:
                if seq_of(copy) < last.seq:
                    sim.fail(
                        f"{key!r}: acknowledged write #{last.seq} lost: master {sim.name[p.master]} "
                        f"holds #{seq_of(copy)} ({copy})"
                    )
            else:
                for op in acked:
                    if compare(copy, op.copy, policy) < 0:
                        sim.fail(
                            f"{key!r}: master copy {copy} loses to acknowledged {op.copy} under {policy.name}"
                        )
            # durability: every replica holds the acknowledged data too
            for r in p.replicas:
                rc = sim.stores[r].get_copy(NS, pid, key)
                bar = last.copy if strong else max_copy([op.copy for op in acked], policy)
                if rc is None or compare(rc, bar, policy) < 0:
                    sim.fail(
                        f"{key!r}: replica {sim.name[r]} lacks acknowledged write #{last.seq}: has {rc}"
                    )
        # no partition data left on nodes that are not its replicas (quiesced nodes keep
        # theirs, as Aerospike's do)
        v = any_node.view
        assert v is not None
        keeping = effective_quiesced(v.succession, v.quiesced)
        for n in nodes:
            if n in keeping:
                continue
            store = sim.stores[n]
            for pid, p in enumerate(plan.parts):
                if n not in p.replicas and store.partition_count(NS, pid):
                    sim.fail(f"{sim.name[n]} still holds partition {pid} without being a replica")


def max_copy(copies: list, policy: ConflictPolicy) -> RecordCopy:
    best = copies[0]
    for c in copies[1:]:
        if compare(c, best, policy) > 0:
            best = c
    return best


def configure_logging(sim: Simulator, verbose: bool) -> None:
    """Log the cluster core with virtual timestamps (used by `run -v`)."""

    class SimTime(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.simtime = sim.now
            return True

    handler = logging.StreamHandler()
    handler.addFilter(SimTime())
    handler.setFormatter(logging.Formatter("t=%(simtime)6d %(levelname)s %(message)s"))
    logger = logging.getLogger("respike.cluster")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
