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

from ..errors import CLUSTERDOWN, CROSSSLOT, RecordError, RedisError, ResultCode
from ..keyspace import hash_slot
from ..resp.client import Blocking, Client
from ..resp.encode import error
from .config import ClusterConfig
from .engine_store import EngineStore, copy_of
from .events import DupResDone, ProxyDone, ProxyRequested, Rebalanced, ViewChanged, WriteDone
from .fabric import Fabric, node_address, split_address
from .messages import encode
from .node import READY, REMOTE, WAIT, ClusterNode, restart_versions

if TYPE_CHECKING:
    from ..node import Node
    from ..resp.table import Command

log = logging.getLogger("respike.cluster")


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
        self.fabric_port = cfg["fabric-port"] or self.port + 10000
        self.address = node_address(self.bind, self.port, self.fabric_port)
        self.seeded = bool(cfg["seeds"])
        self.store = EngineStore(self.engine)
        versions = None
        if any(ns.persistent and ns.count() for ns in self.engine.namespaces.values()):
            versions = restart_versions(self.store, list(self.store.spaces), 4096)
        self._wall, self._cpu = monotonic_ms(), time.process_time()
        self.core = ClusterNode(self._config(), self.store, self._wall, versions=versions)
        self.fabric = Fabric(self.bind, self.fabric_port, self._on_bytes)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.active = False  # routing and replication on (a cluster of several nodes, or seeds)
        self.writes: dict[int, asyncio.Future] = {}
        self.resolutions: dict[int, asyncio.Future] = {}
        self.proxies: dict[int, asyncio.Future] = {}
        self.rebalanced = asyncio.Event()
        self.stats = {"client_proxy_complete": 0, "client_proxy_error": 0, "client_proxy_timeout": 0,
                      "proxy_in_complete": 0, "client_moved": 0}
        self._events_scheduled = False
        self._task: asyncio.Task | None = None
        self._internal: dict[int, Client] = {}

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
            self._flush(self.core.tick(self._now()))
            self.fabric._readable()
            await asyncio.sleep(interval)

    # --- the I/O boundary --------------------------------------------------------------

    def _now(self) -> int:
        """The core's clock. A long gap between calls while this process kept the CPU busy
        is a blocked event loop (a huge command, a big rebalance), not a pause: the core
        would otherwise leave its view to rejoin (its pause rule), and flap."""
        now, cpu = monotonic_ms(), time.process_time()
        gap = now - self._wall
        if gap > self.core.config.pause_threshold_ms and (cpu - self._cpu) * 1000 > gap / 2:
            log.warning("event loop was blocked for %d ms", gap)
            self.core.last_now = max(self.core.last_now, now - 1)
        self._wall, self._cpu = now, cpu
        return now

    def _on_bytes(self, data: bytes) -> None:
        now = self._now()
        sends = self.core.receive_bytes(data, now)
        if self.core.migrations.pending:  # start the next partition now, not at the next tick
            sends += self.core.tick(now)
        self._flush(sends)

    def _flush(self, sends: list | None = None) -> None:
        """Send what the core wants sent; handle its events in their own loop step."""
        core = self.core
        for send in (sends or []) + core.take_sends():
            address = send.addr or core.address_of(send.dest)
            if address:
                self.fabric.send(address, encode(send.msg, core.node_id))
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
            elif isinstance(event, Rebalanced):
                self.rebalanced.set()
                self.rebalanced = asyncio.Event()
        self._flush()

    @staticmethod
    def _settle(table: dict[int, asyncio.Future], txn: int, ok: bool, code: int, message: str) -> None:
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

    def _set_active(self, active: bool) -> None:
        """Routing and replication are on while clustered; a lone node skips them."""
        if active == self.active:
            return
        self.active = active
        self.node.clustered = active
        self.server.route = self.route if active else None
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
        txn = self.core.replicate(ns.name, pid, key, copy_of(ns, key, pid), self._now(),
                                  commit_all=self.engine.request_commit)
        fut = self.loop.create_future()  # type: ignore[union-attr]
        self.writes[txn] = fut
        self.engine.waits.append(fut)
        self._flush()

    # --- routing -----------------------------------------------------------------------

    def targets(self, cmd: Command, args: list[bytes]) -> dict[tuple[str, int], bytes]:
        """(namespace, partition) -> a key, for every key the command names."""
        out: dict[tuple[str, int], bytes] = {}
        for i in cmd.key_positions(args):
            key = args[i]
            out[(self.engine.namespace_for(key).name, hash_slot(key) >> 2)] = key
        return out

    def route(self, client: Client, cmd: Command, args: list[bytes]) -> Any:
        targets = self.targets(cmd, args)
        if not targets:
            return None
        decision = self._decide(client, cmd, targets)
        if decision is None:
            return None
        kind, detail = decision
        if kind == REMOTE:
            return self._proxy(client, detail, targets, args)
        if kind == "error":
            return error(detail)
        return self._deferred(client, cmd, args, kind, detail)

    def _decide(self, client: Client, cmd: Command, targets: dict) -> tuple[str, Any] | None:
        """None: run here now. Else (REMOTE, node) | (WAIT, [futures]) | ("down", reason)
        | ("error", text)."""
        now = self._now()
        core = self.core
        masters = set()
        for ns, pid in targets:
            r = core.route(ns, pid)
            if r.kind == "unavailable":
                return "down", r.reason
            masters.add(r.node)
        if len(masters) > 1:
            return "error", CROSSSLOT
        master = masters.pop()
        if master != core.node_id:
            return REMOTE, master
        waits = []
        for (ns, pid), key in targets.items():
            gate = core.write_gate(ns, pid, key, now) if cmd.write else core.read_gate(ns, pid, key, now)
            if gate.kind == WAIT:
                fut = self.loop.create_future()  # type: ignore[union-attr]
                self.resolutions[gate.txn] = fut
                waits.append(fut)
            elif gate.kind != READY:
                return ("down", gate.reason) if gate.kind != REMOTE else (REMOTE, gate.node)
        if waits:
            self._flush()
            return WAIT, waits
        return None

    async def _deferred(self, client: Client, cmd: Command, args: list[bytes], kind: str, detail: Any) -> bytes:
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
                return await self._proxy(client, detail, self.targets(cmd, args), args)
            if kind == "error":
                raise RedisError(detail)

    async def _proxy(self, client: Client, dest: int, targets: dict, args: list[bytes]) -> bytes:
        ns, pid = next(iter(targets))
        txn = self.core.proxy(dest, ns, pid, client.proto, tuple(args), self._now())
        fut = self.loop.create_future()  # type: ignore[union-attr]
        self.proxies[txn] = fut
        self._flush()
        return await fut

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
        text = "proxied request to the partition's master failed" if event.code != ResultCode.TIMEOUT else (
            "proxied request to the partition's master timed out; its outcome is unknown")
        fut.set_exception(RecordError(ResultCode(event.code), text))

    def _serve_proxied(self, event: ProxyRequested) -> None:
        """Another node forwarded a client's command: run it as if the client were here."""
        client = self._internal.get(event.resp_proto)
        if client is None:
            client = self._internal[event.resp_proto] = Client(self.server)
            client.proto = event.resp_proto
            client.proxied = True
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
        self._flush()

    def _answer(self, event: ProxyRequested, reply: bytes) -> None:
        self.stats["proxy_in_complete"] += 1
        self.core.proxy_reply(event.src, event.txn, 0, reply)

    def broadcast(self, args: list[bytes]) -> Any:
        """Run a command on every other member (truncation); completes when all answered."""
        futures = []
        ns = next(iter(self.store.spaces))
        for node, _ in self.members():
            if node != self.core.node_id:
                txn = self.core.proxy(node, ns, 0, 2, tuple(args), self._now())
                fut = self.loop.create_future()  # type: ignore[union-attr]
                self.proxies[txn] = fut
                futures.append(fut)
        self._flush()
        return asyncio.gather(*futures) if futures else None

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
        }
        out.update(self.stats)
        for key in ("acting_master_partitions", "replica_write_timeouts", "self_pauses_detected",
                    "heartbeat_alive_peers"):
            out[key] = stats[key]
        return out

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


def _fields(config: ClusterConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}
