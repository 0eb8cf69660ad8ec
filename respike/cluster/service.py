"""The cluster at work in a node: the sans-I/O core (node.py) wired to the ZeroMQ fabric,
the asyncio clock, the engine (replication, migrations) and the RESP layer (routing).

Routing is one function, `route`, which the RESP client calls for every keyed command while
the node is clustered. It answers None (run the command here, now), or the reply to give
instead: a proxied command's future, a command deferred until duplicate resolution or a
rebalance finishes, or an error. A cluster-aware connection gets `-MOVED` where a plain one
is proxied; that decision is `redirect` (respike/cluster/redirect.py adds the Redis
Cluster view on top).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import hiredis

from ..config import fabric_port
from ..errors import CLUSTERDOWN, CROSSSLOT, RecordError, RedisError, ResultCode
from ..keyspace import hash_slot
from ..resp.client import Blocking, Client
from ..resp.encode import encode, error, integer
from .config import ClusterConfig
from .engine_store import EngineStore, copy_of
from .events import (
    DupResDone,
    ProxyDone,
    ProxyRequested,
    PublishDone,
    PublishReceived,
    Rebalanced,
    ViewChanged,
    WriteDone,
)
from .fabric import Fabric, node_address, split_address
from .messages import encode as encode_message
from .node import LOCAL, READY, REMOTE, WAIT, ClusterNode, restart_versions
from .slots import slot_ranges

if TYPE_CHECKING:
    from ..node import Node
    from ..resp.table import Command

log = logging.getLogger("respike.cluster")

# Multi-key commands a plain connection may spread over several nodes.
FANOUT = frozenset({"mget", "mset", "del", "unlink", "exists", "touch"})
# Subscriptions to shard channels: made on the slot's master, never proxied.
SHARD_SUBSCRIPTIONS = frozenset({"ssubscribe", "sunsubscribe"})


class MasterLeft(Exception):
    """A proxied request's destination left the cluster view."""


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class ClusterService:
    def __init__(self, node: Node):
        self.node = node
        self.engine = node.engine
        self.server = node.server
        cfg = node.node_config
        self.bind = cfg["bind"]
        self.port = cfg["port"]
        self.fabric_port = fabric_port(cfg)
        self.address = node_address(self.bind, self.port, self.fabric_port)
        self.seeded = bool(cfg["seeds"])
        self.store = EngineStore(self.engine)
        versions = None
        if any(ns.persistent and ns.count() for ns in self.engine.namespaces.values()):
            versions = restart_versions(self.store, list(self.store.spaces), 4096)
        self._wall, self._cpu = monotonic_ms(), time.process_time()
        self.core = ClusterNode(
            self._config(), self.store, self._wall, versions=versions, catalog=node.catalog
        )
        self.fabric = Fabric(self.bind, self.fabric_port, self._on_bytes, self._drained)
        self._inbound_sends: list = []
        self._flush_scheduled = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.active = False  # routing and replication on (a cluster of several nodes, or seeds)
        self.writes: dict[int, asyncio.Future] = {}
        self.resolutions: dict[int, asyncio.Future] = {}
        self.proxies: dict[int, asyncio.Future] = {}
        self.proxy_dest: dict[int, int] = {}
        self.publishes: dict[int, asyncio.Future] = {}
        self.rebalanced = asyncio.Event()
        self.stats = {
            "client_proxy_complete": 0,
            "client_proxy_error": 0,
            "client_proxy_timeout": 0,
            "proxy_in_complete": 0,
            "client_moved": 0,
        }
        self._events_scheduled = False
        self._task: asyncio.Task | None = None
        self._internal: dict[int, Client] = {}
        self._owners: list[tuple[int, tuple[int, ...]]] | None = None
        self._owners_digest = b""
        self._ranges: list | None = None

    def _config(self) -> ClusterConfig:
        base = ClusterConfig.from_config(self.node.config, self.node.node_id, self.address)
        seeds = tuple(node_address(*split_address(s)) for s in self.node.node_config["seeds"])
        return ClusterConfig(**{**_fields(base), "seeds": seeds})

    # --- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.fabric.start()
        self._set_active(self.seeded)
        self._task = asyncio.create_task(self._ticker())
        log.info("fabric listening on %s:%d", self.bind, self.fabric_port)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.fabric.close()

    def reconfigure(self) -> None:
        """Dynamic settings changed (migration throttles, commit-level, timeouts)."""
        self.core.set_config(self._config())

    async def _ticker(self) -> None:
        interval = max(10, self.core.config.heartbeat_interval_ms // 3) / 1000
        while True:
            self._flush(self.core.tick(self._now(check_pause=True)))
            self.fabric._readable()
            await asyncio.sleep(interval)

    # --- the I/O boundary --------------------------------------------------------------

    def _now(self, check_pause: bool = False) -> int:
        """The core's clock. A long gap between calls while this process kept the CPU busy
        is a blocked event loop (a huge command, a big rebalance), not a pause: the core
        would otherwise leave its view to rejoin (its pause rule), and flap. (Reading CPU
        time is a system call, so only the ticker checks.)"""
        now = monotonic_ms()
        gap = now - self._wall
        if not check_pause and gap <= self.core.config.pause_threshold_ms:
            self._wall = now
            return now
        cpu = time.process_time()
        if gap > self.core.config.pause_threshold_ms and (cpu - self._cpu) * 1000 > gap / 2:
            log.warning("event loop was blocked for %d ms", gap)
            self.core.last_now = max(self.core.last_now, now - 1)
        self._wall, self._cpu = now, cpu
        return now

    def _on_bytes(self, data: bytes) -> None:
        now = self._now()
        self._inbound_sends += self.core.receive_bytes(data, now)
        if self.core.migrations.pending:  # start the next partition now, not at the next tick
            self._inbound_sends += self.core.tick(now)

    def _flush_soon(self) -> None:
        """Send what client commands produced once this loop step's work is done: every
        replicated write of a pipeline leaves in one message per replica."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush_now)  # type: ignore[union-attr]

    def _flush_now(self) -> None:
        self._flush_scheduled = False
        self._flush()

    def _drained(self) -> None:
        """A burst of fabric messages was handled: send every answer in one go per peer."""
        sends, self._inbound_sends = self._inbound_sends, []
        self._flush(sends)

    def _flush(self, sends: list | None = None) -> None:
        """Send what the core wants sent; handle its events in their own loop step."""
        core = self.core
        batches: dict[str, list[bytes]] = {}
        for send in (sends or []) + core.take_sends():
            address = send.addr or core.address_of(send.dest)
            if address:
                batches.setdefault(address, []).append(encode_message(send.msg, core.node_id))
        for address, messages in batches.items():
            self.fabric.send(address, messages)
        if core.events and not self._events_scheduled:
            self._events_scheduled = True
            assert self.loop is not None
            self.loop.call_soon(self._handle_events)

    def _handle_events(self) -> None:
        self._events_scheduled = False
        self.engine.clock()
        for event in self.core.take_events():
            if isinstance(event, WriteDone):
                self._settle(self.writes, event.txn, event.ok, event.code, event.message)
            elif isinstance(event, DupResDone):
                self._settle(self.resolutions, event.txn, event.ok, event.code, event.message)
            elif isinstance(event, ProxyDone):
                self._proxy_done(event)
            elif isinstance(event, ProxyRequested):
                self._serve_proxied(event)
            elif isinstance(event, ViewChanged):
                self._view_changed(event)
            elif isinstance(event, PublishReceived):
                receivers = self.server.pubsub.publish(event.channel, event.payload)
                self.core.publish_count(event.src, event.txn, receivers)
            elif isinstance(event, PublishDone):
                fut = self.publishes.pop(event.txn, None)
                if fut is not None and not fut.done():
                    fut.set_result(integer(event.receivers))
            elif isinstance(event, Rebalanced):
                self._drop_moved_shard_channels()
                self.rebalanced.set()
                self.rebalanced = asyncio.Event()
        self._flush()

    @staticmethod
    def _settle(
        table: dict[int, asyncio.Future], txn: int, ok: bool, code: int, message: str
    ) -> None:
        fut = table.pop(txn, None)
        if fut is None or fut.done():
            return
        if ok:
            fut.set_result(None)
        else:
            fut.set_exception(RecordError(ResultCode(code), message))

    def _view_changed(self, event: ViewChanged) -> None:
        new = event.new
        self._set_active(self.seeded or (new is not None and len(new.succession) > 1))
        members = set(new.succession) if new is not None else set()
        for txn, dest in list(self.proxy_dest.items()):
            fut = self.proxies.get(txn)
            if dest not in members and fut is not None and not fut.done():
                fut.set_exception(MasterLeft())  # don't wait out the transaction timeout

    def _set_active(self, active: bool) -> None:
        """Routing and replication are on while clustered; a lone node skips them."""
        if active == self.active:
            return
        self.active = active
        self.node.clustered = active
        self.server.route = self.route if active else None
        self.server.cluster_publish = self.publish if active else None
        self.server.set_mastered(*((self.masters, self.holds) if active else (None, None)))
        for ns in self.engine.namespaces.values():
            ns.keep_tombstones = active
            ns.on_write = (lambda key, rec, ns=ns: self._replicate(ns, key)) if active else None
        for client in list(self.server.clients.values()) + list(self._internal.values()):
            client._update_special()

    # --- replication -------------------------------------------------------------------

    def _replicate(self, ns, key: bytes) -> None:
        """A client write committed on this master: send it to the replicas and make the
        client's reply wait for their acknowledgement (commit-level all)."""
        pid = hash_slot(key) >> 2
        txn = self.core.replicate(
            ns.name,
            pid,
            key,
            copy_of(ns, key, pid),
            self._now(),
            commit_all=self.engine.request_commit,
        )
        fut = self.loop.create_future()  # type: ignore[union-attr]
        self.writes[txn] = fut
        self.engine.waits.append(fut)
        plan = self.core.plan(ns.name)
        replicas = len(plan.parts[pid].replicas) - 1 if plan is not None else 0
        self.engine.last_replication = (txn, replicas)
        self._flush_soon()

    def masters(self, key: bytes) -> bool:
        """Whether this node masters `key`'s partition (keyspace notifications)."""
        route = self.core.route(self.engine.namespace_for(key).name, hash_slot(key) >> 2)
        return route.kind == LOCAL

    def holds(self, key: bytes) -> bool:
        """Whether this node keeps a copy of `key` (master or replica): then every change
        of the key reaches it (client tracking)."""
        plan = self.core.plan(self.engine.namespace_for(key).name)
        return plan is not None and self.core.node_id in plan.parts[hash_slot(key) >> 2].replicas

    def replicas_holding(self, write: tuple[int, int]) -> int:
        """How many replicas hold a write (WAIT): all of them once nothing is pending."""
        txn, replicas = write
        pending = self.core.replication.pending.get(txn)
        return replicas if pending is None else len(pending.acked)

    # --- routing -----------------------------------------------------------------------

    def targets(self, cmd: Command, args: list[bytes]) -> dict[tuple[str, int], bytes]:
        """(namespace, partition) -> a key, for every key the command names."""
        out: dict[tuple[str, int], bytes] = {}
        for i in cmd.key_positions(args):
            key = args[i]
            out[(self.engine.namespace_for(key).name, hash_slot(key) >> 2)] = key
        return out

    def route(self, client: Client, cmd: Command, args: list[bytes]) -> Any:
        if cmd.name in SHARD_SUBSCRIPTIONS:
            return self._shard_subscription_route(args)
        targets = self.targets(cmd, args)
        if not targets:
            return None
        aware = self.redirects(client)
        if aware and len({hash_slot(k) for k in self._keys(cmd, args)}) > 1:
            return error(CROSSSLOT)
        decision = self._decide(client, cmd, targets)
        if decision is None:
            return None
        kind, detail = decision
        if kind == REMOTE:
            if aware:
                return self.moved(next(iter(targets.values())), detail)
            return self._proxy(client, detail, targets, args, cmd)
        if kind == "spread":
            if cmd.name in FANOUT and not aware:
                return self._fan_out(client, cmd, args)
            return error(CROSSSLOT)
        return self._deferred(client, cmd, args, kind, detail)

    def _shard_subscription_route(self, args: list[bytes]) -> Any:
        """(S)SUBSCRIBE/SUNSUBSCRIBE run on the master of the channels' one slot: elsewhere
        -MOVED, for plain connections too (a subscription cannot be proxied)."""
        channels = args[1:]
        if not channels:
            return None
        slots = {hash_slot(ch) for ch in channels}
        if len(slots) > 1:
            return error(CROSSSLOT)
        channel = channels[0]
        r = self.core.route(self.engine.namespace_for(channel).name, slots.pop() >> 2)
        if r.kind == REMOTE:
            return self.moved(channel, r.node)
        if r.kind != LOCAL:
            return error(f"{CLUSTERDOWN} ({r.reason})")
        return None

    def _drop_moved_shard_channels(self) -> None:
        """A new plan: subscribers of shard channels whose slot this node no longer masters
        get a `sunsubscribe` push each (Redis 7), and subscribe again where it went."""
        core, pubsub = self.core, self.server.pubsub
        if not pubsub.shard:
            return

        def lost(channel: bytes) -> bool:
            ns = self.engine.namespace_for(channel).name
            return core.route(ns, hash_slot(channel) >> 2).kind == REMOTE

        pubsub.drop_shard_channels(lost)

    # --- pub/sub -----------------------------------------------------------------------

    def publish(self, channel: bytes, payload: bytes, local: int) -> Any:
        """PUBLISH on a cluster: relay to every other member; the reply (the cluster-wide
        count) waits for their counts, bounded (cluster/pubsub_relay.py)."""
        view = self.core.view
        if view is None or len(view.succession) < 2:
            return integer(local)
        txn = self.core.publish(channel, payload, local, self._now())
        fut = self.loop.create_future()  # type: ignore[union-attr]
        self.publishes[txn] = fut
        self._flush_soon()
        return fut

    def redirects(self, client: Client) -> bool:
        """Whether this connection gets -MOVED (cluster-aware) rather than proxying."""
        mode = self.node.node_config["redirect-mode"]
        if mode == "proxy" or client.proxied:
            return False
        return mode == "moved" or client.cluster_aware

    def moved(self, key: bytes, master: int) -> bytes:
        self.stats["client_moved"] += 1
        return error(f"MOVED {hash_slot(key)} {self.service_address(master)}")

    @staticmethod
    def _keys(cmd: Command, args: list[bytes]) -> list[bytes]:
        return [args[i] for i in cmd.key_positions(args)]

    def _decide(self, client: Client, cmd: Command, targets: dict) -> tuple[str, Any] | None:
        """None: run here now. Else (REMOTE, node) | (WAIT, [futures]) | ("down", reason)
        | ("spread", masters): keys mastered by several nodes."""
        now = self._now()
        core = self.core
        masters = set()
        for ns, pid in targets:
            r = core.route(ns, pid)
            if r.kind == "unavailable":
                return "down", r.reason
            masters.add(r.node)
        if len(masters) > 1:
            return "spread", masters
        master = masters.pop()
        if master != core.node_id:
            if client.readonly and not cmd.routes_as_write and self._replica_here(targets):
                return None  # READONLY connections may read a replica's copy
            return REMOTE, master
        waits = []
        for (ns, pid), key in targets.items():
            gate = (
                core.write_gate(ns, pid, key, now)
                if cmd.routes_as_write
                else core.read_gate(ns, pid, key, now)
            )
            if gate.kind == WAIT:
                fut = self.loop.create_future()  # type: ignore[union-attr]
                self.resolutions[gate.txn] = fut
                waits.append(fut)
            elif gate.kind != READY:
                return ("down", gate.reason) if gate.kind != REMOTE else (REMOTE, gate.node)
        if waits:
            self._flush_soon()
            return WAIT, waits
        return None

    def _replica_here(self, targets: dict) -> bool:
        me = self.core.node_id
        for ns, pid in targets:
            plan = self.core.plan(ns)
            if plan is None or me not in plan.parts[pid].replicas:
                return False
        return True

    async def _fan_out(self, client: Client, cmd: Command, args: list[bytes]) -> bytes:
        """A multi-key command whose keys live on several nodes, from a plain connection:
        one sub-command per master, answers merged (not atomic across nodes)."""
        step = 2 if cmd.name == "mset" else 1
        groups: dict[int, list[int]] = {}
        for i in range(1, len(args), step):
            key = args[i]
            r = self.core.route(self.engine.namespace_for(key).name, hash_slot(key) >> 2)
            groups.setdefault(r.node, []).append(i)
        subs = {
            node: [args[0]] + [a for i in idx for a in args[i : i + step]]
            for node, idx in groups.items()
        }
        replies = await asyncio.gather(
            *(
                run_here(client, cmd, sub)
                if node == self.core.node_id
                else self._proxy(client, node, self.targets(cmd, sub), sub, cmd)
                for node, sub in subs.items()
            )
        )
        parsed = [parse_reply(r) for r in replies]
        if cmd.name == "mget":
            values: list[Any] = [None] * (len(args) - 1)
            for idx, got in zip(groups.values(), parsed, strict=True):
                for i, value in zip(idx, got, strict=True):
                    values[i - 1] = value
            return encode(values, client.proto)
        for reply, got in zip(replies, parsed, strict=True):
            if isinstance(got, Exception):
                return reply
        if cmd.name == "mset":
            return replies[0]
        return encode(sum(parsed), client.proto)

    async def _deferred(
        self, client: Client, cmd: Command, args: list[bytes], kind: str, detail: Any
    ) -> bytes:
        """Run a command once duplicate resolution or the rebalance allows it."""
        deadline = time.monotonic() + self.core.config.transaction_timeout_ms / 1000
        while True:
            if kind == WAIT:
                await asyncio.gather(*detail)  # a failure answers its coded error
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RedisError(f"{CLUSTERDOWN} ({detail})")
                try:
                    await asyncio.wait_for(self.rebalanced.wait(), min(left, 0.05))
                except TimeoutError:
                    pass
            self.engine.clock()
            decision = self._decide(client, cmd, self.targets(cmd, args))
            if decision is None:
                return await run_here(client, cmd, args)
            kind, detail = decision
            if kind == REMOTE:
                if self.redirects(client):
                    return self.moved(self._keys(cmd, args)[0], detail)
                return await self._proxy(client, detail, self.targets(cmd, args), args, cmd)
            if kind == "spread":
                if cmd.name in FANOUT and not self.redirects(client):
                    return await self._fan_out(client, cmd, args)
                raise RedisError(CROSSSLOT)

    async def _proxy(
        self,
        client: Client,
        dest: int,
        targets: dict,
        args: list[bytes],
        cmd: Command | None = None,
    ) -> bytes:
        ns, pid = next(iter(targets))
        txn, fut = self._forward(dest, args, client.proto, ns, pid)
        self.proxy_dest[txn] = dest
        write = cmd is None or cmd.routes_as_write
        try:
            reply = await fut
        except MasterLeft:
            if write:  # it may have been applied (and replicated) before the master died
                raise RecordError(
                    ResultCode.TIMEOUT,
                    "the partition's master left the cluster during "
                    "the request; its outcome is unknown",
                ) from None
            return await self._deferred(
                client, cmd, args, "down", "master left"
            )  # a read: ask again
        finally:
            self.proxy_dest.pop(txn, None)
        plan = self.core.plan(ns)
        if write and plan is not None and reply[:1] != b"-":
            # For WAIT: with commit-level all the master answered after every replica had it.
            replicas = len(plan.parts[pid].replicas) - 1
            client.last_write = (-1, replicas if self.core.config.namespaces[ns].commit_all else 0)
        return reply

    def _proxy_done(self, event: ProxyDone) -> None:
        fut = self.proxies.pop(event.txn, None)
        if fut is None or fut.done():
            return
        if event.code == 0:
            self.stats["client_proxy_complete"] += 1
            fut.set_result(event.reply)
            return
        if event.code == ResultCode.TIMEOUT:
            self.stats["client_proxy_timeout"] += 1
        else:
            self.stats["client_proxy_error"] += 1
        text = (
            "proxied request to the partition's master failed"
            if event.code != ResultCode.TIMEOUT
            else ("proxied request to the partition's master timed out; its outcome is unknown")
        )
        fut.set_exception(RecordError(ResultCode(event.code), text))

    def _serve_proxied(self, event: ProxyRequested) -> None:
        """Another node forwarded a client's command: run it as if the client were here."""
        client = self._internal_client(event.resp_proto)
        reply = client.execute(list(event.args))
        if reply.__class__ is bytes:
            self._answer(event, reply)
        else:
            asyncio.ensure_future(self._answer_later(event, reply))

    async def _answer_later(self, event: ProxyRequested, reply: Any) -> None:
        try:
            result = await (reply.awaitable if isinstance(reply, Blocking) else reply)
        except RedisError as exc:
            result = error(exc.text)
        except RecordError as exc:
            result = error(exc.reply_text())
        self._answer(event, result)
        self._flush_soon()

    def _answer(self, event: ProxyRequested, reply: bytes) -> None:
        self.stats["proxy_in_complete"] += 1
        self.core.proxy_reply(event.src, event.txn, 0, reply)

    def broadcast(self, args: list[bytes]) -> Any:
        """Run a command on every other member (truncation); completes when all answered."""
        futures = [
            self._forward(node, args, 2)[1]
            for node, _ in self.members()
            if node != self.core.node_id
        ]
        return asyncio.gather(*futures) if futures else None

    # --- the Redis Cluster view (CLUSTER SLOTS/NODES/..., SCAN/KEYS/DBSIZE) --------------

    def service_address(self, node: int) -> str:
        """`ip:port` where clients reach `node`."""
        address = self.address if node == self.core.node_id else self.core.address_of(node)
        if not address:
            return ""
        ip, port, _ = split_address(address)
        return f"{ip}:{port}"

    def owners(self) -> list[tuple[int, tuple[int, ...]]]:
        """Per partition: (master, replicas) of the default namespace's plan.

        While a new view's exchange runs, the last complete plan is kept, so clients asking
        then still get a full slot map (they are redirected if it moved)."""
        plan = self.core.plan(self.engine.default.name)
        if plan is not None and plan.digest != self._owners_digest:
            self._owners = [
                (p.master, tuple(n for n in p.replicas if n != p.master)) for p in plan.parts
            ]
            self._owners_digest = plan.digest
            self._ranges = None
        if self._owners is None:
            me = self.core.node_id
            return [(me, ())] * 4096
        return self._owners

    def ranges(self) -> list:
        owners = self.owners()  # forgets the cached ranges when the plan changed
        if self._ranges is None:
            self._ranges = slot_ranges(owners)
        return self._ranges

    def mastered_here(self) -> set[int]:
        me = self.core.node_id
        return {pid for pid, (master, _) in enumerate(self.owners()) if master == me}

    async def broadcast_gather(self, args: list[bytes]) -> list[Any]:
        """Run `args` on every member (here too); their parsed replies, in member order."""
        return list(await asyncio.gather(*(self.run_on(node, args) for node, _ in self.members())))

    async def run_on(self, node: int, args: list[bytes]) -> Any:
        """Run `args` on one member as a forwarded request; its reply, parsed."""
        if node == self.core.node_id:
            reply = self._internal_client(2).execute(list(args))
            return parse_reply(reply if reply.__class__ is bytes else await reply)
        return parse_reply(await self._forward(node, args, 2)[1])

    def _forward(
        self, dest: int, args: list[bytes], proto: int, ns: str | None = None, pid: int = 0
    ) -> tuple[int, asyncio.Future]:
        """Send a command to another node; its reply completes the returned future."""
        txn = self.core.proxy(
            dest, ns or next(iter(self.store.spaces)), pid, proto, tuple(args), self._now()
        )
        fut = self.loop.create_future()  # type: ignore[union-attr]
        self.proxies[txn] = fut
        self._flush_soon()
        return txn, fut

    def _internal_client(self, proto: int) -> Client:
        client = self._internal.get(proto)
        if client is None:
            client = self._internal[proto] = Client(self.server)
            client.proto = proto
            client.proxied = True
        return client

    # --- what INFO shows ----------------------------------------------------------------

    def members(self) -> list[tuple[int, str]]:
        """(node id, service `ip:port`) of every node in the view, this one included."""
        view = self.core.view
        nodes = view.succession if view is not None else (self.core.node_id,)
        out = []
        for node in nodes:
            address = self.address if node == self.core.node_id else self.core.address_of(node)
            if address:
                ip, port, _ = split_address(address)
                out.append((node, f"{ip}:{port}"))
        return out

    def info_cluster(self, server: Any = None) -> dict[str, Any]:
        stats = self.core.stats()
        out = {
            "cluster_enabled": int(self.active),
            "cluster_size": stats["cluster_size"] or 1,
            "cluster_key": stats["cluster_key"],
            "cluster_principal": stats["cluster_principal"],
            "cluster_integrity": str(bool(stats["cluster_integrity"])).lower(),
            "cluster_view_changes": stats["cluster_view_changes"],
            "node_id": f"{self.core.node_id:016x}",
            "cluster_nodes": ",".join(f"{n:016x}@{a}" for n, a in self.members()),
            "fabric_port": self.fabric_port,
            "fabric_msgs_sent": self.fabric.sent,
            "fabric_msgs_received": self.fabric.received,
            "fabric_msgs_dropped": self.fabric.dropped,
            "pubsub_messages_relayed": self.core.pubsub.relayed,
            "pubsub_messages_received": self.core.pubsub.received,
        }
        out.update(self.stats)
        out["quiesced"] = int(bool(stats.get("quiesced")))
        for key in (
            "acting_master_partitions",
            "replica_write_timeouts",
            "self_pauses_detected",
            "heartbeat_alive_peers",
            "effective_is_quiesced",
            "nodes_quiesced",
            "master_partitions",
        ):
            value = stats.get(key, 0)
            out[key] = int(value) if isinstance(value, bool) else value
        return out

    def set_quiesced(self, flag: bool) -> None:
        """The operator's quiesce / quiesce-undo: hand mastership off (or take it back);
        the node stays in the cluster, keeps its data and keeps serving (proxying)."""
        self.core.set_quiesced(flag, self._now())
        log.warning(
            "node %016x %s",
            self.core.node_id,
            "quiesced: handing off mastership of its partitions" if flag else "quiesce undone",
        )
        self._flush()

    def info_migrations(self, server: Any = None) -> dict[str, Any]:
        stats = self.core.stats()
        return {k: v for k, v in stats.items() if k.startswith("migrate_")}


async def run_here(client: Client, cmd: Command, args: list[bytes]) -> bytes:
    """Execute a command on this node now (its routing already decided) and wait for the
    acknowledgements its writes need."""
    reply = client._timed(cmd, args)
    if isinstance(reply, Blocking):
        reply = reply.awaitable
    return reply if reply.__class__ is bytes else await reply


def parse_reply(reply: bytes) -> Any:
    """A reply's value (a node's answer to a fanned-out sub-command)."""
    reader = hiredis.Reader()
    reader.feed(reply)
    return reader.gets()


def _fields(config: ClusterConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}
