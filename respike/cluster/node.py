"""One node's cluster core: heartbeat, clustering, exchange, partition plan, replication,
duplicate resolution, migrations and proxying, composed behind one sans-I/O object.

Nothing here touches a socket, a thread or the wall clock. The code around it (the ZeroMQ
fabric and the asyncio loop in a real node, tests/sim in the simulator):

* calls `tick(now_ms)` every few tens of milliseconds and `receive(src, msg, now_ms)` (or
  `receive_bytes(data, now_ms)`) for every message that arrives;
* after *any* call, sends what `take_sends()` returns (each `Send` is a destination node
  id, or a seed address, and a message; `messages.encode` makes the bytes) and handles what
  `take_events()` returns (view changes, finished writes, proxied commands, ...);
* serves clients with `route`, `read_gate`/`write_gate`, `replicate` and `proxy`;
* passes operator requests on: `set_quiesced` (maintenance hand-off), `set_config`.

A client write on the master, as the RESP layer will do it::

    gate = node.write_gate(ns, pid, key, now)      # READY / WAIT / REMOTE / UNAVAILABLE
    # WAIT: run the command when DupResDone(gate.txn, ok=True) arrives (same loop step)
    ...execute the command on the engine, producing the record's new copy...
    txn = node.replicate(ns, pid, key, copy, now)  # reply when WriteDone(txn) arrives

`now_ms` must not go backwards. A gap longer than half the heartbeat timeout between two
calls means this node was not running (paused); it then leaves its view and rejoins
(clustering.py explains why).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from ..engine.catalog import Catalog
from ..errors import ResultCode
from .clustering import Clustering, ClusteringTiming, View, describe
from .config import ClusterConfig
from .dupres import DupResolution
from .events import (
    DupResDone,
    Event,
    PeerRefused,
    ProxyRequested,
    PublishReceived,
    Rebalanced,
    ViewChanged,
    WriteDone,
)
from .exchange import Exchange
from .heartbeat import Heartbeat
from .messages import (
    PROTOCOL_VERSION,
    DupResReply,
    DupResRequest,
    ExchangeResult,
    ExchangeVersions,
    Message,
    MetadataEntries,
    MigrateBatch,
    MigrateBatchAck,
    MigrateDone,
    MigrateDoneAck,
    MigrateStart,
    MigrateStartAck,
    MigrationKind,
    NsVersions,
    PaxosAccept,
    PaxosAccepted,
    PaxosCommit,
    PaxosNack,
    PaxosPrepare,
    PaxosPromise,
    ProtocolMismatch,
    ProxyRequest,
    ProxyResponse,
    PubSubCount,
    PubSubPublish,
    Pulse,
    Refused,
    ReplicaAck,
    ReplicaWrite,
    Send,
    Status,
    decode,
)
from .metadata import MetadataSync
from .migration import Migrations, MigrationSettings
from .partition_table import PartitionTable, TableCache, effective_quiesced
from .proxy import Proxies
from .pubsub_relay import PublishRelay
from .rebalance import (
    EMPTY,
    FULL,
    SUBSET,
    NamespacePlan,
    PartitionVersion,
    decode_versions,
    encode_versions,
    plan_namespace,
)
from .records import ConflictPolicy, RecordCopy, RecordStore, apply_if_better
from .replication import Replication

log = logging.getLogger("respike.cluster")

DIVERGED_BIT = 1 << 48

LOCAL = "local"
REMOTE = "remote"
UNAVAILABLE = "unavailable"
READY = "ready"
WAIT = "wait"


@dataclass(frozen=True, slots=True)
class Route:
    """Who serves a partition, as this node sees it.

    kind: LOCAL (this node is the working master), REMOTE (`node` is; proxy or MOVED), or
    UNAVAILABLE (no view, or the exchange of a new view is still running; `reason` says).
    """

    kind: str
    node: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Gate:
    """May a command on a record run here now?

    READY: run it now. WAIT: duplicate resolution `txn` is running; run the command when
    `DupResDone(txn)` arrives with ok. REMOTE / UNAVAILABLE: as in `Route`.
    """

    kind: str
    txn: int = 0
    node: int = 0
    reason: str = ""


def restart_versions(
    store: RecordStore, namespaces: list[str], n_partitions: int
) -> dict[str, list[PartitionVersion]]:
    """Versions for a node that starts with records (device storage, cold start).

    They are subsets of an unknown lineage: every such copy is merged into the working
    master by the conflict-resolution policy, never trusted as complete.
    """
    unknown = PartitionVersion(SUBSET, 0, 0)
    return {
        ns: [unknown if store.partition_count(ns, pid) else EMPTY for pid in range(n_partitions)]
        for ns in namespaces
    }


class ClusterNode:
    def __init__(
        self,
        config: ClusterConfig,
        store: RecordStore,
        now: int,
        rng: random.Random | None = None,
        tables: TableCache | None = None,
        versions: dict[str, list[PartitionVersion]] | None = None,
        catalog: Catalog | None = None,
    ):
        if not 0 < config.node_id < 1 << 64:
            raise ValueError("node ids are non-zero unsigned 64-bit integers")
        self.config = config
        self.node_id = config.node_id
        self.store = store
        self.rng = rng if rng is not None else random.Random()
        self.tables = tables if tables is not None else TableCache()
        self.boot_id = self.rng.getrandbits(63)
        bugs = config.bugs
        self.hb = Heartbeat(
            config.node_id,
            config.address,
            list(config.seeds),
            config.heartbeat_interval_ms,
            config.heartbeat_timeout,
        )
        timing = ClusteringTiming.for_heartbeat(
            config.heartbeat_interval_ms, config.heartbeat_timeout
        )
        self.clustering = Clustering(config.node_id, self.rng, timing, now, bugs.forget_promises)
        self.exchange = Exchange(config.node_id, config.retransmit_ms)
        self.replication = Replication(
            config.transaction_timeout_ms, config.retransmit_ms, bugs.ack_before_replicas
        )
        self.dupres = DupResolution(config.transaction_timeout_ms, config.retransmit_ms)
        self.proxies = Proxies(config.transaction_timeout_ms)
        self.pubsub = PublishRelay()
        self.metadata = MetadataSync(
            catalog if catalog is not None else Catalog(config.node_id),
            4 * config.heartbeat_interval_ms,
        )
        self.migrations = Migrations(
            store, self._migration_settings(), self.policy, self._incoming_done, self._outgoing_done
        )
        n = config.n_partitions
        self.versions: dict[str, list[PartitionVersion]] = {
            ns: [EMPTY] * n for ns in config.namespaces
        }
        for ns, vs in (versions or {}).items():
            if ns in self.versions and len(vs) == n:
                self.versions[ns] = list(vs)
        self.table: PartitionTable | None = None
        self.plans: dict[str, NamespacePlan] | None = None
        self.plan_digest = b""
        self.handoffs = 0
        self.masters = 0  # partitions this node is working master of (all namespaces)
        self.keeps_copies = False  # quiesced in this view's table: keep copies (_apply_plan)
        self.pending_dups: dict[str, dict[int, set[int]]] = {}
        self.outbox: list[Send] = []
        self.events: list[Event] = []
        self.last_now = now
        self.pauses = 0
        self.quiesced = False
        self.refused: dict[int, str] = {}
        self._handlers: dict[type, Callable[[int, Message, int], None]] = {
            Pulse: self._on_pulse,
            Refused: self._on_refused,
            PaxosPrepare: self._on_prepare,
            PaxosPromise: self._on_promise,
            PaxosNack: self._on_nack,
            PaxosAccept: self._on_accept,
            PaxosAccepted: self._on_accepted,
            PaxosCommit: self._on_commit,
            ExchangeVersions: self._on_exchange_versions,
            ExchangeResult: self._on_exchange_result,
            MigrateStart: self._on_migrate_start,
            MigrateStartAck: self._on_migrate_start_ack,
            MigrateBatch: self._on_migrate_batch,
            MigrateBatchAck: self._on_migrate_batch_ack,
            MigrateDone: self._on_migrate_done,
            MigrateDoneAck: self._on_migrate_done_ack,
            ReplicaWrite: self._on_replica_write,
            ReplicaAck: self._on_replica_ack,
            DupResRequest: self._on_dupres_request,
            DupResReply: self._on_dupres_reply,
            ProxyRequest: self._on_proxy_request,
            ProxyResponse: self._on_proxy_response,
            MetadataEntries: self._on_metadata_entries,
            PubSubPublish: self._on_pubsub_publish,
            PubSubCount: self._on_pubsub_count,
        }

    # --- configuration ------------------------------------------------------------------

    def _migration_settings(self) -> MigrationSettings:
        c = self.config
        return MigrationSettings(
            threads=c.migrate_threads,
            max_incoming=c.migrate_max_num_incoming,
            batch_records=c.migrate_batch_records,
            resend_ms=c.retransmit_ms,
            skip_reconcile=c.bugs.skip_reconcile,
        )

    def set_config(self, config: ClusterConfig) -> None:
        """Apply dynamic settings (migrate-threads, commit-level, timeouts...) at run time."""
        if config.node_id != self.node_id or set(config.namespaces) != set(self.config.namespaces):
            raise ValueError("node id and namespaces cannot change at run time")
        self.config = config
        self.migrations.set_settings(self._migration_settings())
        self.replication.timeout_ms = config.transaction_timeout_ms
        self.dupres.timeout_ms = config.transaction_timeout_ms
        self.proxies.timeout_ms = config.transaction_timeout_ms

    def policy(self, ns: str) -> ConflictPolicy:
        return self.config.namespaces[ns].conflict_policy

    def set_quiesced(self, flag: bool, now: int) -> None:
        """Quiesce this node (True) or undo it (False): Aerospike EE's maintenance hand-off.

        A quiesced node stays in the cluster and keeps serving what it is asked (proxying
        what it does not master), but hands off mastership: the flag goes out in its pulses
        (one is sent at once), the principal proposes a view with the same members whose
        quiesced set includes it, and that view's partition table moves it to the end of
        every row. The usual exchange and migrations follow; the next node of a row it
        mastered is almost always an in-sync replica already, so mastership moves without
        copying data. When `stats()` shows `effective_is_quiesced` and 0 `master_partitions`
        (after the migrations, and a balance view if it still acted as master somewhere),
        every partition's best copy is on another node and taking it down removes no
        master. Undo goes the same way back: the table is the original one again, other
        nodes act as masters of the node's partitions until it has been refilled, then a
        balance view hands them back.

        The flag lives in memory only: a restarted node is not quiesced, as in Aerospike.
        """
        self._advance(now)
        flag = bool(flag)
        if flag == self.quiesced:
            return
        self.quiesced = flag
        self.clustering.quiesced = flag
        log.info(
            "node %016x %s; the principal will propose a view with the new quiesced set",
            self.node_id,
            "quiesced" if flag else "quiesce undone",
        )
        self._pulse()  # now rather than at the next interval: the hand-off starts sooner

    # --- the I/O boundary ---------------------------------------------------------------

    def take_sends(self) -> list[Send]:
        sends, self.outbox = self.outbox, []
        return sends

    def take_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def tick(self, now: int) -> list[Send]:
        """Advance timers: heartbeat, view proposals, exchange, migrations, timeouts."""
        self._advance(now)
        pulse_due = self.hb.tick(now)
        self._log_peers()
        self.outbox.extend(self.clustering.evaluate(self.hb, now, self._balance_wanted()))
        self._collect(now)
        self.outbox.extend(self.exchange.tick(now))
        if self.plans is not None:
            self.outbox.extend(self.migrations.tick(now))
        self.outbox.extend(self.replication.tick(now))
        self.outbox.extend(self.dupres.tick(now))
        self.proxies.tick(now)
        self.pubsub.tick(now)
        self.outbox.extend(self.metadata.tick(self.hb.alive()))
        self._collect(now)
        if pulse_due:
            self._pulse()
        return self.take_sends()

    def receive(self, src: int, msg: Message, now: int) -> list[Send]:
        """Handle one message from node `src`."""
        self._advance(now)
        handler = self._handlers.get(type(msg))
        if handler is not None and src != self.node_id:
            handler(src, msg, now)
            self._collect(now)
        return self.take_sends()

    def receive_bytes(self, data: bytes, now: int) -> list[Send]:
        """Decode and handle wire bytes; a peer of another protocol version is refused."""
        try:
            src, msg = decode(data)
        except ProtocolMismatch as exc:
            self._advance(now)
            self._refuse(exc)
            return self.take_sends()
        return self.receive(src, msg, now)

    def _refuse(self, exc: ProtocolMismatch) -> None:
        if exc.src and exc.src != self.node_id:
            if self.refused.get(exc.src) != exc.reason:
                log.warning("node %016x refuses node %016x: %s", self.node_id, exc.src, exc.reason)
                self.events.append(PeerRefused(exc.src, exc.reason))
            self.refused[exc.src] = exc.reason
            self.outbox.append(Send(exc.src, Refused(PROTOCOL_VERSION, exc.reason)))

    def _advance(self, now: int) -> None:
        gap = now - self.last_now
        if gap > self.config.pause_threshold_ms:
            self.pauses += 1
            log.warning(
                "node %016x was not running for %d ms (paused?); leaving its cluster view to rejoin",
                self.node_id,
                gap,
            )
            self.hb.reset_after_pause(now)
            if self.clustering.view is not None:
                self.clustering.abandon(now, f"paused for {gap} ms")
                self._collect(now)
        if now > self.last_now:
            self.last_now = now

    def _collect(self, now: int) -> None:
        """Turn what the parts finished into view changes, store updates and events."""
        for old, new in self.clustering.take_changes():
            self._on_view_change(old, new, now)
        if self.replication.diverged:
            for ns, pid in self.replication.diverged:
                self._mark_diverged(ns, pid)
            self.replication.diverged.clear()
        if self.replication.done:
            self.events.extend(self.replication.take_done())
        if self.dupres.done:
            for d in self.dupres.take_done():
                if d.ok and d.best is not None:
                    apply_if_better(self.store, d.ns, d.pid, d.key, d.best, self.policy(d.ns))
                self.events.append(DupResDone(d.txn, d.ok, d.code, d.message))
        if self.proxies.done:
            self.events.extend(self.proxies.take_done())
        if self.pubsub.done:
            self.events.extend(self.pubsub.take_done())

    def _mark_diverged(self, ns: str, pid: int) -> None:
        """This node's copy holds a write its replicas may lack: give it its own lineage.

        Same epoch, a random cluster key above every real one (bit 48 set): at the next
        rebalance it is the best version, so the replicas' copies are merged into it and it
        is then streamed back to them, reconciling the one record that differs.
        """
        versions = self.versions.get(ns)
        if versions is None:
            return
        v = versions[pid]
        if v.state == FULL and v.cluster_key < DIVERGED_BIT:
            versions[pid] = PartitionVersion(FULL, v.epoch, DIVERGED_BIT | self.rng.getrandbits(48))

    def _pulse(self) -> None:
        v = self.view
        pulse = Pulse(
            self.config.address,
            self.boot_id,
            self.hb.adjacency(),
            v.cluster_key if v else 0,
            v.succession if v else (),
            v.epoch if v else 0,
            self.plans is not None,
            self.migrations.pending,
            self.quiesced,
            self.metadata.digest(),
        )
        for node, addr in self.hb.targets():
            self.outbox.append(Send(node, pulse, addr))

    def _log_peers(self) -> None:
        for what, node in self.hb.take_events():
            log.info("node %016x: heartbeat says node %016x is %s", self.node_id, node, what)

    # --- view changes and rebalance -----------------------------------------------------

    @property
    def view(self) -> View | None:
        return self.clustering.view

    def _on_view_change(self, old: View | None, new: View | None, now: int) -> None:
        reason = f"cluster view changed to {describe(new)} before every replica acknowledged"
        self.replication.fail_all(
            ResultCode.CLUSTER_KEY_MISMATCH, reason + "; the write's outcome is unknown"
        )
        self.dupres.fail_all(
            ResultCode.CLUSTER_KEY_MISMATCH, "cluster view changed; nothing was applied"
        )
        self.pubsub.forget(set(new.succession) if new is not None else set())
        self.migrations.reset(new.cluster_key if new else 0)
        self.exchange.reset()
        self.plans = None
        self.table = None
        self.plan_digest = b""
        self.handoffs = 0
        self.masters = 0
        self.keeps_copies = False
        self.pending_dups = {}
        self.events.append(ViewChanged(old, new))
        if new is not None:
            sends, result = self.exchange.start(new, self._my_versions(), now)
            self.outbox.extend(sends)
            if result is not None:
                self._rebalance(result, now)

    def _my_versions(self) -> tuple[NsVersions, ...]:
        return tuple(encode_versions(ns, vs) for ns, vs in self.versions.items())

    def _rebalance(self, result: ExchangeResult, now: int) -> None:
        view = self.view
        if view is None or view.cluster_key != result.cluster_key:
            return
        n = self.config.n_partitions
        table = self.tables.get(view.succession, n, view.quiesced)
        by_node = {node: {nv.ns: nv for nv in nvs} for node, nvs in result.nodes}
        plans: dict[str, NamespacePlan] = {}
        migrations_before = self.migrations.pending
        keep = self.node_id in table.quiesced and not self.config.bugs.quiesced_drops
        self.keeps_copies = keep
        for ns, pol in self.config.namespaces.items():
            versions = {}
            for node in view.succession:
                nv = by_node.get(node, {}).get(ns)
                versions[node] = decode_versions(nv, n) if nv is not None else [EMPTY] * n
            plan = plan_namespace(
                ns, pol.replication_factor, table, versions, self.config.bugs.master_without_data
            )
            plans[ns] = plan
            self._apply_plan(ns, plan, view, keep)
        self.table = table
        self.plans = plans
        self.plan_digest = b"".join(plans[ns].digest for ns in sorted(plans))
        self.handoffs = sum(p.handoffs(table) for p in plans.values())
        masters = sum(1 for p in plans.values() for part in p.parts if part.master == self.node_id)
        self.masters = masters
        self.events.append(Rebalanced(view, masters, self.migrations.pending - migrations_before))
        log.info(
            "node %016x rebalanced for cluster key %012x: master of %d partitions, %d migrations "
            "(%d out, %d in), %d partitions served by acting masters",
            self.node_id,
            view.cluster_key,
            masters,
            self.migrations.pending,
            self.migrations.tx_remaining,
            self.migrations.rx_remaining,
            self.handoffs,
        )

    def _apply_plan(self, ns: str, plan: NamespacePlan, view: View, quiesced: bool) -> None:
        """Set this node's versions, drops and migrations from the plan (see rebalance.py).

        `quiesced`: the view's table treats this node as quiesced. It then keeps the copies
        the plan would drop (Aerospike's quiesced node never drops its data), as subsets of
        the new lineage: the master holds everything they hold, so the next plan neither
        merges them nor trusts them as complete. Until the hand-off's fills finish they are
        an extra copy of every write acknowledged before it (if the new master is lost, the
        next plan merges them back as duplicates); the first plan after undo in which this
        node is not a replica drops them.
        """
        me = self.node_id
        mine = self.versions[ns]
        full = PartitionVersion(FULL, view.epoch, view.cluster_key)
        subset = PartitionVersion(SUBSET, view.epoch, view.cluster_key)
        dups_pending: dict[int, set[int]] = {}
        mig = self.migrations
        for pid, p in enumerate(plan.parts):
            if p.master == me:
                mine[pid] = full
                if p.dups:
                    dups_pending[pid] = set(p.dups)
                    for d in p.dups:
                        mig.expect(d, ns, pid, MigrationKind.MERGE)
                else:
                    for f in p.fills:
                        mig.emigrate(ns, pid, f, MigrationKind.FILL)
            elif me in p.dups:
                mig.emigrate(ns, pid, p.master, MigrationKind.MERGE)
                if me in p.fills:
                    mig.expect(p.master, ns, pid, MigrationKind.FILL)
            elif me in p.fills:
                mig.expect(p.master, ns, pid, MigrationKind.FILL)
                if mine[pid].state != FULL:
                    mine[pid] = subset
            elif me in p.replicas:
                mine[pid] = full
            elif me in p.drops:
                if quiesced:
                    mine[pid] = subset
                else:
                    self.store.drop_partition(ns, pid)
                    mine[pid] = EMPTY
        self.pending_dups[ns] = dups_pending

    def _incoming_done(self, src: int, ns: str, pid: int, kind: int) -> None:
        view = self.view
        plans = self.plans
        if view is None or plans is None:
            return
        if kind == MigrationKind.FILL:
            self.versions[ns][pid] = PartitionVersion(FULL, view.epoch, view.cluster_key)
            return
        pending = self.pending_dups.get(ns, {}).get(pid)
        if pending is None:
            return
        pending.discard(src)
        self.dupres.holder_done(ns, pid, src)
        if not pending:
            del self.pending_dups[ns][pid]
            for f in plans[ns].parts[pid].fills:
                self.migrations.emigrate(ns, pid, f, MigrationKind.FILL)

    def _outgoing_done(self, dest: int, ns: str, pid: int, kind: int) -> None:
        view = self.view
        plans = self.plans
        if view is None or plans is None or kind != MigrationKind.MERGE:
            return
        p = plans[ns].parts[pid]
        if self.node_id in p.replicas:
            v = self.versions[ns][pid]
            if v.lineage != (view.epoch, view.cluster_key):  # not already re-filled
                self.versions[ns][pid] = PartitionVersion(SUBSET, view.epoch, view.cluster_key)
        elif self.keeps_copies:
            # merged into the master, so covered by it: kept, as in `_apply_plan`
            self.versions[ns][pid] = PartitionVersion(SUBSET, view.epoch, view.cluster_key)
        else:
            self.store.drop_partition(ns, pid)
            self.versions[ns][pid] = EMPTY

    def _balance_wanted(self) -> bool:
        """Principal: migrations of this view are done everywhere but acting masters remain."""
        v = self.view
        if v is None or v.principal != self.node_id or self.plans is None or not self.handoffs:
            return False
        if self.migrations.pending:
            return False
        for n in v.succession:
            if n == self.node_id:
                continue
            pulse = self.hb.pulse_of(n)
            if (
                pulse is None
                or pulse.cluster_key != v.cluster_key
                or not pulse.rebalanced
                or pulse.migrations_pending
            ):
                return False
        return True

    # --- client path --------------------------------------------------------------------

    def route(self, ns: str, pid: int) -> Route:
        """Who serves `pid` now. A quiesced node is no different: it answers REMOTE for the
        partitions it no longer masters, and the caller proxies (or answers MOVED)."""
        plans = self.plans
        if plans is None:
            if self.view is None:
                return Route(UNAVAILABLE, reason="node is not in a cluster")
            return Route(UNAVAILABLE, reason="cluster is rebalancing after a view change")
        plan = plans.get(ns)
        if plan is None:
            return Route(UNAVAILABLE, reason=f"no namespace {ns}")
        master = plan.parts[pid].master
        if master == self.node_id:
            return Route(LOCAL, master)
        return Route(REMOTE, master)

    def write_gate(self, ns: str, pid: int, key: bytes, now: int) -> Gate:
        """May a write of `key` run here now? READY, WAIT (duplicate resolution), REMOTE or
        UNAVAILABLE; see the module docstring for the whole flow."""
        return self._gate(ns, pid, key, now, True)

    def read_gate(self, ns: str, pid: int, key: bytes, now: int) -> Gate:
        return self._gate(ns, pid, key, now, self.config.read_dupres)

    def _gate(self, ns: str, pid: int, key: bytes, now: int, resolve: bool) -> Gate:
        self._advance(now)
        r = self.route(ns, pid)
        if r.kind != LOCAL:
            return Gate(r.kind, node=r.node, reason=r.reason)
        holders = self.pending_dups.get(ns, {}).get(pid)
        if resolve and holders:
            view = self.view
            assert view is not None
            txn, sends = self.dupres.start(
                view.cluster_key, ns, pid, key, tuple(sorted(holders)), self.policy(ns), now
            )
            self.outbox.extend(sends)
            return Gate(WAIT, txn=txn)
        return Gate(READY)

    def replicate(
        self,
        ns: str,
        pid: int,
        key: bytes,
        copy: RecordCopy,
        now: int,
        commit_all: bool | None = None,
    ) -> int:
        """The master applied a write; send it to the replicas. `WriteDone(txn)` follows.

        `commit_all` None uses the namespace's commit-level.
        """
        self._advance(now)
        r = self.route(ns, pid)
        view = self.view
        if r.kind != LOCAL or view is None or self.plans is None:
            self._mark_diverged(ns, pid)
            txn = self.replication.new_txn()
            self.events.append(
                WriteDone(
                    txn,
                    False,
                    ResultCode.CLUSTER_KEY_MISMATCH,
                    "this node is no longer the partition's master",
                )
            )
            return txn
        if commit_all is None:
            commit_all = self.config.namespaces[ns].commit_all
        p = self.plans[ns].parts[pid]
        replicas = tuple(n for n in p.replicas if n != self.node_id)
        txn, sends = self.replication.start(
            view.cluster_key, ns, pid, key, copy, replicas, commit_all, now
        )
        self.outbox.extend(sends)
        self._collect(now)
        return txn

    def proxy(
        self, dest: int, ns: str, pid: int, resp_proto: int, args: tuple[bytes, ...], now: int
    ) -> int:
        """Forward a client command to `dest` (the master); `ProxyDone(txn)` follows."""
        self._advance(now)
        txn, send = self.proxies.start(dest, ns, pid, resp_proto, args, now)
        self.outbox.append(send)
        return txn

    def publish(self, channel: bytes, payload: bytes, local: int, now: int) -> int:
        """Relay a PUBLISH to every other member of the view (`local`: how many of this
        node's subscribers received it); `PublishDone(txn)` follows."""
        self._advance(now)
        view = self.view
        peers = [n for n in view.succession if n != self.node_id] if view is not None else []
        txn, sends = self.pubsub.start(channel, payload, local, peers, now)
        self.outbox.extend(sends)
        self._collect(now)
        return txn

    def publish_count(self, src: int, txn: int, receivers: int) -> None:
        """Answer a `PublishReceived` event."""
        self.outbox.append(Send(src, PubSubCount(txn, receivers)))

    def proxy_reply(self, src: int, txn: int, result: int, reply: bytes) -> None:
        """Answer a `ProxyRequested` event."""
        self.outbox.append(Send(src, ProxyResponse(txn, result, reply)))

    # --- message handlers ---------------------------------------------------------------

    def _on_pulse(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, Pulse)
        self.hb.on_pulse(src, msg, now)
        self._log_peers()
        self.outbox.extend(self.metadata.on_pulse(src, msg.metadata, now))

    def _on_refused(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, Refused)
        if self.refused.get(src) != msg.reason:
            log.error(
                "node %016x was refused by node %016x (protocol %d): %s",
                self.node_id,
                src,
                msg.version,
                msg.reason,
            )
            self.events.append(PeerRefused(src, msg.reason))
        self.refused[src] = msg.reason

    def _on_prepare(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, PaxosPrepare)
        self.outbox.extend(self.clustering.on_prepare(src, msg, self.hb, now))

    def _on_promise(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, PaxosPromise)
        self.outbox.extend(self.clustering.on_promise(src, msg, now))

    def _on_nack(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, PaxosNack)
        self.clustering.on_nack(src, msg, now)

    def _on_accept(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, PaxosAccept)
        self.outbox.extend(self.clustering.on_accept(src, msg, self.hb, now))

    def _on_accepted(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, PaxosAccepted)
        self.outbox.extend(self.clustering.on_accepted(src, msg, now))

    def _on_commit(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, PaxosCommit)
        self.clustering.on_commit(src, msg, now)

    def _on_exchange_versions(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, ExchangeVersions)
        sends, result = self.exchange.on_versions(src, msg)
        self.outbox.extend(sends)
        if result is not None:
            self._rebalance(result, now)

    def _on_exchange_result(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, ExchangeResult)
        result = self.exchange.on_result(src, msg)
        if result is not None:
            self._rebalance(result, now)

    def _on_migrate_start(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, MigrateStart)
        self.outbox.extend(self.migrations.on_start(src, msg, self.plans is not None))

    def _on_migrate_start_ack(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, MigrateStartAck)
        self.outbox.extend(self.migrations.on_start_ack(src, msg, now))

    def _on_migrate_batch(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, MigrateBatch)
        self.outbox.extend(self.migrations.on_batch(src, msg))

    def _on_migrate_batch_ack(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, MigrateBatchAck)
        self.outbox.extend(self.migrations.on_batch_ack(src, msg, now))

    def _on_migrate_done(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, MigrateDone)
        self.outbox.extend(self.migrations.on_done(src, msg))

    def _on_migrate_done_ack(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, MigrateDoneAck)
        self.outbox.extend(self.migrations.on_done_ack(src, msg, now))

    def _serving(self, cluster_key: int) -> int:
        view = self.view
        if view is None or view.cluster_key != cluster_key:
            return Status.WRONG_VIEW
        if self.plans is None:
            return Status.NOT_READY
        return Status.OK

    def _on_replica_write(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, ReplicaWrite)
        status = self._serving(msg.cluster_key)
        if status == Status.OK:
            plan = self.plans.get(msg.ns) if self.plans else None
            if plan is None or not 0 <= msg.pid < len(plan.parts):
                status = Status.REJECTED
            else:
                p = plan.parts[msg.pid]
                if src != p.master or self.node_id not in p.replicas:
                    status = Status.REJECTED
                else:
                    apply_if_better(
                        self.store, msg.ns, msg.pid, msg.key, msg.copy, self.policy(msg.ns)
                    )
        self.outbox.append(Send(src, ReplicaAck(msg.cluster_key, msg.txn, status)))

    def _on_replica_ack(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, ReplicaAck)
        self.replication.on_ack(src, msg)

    def _on_dupres_request(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, DupResRequest)
        status = self._serving(msg.cluster_key)
        copy = None
        if status == Status.OK:
            if msg.ns not in self.config.namespaces:
                status = Status.REJECTED
            else:
                copy = self.store.get_copy(msg.ns, msg.pid, msg.key)
        self.outbox.append(Send(src, DupResReply(msg.cluster_key, msg.txn, status, copy)))

    def _on_dupres_reply(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, DupResReply)
        self.dupres.on_reply(src, msg)

    def _on_proxy_request(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, ProxyRequest)
        self.events.append(ProxyRequested(src, msg.txn, msg.ns, msg.pid, msg.resp_proto, msg.args))

    def _on_proxy_response(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, ProxyResponse)
        self.proxies.on_response(src, msg)

    def _on_metadata_entries(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, MetadataEntries)
        self.metadata.on_entries(msg)

    def _on_pubsub_publish(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, PubSubPublish)
        self.pubsub.received += 1
        self.events.append(PublishReceived(src, msg.txn, msg.channel, msg.payload))

    def _on_pubsub_count(self, src: int, msg: Message, now: int) -> None:
        assert isinstance(msg, PubSubCount)
        self.pubsub.on_count(src, msg)

    # --- introspection ------------------------------------------------------------------

    def address_of(self, node: int) -> str | None:
        """The fabric address a node announced in its pulses (for the transport)."""
        peer = self.hb.peers.get(node)
        return peer.address if peer is not None else None

    def plan(self, ns: str) -> NamespacePlan | None:
        return self.plans.get(ns) if self.plans else None

    def stats(self) -> dict[str, object]:
        """Aerospike-style statistics for INFO and the admin tool."""
        v = self.view
        return {
            "cluster_size": len(v.succession) if v else 0,
            "cluster_key": f"{v.cluster_key:012X}" if v else "0",
            "cluster_principal": f"{v.principal:016x}" if v else "",
            "cluster_epoch": v.epoch if v else 0,
            "cluster_integrity": v is not None and self.plans is not None,
            "cluster_view_changes": self.clustering.view_changes,
            "migrate_tx_partitions_remaining": self.migrations.tx_remaining,
            "migrate_rx_partitions_remaining": self.migrations.rx_remaining,
            "migrate_partitions_remaining": self.migrations.pending,
            "migrate_records_transmitted": self.migrations.records_sent,
            "migrate_records_received": self.migrations.records_received,
            "migrate_tx_partitions_done": self.migrations.partitions_sent,
            "migrate_rx_partitions_done": self.migrations.partitions_received,
            "acting_master_partitions": self.handoffs,
            "master_partitions": self.masters,
            "quiesced": self.quiesced,
            "effective_is_quiesced": v is not None
            and self.node_id in effective_quiesced(v.succession, v.quiesced),
            "nodes_quiesced": len(v.quiesced) if v else 0,
            "replica_write_timeouts": self.replication.write_timeouts,
            "self_pauses_detected": self.pauses,
            "heartbeat_alive_peers": len(self.hb.alive()),
        }
